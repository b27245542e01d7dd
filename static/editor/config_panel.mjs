// The config panel: the selected node's id, ports and schema-generated form, with the
// compiler's issues shown under the fields they name.

import { $, h } from "../common/dom.mjs";
import * as M from "./model.mjs";
import { renderSchemaForm, paintFieldIssues } from "./form.mjs";

export function showFormMessage(editor, text) {
  editor.formNodeId = null;
  $("#config-panel", editor.root).replaceChildren(h("p", { class: "muted", text }));
}

export function closeForm(editor) {
  showFormMessage(editor, "Select a node to edit its configuration.");
}

export function openForm(editor, nodeId, focus) {
  const node = M.findNode(editor.doc, nodeId);
  const panel = $("#config-panel", editor.root);
  if (!node) return closeForm(editor);
  editor.formNodeId = nodeId;
  const spec = editor.catalog.types[node.type] ?? { schema: { type: "object" }, defs: {}, title: node.type, description: "" };
  const idInput = h("input", { type: "text", id: "node-id-input", value: node.id, "aria-describedby": "node-id-error" });
  const idError = h("div", { id: "node-id-error", class: "field-errors", role: "alert" });
  idInput.addEventListener("change", () => {
    const result = M.renameNode(editor.doc, node.id, idInput.value.trim());
    if (!result.ok) {
      idError.textContent = result.reason;
      return;
    }
    idError.textContent = "";
    editor.formNodeId = node.id;
    // Cells are keyed by id: drop the old node (X6 drops its edges with it) and let render add
    // the renamed one. Edges elsewhere keep their cells; re-adding an id in one tick duplicates views.
    editor.graph.getCellById(idInput.defaultValue)?.remove();
    editor.changed();
    editor.selectNodes([node.id]);
  });
  const form = renderSchemaForm(spec.schema, spec.defs, node.config ?? {}, (value, { final }) => {
    node.config = value;
    // Branch names become ports, so the node may need new ports.
    editor.changed({ record: final, rerender: true });
  });
  const header = h(
    "div",
    { class: "form-header" },
    h("h3", { text: `${spec.title} (${node.type})` }),
    spec.description ? h("p", { class: "muted", text: spec.description }) : null,
    h("div", { class: "field", "data-field": "__id" }, h("label", { for: "node-id-input", text: "Node id" }), idInput, idError),
  );
  const ports = h("p", { class: "muted ports-summary" });
  ports.textContent = `Inputs: ${M.inputPorts(editor.catalog, node).map((p) => `${p.name} (${M.portKindLabel(p)})`).join(", ") || "none"} · Outputs: ${M.outputPorts(editor.catalog, node).map((p) => `${p.name} (${M.portKindLabel(p)})`).join(", ") || "none"}`;
  const problems = h("div", { class: "node-problems", role: "alert" });
  panel.replaceChildren(h("form", { class: "node-form", "data-node-id": node.id, onsubmit: (e) => e.preventDefault() }, header, ports, form, problems));
  paintForm(editor);
  if (focus) idInput.focus();
}

export function paintForm(editor) {
  const form = $(".node-form", editor.root);
  if (!form || !editor.formNodeId) return;
  const issues = (editor.issues ?? []).filter((i) => i.node_id === editor.formNodeId);
  const unclaimed = paintFieldIssues(form, issues.filter((i) => i.field));
  const rest = [...unclaimed, ...issues.filter((i) => !i.field)];
  $(".node-problems", form).replaceChildren(...rest.map((i) => h("div", { class: "field-error", text: `${i.code}: ${i.message}` })));
}
