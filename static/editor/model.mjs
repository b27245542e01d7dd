// The editor's graph document model: plain data and pure functions, no DOM, so node can test it.
// The canvas (canvas.mjs) renders this model and turns gestures into calls on it; the model
// is the single source of truth, which keeps undo/redo, copy/paste and the outline panel in
// agreement with what gets saved.

// The catalog comes from the server (topology/compiler/catalog.py catalog_schema(), described
// in docs/editor.md): this file reads exactly that one format and keeps no copy of it.

/** The server's catalog in the shape the editor works with: ports, palette group, output rule. */
export function normalizeCatalog(raw) {
  const types = {};
  for (const [type, spec] of Object.entries(raw.node_types)) {
    types[type] = {
      type,
      title: spec.title,
      description: spec.description,
      group: spec.group,
      expressionFields: spec.expression_fields,
      schema: spec.config,
      defs: spec.config.$defs ?? {},
      inputs: spec.inputs.map((port) => ({ name: port.name, label: port.name, kinds: port.kinds, multiple: port.multiple })),
      // A dynamic port stands for one port per entry of a config list (a branch's branches).
      outputs: spec.outputs.map((port) =>
        port.dynamic
          ? { name: "*", label: "", dynamic: true, configField: port.dynamic.config_field, nameField: port.dynamic.name_field, rule: spec.output_rule }
          : { name: port.name, label: port.name, dynamic: false, rule: spec.output_rule },
      ),
      outputRule: spec.output_rule,
    };
  }
  return { types, groups: raw.palette_groups };
}

/**
 * The kind an output rule gives for the known input kinds, or null while an input it needs is
 * unknown. The same function as evaluate_output_rule in topology/compiler/catalog.py; the
 * golden test (static/editor/tests/golden.test.mjs) holds the two equal.
 */
export function evaluateOutputRule(rule, inputKinds) {
  if (rule == null) return null;
  if ("kind" in rule) return rule.kind;
  if ("same_as" in rule) return inputKinds[rule.same_as] ?? null;
  if ("table_if_all" in rule) {
    const sides = rule.table_if_all.map((port) => inputKinds[port] ?? null);
    if (sides.includes(null)) return null;
    return sides.every((kind) => kind === "table") ? "table" : "stream";
  }
  throw new Error(`unknown output rule ${JSON.stringify(rule)}`);
}

/** The input ports whose kinds a rule reads. */
function ruleInputs(rule) {
  if (rule == null) return [];
  if ("same_as" in rule) return [rule.same_as];
  return rule.table_if_all ?? [];
}

/** A port's kind in words: an input's accepted kinds, an output's rule. */
export function portKindLabel(port) {
  if (!("rule" in port)) return port.kinds.join(" or ");
  const rule = port.rule;
  if (rule == null) return "none";
  if ("kind" in rule) return rule.kind;
  if ("same_as" in rule) return "same as input";
  return "stream or table";
}

/** Palette entries grouped and filtered by a search text (title, type or description). */
export function paletteGroups(catalog, query = "") {
  const needle = query.trim().toLowerCase();
  return catalog.groups.map((group) => ({
    ...group,
    types: Object.values(catalog.types)
      .filter((t) => t.group === group.id)
      .filter(
        (t) =>
          !needle ||
          t.type.toLowerCase().includes(needle) ||
          t.title.toLowerCase().includes(needle) ||
          t.description.toLowerCase().includes(needle),
      )
      .sort((a, b) => a.title.localeCompare(b.title)),
  })).filter((group) => group.types.length > 0);
}

export function createDocument(name = "untitled") {
  return { name, nodes: [], edges: [] };
}

export function cloneDocument(doc) {
  return JSON.parse(JSON.stringify(doc));
}

export function findNode(doc, id) {
  return doc.nodes.find((n) => n.id === id) ?? null;
}

/** A dynamic port's names come from the node's config: one per entry of the list it names. */
function dynamicNames(config, port) {
  const entries = config?.[port.configField];
  return Array.isArray(entries) ? entries.map((entry) => entry?.[port.nameField]).filter(Boolean) : [];
}

export function inputPorts(catalog, node) {
  return catalog.types[node.type]?.inputs ?? [];
}

export function outputPorts(catalog, node) {
  const ports = catalog.types[node.type]?.outputs ?? [];
  const expanded = ports.flatMap((port) =>
    port.dynamic ? dynamicNames(node.config, port).map((name) => ({ name, label: name, dynamic: false, rule: port.rule })) : [port],
  );
  const seen = new Set();
  return expanded.filter((port) => !seen.has(port.name) && seen.add(port.name));
}

