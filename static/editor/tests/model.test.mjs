import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as m from "../model.mjs";

// The catalog exactly as the server sends it (checked equal to catalog_schema() by
// tests/topology/compiler/test_golden_output_kinds.py).
const rawCatalog = JSON.parse(readFileSync(new URL("../../../tests/topology/compiler/golden/catalog.json", import.meta.url), "utf-8"));

function pipeline() {
  const catalog = m.normalizeCatalog(rawCatalog);
  const doc = m.createDocument("t");
  m.addNode(doc, catalog, "source", { x: 0, y: 0 });
  m.addNode(doc, catalog, "filter", { x: 100, y: 0 });
  m.addNode(doc, catalog, "aggregate", { x: 200, y: 0 });
  m.addNode(doc, catalog, "sink", { x: 300, y: 0 });
  assert.ok(m.addEdge(catalog, doc, { source: "source", target: "filter" }).ok);
  assert.ok(m.addEdge(catalog, doc, { source: "filter", target: "aggregate" }).ok);
  return { catalog, doc };
}

test("palette groups types and filters them by search text", () => {
  const catalog = m.normalizeCatalog(rawCatalog);
  const groups = m.paletteGroups(catalog);
  assert.deepEqual(groups.map((g) => g.id), ["sources", "transforms", "aggregations", "joins", "sinks"]);
  assert.deepEqual(groups.map((g) => g.title), ["Sources", "Transforms", "Aggregations", "Joins", "Sinks and views"]);
  assert.deepEqual(groups.find((g) => g.id === "sinks").types.map((t) => t.type).sort(), ["sink", "view"]);
  assert.deepEqual(groups.find((g) => g.id === "transforms").types.map((t) => t.type).sort(),
    ["branch", "filter", "flat_map", "map", "merge", "select_key", "to_stream", "to_table"]);
  const found = m.paletteGroups(catalog, "where` is true");
  assert.deepEqual(found.flatMap((g) => g.types.map((t) => t.type)), ["filter"]);
});

test("new nodes get readable unique ids and the schema defaults", () => {
  const { catalog, doc } = pipeline();
  const second = m.addNode(doc, catalog, "filter", { x: 5.4, y: 7.6 });
  assert.equal(second.id, "filter_2");
  assert.deepEqual(second.position, { x: 5, y: 8 });
  // A required list without a default (topics) stays out; a required map starts empty.
  assert.deepEqual(m.findNode(doc, "source").config, {
    key_format: "string", value_format: "json", timestamp: null, offset_reset: "earliest", partitions: null, fields: null,
  });
  assert.deepEqual(m.findNode(doc, "aggregate").config, { group_by: null, aggregations: {}, window: null, emit: "changes", partitions: null });
});

test("a table output into a stream-only port is refused with a reason naming both ends", () => {
  const { catalog, doc } = pipeline();
  m.addNode(doc, catalog, "select_key");
  const verdict = m.checkConnection(catalog, doc, { source: "aggregate", target: "select_key" });
  assert.equal(verdict.ok, false);
  assert.match(verdict.reason, /aggregate produces a table, but select_key \(select_key\) takes a stream/);
  assert.match(verdict.reason, /to_stream/);
  m.addNode(doc, catalog, "to_stream");
  assert.match(m.checkConnection(catalog, doc, { source: "filter", target: "to_stream" }).reason, /takes a table\. Put a to_table or aggregate/);
});

test("a filter on a table produces a table, so it cannot feed a stream-only port", () => {
  const { catalog, doc } = pipeline();
  m.addNode(doc, catalog, "table_source");
  m.addNode(doc, catalog, "filter", {}, "table_filter");
  m.addNode(doc, catalog, "flat_map");
  assert.ok(m.addEdge(catalog, doc, { source: "table_source", target: "table_filter" }).ok);
  assert.equal(m.outputKind(catalog, doc, "table_filter"), "table");
  assert.equal(m.checkConnection(catalog, doc, { source: "table_filter", target: "flat_map" }).ok, false);
  assert.equal(m.checkConnection(catalog, doc, { source: "filter", target: "flat_map" }).ok, true);
  assert.equal(m.checkConnection(catalog, doc, { source: "table_filter", target: "sink" }).ok, true);
});

