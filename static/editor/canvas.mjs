// The editor's canvas: the X6 graph, its ports, node and edge drawing, auto-layout, zoom and
// selection. It renders the document model (model.mjs) and turns gestures into the commands
// of commands.mjs; it never edits the document itself except through them (a moved node
// writes its position, then calls changed()). Installed on the Editor (editor.mjs) as methods.

import { $ } from "../common/dom.mjs";
import * as M from "./model.mjs";
import { layoutPositions, NODE_SIZE } from "./layout.mjs";

const X6 = window.X6;
const PORT_COLORS = { stream: "#2563eb", table: "#d97706", same: "#6b7280" };

// Inputs show the one kind they take; outputs their fixed kind; anything else is grey.
function portColor(port) {
  const kinds = "rule" in port ? (port.rule && "kind" in port.rule ? [port.rule.kind] : []) : port.kinds;
  return PORT_COLORS[kinds.length === 1 ? kinds[0] : "same"] ?? PORT_COLORS.same;
}

export const canvas = {
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
  },

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
  },

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
  },

  portItems(node) {
    const ins = M.inputPorts(this.catalog, node);
    const outs = M.outputPorts(this.catalog, node);
    const named = (ports) => ports.length > 1 || ports.some((p) => p.name !== "in" && p.name !== "out");
    const item = (group, port, showName) => {
      // Ports that follow their input show what actually flows once connected.
      const resolved = group === "out" && !(port.rule && "kind" in port.rule) ? M.outputKind(this.catalog, this.doc, node.id, port.name) : null;
      const kindText = resolved ? `${resolved} (${M.portKindLabel(port)})` : M.portKindLabel(port);
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
  },

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
  },

  portGroups() {
    const circle = (magnet) => ({ r: 7, magnet, stroke: "#1e293b", strokeWidth: 1.5 });
    return {
      in: { position: "left", label: { position: "left" }, attrs: { circle: circle("passive"), text: { fontSize: 10, fill: "#475569" } }, markup: [{ tagName: "circle", selector: "circle" }] },
      out: { position: "right", label: { position: "right" }, attrs: { circle: circle(true), text: { fontSize: 10, fill: "#475569" } }, markup: [{ tagName: "circle", selector: "circle" }] },
    };
  },

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
  },

  freeSpot() {
    const area = this.graph.getGraphArea ? this.graph.getGraphArea() : null;
    const center = area ? { x: area.x + area.width / 2, y: area.y + area.height / 2 } : { x: 200, y: 200 };
    let spot = { x: center.x - NODE_SIZE.width / 2, y: center.y - NODE_SIZE.height / 2 };
    const taken = (p) => this.doc.nodes.some((n) => n.position && Math.abs(n.position.x - p.x) < NODE_SIZE.width && Math.abs(n.position.y - p.y) < NODE_SIZE.height);
    for (let i = 0; i < 50 && taken(spot); i++) spot = { x: spot.x + 30, y: spot.y + NODE_SIZE.height + 20 };
    return spot;
  },

  autoLayout() {
    const positions = layoutPositions(this.doc, window.dagre);
    for (const node of this.doc.nodes) node.position = positions[node.id];
    this.changed({ validate: false });
    this.graph.zoomToFit({ padding: 40, maxScale: 1 });
  },

  selectedNodeIds() {
    return this.selection.getSelectedCells().filter((c) => c.isNode()).map((c) => c.id);
  },

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
  },

  showZoom() {
    const z = $("#zoom-level", this.root);
    if (z) z.textContent = `${Math.round(this.graph.zoom() * 100)}%`;
  },
};
