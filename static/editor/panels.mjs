// Side panels that talk to the other APIs: save and versions, import/export, preview,
// describe and deploy. Each reads the editor's current document and never edits it except
// through the editor's own commands (import and "open version" replace it as one undo step).

import { $, h } from "../common/dom.mjs";
import * as M from "./model.mjs";
import { request, errorText } from "../common/api.mjs";

const DEPLOY_POLL_MS = 1500;

function show(value) {
  if (value === null || value === undefined) return "null";
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A table of records: one column per value field when values are objects. */
function recordsTable(records) {
  const rows = records.slice(0, 200);
  const fields = [];
  for (const r of rows) {
    const v = r?.value;
    if (v && typeof v === "object" && !Array.isArray(v)) for (const k of Object.keys(v)) if (!fields.includes(k)) fields.push(k);
  }
  const head = h("tr", {}, h("th", { text: "key" }), ...(fields.length ? fields.map((f) => h("th", { text: f })) : [h("th", { text: "value" })]));
  const body = rows.map((r) =>
    h("tr", {},
      h("td", { text: show(r?.key) }),
      ...(fields.length ? fields.map((f) => h("td", { text: show(r?.value?.[f]) })) : [h("td", { text: show(r?.value) })])),
  );
  return h("table", { class: "records" }, h("thead", {}, head), h("tbody", {}, ...body));
}

export function setupPanels(editor) {
  const root = editor.root;
  const api = editor.api;
  const panels = {};

  // --- save and versions -------------------------------------------------------------------

  panels.save = async () => {
    if (editor.topologyId == null) return editor.setStatus("This document has no topology to save into.", "error");
    const message = $("#save-message", root).value.trim();
    editor.setStatus("Saving…");
    const result = await request("POST", `${api}/topologies/${editor.topologyId}/versions`, { document: editor.doc, message });
    if (!result.ok) {
      if (result.data?.issues?.length) {
        editor.issues = result.data.issues;
        editor.mappedIssues = M.mapIssues(editor.doc, editor.issues);
        editor.render();
        editor.paintForm();
      }
      editor.setStatus(`Not saved: ${errorText(result)}`, "error");
      return;
    }
    const { created, version } = result.data;
    editor.latestVersion = version.number;
    editor.markSaved();
    $("#save-message", root).value = "";
    editor.setStatus(created ? `Saved version ${version.number}.` : `Saved layout; the plan is unchanged (still version ${version.number}).`, "ok");
    if (!$("#panel-versions", root).hidden) panels.loadVersions();
  };
  $("#btn-save", root).addEventListener("click", () => panels.save());

  panels.loadVersions = async () => {
    const list = $("#versions-list", root);
    if (editor.topologyId == null) return;
    const result = await request("GET", `${api}/topologies/${editor.topologyId}/versions`);
    if (!result.ok) return list.replaceChildren(h("li", { text: errorText(result) }));
    const versions = [...result.data].reverse();
    list.replaceChildren(
      ...versions.map((v) => {
        const open = h("button", { type: "button", class: "small", text: "Open" });
        open.addEventListener("click", async () => {
          const got = await request("GET", `${api}/topologies/${editor.topologyId}/versions/${v.number}`);
          if (!got.ok) return editor.setStatus(errorText(got), "error");
          editor.replaceDocument(got.data.document);
          editor.setStatus(`Opened version ${v.number} as the draft.`);
        });
        const compare = h("button", { type: "button", class: "small", text: "Diff with previous", disabled: v.number <= 1 });
        compare.addEventListener("click", () => panels.showDiff(v.number - 1, v.number));
        return h("li", { "data-version": String(v.number) },
          h("strong", { text: `v${v.number}` }), ` ${v.message || "(no message)"} — ${v.created_by ?? "?"}, ${new Date(v.created_at).toLocaleString()} `,
          open, " ", compare);
      }),
    );
  };

  panels.showDiff = async (from, to) => {
    const box = $("#version-diff", root);
    const result = await request("GET", `${api}/topologies/${editor.topologyId}/versions/${from}/diff/${to}`);
    if (!result.ok) return box.replaceChildren(h("p", { text: errorText(result) }));
    const lines = M.describeDiff(result.data.nodes);
    const verdict = result.data.compatibility;
    box.replaceChildren(
      h("h4", { text: `v${from} → v${to}` }),
      h("ul", { class: "diff" }, ...(lines.length ? lines.map((l) => h("li", { class: `diff-${l.kind}`, text: l.text })) : [h("li", { text: "No node changes (layout or edges only)." })])),
      h("p", { class: `verdict verdict-${verdict.verdict}`, "data-verdict": verdict.verdict, text: M.VERDICT_MEANING[verdict.verdict] ?? verdict.verdict }),
      h("ul", {}, ...verdict.reasons.map((r) => h("li", { text: r }))),
    );
  };

  // --- import / export ---------------------------------------------------------------------

  $("#btn-export", root).addEventListener("click", () => {
    const blob = new Blob([JSON.stringify(editor.doc, null, 2)], { type: "application/json" });
    const link = h("a", { href: URL.createObjectURL(blob), download: `${editor.doc.name || "topology"}.json` });
    document.body.append(link);
    link.click();
    link.remove();
  });
  $("#import-file", root).addEventListener("change", async (e) => {
    const file = e.target.files?.[0];
    if (!file) return;
    try {
      const doc = JSON.parse(await file.text());
      if (!Array.isArray(doc.nodes) || !Array.isArray(doc.edges)) throw new Error("a topology document has 'nodes' and 'edges' lists");
      doc.name = editor.doc.name;
      editor.doc = doc;
      editor.changed();
      if (doc.nodes.some((n) => !n.position)) editor.autoLayout();
      editor.setStatus(`Imported ${file.name}; save to make it a version.`);
    } catch (error) {
      editor.setStatus(`Could not import ${file.name}: ${error.message}`, "error");
    }
    e.target.value = "";
  });

  // --- preview -----------------------------------------------------------------------------

  const previewSources = () => editor.doc.nodes.filter((n) => (editor.catalog.types[n.type]?.inputs ?? []).length === 0);
  panels.refreshPreviewSources = () => {
    const select = $("#preview-source", root);
    const keep = select.value;
    select.replaceChildren(...previewSources().map((n) => h("option", { value: n.id, text: `${n.id} (${n.type})` })));
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  };

  const runPreview = async (body) => {
    const out = $("#preview-output", root);
    out.replaceChildren(h("p", { class: "muted", text: "Running…" }));
    const result = await request("POST", `${api}/preview`, { document: editor.doc, ...body });
    if (!result.ok) {
      out.replaceChildren(h("p", { class: "error", role: "alert", text: `Preview failed: ${errorText(result)}` }));
      return;
    }
    const data = result.data;
    if (!data.ok) {
      out.replaceChildren(h("p", { class: "error", role: "alert", text: "Fix the problems first:" }), h("ul", {}, ...(data.issues ?? []).map((i) => h("li", { text: `${i.node_id ?? ""} ${i.message}` }))));
      return;
    }
    const sections = editor.doc.nodes
      .filter((n) => data.outputs[n.id] !== undefined)
      .map((n) => {
        const records = data.outputs[n.id];
        return h("section", { class: "preview-node", "data-preview-node": n.id },
          h("h4", {}, h("button", { type: "button", class: "link", text: `${n.id} (${n.type}) — ${records.length} record(s)`, onclick: () => editor.selectNodes([n.id]) })),
          records.length ? recordsTable(records) : h("p", { class: "muted", text: "no output" }));
      });
    const errors = (data.errors ?? []).map((e) => h("li", { class: "error", text: `${e.node_id ?? ""}: ${e.message}` }));
    out.replaceChildren(...(errors.length ? [h("ul", {}, ...errors)] : []), ...sections);
  };

  $("#btn-preview", root).addEventListener("click", () => {
    let records;
    try {
      records = JSON.parse($("#preview-records", root).value || "[]");
      if (!Array.isArray(records)) throw new Error("expected a JSON array of records");
    } catch (error) {
      $("#preview-output", root).replaceChildren(h("p", { class: "error", role: "alert", text: `Records are not valid JSON: ${error.message}` }));
      return;
    }
    runPreview({ source: $("#preview-source", root).value, records });
  });
  $("#btn-preview-sample", root).addEventListener("click", () => {
    runPreview({ source: $("#preview-source", root).value, sample: Number($("#preview-sample-size", root).value) || 20 });
  });

  // --- describe ----------------------------------------------------------------------------

  const showSql = () => {
    // The statement this graph is, when SQL can express it (checked by translating it back).
    $("#describe-sql", root).textContent =
      editor.sqlText ?? `No SQL form: ${editor.sqlReason ?? "the document has problems"}.`;
  };

  panels.loadDescribe = async () => {
    const box = $("#describe-text", root);
    box.textContent = editor.describeText ?? "The document has problems; fix them to see the plan.";
    showSql();
    const result = await request("POST", `${api}/preview/describe`, { document: editor.doc });
    if (result.ok && result.data.describe) box.textContent = result.data.describe;
    const note = $("#describe-partitions", root);
    if (result.ok && result.data.partitions) {
      note.textContent = Object.keys(result.data.partitions).length
        ? `Partition counts read from Kafka: ${Object.entries(result.data.partitions).map(([t, n]) => `${t}=${n}`).join(", ")}`
        : "Source topics not found in Kafka yet; parallelism unknown.";
    } else if (!result.ok) note.textContent = `Could not read partition counts: ${errorText(result)}`;
  };

  // --- deploy ------------------------------------------------------------------------------

  const dialog = $("#deploy-dialog", root);
  let pollTimer = null;
  let running = null;

  $("#btn-deploy", root).addEventListener("click", async () => {
    $("#deploy-error", root).textContent = "";
    $("#deploy-verdict", root).replaceChildren();
    if (editor.dirty) $("#deploy-error", root).textContent = "You have unsaved changes; the last saved version is deployed.";
    running = null;
    const listed = await request("GET", `${api}/deployments?topology_id=${editor.topologyId}`);
    if (listed.ok) running = listed.data.find((d) => d.desired_state === "running") ?? null;
    $("#deploy-mode", root).textContent = running
      ? `Deployment #${running.id} runs version ${running.version} (${running.status}). Deploying upgrades it to version ${editor.latestVersion}.`
      : `Deploy version ${editor.latestVersion ?? "(none saved yet)"} as a new deployment.`;
    if (running && editor.latestVersion && running.version !== editor.latestVersion) {
      const diff = await request("GET", `${api}/topologies/${editor.topologyId}/versions/${running.version}/diff/${editor.latestVersion}`);
      if (diff.ok) {
        const v = diff.data.compatibility;
        $("#deploy-verdict", root).replaceChildren(
          h("p", { class: `verdict verdict-${v.verdict}`, "data-verdict": v.verdict, text: M.VERDICT_MEANING[v.verdict] ?? v.verdict }),
          h("ul", {}, ...v.reasons.map((r) => h("li", { text: r }))),
        );
      }
    }
    dialog.showModal();
  });
  $("#deploy-cancel", root).addEventListener("click", () => dialog.close());
  $("#deploy-form", root).addEventListener("submit", async (e) => {
    e.preventDefault();
    const instances = Number($("#deploy-instances", root).value);
    const guarantee = $("#deploy-guarantee", root).value;
    const error_policy = $("#deploy-error-policy", root).value;
    let result;
    if (running) {
      result = await request("POST", `${api}/deployments/${running.id}/upgrade`, { version: editor.latestVersion, confirm: true });
      if (result.ok && running.instances !== instances) result = await request("POST", `${api}/deployments/${running.id}/scale`, { instances });
    } else {
      result = await request("POST", `${api}/deployments`, { topology_id: editor.topologyId, instances, guarantee, error_policy });
    }
    if (!result.ok) {
      $("#deploy-error", root).textContent = result.data?.message ?? errorText(result);
      return;
    }
    dialog.close();
    panels.watchDeployment(result.data.id);
  });

  panels.watchDeployment = (id) => {
    clearTimeout(pollTimer);
    editor.showTab("deploy");
    const box = $("#deployment-status", root);
    const poll = async () => {
      const result = await request("GET", `${api}/deployments/${id}`);
      if (result.ok) {
        const d = result.data;
        box.replaceChildren(
          h("p", {}, h("strong", { text: `Deployment #${d.id}` }), ` — ${d.topology} v${d.version}, app id ${d.app_id}`),
          h("p", {}, "Status: ", h("span", { id: "deployment-state", class: `state state-${d.status}`, "data-status": d.status, text: d.status }), d.last_error ? h("span", { class: "error", text: ` — ${d.last_error}` }) : null),
          h("ul", {}, ...(d.instance_list ?? []).map((i) => h("li", { text: `instance ${i.slot}: ${i.status}${i.partitions ? ` · partitions ${JSON.stringify(i.partitions)}` : ""}` }))),
          h("ul", { class: "events" }, ...(d.events ?? []).slice(0, 8).map((ev) => h("li", { text: `${ev.kind}: ${ev.message}` }))),
        );
      }
      pollTimer = setTimeout(poll, DEPLOY_POLL_MS);
    };
    poll();
  };

  panels.onTab = (name) => {
    if (name === "versions") panels.loadVersions();
    if (name === "describe") panels.loadDescribe();
    if (name === "preview") panels.refreshPreviewSources();
  };

  panels.onValidated = () => {
    if (!$("#panel-preview", root).hidden) panels.refreshPreviewSources();
    if (!$("#panel-describe", root).hidden) {
      $("#describe-text", root).textContent = editor.describeText ?? "The document has problems; fix them to see the plan.";
      showSql();
    }
  };

  return panels;
}