test("a connection that would close a cycle is refused", () => {
  const { catalog, doc } = pipeline();
  m.addNode(doc, catalog, "filter", {}, "second");
  assert.ok(m.addEdge(catalog, doc, { source: "filter", target: "second" }).ok);
  const verdict = m.checkConnection(catalog, doc, { source: "second", target: "filter" });
  assert.equal(verdict.ok, false);
  assert.match(verdict.reason, /cycle/);
  assert.equal(m.checkConnection(catalog, doc, { source: "filter", target: "filter" }).ok, false);
});

test("sources take no input and duplicate edges are refused", () => {
  const { catalog, doc } = pipeline();
  assert.match(m.checkConnection(catalog, doc, { source: "filter", target: "source" }).reason, /takes no input/);
  assert.match(m.checkConnection(catalog, doc, { source: "source", target: "filter" }).reason, /already connected/);
});

test("join ports are named and each takes a single input", () => {
  const { catalog, doc } = pipeline();
  m.addNode(doc, catalog, "join");
  m.addNode(doc, catalog, "table_source");
  assert.ok(m.addEdge(catalog, doc, { source: "source", target: "join", target_port: "left" }).ok);
  assert.ok(m.addEdge(catalog, doc, { source: "table_source", target: "join", target_port: "right" }).ok);
  const again = m.checkConnection(catalog, doc, { source: "filter", target: "join", target_port: "left" });
  assert.match(again.reason, /join\.left already has an input/);
  assert.equal(m.checkConnection(catalog, doc, { source: "filter", target: "join", target_port: "middle" }).ok, false);
});

test("branch outputs are the names in its config", () => {
  const { catalog, doc } = pipeline();
  const node = m.addNode(doc, catalog, "branch");
  node.config.branches = [{ name: "big", where: "x > 1" }, { name: "small", where: "x <= 1" }];
  assert.deepEqual(m.outputPorts(catalog, node).map((p) => p.name), ["big", "small", "default"]);
  assert.ok(m.addEdge(catalog, doc, { source: "source", target: "branch" }).ok);
  const edge = m.addEdge(catalog, doc, { source: "branch", source_port: "big", target: "sink" });
  assert.deepEqual(edge.edge, { source: "branch", source_port: "big", target: "sink" });
  assert.equal(m.checkConnection(catalog, doc, { source: "branch", source_port: "huge", target: "sink" }).ok, false);
});

test("removing a node removes its edges and undo brings both back", () => {
  const { catalog, doc } = pipeline();
  const history = new m.History(doc);
  m.removeNodes(doc, ["filter"]);
  assert.equal(doc.edges.length, 0);
  assert.ok(history.record(doc));
  const restored = history.undo();
  assert.deepEqual(restored.nodes.map((n) => n.id), ["source", "filter", "aggregate", "sink"]);
  assert.equal(restored.edges.length, 2);
  const again = history.redo();
  assert.equal(again.edges.length, 0);
  assert.equal(history.canRedo(), false);
  assert.equal(catalog.types.filter.type, "filter");
});

test("recording an unchanged document adds no undo step", () => {
  const { doc } = pipeline();
  const history = new m.History(doc);
  assert.equal(history.record(doc), false);
  assert.equal(history.canUndo(), false);
});

test("copy and paste gives fresh ids and keeps the inner edges", () => {
  const { doc } = pipeline();
  const fragment = m.copyFragment(doc, ["filter", "aggregate"]);
  const added = m.pasteFragment(doc, fragment);
  assert.deepEqual(added, ["filter_2", "aggregate_2"]);
  assert.ok(doc.edges.some((e) => e.source === "filter_2" && e.target === "aggregate_2"));
  assert.equal(doc.edges.filter((e) => e.target === "filter_2").length, 0);
  assert.equal(m.findNode(doc, "filter_2").position.x, 140);
});

