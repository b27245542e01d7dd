/* A virtualised live table: only the rows in view exist in the DOM, so 10,000 rows updating
 * at thousands of keys per second cost one render per animation frame, not one per delta, and
 * a render rewrites only the visible rows whose value or highlight changed.
 * Upserts and deletes are highlighted briefly; deleted rows stay struck through for the
 * highlight time and then disappear. Windowed views show window start and end columns.
 */
import { escapeHtml } from "../common/escape.mjs";

const ROW_HEIGHT = 26;
const HIGHLIGHT_MS = 1200;
// Sorting 10,000 rows takes a few ms; doing it at most this often keeps frames smooth.
const SORT_INTERVAL_MS = 250;

function formatTime(ms) {
  if (typeof ms !== "number") return String(ms);
  return new Date(ms).toISOString().replace("T", " ").replace(".000Z", "Z");
}

function formatCell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(3);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function displayKey(key, windowed) {
  if (windowed && key && typeof key === "object" && "key" in key) return formatCell(key.key);
  return formatCell(key);
}

function compareScalars(x, y) {
  if (typeof x === "number" && typeof y === "number") return x - y;
  const a = String(x), b = String(y);
  return a < b ? -1 : a > b ? 1 : 0;
}

/* Keys in a reading order: numbers as numbers, windows of one key by their start. */
function compareKeys(x, y, idX, idY) {
  if (x && y && typeof x === "object" && typeof y === "object" && "window_start" in x && "window_start" in y) {
    return compareScalars(x.key, y.key) || compareScalars(x.window_start, y.window_start) || compareScalars(idX, idY);
  }
  if (typeof x === "object" || typeof y === "object") return compareScalars(idX, idY);
  return compareScalars(x, y) || compareScalars(idX, idY);
}

class LiveTable {
  constructor(container, options) {
    this.container = container;
    this.options = options || {};
    this.rows = new Map(); // id -> {key, value}
    this.marks = new Map(); // id -> {kind, at}
    this.ghosts = new Map(); // id -> {key, value} deleted rows shown until their highlight ends
    this.order = [];
    this.orderDirty = true;
    this.lastSortAt = 0;
    this.columns = [];
    this.windowed = false;
    this.sortColumn = null; // null: by key
    this.sortDesc = false;
    this.filter = "";
    this.renderQueued = false;
    this.slots = []; // row elements, one per visible position, reused from frame to frame
    this.layout = 0;
    this.build();
  }

  build() {
    this.container.classList.add("live-table");
    this.container.innerHTML =
      '<div class="live-table-tools"><input type="search" class="live-table-filter" placeholder="filter keys" aria-label="filter keys">' +
      '<span class="live-table-count"></span></div>' +
      '<div class="live-table-head" role="row"></div>' +
      '<div class="live-table-viewport" tabindex="0"><div class="live-table-spacer"></div><div class="live-table-rows" role="rowgroup"></div></div>';
    this.head = this.container.querySelector(".live-table-head");
    this.viewport = this.container.querySelector(".live-table-viewport");
    this.spacer = this.container.querySelector(".live-table-spacer");
    this.body = this.container.querySelector(".live-table-rows");
    this.count = this.container.querySelector(".live-table-count");
    this.container.querySelector(".live-table-filter").addEventListener("input", (e) => {
      this.filter = e.target.value.toLowerCase();
      this.orderDirty = true;
      this.queueRender();
    });
    this.viewport.addEventListener("scroll", () => this.queueRender(), { passive: true });
    this.head.addEventListener("click", (e) => {
      const col = e.target.closest("[data-col]");
      if (!col) return;
      const name = col.dataset.col === "__key" ? null : col.dataset.col;
      if (this.sortColumn === name) this.sortDesc = !this.sortDesc;
      else {
        this.sortColumn = name;
        this.sortDesc = name !== null;
      }
      this.orderDirty = true;
      this.renderHead();
      this.queueRender();
    });
  }

  /* result from ViewState: {reset, changes} */
  apply(result, state) {
    const now = performance.now();
    this.windowed = state.windowed;
    if (result.reset) {
      // Highlight what the snapshot changed compared with what we showed, then adopt it.
      const previous = this.rows;
      this.rows = new Map();
      for (const [id, row] of state.rows) {
        this.rows.set(id, row);
        const before = previous.get(id);
        if (previous.size && (!before || JSON.stringify(before.value) !== JSON.stringify(row.value))) {
          this.marks.delete(id);
          this.marks.set(id, { kind: "upsert", at: now });
        }
      }
      for (const [id, row] of previous) {
        if (!this.rows.has(id)) {
          this.ghosts.set(id, row);
          this.marks.delete(id);
          this.marks.set(id, { kind: "delete", at: now });
        }
      }
      this.orderDirty = true;
    }
    for (const change of result.changes || []) {
      if (change.kind === "delete") {
        const row = this.rows.get(change.id);
        this.rows.delete(change.id);
        if (row) this.ghosts.set(change.id, row);
        this.orderDirty = true;
      } else {
        if (!this.rows.has(change.id)) this.orderDirty = true;
        else if (this.sortColumn !== null) this.orderDirty = true;
        this.ghosts.delete(change.id);
        this.rows.set(change.id, { key: change.key, value: change.value });
      }
      // Marks stay in time order (delete, then set), so expiry stops at the first fresh one.
      this.marks.delete(change.id);
      this.marks.set(change.id, { kind: change.kind, at: now });
    }
    this.updateColumns();
    this.queueRender();
  }