export function edgeKey(edge) {
  return `${edge.source}:${edge.source_port ?? ""}->${edge.target}:${edge.target_port ?? ""}`;
}

/** Port names are left out of saved edges when the node has a single unnamed port. */
function portMatches(edgePort, port, ports) {
  if (edgePort == null || edgePort === "") return ports.length <= 1 || port.name === ports[0].name;
  return edgePort === port.name;
}

export function findPort(ports, name) {
  return ports.find((p) => portMatches(name, p, ports)) ?? null;
}

export function portForEdge(catalog, doc, edge, side) {
  const node = findNode(doc, side === "source" ? edge.source : edge.target);
  if (!node) return null;
  const ports = side === "source" ? outputPorts(catalog, node) : inputPorts(catalog, node);
  return findPort(ports, side === "source" ? edge.source_port : edge.target_port);
}

/**
 * The kind of records leaving a node's port: its type's output rule evaluated on the kinds
 * arriving at its inputs (a filter on a table is a table, as KTable#filter is). Inputs that
 * are not connected yet are unknown, and so is a kind that follows them.
 */
export function outputKind(catalog, doc, nodeId, portName, seen = new Set()) {
  const node = findNode(doc, nodeId);
  if (!node || seen.has(nodeId)) return null;
  const port = findPort(outputPorts(catalog, node), portName);
  if (!port) return null;
  const upstream = new Set(seen).add(nodeId);
  const ins = inputPorts(catalog, node);
  const inputKinds = {};
  for (const name of ruleInputs(port.rule)) {
    const kinds = doc.edges
      .filter((e) => e.target === nodeId && findPort(ins, e.target_port)?.name === name)
      .map((e) => outputKind(catalog, doc, e.source, e.source_port, upstream));
    if (kinds.length && !kinds.includes(null)) inputKinds[name] = kinds[kinds.length - 1];
  }
  return evaluateOutputRule(port.rule, inputKinds);
}

/** True when target can already reach source, so source → target would close a cycle. */
export function wouldCreateCycle(doc, source, target) {
  if (source === target) return true;
  const next = new Map();
  for (const e of doc.edges) {
    if (!next.has(e.source)) next.set(e.source, []);
    next.get(e.source).push(e.target);
  }
  const stack = [target];
  const seen = new Set();
  while (stack.length) {
    const id = stack.pop();
    if (id === source) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(next.get(id) ?? []));
  }
  return false;
}

function portLabel(node, port, ports) {
  return ports.length > 1 ? `${node.id}.${port.name}` : node.id;
}

/**
 * Whether an edge may be drawn, and if not, why — in words shown while the user drags.
 * The compiler checks all of this again on the saved document; this only gives early feedback.
 */
export function checkConnection(catalog, doc, edge) {
  const source = findNode(doc, edge.source);
  const target = findNode(doc, edge.target);
  if (!source || !target) return { ok: false, reason: "Both ends must be nodes on the canvas." };
  const outs = outputPorts(catalog, source);
  const ins = inputPorts(catalog, target);
  const outPort = findPort(outs, edge.source_port);
  const inPort = findPort(ins, edge.target_port);
  if (!outPort) return { ok: false, reason: `${source.id} has no output port ${edge.source_port ?? ""}`.trim() + "." };
  if (!inPort) {
    return ins.length === 0
      ? { ok: false, reason: `${target.id} (${target.type}) takes no input.` }
      : { ok: false, reason: `${target.id} has no input port ${edge.target_port ?? ""}`.trim() + "." };
  }
  if (source.id === target.id) return { ok: false, reason: "A node cannot feed itself." };
  const duplicate = doc.edges.some(
    (e) =>
      e.source === source.id &&
      e.target === target.id &&
      findPort(outs, e.source_port) === outPort &&
      findPort(ins, e.target_port) === inPort,
  );
  if (duplicate) return { ok: false, reason: "These ports are already connected." };
  if (wouldCreateCycle(doc, source.id, target.id)) {
    return { ok: false, reason: `Connecting ${source.id} to ${target.id} would make a cycle; topologies must be acyclic.` };
  }
  if (inPort.multiple === false && doc.edges.some((e) => e.target === target.id && findPort(ins, e.target_port) === inPort)) {
    return { ok: false, reason: `${portLabel(target, inPort, ins)} already has an input.` };
  }
  const kind = outputKind(catalog, doc, source.id, outPort.name);
  const accepts = inPort.kinds;
  if (kind && !accepts.includes(kind)) {
    const wanted = accepts.join(" or ");
    const hint = kind === "table" && accepts.includes("stream") ? " Put a to_stream node in between." : kind === "stream" && accepts.includes("table") ? " Put a to_table or aggregate node in between." : "";
    return {
      ok: false,
      reason: `${portLabel(source, outPort, outs)} produces a ${kind}, but ${portLabel(target, inPort, ins)} (${target.type}) takes a ${wanted}.${hint}`,
    };
  }
  return { ok: true, reason: "" };
}

