// The lists beside the canvas: the palette, the problems panel and the outline. Together
// with the toolbar they make every editing action reachable from the keyboard.

import { $, h } from "../common/dom.mjs";
import * as M from "./model.mjs";

export function renderProblems(editor) {
  const list = $("#problems-list", editor.root);
  const items = editor.issues.map((issue, index) => {
    const where = [issue.node_id, issue.field, issue.edge_id != null ? `edge ${issue.edge_id}` : null].filter((x) => x != null && x !== "").join(" · ");
    const button = h("button", { type: "button", class: "problem", "data-node-id": issue.node_id ?? "", "data-index": String(index) },
      h("span", { class: `severity ${issue.severity ?? "error"}`, text: issue.severity ?? "error" }),
      h("span", { class: "where", text: where || "document" }),
      h("span", { class: "message", text: issue.message }));
    button.addEventListener("click", () => {
      if (issue.node_id && M.findNode(editor.doc, issue.node_id)) {
        editor.selectNodes([issue.node_id], { reveal: true });
        editor.showTab("config");
        const field = issue.field && $(`.node-form .field[data-field="${CSS.escape(String(issue.field).replace(/^config\./, ""))}"] :is(input,textarea,select)`, editor.root);
        field?.focus();
      }
    });
    return h("li", {}, button);
  });
  list.replaceChildren(...items);
  $("#problems-count", editor.root).textContent = String(editor.issues.length);
}

export function renderOutline(editor) {
  const nodes = $("#outline-nodes", editor.root);
  const edges = $("#outline-edges", editor.root);
  if (!nodes) return;
  nodes.replaceChildren(
    ...editor.doc.nodes.map((node) => {
      const count = (editor.mappedIssues.byNode[node.id] ?? []).length;
      const select = h("button", { type: "button", class: "outline-select", "data-outline-node": node.id, "aria-selected": "false", text: `${node.id} (${node.type})${count ? ` — ${count} problem(s)` : ""}` });
      select.addEventListener("click", () => {
        editor.selectNodes([node.id], { reveal: true });
        editor.showTab("config");
      });
      const del = h("button", { type: "button", class: "small", "aria-label": `Delete node ${node.id}`, text: "Delete" });
      del.addEventListener("click", () => editor.deleteItems([node.id]));
      return h("li", {}, select, " ", del);
    }),
  );
  edges.replaceChildren(
    ...editor.doc.edges.map((edge) => {
      const key = M.edgeKey(edge);
      const label = `${edge.source}${edge.source_port ? `.${edge.source_port}` : ""} → ${edge.target}${edge.target_port ? `.${edge.target_port}` : ""}`;
      const del = h("button", { type: "button", class: "small", "aria-label": `Delete edge ${label}`, text: "Delete" });
      del.addEventListener("click", () => editor.deleteItems([], [key]));
      return h("li", { "data-outline-edge": key }, h("span", { text: label }), " ", del);
    }),
  );
  const options = (ports) =>
    editor.doc.nodes.flatMap((node) => ports(node).map((p, _, all) => ({ value: JSON.stringify([node.id, p.name]), text: all.length > 1 ? `${node.id}.${p.name}` : node.id })));
  const fill = (select, opts) => {
    const keep = select.value;
    select.replaceChildren(...opts.map((o) => h("option", { value: o.value, text: o.text })));
    if (opts.some((o) => o.value === keep)) select.value = keep;
  };
  fill($("#outline-connect-source", editor.root), options((n) => M.outputPorts(editor.catalog, n)));
  fill($("#outline-connect-target", editor.root), options((n) => M.inputPorts(editor.catalog, n)));
}

export function buildPalette(editor) {
  const search = $("#palette-search", editor.root);
  const list = $("#palette-groups", editor.root);
  const draw = () => {
    list.replaceChildren(
      ...M.paletteGroups(editor.catalog, search.value).map((group) =>
        h("section", { class: "palette-group", "data-group": group.id },
          h("h3", { text: group.title }),
          h("ul", {}, ...group.types.map((t) => {
            const item = h("button", { type: "button", class: "palette-item", draggable: "true", "data-type": t.type, title: t.description || t.title, "aria-label": `Add ${t.title} node` },
              h("span", { class: "palette-title", text: t.title }),
              h("span", { class: "palette-ports", text: `${t.inputs.map(M.portKindLabel).join("+") || "—"} → ${t.outputs.length ? M.portKindLabel(t.outputs[0]) : "—"}` }));
            item.addEventListener("dragstart", (e) => {
              e.dataTransfer.setData("application/x-weir-node-type", t.type);
              e.dataTransfer.effectAllowed = "copy";
            });
            item.addEventListener("click", () => editor.addNode(t.type));
            return h("li", {}, item);
          })),
        ),
      ),
    );
  };
  search.addEventListener("input", draw);
  draw();
}

