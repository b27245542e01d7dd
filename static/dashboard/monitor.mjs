/* The deployment monitor: the topology drawn read-only with live per-node rates, consumer lag
 * per partition with trend and time to catch up, restore and rebalance progress, and the
 * instances with their partitions and heartbeat age. Fed by monitor.* frames. */
import { LiveSocket, liveUrl } from "./live.mjs";
// Every value reported by a worker goes through esc: reports are JSON from the runtime and
// may carry any text (a topic name, an exception message, or a field that should be a number).
import { escapeHtml as esc } from "../common/escape.mjs";

const config = JSON.parse(document.getElementById("monitor-config").textContent);
const socket = new LiveSocket(liveUrl());
const connection = document.getElementById("connection-state");
socket.onState((state, detail) => {
  connection.textContent = state === "refused" ? "refused: " + detail : state;
  connection.dataset.state = state;
});

const slots = new Map(); // slot -> latest state from the reporter
const counterHistory = new Map(); // slot -> [{at, nodes}]
const lagHistory = new Map(); // "topic/partition" -> [{at, committed, end, lag}]
const TREND_POINTS = 60;

// --- topology drawing: layered by longest path from the sources ----------------------------
const NODE_W = 150, NODE_H = 54, GAP_X = 50, GAP_Y = 24;
const topology = config.topology;
const layer = new Map();
(function layout() {
  const incoming = new Map(topology.nodes.map((n) => [n.id, []]));
  for (const e of topology.edges) if (incoming.has(e.target)) incoming.get(e.target).push(e.source);
  const visit = (id, seen) => {
    if (layer.has(id)) return layer.get(id);
    if (seen.has(id)) return 0; // cycles are refused by the compiler; never loop here
    seen.add(id);
    const depth = Math.max(-1, ...(incoming.get(id) || []).map((s) => visit(s, seen))) + 1;
    layer.set(id, depth);
    return depth;
  };
  for (const n of topology.nodes) visit(n.id, new Set());
})();
const columns = new Map();
const position = new Map();
for (const n of topology.nodes) {
  const d = layer.get(n.id) || 0;
  const row = columns.get(d) || 0;
  columns.set(d, row + 1);
  position.set(n.id, { x: 10 + d * (NODE_W + GAP_X), y: 10 + row * (NODE_H + GAP_Y) });
}
const width = 20 + Math.max(1, columns.size) * (NODE_W + GAP_X);
const height = 20 + Math.max(1, ...columns.values()) * (NODE_H + GAP_Y);
let svg = '<svg viewBox="0 0 ' + width + " " + height + '" role="img" aria-label="topology">' +
  '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#94a3b8"/></marker></defs>';
for (const e of topology.edges) {
  const a = position.get(e.source), b = position.get(e.target);
  if (!a || !b) continue;
  const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2;
  svg += '<path class="edge" d="M' + x1 + "," + y1 + " C" + (x1 + GAP_X / 2) + "," + y1 + " " + (x2 - GAP_X / 2) + "," + y2 + " " + x2 + "," + y2 + '"/>';
}
for (const n of topology.nodes) {
  const p = position.get(n.id);
  svg += '<g class="node ' + esc(n.type || "") + '" data-node="' + esc(n.id) + '" transform="translate(' + p.x + "," + p.y + ')">' +
    '<rect width="' + NODE_W + '" height="' + NODE_H + '"/><text class="title" x="8" y="18">' + esc(n.title || n.id) + "</text>" +
    '<text class="type" x="8" y="31" font-size="10" fill="#64748b">' + esc(n.type || "") + " · " + esc(n.id) + "</text>" +
    '<text class="rates" x="8" y="46">–</text></g>';
}
document.getElementById("topology").innerHTML = svg + "</svg>";

// --- live state -----------------------------------------------------------------------------
socket.subscribeMonitor(config.deployment, (frame) => {
  const now = Date.now() / 1000;
  if (frame.type === "monitor.snapshot") {
    for (const [slot, state] of Object.entries(frame.slots)) ingest(Number(slot), state, state.metrics_at || now);
  } else {
    ingest(frame.slot, frame.state, frame.at);
  }
  render();
});

function ingest(slot, state, at) {
  slots.set(slot, state);
  if (state.metrics) {
    const h = counterHistory.get(slot) || [];
    const last = h[h.length - 1];
    if (!last || last.at !== state.metrics_at) h.push({ at: state.metrics_at || at, nodes: state.metrics.nodes });
    if (h.length > 10) h.shift();
    counterHistory.set(slot, h);
  }
  if (state.lag && state.lag_at) {
    for (const p of state.lag) {
      const id = p.topic + "/" + p.partition;
      const h = lagHistory.get(id) || [];
      if (!h.length || h[h.length - 1].at !== state.lag_at) h.push({ at: state.lag_at, committed: p.committed, end: p.end, lag: p.lag, slot });
      if (h.length > TREND_POINTS) h.shift();
      lagHistory.set(id, h);
    }
  }
}

/* Per node rates summed over slots: the difference of cumulative counters over the last samples. */
function nodeRates() {
  const rates = {};
  for (const h of counterHistory.values()) {
    if (h.length < 2) continue;
    const a = h[Math.max(0, h.length - 4)], b = h[h.length - 1];
    const dt = Math.max(0.001, b.at - a.at);
    for (const [node, c] of Object.entries(b.nodes)) {
      const before = a.nodes[node] || {};
      const r = (rates[node] = rates[node] || { in: 0, out: 0, errors: 0, late: 0 });
      for (const k of ["in", "out", "errors", "late"]) r[k] += Math.max(0, ((c[k] || 0) - (before[k] || 0)) / dt);
    }
  }
  return rates;
}