/** Ids read like names in the plan and in state store names, so derive them from the type. */
export function uniqueId(doc, base) {
  const stem = String(base).toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "") || "node";
  const taken = new Set(doc.nodes.map((n) => n.id));
  if (!taken.has(stem)) return stem;
  for (let i = 2; ; i++) if (!taken.has(`${stem}_${i}`)) return `${stem}_${i}`;
}

function resolveRef(schema, defs) {
  let current = schema;
  for (let depth = 0; current && current.$ref && depth < 20; depth++) {
    const name = current.$ref.split("/").pop();
    current = { ...defs[name], ...Object.fromEntries(Object.entries(current).filter(([k]) => k !== "$ref")) };
  }
  return current ?? {};
}

/** A config filled with the schema's defaults; required fields without a default stay out. */
export function defaultsFromSchema(schema, defs = {}) {
  const resolved = resolveRef(schema ?? {}, defs);
  if (resolved.default !== undefined) return JSON.parse(JSON.stringify(resolved.default));
  if (resolved.type !== "object" && !resolved.properties) return undefined;
  const result = {};
  for (const [key, sub] of Object.entries(resolved.properties ?? {})) {
    const value = defaultsFromSchema(sub, defs);
    if (value !== undefined) result[key] = value;
  }
  return result;
}

export function addNode(doc, catalog, type, position = { x: 0, y: 0 }, id = null) {
  const spec = catalog.types[type];
  if (!spec) throw new Error(`Unknown node type ${type}`);
  const node = {
    id: id ?? uniqueId(doc, type),
    type,
    config: defaultsFromSchema(spec.schema, spec.defs) ?? {},
    position: { x: Math.round(position.x), y: Math.round(position.y) },
  };
  doc.nodes.push(node);
  return node;
}

export function removeNodes(doc, ids) {
  const gone = new Set(ids);
  doc.nodes = doc.nodes.filter((n) => !gone.has(n.id));
  doc.edges = doc.edges.filter((e) => !gone.has(e.source) && !gone.has(e.target));
}

export function addEdge(catalog, doc, edge) {
  const verdict = checkConnection(catalog, doc, edge);
  if (!verdict.ok) return verdict;
  const clean = { source: edge.source, target: edge.target };
  if (edge.source_port) clean.source_port = edge.source_port;
  if (edge.target_port) clean.target_port = edge.target_port;
  doc.edges.push(clean);
  return { ok: true, reason: "", edge: clean };
}

export function removeEdges(doc, keys) {
  const gone = new Set(keys);
  doc.edges = doc.edges.filter((e) => !gone.has(edgeKey(e)));
}

/** Renaming keeps edges attached; ids are what the compiler names state after. */
export function renameNode(doc, oldId, newId) {
  if (oldId === newId) return { ok: true };
  if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(newId)) {
    return { ok: false, reason: "Use letters, digits, '_' or '-', starting with a letter or '_'." };
  }
  if (findNode(doc, newId)) return { ok: false, reason: `A node called ${newId} already exists.` };
  const node = findNode(doc, oldId);
  if (!node) return { ok: false, reason: `No node ${oldId}.` };
  node.id = newId;
  for (const e of doc.edges) {
    if (e.source === oldId) e.source = newId;
    if (e.target === oldId) e.target = newId;
  }
  return { ok: true };
}

/** The selected nodes and the edges between them, detached from the document. */
export function copyFragment(doc, ids) {
  const chosen = new Set(ids);
  return JSON.parse(
    JSON.stringify({
      nodes: doc.nodes.filter((n) => chosen.has(n.id)),
      edges: doc.edges.filter((e) => chosen.has(e.source) && chosen.has(e.target)),
    }),
  );
}

/** Paste gives every node a fresh id (state names derive from ids) and shifts it so it shows. */
export function pasteFragment(doc, fragment, offset = { x: 40, y: 40 }) {
  const renamed = new Map();
  const added = [];
  for (const node of fragment.nodes) {
    const copy = JSON.parse(JSON.stringify(node));
    copy.id = uniqueId(doc, node.id.replace(/_\d+$/, ""));
    renamed.set(node.id, copy.id);
    const pos = node.position ?? { x: 0, y: 0 };
    copy.position = { x: pos.x + offset.x, y: pos.y + offset.y };
    doc.nodes.push(copy);
    added.push(copy.id);
  }
  for (const edge of fragment.edges) {
    if (!renamed.has(edge.source) || !renamed.has(edge.target)) continue;
    doc.edges.push({ ...edge, source: renamed.get(edge.source), target: renamed.get(edge.target) });
  }
  return added;
}

