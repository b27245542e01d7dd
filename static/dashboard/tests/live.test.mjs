// The browser client's seq rules (static/dashboard/live.mjs), without a browser or a socket.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ViewState, canonicalKey } from "../live.mjs";

const snapshot = (seq, rows, generation = "g1") => ({ type: "view.snapshot", seq, generation, windowed: false, rows });
const delta = (seq, rows, generation = "g1") => ({ type: "view.delta", seq, generation, windowed: false, rows });
const table = (state) => Object.fromEntries([...state.rows.values()].map((r) => [canonicalKey(r.key), r.value]));

test("snapshot then deltas in order give the latest value per key and drop deleted keys", () => {
  const s = new ViewState(1, "counts");
  s.applySnapshot(snapshot(4, [{ key: "a", value: 1 }, { key: "b", value: 2 }]), 0);
  s.applyDelta(delta(5, [{ key: "a", value: 3 }, { key: "b", value: null }]), 1);
  assert.deepEqual(table(s), { '"a"': 3 });
  assert.equal(s.seq, 5);
});

test("deltas older than the snapshot are dropped and deltas before it are buffered", () => {
  const s = new ViewState(1, "counts");
  assert.deepEqual(s.applyDelta(delta(6, [{ key: "a", value: 9 }]), 0), { buffered: true });
  s.applySnapshot(snapshot(5, [{ key: "a", value: 1 }]), 1);
  assert.deepEqual(table(s), { '"a"': 9 });
  assert.deepEqual(s.applyDelta(delta(6, [{ key: "a", value: 0 }]), 2), { dropped: true });
});

test("a delta that arrives early waits for the missing one, then both apply in order", () => {
  const s = new ViewState(1, "counts");
  s.applySnapshot(snapshot(1, []), 0);
  assert.deepEqual(s.applyDelta(delta(3, [{ key: "a", value: 3 }]), 10), { buffered: true });
  const result = s.applyDelta(delta(2, [{ key: "a", value: 2 }]), 20);
  assert.equal(result.changes.length, 2);
  assert.deepEqual(table(s), { '"a"': 3 });
  assert.equal(s.seq, 3);
  assert.equal(s.gapExpired(10_000), false);
});

test("a gap that is not filled in time asks for a resync", () => {
  const s = new ViewState(1, "counts");
  s.applySnapshot(snapshot(1, []), 0);
  s.applyDelta(delta(3, [{ key: "a", value: 3 }]), 100);
  assert.equal(s.gapExpired(200), false);
  assert.equal(s.gapExpired(600), true);
  assert.ok(s.applyDelta(delta(4, []), 700).resync);
});

test("a table recreated after Redis lost it restarts from its first write", () => {
  const s = new ViewState(1, "counts");
  s.applySnapshot(snapshot(7, [{ key: "a", value: 1 }]), 0);
  s.applyDelta(delta(1, [{ key: "b", value: 2 }], "g2"), 1);
  assert.deepEqual(table(s), { '"b"': 2 });
  assert.ok(s.applyDelta(delta(9, [], "g3"), 2).resync);
});

test("windowed keys are told apart by their window", () => {
  const s = new ViewState(1, "minutes");
  const w1 = { key: "a", window_start: 0, window_end: 60000 };
  const w2 = { window_end: 120000, key: "a", window_start: 60000 };
  s.applySnapshot({ ...snapshot(1, [{ key: w1, value: 1 }, { key: w2, value: 2 }]), windowed: true }, 0);
  assert.equal(s.rows.size, 2);
  assert.equal(canonicalKey({ b: 1, a: 2 }), canonicalKey({ a: 2, b: 1 }));
});

test("a merged delta covering several seqs applies when it starts at or before the next one", () => {
  const s = new ViewState(1, "counts");
  s.applySnapshot(snapshot(3, [{ key: "a", value: 1 }]), 0);
  const merged = { ...delta(6, [{ key: "a", value: 6 }, { key: "b", value: 5 }]), first_seq: 2 };
  assert.equal(s.applyDelta(merged, 1).changes.length, 2);
  assert.equal(s.seq, 6);
  assert.deepEqual(s.applyDelta({ ...delta(9, []), first_seq: 8 }, 2), { buffered: true });
  s.applyDelta(delta(7, [{ key: "c", value: 7 }]), 3);
  assert.equal(s.seq, 9);
  assert.deepEqual(table(s), { '"a"': 6, '"b"': 5, '"c"': 7 });
});