test("renaming a node keeps its edges and refuses taken or malformed ids", () => {
  const { doc } = pipeline();
  assert.ok(m.renameNode(doc, "filter", "eu_only").ok);
  assert.ok(doc.edges.some((e) => e.source === "source" && e.target === "eu_only"));
  assert.equal(m.renameNode(doc, "eu_only", "source").ok, false);
  assert.equal(m.renameNode(doc, "eu_only", "has space").ok, false);
});

test("issues land on their node, their edge, or the document", () => {
  const { doc } = pipeline();
  const issues = [
    { code: "expr", node_id: "filter", field: "where", message: "bad" },
    { code: "kind", edge_id: "filter->aggregate", message: "kinds" },
    { code: "kind", edge_id: "branch.big->sink", message: "no such edge" },
    { code: "kind", edge_id: 0, message: "first edge" },
    { code: "name", message: "document wide" },
  ];
  const mapped = m.mapIssues(doc, issues);
  assert.equal(mapped.byNode.filter.length, 1);
  assert.equal(mapped.byEdge["filter:->aggregate:"].length, 1);
  assert.equal(mapped.byEdge["source:->filter:"].length, 1);
  assert.equal(mapped.general.length, 2);
  assert.equal(m.issuesForField(issues, "filter", "where").length, 1);
  assert.equal(m.issuesForField([{ node_id: "a", field: "config.window.size" }], "a", "window").length, 1);
});

test("a version diff reads as one line per change", () => {
  const lines = m.describeDiff({
    added: ["eu"], removed: ["old"], changed: [{ id: "filter", type: "filter", fields: ["config.where"] }], renamed: [], moved: [],
    edges_added: [{ source: "eu", source_port: "out", target: "filter", target_port: "in" }], edges_removed: [],
  });
  assert.deepEqual(lines.map((l) => l.text), ["+ node eu added", "- node old removed", "~ node filter changed (config.where)", "+ edge eu → filter"]);
});

test("the server's branch outputs are its branch names plus default, and a join waits for both sides", () => {
  const catalog = m.normalizeCatalog(rawCatalog);
  const doc = m.createDocument();
  const node = m.addNode(doc, catalog, "branch");
  node.config.branches = [{ name: "big", where: "x > 1" }];
  assert.deepEqual(m.outputPorts(catalog, node).map((p) => p.name), ["big", "default"]);
  assert.deepEqual(catalog.types.filter.outputRule, { same_as: "in" });
  assert.equal(m.portKindLabel(catalog.types.filter.outputs[0]), "same as input");
  assert.equal(m.portKindLabel(catalog.types.filter.inputs[0]), "stream or table");
  assert.equal(catalog.types.join.group, "joins");
  const join = m.addNode(doc, catalog, "join");
  const left = m.addNode(doc, catalog, "filter", {}, "left_side");
  const right = m.addNode(doc, catalog, "filter", {}, "right_side");
  doc.edges.push({ source: left.id, target: join.id, target_port: "left" }, { source: right.id, target: join.id, target_port: "right" });
  // Unconnected filters have no kind yet, so neither has the join they feed.
  assert.equal(m.outputKind(catalog, doc, "join"), null);
});

test("a join outputs a table only when both sides are tables", () => {
  const catalog = m.normalizeCatalog(rawCatalog);
  const doc = m.createDocument();
  for (const [id, type] of [["clicks", "source"], ["users", "table_source"], ["regions", "table_source"], ["j1", "join"], ["j2", "join"]]) m.addNode(doc, catalog, type, {}, id);
  assert.ok(m.addEdge(catalog, doc, { source: "clicks", target: "j1", target_port: "left" }).ok);
  assert.ok(m.addEdge(catalog, doc, { source: "users", target: "j1", target_port: "right" }).ok);
  assert.ok(m.addEdge(catalog, doc, { source: "users", target: "j2", target_port: "left" }).ok);
  assert.ok(m.addEdge(catalog, doc, { source: "regions", target: "j2", target_port: "right" }).ok);
  assert.equal(m.outputKind(catalog, doc, "j1"), "stream");
  assert.equal(m.outputKind(catalog, doc, "j2"), "table");
});