/** Snapshot undo: documents are small, and snapshots cannot drift from the real state. */
export class History {
  constructor(doc, limit = 200) {
    this.past = [];
    this.future = [];
    this.limit = limit;
    this.current = cloneDocument(doc);
  }

  record(doc) {
    const snapshot = cloneDocument(doc);
    if (JSON.stringify(snapshot) === JSON.stringify(this.current)) return false;
    this.past.push(this.current);
    if (this.past.length > this.limit) this.past.shift();
    this.current = snapshot;
    this.future = [];
    return true;
  }

  canUndo() {
    return this.past.length > 0;
  }

  canRedo() {
    return this.future.length > 0;
  }

  undo() {
    if (!this.canUndo()) return null;
    this.future.push(this.current);
    this.current = this.past.pop();
    return cloneDocument(this.current);
  }

  redo() {
    if (!this.canRedo()) return null;
    this.past.push(this.current);
    this.current = this.future.pop();
    return cloneDocument(this.current);
  }

  reset(doc) {
    this.past = [];
    this.future = [];
    this.current = cloneDocument(doc);
  }
}

function parseEdgeRef(doc, ref) {
  if (ref == null) return null;
  if (typeof ref === "number") return doc.edges[ref] ?? null;
  const text = String(ref);
  const byIndex = /^(?:edges?\[?)?(\d+)\]?$/.exec(text);
  if (byIndex) return doc.edges[Number(byIndex[1])] ?? null;
  const byKey = doc.edges.find((e) => edgeKey(e) === text || e.id === text);
  if (byKey) return byKey;
  if (text.includes("->")) {
    const [from, to] = text.split("->").map((side) => /^\s*([^.:\s]+)(?:[.:](\S*))?\s*$/.exec(side));
    if (from && to) {
      return (
        doc.edges.find(
          (e) =>
            e.source === from[1] &&
            e.target === to[1] &&
            (!from[2] || e.source_port === from[2]) &&
            (!to[2] || e.target_port === to[2]),
        ) ?? null
      );
    }
  }
  return null;
}

/** Sort compiler issues onto the nodes and edges they name; the rest are document-wide. */
export function mapIssues(doc, issues) {
  const byNode = {};
  const byEdge = {};
  const general = [];
  for (const issue of issues ?? []) {
    const edge = parseEdgeRef(doc, issue.edge_id);
    if (edge) (byEdge[edgeKey(edge)] ??= []).push(issue);
    if (issue.node_id && findNode(doc, issue.node_id)) (byNode[issue.node_id] ??= []).push(issue);
    else if (!edge) general.push(issue);
  }
  return { byNode, byEdge, general };
}

/** Issues for one config field, matching nested fields ("window.size") to their parent too. */
export function issuesForField(issues, nodeId, field) {
  return (issues ?? []).filter((i) => {
    if (i.node_id !== nodeId || !i.field) return false;
    const f = String(i.field).replace(/^config\./, "").replace(/\[(\w+)\]/g, ".$1");
    return f === field || f.startsWith(`${field}.`);
  });
}

/** One line per change, for the version history panel (topology/compiler/diff.py semantic_diff). */
export function describeDiff(diff) {
  const lines = [];
  for (const id of diff.added) lines.push({ kind: "added", text: `+ node ${id} added` });
  for (const id of diff.removed) lines.push({ kind: "removed", text: `- node ${id} removed` });
  for (const change of diff.changed) {
    lines.push({ kind: "changed", text: `~ node ${change.id} changed${change.fields.length ? ` (${change.fields.join(", ")})` : ""}` });
  }
  for (const e of diff.edges_added) lines.push({ kind: "added", text: `+ edge ${e.source} → ${e.target}` });
  for (const e of diff.edges_removed) lines.push({ kind: "removed", text: `- edge ${e.source} → ${e.target}` });
  return lines;
}

export const VERDICT_MEANING = {
  compatible: "Compatible: the running deployment upgrades in place and keeps its state and offsets.",
  reprocess: "Reprocess: a stateful node changed meaning; its state is rebuilt from the source topics.",
  new_identity: "New identity: needs a new application id — a new consumer group and new internal topics; old state is not reused.",
};
