// The editor's commands: every user edit goes through these (add, connect, delete, undo/redo,
// copy/paste), bound to the toolbar and the keyboard here. Each edit changes the document
// model (model.mjs) and then calls changed(), which records the undo step, re-renders the
// canvas and schedules validation. Installed on the Editor (editor.mjs) as methods.

import { $ } from "../common/dom.mjs";
import * as M from "./model.mjs";

export const commands = {
  /** After any edit: undo step (coalesced per tick), canvas, panels, validation. */
  changed({ rerender = true, record = true, validate = true } = {}) {
    this.dirty = true;
    $("#dirty-flag", this.root).hidden = false;
    if (record) {
      clearTimeout(this.recordTimer);
      this.recordTimer = setTimeout(() => this.flushRecord(), 0);
    }
    if (rerender) this.render();
    else this.renderOutline();
    if (validate) this.scheduleValidate();
    this.updateUndoButtons();
  },

  flushRecord() {
    clearTimeout(this.recordTimer);
    this.recordTimer = null;
    this.history.record(this.doc);
    this.updateUndoButtons();
  },

  addNode(type, position) {
    const node = M.addNode(this.doc, this.catalog, type, position ?? this.freeSpot());
    this.changed();
    this.selectNodes([node.id]);
    this.announce(`Added ${node.type} node ${node.id}.`);
    return node;
  },

  connect(edge) {
    const result = M.addEdge(this.catalog, this.doc, edge);
    if (!result.ok) {
      this.refuse(result.reason);
      this.render();
      return result;
    }
    this.changed();
    this.announce(`Connected ${edge.source} to ${edge.target}.`);
    return result;
  },

  refuse(reason) {
    const box = $("#connection-refused", this.root);
    box.textContent = `Connection refused: ${reason}`;
    box.hidden = false;
    clearTimeout(this.refuseTimer);
    this.refuseTimer = setTimeout(() => (box.hidden = true), 8000);
    this.announce(`Connection refused: ${reason}`);
  },

  deleteSelection() {
    const cells = this.selection.getSelectedCells();
    const nodeIds = cells.filter((c) => c.isNode()).map((c) => c.id);
    const edgeKeys = cells.filter((c) => c.isEdge()).map((c) => c.id);
    this.deleteItems(nodeIds, edgeKeys);
  },

  deleteItems(nodeIds, edgeKeys = []) {
    if (!nodeIds.length && !edgeKeys.length) return;
    this.selection.clean();
    M.removeEdges(this.doc, edgeKeys);
    M.removeNodes(this.doc, nodeIds);
    if (nodeIds.includes(this.formNodeId)) this.closeForm();
    this.changed();
    this.announce(`Deleted ${nodeIds.length} node(s) and ${edgeKeys.length} edge(s).`);
  },

  undo() {
    if (this.recordTimer) this.flushRecord();
    const doc = this.history.undo();
    if (doc) this.replaceDocument(doc);
  },

  redo() {
    if (this.recordTimer) this.flushRecord();
    const doc = this.history.redo();
    if (doc) this.replaceDocument(doc);
  },

  replaceDocument(doc) {
    this.doc = doc;
    this.changed({ record: false });
    if (this.formNodeId) this.openForm(this.formNodeId, false);
  },

  copy() {
    const ids = this.selectedNodeIds();
    if (!ids.length) return;
    this.clipboard = M.copyFragment(this.doc, ids);
    this.announce(`Copied ${ids.length} node(s).`);
  },

  paste() {
    if (!this.clipboard) return;
    const added = M.pasteFragment(this.doc, this.clipboard);
    this.clipboard = M.copyFragment(this.doc, added);
    this.changed();
    this.selectNodes(added);
  },

  bindToolbar() {
    const on = (id, fn) => $(id, this.root)?.addEventListener("click", fn);
    on("#btn-undo", () => this.undo());
    on("#btn-redo", () => this.redo());
    on("#btn-layout", () => this.autoLayout());
    on("#btn-zoom-in", () => this.graph.zoom(0.2));
    on("#btn-zoom-out", () => this.graph.zoom(-0.2));
    on("#btn-fit", () => this.graph.zoomToFit({ padding: 40, maxScale: 1.5 }));
    on("#btn-delete", () => this.deleteSelection());
    on("#btn-copy", () => this.copy());
    on("#btn-paste", () => this.paste());
    on("#outline-connect", () => {
      const [source, sourcePort] = JSON.parse($("#outline-connect-source", this.root).value || "[]");
      const [target, targetPort] = JSON.parse($("#outline-connect-target", this.root).value || "[]");
      if (!source || !target) return;
      this.connect(this.edgeFromPorts(source, `out:${sourcePort}`, target, `in:${targetPort}`));
    });
    for (const tab of this.root.querySelectorAll("[role=tab]")) tab.addEventListener("click", () => this.showTab(tab.dataset.tab));
    $("#tablist", this.root)?.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowRight" && e.key !== "ArrowLeft") return;
      const tabs = [...this.root.querySelectorAll("[role=tab]")];
      const i = tabs.indexOf(document.activeElement);
      const next = tabs[(i + (e.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      next.focus();
      this.showTab(next.dataset.tab);
    });
    window.addEventListener("beforeunload", (e) => {
      if (this.dirty) e.preventDefault();
    });
  },

  showTab(name) {
    for (const tab of this.root.querySelectorAll("[role=tab]")) {
      const active = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", String(active));
      tab.tabIndex = active ? 0 : -1;
      $(`#panel-${tab.dataset.tab}`, this.root).hidden = !active;
    }
    this.panels?.onTab(name);
  },

  bindKeyboard() {
    window.addEventListener("keydown", (e) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "s") {
        e.preventDefault();
        this.panels.save();
        return;
      }
      const typing = e.target.closest?.("input, textarea, select, [contenteditable]");
      if (typing) return;
      if (mod && key === "z" && e.shiftKey) {
        e.preventDefault();
        this.redo();
      } else if (mod && (key === "z" || key === "y")) {
        e.preventDefault();
        if (key === "y") this.redo();
        else this.undo();
      } else if (mod && key === "c") this.copy();
      else if (mod && key === "v") this.paste();
      else if (mod && key === "a") {
        e.preventDefault();
        this.selectNodes(this.doc.nodes.map((n) => n.id));
      } else if ((key === "delete" || key === "backspace") && this.selection.getSelectedCells().length) {
        e.preventDefault();
        this.deleteSelection();
      }
    });
  },

  updateUndoButtons() {
    $("#btn-undo", this.root).disabled = !this.history?.canUndo() && !this.recordTimer;
    $("#btn-redo", this.root).disabled = !this.history?.canRedo();
  },
};
