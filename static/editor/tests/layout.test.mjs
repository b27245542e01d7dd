import test from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { layoutPositions } from "../layout.mjs";

const require = createRequire(import.meta.url);
const dagre = require("../../vendor/dagre-1.1.4/dagre.min.js");

test("auto-layout with the vendored dagre puts each node right of what feeds it", () => {
  const doc = {
    nodes: ["src", "flt", "agg", "out", "live"].map((id) => ({ id, type: "x", config: {}, position: { x: 0, y: 0 } })),
    edges: [
      { source: "src", target: "flt" },
      { source: "flt", target: "agg" },
      { source: "agg", target: "out" },
      { source: "agg", target: "live" },
    ],
  };
  const p = layoutPositions(doc, dagre);
  assert.ok(p.src.x < p.flt.x && p.flt.x < p.agg.x && p.agg.x < p.out.x);
  assert.equal(p.out.x, p.live.x);
  assert.notEqual(p.out.y, p.live.y);
});
