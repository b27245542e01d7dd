/* The dashboard page: widgets bound to views, one live socket for all of them, and a small
 * editor (add, remove, save) that writes through /api/dashboards. */
import { request } from "../common/api.mjs";
import { LiveSocket, liveUrl } from "./live.mjs";
import { LiveTable } from "./table.mjs";
import { ChartWidget } from "./charts.mjs";

const config = JSON.parse(document.getElementById("dashboard-config").textContent);
const socket = new LiveSocket(liveUrl());
const grid = document.getElementById("widgets");
const connection = document.getElementById("connection-state");
const widgets = [];

// Benchmarks set window.weirMeasure = true: rows carrying a numeric "produced_at" (epoch ms)
// record produce -> rendered latency in window.weirLatencies.
window.weirLatencies = [];

socket.onState((state, detail) => {
  connection.textContent = state === "refused" ? "refused: " + detail : state;
  connection.dataset.state = state;
});

function card(widget) {
  const el = document.createElement("section");
  el.className = "widget widget-" + widget.kind + (widget.kind === "table" ? " wide" : "");
  el.dataset.widget = widget.id || "";
  el.dataset.view = widget.view;
  el.innerHTML =
    '<header><h2></h2><span class="view-name"></span><span class="freshness" data-state="waiting">waiting</span>' +
    '<button type="button" class="remove" title="remove widget" aria-label="remove widget">×</button></header><div class="widget-body"></div>';
  el.querySelector("h2").textContent = widget.title || widget.view;
  el.querySelector(".view-name").textContent = widget.view + (widget.kind !== "table" ? " · " + widget.kind : "");
  el.querySelector(".remove").addEventListener("click", () => {
    const i = widgets.findIndex((w) => w.el === el);
    if (i >= 0) widgets.splice(i, 1);
    el.remove();
    markDirty();
  });
  grid.appendChild(el);
  return el;
}

function mount(widget) {
  const el = card(widget);
  const body = el.querySelector(".widget-body");
  const pending = [];
  let view;
  if (widget.kind === "table") {
    view = new LiveTable(body, {
      onRendered: () => {
        if (!window.weirMeasure || !pending.length) return;
        const now = Date.now();
        for (const t of pending.splice(0)) window.weirLatencies.push(now - t);
      },
    });
  } else {
    view = new ChartWidget(body, widget.kind, widget.options || {});
  }
  const entry = { widget, el, view, state: null };
  widgets.push(entry);
  entry.state = socket.subscribeView(config.deployment, widget.view, (result, state) => {
    if (result.resyncing) {
      setFreshness(el, "resyncing", "resyncing");
      return;
    }
    if (window.weirMeasure && result.changes) {
      for (const c of result.changes) if (c.value && typeof c.value.produced_at === "number") pending.push(c.value.produced_at);
    }
    view.apply(result, state);
  });
}

function setFreshness(el, state, text) {
  const badge = el.querySelector(".freshness");
  if (badge.dataset.state !== state || badge.textContent !== text) {
    badge.dataset.state = state;
    badge.textContent = text;
  }
}

// The stale indicator: no frame for a while, or the socket is down.
setInterval(() => {
  const now = performance.now();
  for (const w of widgets) {
    const s = w.state;
    if (socket.state !== "open") setFreshness(w.el, "stale", socket.state);
    else if (s.seq === null) setFreshness(w.el, "resyncing", "loading");
    else if (socket.isStale(s, now)) {
      const age = s.lastFrameAt === null ? "never" : Math.round((now - s.lastFrameAt) / 1000) + "s ago";
      setFreshness(w.el, "stale", "stale · last update " + age);
    } else setFreshness(w.el, "live", "live · seq " + s.seq);
  }
}, 500);

// --- editing -----------------------------------------------------------------------------
const saveButton = document.getElementById("save-dashboard");
const saveStatus = document.getElementById("save-status");
function markDirty() {
  saveButton.disabled = false;
  saveStatus.textContent = "unsaved changes";
}

document.getElementById("add-widget").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = event.target;
  const options = {};
  if (form.field.value) options.field = form.field.value;
  if (form.kind.value === "bar") options.top_n = parseInt(form.top_n.value || "10", 10);
  if (form.kind.value === "number") options.aggregate = form.aggregate.value;
  mount({ kind: form.kind.value, view: form.view.value, title: form.title.value, options });
  markDirty();
});

saveButton.addEventListener("click", async () => {
  const body = {
    widgets: widgets.map((w) => ({ kind: w.widget.kind, view: w.widget.view, title: w.widget.title || "", options: w.widget.options || {} })),
  };
  const result = await request("PUT", "/api/dashboards/" + config.dashboard, body);
  saveStatus.textContent = result.ok ? "saved" : "not saved: " + (result.data?.detail || result.status);
  saveButton.disabled = result.ok;
});

for (const widget of config.widgets) mount(widget);
window.weirDashboard = { socket, widgets, config };
