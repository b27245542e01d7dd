// The editor page: one Editor object holds the document, the catalog, issues and history;
// the canvas (canvas.mjs: X6 graph, layout, ports) and the commands (commands.mjs: toolbar,
// keyboard, actions) are its methods, installed below. The document model (model.mjs) owns
// the truth. Side panels that talk to other APIs live in panels.mjs, the palette and lists in
// lists.mjs, the config form in config_panel.mjs.

import { $ } from "../common/dom.mjs";
import { request, errorText } from "../common/api.mjs";
import * as M from "./model.mjs";
import { canvas } from "./canvas.mjs";
import { commands } from "./commands.mjs";
import { setupPanels } from "./panels.mjs";
import { buildPalette, renderOutline, renderProblems } from "./lists.mjs";
import { closeForm, openForm, paintForm, showFormMessage } from "./config_panel.mjs";

const VALIDATE_DELAY_MS = 400;

export class Editor {
  constructor(root) {
    this.root = root;
    this.topologyId = root.dataset.topologyId ? Number(root.dataset.topologyId) : null;
    this.api = root.dataset.api ?? "/api";
    this.doc = M.createDocument(root.dataset.topologyName ?? "untitled");
    this.issues = [];
    this.mappedIssues = { byNode: {}, byEdge: {}, general: [] };
    this.validateTimer = null;
    this.validationSeq = 0;
    this.recordTimer = null;
    this.clipboard = null;
    this.dirty = false;
    this.formNodeId = null;
    this.connectDrag = null;
  }

  async start() {
    const catalogResult = await request("GET", `${this.api}/topologies/catalog`);
    if (!catalogResult.ok) {
      this.setStatus(`Could not load the node catalog: ${errorText(catalogResult)}`, "error");
      return;
    }
    this.catalog = M.normalizeCatalog(catalogResult.data);
    this.buildGraph();
    this.buildPalette();
    this.bindToolbar();
    this.bindKeyboard();
    this.panels = setupPanels(this);
    if (this.topologyId != null) {
      const loaded = await request("GET", `${this.api}/topologies/${this.topologyId}`);
      if (loaded.ok) {
        const doc = loaded.data.document ?? M.createDocument(loaded.data.name);
        doc.name = doc.name ?? loaded.data.name;
        doc.nodes = doc.nodes ?? [];
        doc.edges = doc.edges ?? [];
        this.doc = doc;
        this.topologyName = loaded.data.name;
        this.latestVersion = loaded.data.latest_version?.number ?? null;
      } else {
        this.setStatus(`Could not load the topology: ${errorText(loaded)}`, "error");
      }
    }
    const needsLayout = this.doc.nodes.some((n) => !n.position);
    this.history = new M.History(this.doc);
    this.render();
    if (needsLayout) this.autoLayout();
    this.graph.zoomToFit({ padding: 40, maxScale: 1 });
    this.scheduleValidate(0);
    this.root.dataset.ready = "true";
  }

  onSelectionChanged() {
    const ids = this.selectedNodeIds();
    for (const item of this.root.querySelectorAll("[data-outline-node]")) {
      item.setAttribute("aria-selected", String(ids.includes(item.dataset.outlineNode)));
    }
    if (ids.length === 1) this.openForm(ids[0], false);
    else if (ids.length > 1) this.showFormMessage(`${ids.length} nodes selected. Ctrl-C copies them, Delete removes them.`);
  }

  showFormMessage(text) {
    showFormMessage(this, text);
  }

  closeForm() {
    closeForm(this);
  }

  openForm(nodeId, focus) {
    openForm(this, nodeId, focus);
  }

  paintForm() {
    paintForm(this);
  }

  scheduleValidate(delay = VALIDATE_DELAY_MS) {
    clearTimeout(this.validateTimer);
    this.validateTimer = setTimeout(() => this.validate(), delay);
    $("#validation-state", this.root).textContent = "Checking…";
  }

  async validate() {
    const seq = ++this.validationSeq;
    const result = await request("POST", `${this.api}/topologies/validate`, { document: this.doc });
    if (seq !== this.validationSeq) return; // a newer edit is being checked
    const state = $("#validation-state", this.root);
    if (!result.ok && !result.data?.issues) {
      state.textContent = `Validation failed: ${errorText(result)}`;
      return;
    }
    this.issues = result.data.issues ?? [];
    this.describeText = result.data.describe ?? null;
    this.sqlText = result.data.sql ?? null;
    this.sqlReason = result.data.sql_reason ?? null;
    this.mappedIssues = M.mapIssues(this.doc, this.issues);
    state.textContent = this.issues.length ? `${this.issues.length} problem(s)` : "Valid";
    state.dataset.valid = String(Boolean(result.data.ok));
    this.render();
    this.paintForm();
    this.panels?.onValidated(result.data);
  }

  renderProblems() {
    renderProblems(this);
  }

  renderOutline() {
    renderOutline(this);
  }

  buildPalette() {
    buildPalette(this);
  }

  setStatus(text, kind = "info") {
    const s = $("#status", this.root);
    s.textContent = text;
    s.dataset.kind = kind;
  }

  announce(text) {
    const live = $("#live-region", this.root);
    if (live) live.textContent = text;
  }

  markSaved() {
    this.dirty = false;
    $("#dirty-flag", this.root).hidden = true;
  }
}

Object.assign(Editor.prototype, canvas, commands);

const root = document.getElementById("editor");
if (root && window.X6) {
  const editor = new Editor(root);
  window.weirEditor = editor;
  editor.start();
}
