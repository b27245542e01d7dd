// The editor page: the X6 canvas, palette, config form, problems and outline panels. The
// document model (model.mjs) owns the truth; this file renders it and turns gestures into
// model commands. Side panels that talk to other APIs live in panels.mjs.

import { $, h } from "./dom.mjs";
import * as M from "./model.mjs";
import { layoutPositions, NODE_SIZE } from "./layout.mjs";
import { request, errorText } from "./api.mjs";
import { setupPanels } from "./panels.mjs";
import { buildPalette, portKindLabel, renderOutline, renderProblems } from "./lists.mjs";
import { closeForm, openForm, paintForm, showFormMessage } from "./config_panel.mjs";

const X6 = window.X6;
const PORT_COLORS = { stream: "#2563eb", table: "#d97706", same: "#6b7280" };
const VALIDATE_DELAY_MS = 400;

function portColor(port) {
  return PORT_COLORS[port.kinds.length === 1 ? port.kinds[0] : "same"] ?? PORT_COLORS.same;
}

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

  // --- canvas ------------------------------------------------------------------------------

  buildGraph() {
    const container = $("#canvas", this.root);
    const editor = this;
    this.graph = new X6.Graph({
      container,
      autoResize: true,
      grid: { size: 10, visible: true },
      panning: { enabled: true, eventTypes: ["leftMouseDown"] },
      mousewheel: { enabled: true, zoomAtMousePosition: true, minScale: 0.2, maxScale: 3 },
      interacting: { edgeMovable: false, arrowheadMovable: false, vertexAddable: false, vertexMovable: false, edgeLabelMovable: false },
      connecting: {
        connector: "smooth",
        allowBlank: false,
        allowLoop: false,
        allowNode: false,
        allowEdge: false,
        allowMulti: true,
        highlight: true,
        snap: { radius: 24 },
        createEdge() {
          return this.createEdge({ attrs: { line: { stroke: "#64748b", strokeWidth: 2, targetMarker: "classic" } }, zIndex: 0 });
        },
        validateConnection({ sourceCell, targetCell, sourcePort, targetPort }) {
          if (!sourceCell || !targetCell || !targetPort || !sourcePort) return false;
          if (!String(targetPort).startsWith("in:") || !String(sourcePort).startsWith("out:")) return false;
          return M.checkConnection(editor.catalog, editor.doc, editor.edgeFromPorts(sourceCell.id, sourcePort, targetCell.id, targetPort)).ok;
        },
      },
      highlighting: {
        magnetAvailable: { name: "stroke", args: { padding: 3, attrs: { stroke: "#16a34a", "stroke-width": 3 } } },
        magnetAdsorbed: { name: "stroke", args: { padding: 4, attrs: { stroke: "#15803d", "stroke-width": 4 } } },
      },
    });
    this.selection = new X6.Selection({ enabled: true, multiple: true, multipleSelectionModifiers: ["ctrl", "meta", "shift"], rubberband: true, modifiers: ["shift"], movable: true, showNodeSelectionBox: true, pointerEvents: "none" });
    this.graph.use(this.selection);
    this.graph.use(new X6.Snapline({ enabled: true }));
    this.graph.use(new X6.MiniMap({ container: $("#minimap", this.root), width: 200, height: 130, padding: 10 }));

    this.graph.on("edge:connected", ({ edge }) => {
      const source = edge.getSourceCellId();
      const target = edge.getTargetCellId();
      const sourcePort = edge.getSourcePortId();
      const targetPort = edge.getTargetPortId();
      edge.remove({ silent: false });
      if (!source || !target || !targetPort) return;
      const wanted = this.edgeFromPorts(source, sourcePort, target, targetPort);
      this.connect(wanted);
    });
    this.graph.on("node:moved", ({ node }) => {
      const n = M.findNode(this.doc, node.id);
      if (!n) return;
      const p = node.getPosition();
      n.position = { x: Math.round(p.x), y: Math.round(p.y) };
      this.changed({ rerender: false });
    });
    this.graph.on("selection:changed", () => this.onSelectionChanged());
    this.graph.on("node:dblclick", ({ node }) => this.openForm(node.id, true));
    this.graph.on("scale", () => this.showZoom());
    this.trackConnectionHints(container);

    // Palette drops (HTML5 drag and drop), placed where the pointer is.
    container.addEventListener("dragover", (e) => {
      if (e.dataTransfer.types.includes("application/x-weir-node-type")) {
        e.preventDefault();
        e.dataTransfer.dropEffect = "copy";
      }
    });
    container.addEventListener("drop", (e) => {
      const type = e.dataTransfer.getData("application/x-weir-node-type");
      if (!type) return;
      e.preventDefault();
      const p = this.graph.clientToLocal(e.clientX, e.clientY);
      this.addNode(type, { x: p.x - NODE_SIZE.width / 2, y: p.y - NODE_SIZE.height / 2 });
    });
  }

  // While a wire is dragged, say why the port under the pointer refuses it (X6 only
  // greys it out); after a refused drop, keep the reason on screen.
  trackConnectionHints(container) {
    const hint = $("#connection-hint", this.root);
    const portUnder = (x, y) => {
      // The wire being dragged ends under the pointer, so look through the whole stack.
      const el = document.elementsFromPoint(x, y).map((e) => e.closest?.("[port]")).find(Boolean);
      const cellEl = el?.closest?.("[data-cell-id]");
      return el && cellEl ? { nodeId: cellEl.getAttribute("data-cell-id"), portId: el.getAttribute("port") } : null;
    };
    container.addEventListener("mousedown", (e) => {
      const start = portUnder(e.clientX, e.clientY);
      this.connectDrag = start && start.portId.startsWith("out:") ? start : null;
    }, true);
    window.addEventListener("mousemove", (e) => {
      if (!this.connectDrag) return;
      const over = portUnder(e.clientX, e.clientY);
      if (!over || !over.portId.startsWith("in:")) {
        hint.hidden = true;
        return;
      }
      const verdict = M.checkConnection(this.catalog, this.doc, this.edgeFromPorts(this.connectDrag.nodeId, this.connectDrag.portId, over.nodeId, over.portId));
      hint.hidden = false;
      hint.className = verdict.ok ? "hint ok" : "hint refused";
      hint.textContent = verdict.ok ? "Release to connect" : verdict.reason;
      hint.style.left = `${e.clientX + 14}px`;
      hint.style.top = `${e.clientY + 14}px`;
    }, true);
    window.addEventListener("mouseup", (e) => {
      if (!this.connectDrag) return;
      const from = this.connectDrag;
      this.connectDrag = null;
      hint.hidden = true;
      const over = portUnder(e.clientX, e.clientY);
      if (!over || !over.portId.startsWith("in:")) return;
      const verdict = M.checkConnection(this.catalog, this.doc, this.edgeFromPorts(from.nodeId, from.portId, over.nodeId, over.portId));
      if (!verdict.ok) this.refuse(verdict.reason);
    }, true);
  }

  edgeFromPorts(source, sourcePort, target, targetPort) {
    const edge = { source, target };
    const sNode = M.findNode(this.doc, source);
    const tNode = M.findNode(this.doc, target);
    const sName = String(sourcePort ?? "").replace(/^out:/, "");
    const tName = String(targetPort ?? "").replace(/^in:/, "");
    // Single-port sides stay unnamed in the document, as the format's examples write them.
    const dynamicOutputs = sNode && this.catalog.types[sNode.type]?.outputs.some((p) => p.dynamic);
    if (sNode && (dynamicOutputs || M.outputPorts(this.catalog, sNode).length > 1)) edge.source_port = sName;
    if (tNode && M.inputPorts(this.catalog, tNode).length > 1) edge.target_port = tName;
    return edge;
  }

  portItems(node) {
    const ins = M.inputPorts(this.catalog, node);
    const outs = M.outputPorts(this.catalog, node);
    const named = (ports) => ports.length > 1 || ports.some((p) => p.name !== "in" && p.name !== "out");
    const item = (group, port, showName) => {
      // Ports that follow their input show what actually flows once connected.
      const resolved = group === "out" && port.kinds.length === 1 && !["stream", "table"].includes(port.kinds[0]) ? M.outputKind(this.catalog, this.doc, node.id, port.name) : null;
      const kindText = resolved ? `${resolved} (${portKindLabel(port)})` : portKindLabel(port);
      return {
      id: `${group}:${port.name}`,
      group,
      attrs: {
        circle: { fill: resolved ? PORT_COLORS[resolved] : portColor(port), "data-kind": kindText, title: `${port.name}: ${kindText}` },
        text: { text: showName ? port.label || port.name : "" },
      },
    };
    };
    return [...ins.map((p) => item("in", p, named(ins))), ...outs.map((p) => item("out", p, named(outs)))];
  }

  nodeAttrs(node) {
    const issues = this.mappedIssues.byNode[node.id] ?? [];
    const bad = issues.some((i) => (i.severity ?? "error") === "error");
    const warn = issues.length > 0 && !bad;
    return {
      body: {
        fill: "#ffffff",
        stroke: bad ? "#dc2626" : warn ? "#d97706" : "#334155",
        strokeWidth: bad || warn ? 3 : 1.5,
        rx: 6,
        ry: 6,
        "data-issues": String(issues.length),
      },
      label: { text: `${node.id}\n${node.type}${issues.length ? `  ⚠ ${issues.length}` : ""}`, fontSize: 12, fill: "#0f172a" },
    };
  }

  portGroups() {
    const circle = (magnet) => ({ r: 7, magnet, stroke: "#1e293b", strokeWidth: 1.5 });
    return {
      in: { position: "left", label: { position: "left" }, attrs: { circle: circle("passive"), text: { fontSize: 10, fill: "#475569" } }, markup: [{ tagName: "circle", selector: "circle" }] },
      out: { position: "right", label: { position: "right" }, attrs: { circle: circle(true), text: { fontSize: 10, fill: "#475569" } }, markup: [{ tagName: "circle", selector: "circle" }] },
    };
  }

  /** Bring the canvas in line with the document: add, update and remove cells by id. */
  render() {
    const graph = this.graph;
    const wanted = new Set(this.doc.nodes.map((n) => n.id));
    for (const cell of graph.getNodes()) if (!wanted.has(cell.id)) cell.remove();
    for (const node of this.doc.nodes) {
      const pos = node.position ?? { x: 0, y: 0 };
      const ports = this.portItems(node);
      let cell = graph.getCellById(node.id);
      if (!cell) {
        cell = graph.addNode({
          id: node.id,
          shape: "rect",
          x: pos.x,
          y: pos.y,
          width: NODE_SIZE.width,
          height: NODE_SIZE.height,
          attrs: this.nodeAttrs(node),
          ports: { groups: this.portGroups(), items: ports },
        });
      } else {
        const current = cell.getPosition();
        if (Math.round(current.x) !== pos.x || Math.round(current.y) !== pos.y) cell.setPosition(pos.x, pos.y);
        cell.setAttrs(this.nodeAttrs(node));
        const signature = JSON.stringify(ports);
        if (cell.getProp("portSignature") !== signature) {
          cell.removePorts();
          cell.addPorts(ports);
        }
      }
      cell.setProp("portSignature", JSON.stringify(ports));
    }
    const edgeKeys = new Map(this.doc.edges.map((e) => [M.edgeKey(e), e]));
    // Only edges this method drew: a wire the user is still dragging is X6's until it lands.
    for (const cell of graph.getEdges()) if (cell.getProp("fromDocument") && !edgeKeys.has(cell.id)) cell.remove();
    for (const [key, edge] of edgeKeys) {
      const issues = this.mappedIssues.byEdge[key] ?? [];
      const attrs = { line: { stroke: issues.length ? "#dc2626" : "#64748b", strokeWidth: issues.length ? 3 : 2, targetMarker: "classic" } };
      const existing = graph.getCellById(key);
      if (existing) {
        existing.setAttrs(attrs);
        continue;
      }
      const sNode = M.findNode(this.doc, edge.source);
      const tNode = M.findNode(this.doc, edge.target);
      if (!sNode || !tNode) continue;
      const sPort = M.findPort(M.outputPorts(this.catalog, sNode), edge.source_port);
      const tPort = M.findPort(M.inputPorts(this.catalog, tNode), edge.target_port);
      const source = sPort ? { cell: edge.source, port: `out:${sPort.name}` } : { cell: edge.source };
      const target = tPort ? { cell: edge.target, port: `in:${tPort.name}` } : { cell: edge.target };
      graph.addEdge({ id: key, source, target, connector: "smooth", attrs, zIndex: 0, fromDocument: true });
    }
    this.renderOutline();
    this.renderProblems();
  }

  // --- commands (every user edit goes through these) ---------------------------------------

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
  }

  flushRecord() {
    clearTimeout(this.recordTimer);
    this.recordTimer = null;
    this.history.record(this.doc);
    this.updateUndoButtons();
  }

  addNode(type, position) {
    const node = M.addNode(this.doc, this.catalog, type, position ?? this.freeSpot());
    this.changed();
    this.selectNodes([node.id]);
    this.announce(`Added ${node.type} node ${node.id}.`);
    return node;
  }

  freeSpot() {
    const area = this.graph.getGraphArea ? this.graph.getGraphArea() : null;
    const center = area ? { x: area.x + area.width / 2, y: area.y + area.height / 2 } : { x: 200, y: 200 };
    let spot = { x: center.x - NODE_SIZE.width / 2, y: center.y - NODE_SIZE.height / 2 };
    const taken = (p) => this.doc.nodes.some((n) => n.position && Math.abs(n.position.x - p.x) < NODE_SIZE.width && Math.abs(n.position.y - p.y) < NODE_SIZE.height);
    for (let i = 0; i < 50 && taken(spot); i++) spot = { x: spot.x + 30, y: spot.y + NODE_SIZE.height + 20 };
    return spot;
  }

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
  }

  refuse(reason) {
    const box = $("#connection-refused", this.root);
    box.textContent = `Connection refused: ${reason}`;
    box.hidden = false;
    clearTimeout(this.refuseTimer);
    this.refuseTimer = setTimeout(() => (box.hidden = true), 8000);
    this.announce(`Connection refused: ${reason}`);
  }

  deleteSelection() {
    const cells = this.selection.getSelectedCells();
    const nodeIds = cells.filter((c) => c.isNode()).map((c) => c.id);
    const edgeKeys = cells.filter((c) => c.isEdge()).map((c) => c.id);
    this.deleteItems(nodeIds, edgeKeys);
  }

  deleteItems(nodeIds, edgeKeys = []) {
    if (!nodeIds.length && !edgeKeys.length) return;
    this.selection.clean();
    M.removeEdges(this.doc, edgeKeys);
    M.removeNodes(this.doc, nodeIds);
    if (nodeIds.includes(this.formNodeId)) this.closeForm();
    this.changed();
    this.announce(`Deleted ${nodeIds.length} node(s) and ${edgeKeys.length} edge(s).`);
  }

  undo() {
    if (this.recordTimer) this.flushRecord();
    const doc = this.history.undo();
    if (doc) this.replaceDocument(doc);
  }

  redo() {
    if (this.recordTimer) this.flushRecord();
    const doc = this.history.redo();
    if (doc) this.replaceDocument(doc);
  }

  replaceDocument(doc) {
    this.doc = doc;
    this.changed({ record: false });
    if (this.formNodeId) this.openForm(this.formNodeId, false);
  }

  copy() {
    const ids = this.selectedNodeIds();
    if (!ids.length) return;
    this.clipboard = M.copyFragment(this.doc, ids);
    this.announce(`Copied ${ids.length} node(s).`);
  }

  paste() {
    if (!this.clipboard) return;
    const added = M.pasteFragment(this.doc, this.clipboard);
    this.clipboard = M.copyFragment(this.doc, added);
    this.changed();
    this.selectNodes(added);
  }

  autoLayout() {
    const positions = layoutPositions(this.doc, window.dagre);
    for (const node of this.doc.nodes) node.position = positions[node.id];
    this.changed({ validate: false });
    this.graph.zoomToFit({ padding: 40, maxScale: 1 });
  }

  selectedNodeIds() {
    return this.selection.getSelectedCells().filter((c) => c.isNode()).map((c) => c.id);
  }

  selectNodes(ids, { reveal = false } = {}) {
    this.selection.clean();
    if (ids.length) this.selection.select(ids.map((id) => this.graph.getCellById(id)).filter(Boolean));
    // Bring a node chosen from a panel into view, but never move the view under the mouse.
    if (reveal && ids.length === 1) {
      const cell = this.graph.getCellById(ids[0]);
      const area = this.graph.getGraphArea?.();
      if (cell && area && !area.containsRect(cell.getBBox())) this.graph.centerCell(cell);
    }
    this.onSelectionChanged();
  }

  onSelectionChanged() {
    const ids = this.selectedNodeIds();
    for (const item of this.root.querySelectorAll("[data-outline-node]")) {
      item.setAttribute("aria-selected", String(ids.includes(item.dataset.outlineNode)));
    }
    if (ids.length === 1) this.openForm(ids[0], false);
    else if (ids.length > 1) this.showFormMessage(`${ids.length} nodes selected. Ctrl-C copies them, Delete removes them.`);
  }

  // --- config form (config_panel.mjs) -----------------------------------------------------

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

  // --- validation and problems -------------------------------------------------------------

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

  // --- toolbar, keyboard, status -----------------------------------------------------------

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
  }

  showTab(name) {
    for (const tab of this.root.querySelectorAll("[role=tab]")) {
      const active = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", String(active));
      tab.tabIndex = active ? 0 : -1;
      $(`#panel-${tab.dataset.tab}`, this.root).hidden = !active;
    }
    this.panels?.onTab(name);
  }

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
  }

  updateUndoButtons() {
    $("#btn-undo", this.root).disabled = !this.history?.canUndo() && !this.recordTimer;
    $("#btn-redo", this.root).disabled = !this.history?.canRedo();
  }

  showZoom() {
    const z = $("#zoom-level", this.root);
    if (z) z.textContent = `${Math.round(this.graph.zoom() * 100)}%`;
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

const root = document.getElementById("editor");
if (root && X6) {
  const editor = new Editor(root);
  window.weirEditor = editor;
  editor.start();
}
