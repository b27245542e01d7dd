// The editor's stream/table rule against the golden documents the compiler's rule also reads
// (tests/topology/compiler/test_golden_output_kinds.py checks the Python side on the same file).
import test from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as m from "../model.mjs";

const golden = (name) => JSON.parse(readFileSync(new URL(`../../../tests/topology/compiler/golden/${name}`, import.meta.url), "utf-8"));
const catalog = m.normalizeCatalog(golden("catalog.json"));

for (const { document, kinds } of golden("output_kinds.json").cases) {
  test(`the editor gives every node of ${document.name} the golden output kind`, () => {
    const found = Object.fromEntries(document.nodes.map((node) => [node.id, m.outputKind(catalog, document, node.id, undefined)]));
    assert.deepEqual(found, kinds);
  });
}

test("the editor's rule evaluator agrees with the compiler's on each rule shape", () => {
  assert.equal(m.evaluateOutputRule({ kind: "table" }, {}), "table");
  assert.equal(m.evaluateOutputRule({ same_as: "in" }, { in: "table" }), "table");
  assert.equal(m.evaluateOutputRule({ same_as: "in" }, {}), null);
  assert.equal(m.evaluateOutputRule({ table_if_all: ["left", "right"] }, { left: "stream", right: "table" }), "stream");
  assert.equal(m.evaluateOutputRule({ table_if_all: ["left", "right"] }, { left: "table" }), null);
  assert.equal(m.evaluateOutputRule(null, { in: "stream" }), null);
  assert.throws(() => m.evaluateOutputRule({ guess: "stream" }, {}));
});
