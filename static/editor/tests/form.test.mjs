import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

// The form only creates elements, sets attributes and listens: a few lines stand in for the
// DOM, enough to render a catalog schema and find its controls.
class FakeElement {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.attributes = {};
    this.children = [];
    this.listeners = {};
    this.value = "";
    this.textContent = "";
  }
  setAttribute(name, value) {
    this.attributes[name] = String(value);
  }
  addEventListener(type, fn) {
    (this.listeners[type] ??= []).push(fn);
  }
  dispatch(type) {
    for (const fn of this.listeners[type] ?? []) fn({ target: this });
  }
  append(...nodes) {
    this.children.push(...nodes.filter((n) => n != null));
  }
  replaceChildren(...nodes) {
    this.children = [];
    this.append(...nodes);
  }
  get options() {
    return this.children.filter((c) => c.tagName === "OPTION");
  }
  *walk() {
    yield this;
    for (const child of this.children) if (child instanceof FakeElement) yield* child.walk();
  }
}
globalThis.document = { createElement: (tag) => new FakeElement(tag) };

const { renderSchemaForm } = await import("../form.mjs");
const catalog = JSON.parse(
  readFileSync(new URL("../../../tests/topology/compiler/golden/catalog.json", import.meta.url), "utf-8"),
);

function byField(root, path) {
  return [...root.walk()].find((e) => e.attributes["data-field"] === path);
}

test("a composite group_by renders one expression box per key, commas kept inside each", () => {
  const schema = catalog.node_types.aggregate.config;
  let latest = null;
  const value = { group_by: ["region", "CONCAT(a, b)"], aggregations: { n: "COUNT(*)" } };
  const root = renderSchemaForm(schema, schema.$defs ?? {}, value, (v) => {
    latest = v;
  });
  const field = byField(root, "group_by");
  const chooser = [...field.walk()].find((e) => e.tagName === "SELECT");
  assert.deepEqual(chooser.options.map((o) => o.textContent), ["one expression", "several (composite key)", "none"]);
  assert.equal(chooser.value, "1");
  const boxes = ["group_by.0", "group_by.1"].map((path) => [...byField(root, path).walk()].find((e) => e.tagName === "TEXTAREA"));
  assert.deepEqual(boxes.map((b) => b.value), ["region", "CONCAT(a, b)"]);
  boxes[1].value = "CONCAT(a, ', ', b)";
  boxes[1].dispatch("change");
  assert.deepEqual(latest.group_by, ["region", "CONCAT(a, ', ', b)"]);
});

test("a single group_by expression stays one box", () => {
  const schema = catalog.node_types.aggregate.config;
  const root = renderSchemaForm(schema, schema.$defs ?? {}, { group_by: "page", aggregations: {} }, () => {});
  const field = byField(root, "group_by");
  const chooser = [...field.walk()].find((e) => e.tagName === "SELECT");
  assert.equal(chooser.value, "0");
  assert.equal([...field.walk()].find((e) => e.tagName === "TEXTAREA").value, "page");
});

test("an unset group_by shows the box for one expression, and leaving it empty keeps it null", () => {
  const schema = catalog.node_types.aggregate.config;
  let latest = null;
  const root = renderSchemaForm(schema, schema.$defs ?? {}, { aggregations: {} }, (v) => {
    latest = v;
  });
  const field = byField(root, "group_by");
  assert.equal([...field.walk()].find((e) => e.tagName === "SELECT").value, "0");
  const box = [...field.walk()].find((e) => e.tagName === "TEXTAREA");
  box.value = "page";
  box.dispatch("change");
  assert.equal(latest.group_by, "page");
  box.value = "";
  box.dispatch("change");
  assert.equal(latest.group_by, null);
});