function fmtRate(x) {
  return x >= 1000 ? (x / 1000).toFixed(1) + "k" : x >= 10 ? x.toFixed(0) : x.toFixed(1);
}

function fmtDuration(s) {
  if (!isFinite(s)) return "∞";
  if (s < 1) return "now";
  if (s < 120) return Math.round(s) + " s";
  if (s < 7200) return Math.round(s / 60) + " min";
  return (s / 3600).toFixed(1) + " h";
}

function sparkline(values) {
  if (values.length < 2) return "";
  const max = Math.max(1, ...values);
  const pts = values.map((v, i) => ((i / (values.length - 1)) * 100).toFixed(1) + "," + (20 - (v / max) * 18).toFixed(1)).join(" ");
  return '<svg width="100" height="20" viewBox="0 0 100 20" aria-hidden="true"><polyline fill="none" stroke="#2563eb" stroke-width="1.5" points="' + pts + '"/></svg>';
}

function render() {
  const rates = nodeRates();
  for (const g of document.querySelectorAll("#topology .node")) {
    const r = rates[g.dataset.node];
    const text = g.querySelector(".rates");
    if (!r) continue;
    text.innerHTML = "in " + esc(fmtRate(r.in)) + "/s · out " + esc(fmtRate(r.out)) + "/s" +
      (r.errors ? ' · <tspan class="bad">err ' + esc(fmtRate(r.errors)) + "/s</tspan>" : "") +
      (r.late ? ' · <tspan class="bad">late ' + esc(fmtRate(r.late)) + "/s</tspan>" : "");
  }
  // Lag per partition: trend, and time to catch up = lag / (consume rate - produce rate).
  let lagRows = "";
  for (const [id, h] of [...lagHistory.entries()].sort()) {
    const last = h[h.length - 1];
    let eta = "–";
    if (h.length >= 2) {
      const first = h[Math.max(0, h.length - 10)];
      const dt = Math.max(0.001, last.at - first.at);
      const consume = (last.committed - first.committed) / dt;
      const produce = (last.end - first.end) / dt;
      eta = last.lag <= 0 ? "caught up" : consume - produce > 0 ? fmtDuration(last.lag / (consume - produce)) : "falling behind";
    } else if (last.lag <= 0) eta = "caught up";
    lagRows += "<tr data-partition=\"" + esc(id) + "\"><td>" + esc(id) + "</td><td>" + esc(last.slot) + "</td><td>" + esc(last.committed) + "</td><td>" + esc(last.end) +
      '</td><td class="lag">' + esc(last.lag) + "</td><td>" + sparkline(h.map((x) => x.lag)) + '</td><td class="eta">' + esc(eta) + "</td></tr>";
  }
  document.querySelector("#lag tbody").innerHTML = lagRows || '<tr><td colspan="7">no lag reported yet</td></tr>';
  // Restore and rebalance.
  let restoreRows = "";
  for (const [slot, s] of [...slots.entries()].sort((a, b) => a[0] - b[0])) {
    for (const r of Object.values(s.restore || {})) {
      const pct = r.total ? Math.min(100, (100 * r.restored) / r.total) : r.done ? 100 : 0;
      restoreRows += "<tr><td>" + esc(slot) + "</td><td>" + esc(r.store) + "</td><td>" + esc(r.partition) + "</td><td>" + esc(r.restored) + " / " + esc(r.total) +
        '</td><td><div class="progress" role="progressbar" aria-valuenow="' + esc(pct.toFixed(0)) + '"><div style="width:' + esc(pct.toFixed(1)) + '%"></div></div></td><td>' + (r.done ? "done" : "restoring") + "</td></tr>";
    }
  }
  document.querySelector("#restore tbody").innerHTML = restoreRows || '<tr><td colspan="6">no restore in progress</td></tr>';
  renderInstances();
}

function renderInstances() {
  const now = Date.now() / 1000;
  const bySlot = new Map(config.instances.map((i) => [i.slot, Object.assign({}, i)]));
  for (const [slot, s] of slots) {
    const row = bySlot.get(slot) || { slot };
    row.status = s.status || row.status;
    row.partitions = s.partitions || row.partitions || [];
    row.heartbeat_at = Math.max(s.heartbeat || 0, row.heartbeat_at || 0);
    row.error = s.error;
    bySlot.set(slot, row);
  }
  let html = "";
  for (const i of [...bySlot.values()].sort((a, b) => a.slot - b.slot)) {
    const age = i.heartbeat_at ? fmtDuration(Math.max(0, now - i.heartbeat_at)) : "never";
    html += '<tr data-slot="' + esc(i.slot) + '"><td>' + esc(i.slot) + '</td><td><span class="status-badge" data-status="' + esc(i.status || "") + '">' + esc(i.status || "unknown") +
      "</span></td><td>" + esc((i.partitions || []).map((p) => p[0] + "/" + p[1]).join(", ") || "none") + '</td><td class="heartbeat">' + esc(age) +
      "</td><td>" + esc(i.worker_host || "") + (i.pid ? " pid " + esc(i.pid) : "") + "</td><td>" + esc(i.error || "") + "</td></tr>";
  }
  document.querySelector("#instances tbody").innerHTML = html || '<tr><td colspan="6">no instances</td></tr>';
}

setInterval(renderInstances, 1000);
render();
window.weirMonitor = { socket, slots, lagHistory, nodeRates };
