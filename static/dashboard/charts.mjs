/* Chart widgets over a view's rows, drawn with uPlot (static/vendor/uplot-*):
 *  - line: one line per key over windows (windowed views; x = window start)
 *  - bar: the top N keys by a field
 *  - number: one number (sum, max, min, avg, count or latest of a field over all rows)
 * Charts redraw at most a few times a second whatever the delta rate.
 */

// uPlot is the vendored IIFE build, loaded by a classic script before this module.
const uPlot = window.uPlot;
const REDRAW_MS = 250;
const MAX_LINES = 8;
const PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

function numericField(rows, wanted) {
  if (wanted) return wanted;
  for (const row of rows.values()) {
    const v = row.value;
    if (typeof v === "number") return null; // the value itself
    if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) if (typeof x === "number") return k;
  }
  return null;
}

function pick(value, field) {
  if (field === null) return typeof value === "number" ? value : null;
  const x = value && typeof value === "object" ? value[field] : null;
  return typeof x === "number" ? x : null;
}

function label(key) {
  if (key && typeof key === "object" && "key" in key) key = key.key;
  return typeof key === "string" ? key : JSON.stringify(key);
}

class ChartWidget {
  constructor(container, kind, options) {
    this.container = container;
    this.kind = kind;
    this.options = options || {};
    this.state = null;
    this.plot = null;
    this.shape = "";
    this.timer = null;
    container.classList.add("chart-widget", "chart-" + kind);
    if (kind === "number") {
      container.innerHTML = '<div class="big-number" aria-live="polite">–</div><div class="big-number-label"></div>';
    }
  }

  apply(result, state) {
    this.state = state;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.draw();
    }, REDRAW_MS);
  }

  draw() {
    const state = this.state;
    if (!state) return;
    const field = numericField(state.rows, this.options.field);
    if (this.kind === "number") return this.drawNumber(state, field);
    if (this.kind === "bar") return this.drawBar(state, field);
    return this.drawLine(state, field);
  }

  drawNumber(state, field) {
    const how = this.options.aggregate || "sum";
    const values = [];
    for (const row of state.rows.values()) {
      const x = pick(row.value, field);
      if (x !== null) values.push(x);
    }
    let result = null;
    if (how === "count") result = state.rows.size;
    else if (!values.length) result = null;
    else if (how === "max") result = Math.max(...values);
    else if (how === "min") result = Math.min(...values);
    else if (how === "avg") result = values.reduce((a, b) => a + b, 0) / values.length;
    else if (how === "latest") result = values[values.length - 1];
    else result = values.reduce((a, b) => a + b, 0);
    this.container.querySelector(".big-number").textContent =
      result === null ? "–" : Number.isInteger(result) ? result.toLocaleString() : result.toFixed(2);
    this.container.querySelector(".big-number-label").textContent = how + " of " + (field || "value");
  }

  drawBar(state, field) {
    const n = this.options.top_n || 10;
    const items = [];
    for (const row of state.rows.values()) {
      const x = pick(row.value, field);
      if (x !== null) items.push([label(row.key), x]);
    }
    items.sort((a, b) => b[1] - a[1]);
    const top = items.slice(0, n);
    const labels = top.map((t) => t[0]);
    const data = [top.map((_, i) => i), top.map((t) => t[1])];
    const shape = "bar:" + field;
    if (!this.plot || this.shape !== shape) {
      this.reset(shape);
      this.labels = labels;
      this.plot = new uPlot(
        {
          width: this.width(),
          height: 220,
          legend: { show: false },
          scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] } },
          axes: [{ values: (u, splits) => splits.map((i) => (Number.isInteger(i) ? this.labels[i] || "" : "")) }, {}],
          series: [
            {},
            { label: field || "value", fill: PALETTE[0] + "99", stroke: PALETTE[0], paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false } },
          ],
        },
        data,
        this.container
      );
    } else {
      this.labels = labels;
      this.plot.setData(data);
    }
  }

  drawLine(state, field) {
    // Series: the keys with the largest latest value; x: every window start seen.
    const perKey = new Map();
    const xs = new Set();
    for (const row of state.rows.values()) {
      const key = row.key;
      const start = key && typeof key === "object" && "window_start" in key ? key.window_start : null;
      const y = pick(row.value, field);
      if (start === null || y === null) continue;
      const name = label(key);
      if (!perKey.has(name)) perKey.set(name, new Map());
      perKey.get(name).set(start, y);
      xs.add(start);
    }
    const keys = [...perKey.entries()]
      .map(([name, points]) => [name, points, points.get(Math.max(...points.keys()))])
      .sort((a, b) => b[2] - a[2])
      .slice(0, MAX_LINES)
      .map((e) => e[0])
      .sort();
    const x = [...xs].sort((a, b) => a - b);
    const data = [x.map((t) => t / 1000)];
    for (const name of keys) data.push(x.map((t) => (perKey.get(name).has(t) ? perKey.get(name).get(t) : null)));
    const shape = "line:" + field + ":" + keys.join("\u0000");
    if (!this.plot || this.shape !== shape) {
      this.reset(shape);
      this.plot = new uPlot(
        {
          width: this.width(),
          height: 240,
          scales: { x: { time: true } },
          series: [{}, ...keys.map((name, i) => ({ label: name, stroke: PALETTE[i % PALETTE.length], spanGaps: true, width: 2 }))],
        },
        data,
        this.container
      );
    } else {
      this.plot.setData(data);
    }
  }

  reset(shape) {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.shape = shape;
  }

  width() {
    return Math.max(280, this.container.clientWidth || 480);
  }
}

export { ChartWidget };