  updateColumns() {
    const columns = new Set(this.columns);
    let scanned = 0;
    for (const row of this.rows.values()) {
      if (row.value && typeof row.value === "object" && !Array.isArray(row.value)) {
        for (const k of Object.keys(row.value)) columns.add(k);
      } else columns.add("value");
      if (++scanned > 50) break; // rows of one view share a shape; a sample finds the columns
    }
    const next = [...columns];
    if (next.length !== this.columns.length || this.windowed !== this.headWindowed) {
      this.columns = next;
      this.headWindowed = this.windowed;
      this.layout++; // every row element is rebuilt with the new columns
      this.renderHead();
    }
  }

  renderHead() {
    const arrow = (name) => (this.sortColumn === name ? (this.sortDesc ? " ▼" : " ▲") : "");
    let html = '<div class="cell key" data-col="__key" role="columnheader">key' + arrow(null) + "</div>";
    if (this.windowed) html += '<div class="cell time" role="columnheader">window start</div><div class="cell time" role="columnheader">window end</div>';
    for (const c of this.columns) html += '<div class="cell" data-col="' + escapeHtml(c) + '" role="columnheader">' + escapeHtml(c) + arrow(c) + "</div>";
    this.head.innerHTML = html;
  }

  sortIfNeeded(now) {
    if (!this.orderDirty || (now - this.lastSortAt < SORT_INTERVAL_MS && this.order.length > 2000)) return;
    const ids = [];
    for (const id of this.rows.keys()) ids.push(id);
    for (const id of this.ghosts.keys()) if (!this.rows.has(id)) ids.push(id);
    const get = (id) => this.rows.get(id) || this.ghosts.get(id);
    let filtered = ids;
    if (this.filter) filtered = ids.filter((id) => displayKey(get(id).key, this.windowed).toLowerCase().includes(this.filter));
    const col = this.sortColumn;
    const sign = this.sortDesc ? -1 : 1;
    if (col === null) {
      filtered.sort((a, b) => sign * compareKeys(get(a).key, get(b).key, a, b));
    } else {
      const val = (id) => {
        const v = get(id).value;
        return v && typeof v === "object" ? v[col] : v;
      };
      filtered.sort((a, b) => {
        const x = val(a), y = val(b);
        if (x === y) return a < b ? -1 : 1;
        if (x === undefined || x === null) return 1;
        if (y === undefined || y === null) return -1;
        return sign * (x < y ? -1 : 1);
      });
    }
    this.order = filtered;
    this.orderDirty = false;
    this.lastSortAt = now;
  }

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  render() {
    const now = performance.now();
    for (const [id, mark] of this.marks) {
      if (now - mark.at <= HIGHLIGHT_MS) break; // the rest are younger
      this.marks.delete(id);
      if (this.ghosts.delete(id)) this.orderDirty = true;
    }
    this.sortIfNeeded(now);
    const total = this.order.length;
    this.spacer.style.height = total * ROW_HEIGHT + "px";
    this.count.textContent = this.rows.size + " rows";
    const first = Math.max(0, Math.floor(this.viewport.scrollTop / ROW_HEIGHT) - 5);
    const last = Math.min(total, first + Math.ceil(this.viewport.clientHeight / ROW_HEIGHT) + 10);
    // Only what changed is written: a row element is rebuilt when its position shows another
    // row or a new value, and its class changes when a highlight starts or ends (the CSS
    // transition then fades it). At 10,000 keys/s most visible rows are unchanged per frame.
    const slots = this.slots;
    while (slots.length > Math.max(0, last - first)) slots.pop().remove();
    while (slots.length < last - first) {
      const el = document.createElement("div");
      el.setAttribute("role", "row");
      this.body.appendChild(el);
      slots.push(el);
    }
    for (let i = first; i < last; i++) {
      const el = slots[i - first];
      const id = this.order[i];
      const row = this.rows.get(id) || this.ghosts.get(id);
      if (!row) {
        // Its ghost ended since the last sort (sorting waits up to 250 ms for big tables).
        if (el.style.display !== "none") el.style.display = "none";
        continue;
      }
      if (el.style.display) el.style.display = "";
      if (el.weirRow !== row || el.weirLayout !== this.layout) {
        el.weirRow = row;
        el.weirLayout = this.layout;
        el.innerHTML = this.cellsHtml(row);
        el.dataset.key = displayKey(row.key, this.windowed);
      }
      const top = i * ROW_HEIGHT + "px";
      if (el.style.top !== top) el.style.top = top;
      const mark = this.marks.get(id);
      const cls = "live-row" + (mark ? " flash-" + mark.kind : "") + (this.rows.has(id) ? "" : " deleted");
      if (el.className !== cls) el.className = cls;
    }
    if (this.marks.size) this.queueRender(); // end highlights on time
    if (this.options.onRendered) this.options.onRendered(now);
  }

  cellsHtml(row) {
    const key = row.key;
    let html = '<div class="cell key" data-col="__key">' + escapeHtml(displayKey(key, this.windowed)) + "</div>";
    if (this.windowed) {
      html += '<div class="cell time" data-col="__window_start">' + escapeHtml(formatTime(key && key.window_start)) + "</div>" +
        '<div class="cell time" data-col="__window_end">' + escapeHtml(formatTime(key && key.window_end)) + "</div>";
    }
    const value = row.value;
    for (const c of this.columns) {
      const v = value && typeof value === "object" && !Array.isArray(value) ? value[c] : c === "value" ? value : "";
      html += '<div class="cell" data-col="' + escapeHtml(c) + '">' + escapeHtml(formatCell(v)) + "</div>";
    }
    return html;
  }
}

export { LiveTable, formatCell, formatTime, displayKey, ROW_HEIGHT };
