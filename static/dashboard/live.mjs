/* Weir live protocol client (v1): see dashboard/protocol.py.
 *
 * ViewState is pure (no DOM, no socket) so the seq/gap/resync rules can be tested alone.
 * LiveSocket owns the one websocket of a page: it subscribes, reconnects with backoff and
 * jitter, re-subscribes (each subscription answers with a fresh snapshot), and turns gaps
 * into snapshot requests.
 */

const PROTOCOL_VERSION = 1;
// Deltas from several instances can arrive slightly out of order; wait this long for the
// missing seq before declaring a gap and asking for the snapshot.
const GAP_GRACE_MS = 400;

function canonicalKey(key) {
  if (key === null || typeof key !== "object") return JSON.stringify(key);
  if (Array.isArray(key)) return "[" + key.map(canonicalKey).join(",") + "]";
  return "{" + Object.keys(key).sort().map((k) => JSON.stringify(k) + ":" + canonicalKey(key[k])).join(",") + "}";
}

class ViewState {
  constructor(deployment, view) {
    this.deployment = deployment;
    this.view = view;
    this.rows = new Map(); // canonical key -> {key, value}
    this.seq = null; // null until the first snapshot
    this.generation = null;
    this.windowed = false;
    this.pending = new Map(); // seq -> delta frame that arrived ahead of its turn
    this.gapSince = null;
    this.lastFrameAt = null;
    this.resyncs = 0;
  }

  /* Returns the list of changes [{id, key, value, kind: "upsert"|"delete"}] or {reset: true}. */
  applySnapshot(frame, now) {
    this.rows = new Map();
    for (const row of frame.rows) this.rows.set(canonicalKey(row.key), { key: row.key, value: row.value });
    this.seq = frame.seq;
    this.generation = frame.generation || null;
    this.windowed = !!frame.windowed;
    this.lastFrameAt = now;
    this.gapSince = null;
    const buffered = this.pending;
    this.pending = new Map();
    const changes = [];
    for (const delta of [...buffered.values()].sort((a, b) => a.seq - b.seq)) {
      const result = this.applyDelta(delta, now);
      if (result.changes) changes.push(...result.changes);
    }
    return { reset: true, changes };
  }

  /* Returns {changes} when applied, {buffered: true}, {dropped: true} or {resync: reason}. */
  applyDelta(frame, now) {
    if (this.seq === null) {
      this.pending.set(frame.seq, frame);
      return { buffered: true };
    }
    if (frame.generation && this.generation && frame.generation !== this.generation) {
      if (frame.seq === 1) {
        // The table was recreated and this is its first write: start over from it.
        this.rows = new Map();
        this.generation = frame.generation;
        this.seq = 0;
      } else {
        return { resync: "generation changed" };
      }
    }
    // A delta covers first_seq..seq (the server merges deltas when sockets are slow); its
    // rows are the latest per key, so one that overlaps what we applied is safe to apply.
    const first = frame.first_seq || frame.seq;
    if (frame.seq <= this.seq) return { dropped: true };
    if (first > this.seq + 1) {
      this.pending.set(frame.seq, frame);
      if (this.gapSince === null) this.gapSince = now;
      if (now - this.gapSince >= GAP_GRACE_MS) return { resync: "gap before seq " + first };
      return { buffered: true };
    }
    const changes = this._apply(frame);
    this.lastFrameAt = now;
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const [s, next] of this.pending) {
        if (s <= this.seq) {
          this.pending.delete(s);
        } else if ((next.first_seq || next.seq) <= this.seq + 1) {
          this.pending.delete(s);
          changes.push(...this._apply(next));
          progressed = true;
        }
      }
    }
    this.gapSince = this.pending.size ? this.gapSince || now : null;
    return { changes };
  }

  /* A gap that no later frame resolves still needs a resync: LiveSocket polls this. */
  gapExpired(now) {
    return this.gapSince !== null && now - this.gapSince >= GAP_GRACE_MS;
  }

  _apply(frame) {
    this.seq = frame.seq;
    if (frame.generation) this.generation = frame.generation;
    this.windowed = !!frame.windowed;
    const changes = [];
    for (const row of frame.rows) {
      const id = canonicalKey(row.key);
      if (row.value === null || row.value === undefined) {
        if (this.rows.delete(id)) changes.push({ id, key: row.key, value: null, kind: "delete" });
      } else {
        this.rows.set(id, { key: row.key, value: row.value });
        changes.push({ id, key: row.key, value: row.value, kind: "upsert" });
      }
    }
    return changes;
  }
}

class LiveSocket {
  constructor(url, options) {
    this.url = url;
    this.options = Object.assign({ backoffMs: [250, 500, 1000, 2000, 4000, 8000], staleAfterMs: 15000 }, options || {});
    this.views = new Map(); // "deployment/view" -> {state, listeners:[...]}
    this.monitors = new Map(); // deployment -> [listeners]
    this.attempt = 0;
    this.state = "connecting";
    this.stateListeners = [];
    this.closedForGood = null;
    this.stats = { snapshots: 0, deltas: 0, resyncs: 0, reconnects: 0 };
    this._connect();
    this._gapTimer = setInterval(() => this._checkGaps(), 200);
  }

  onState(listener) {
    this.stateListeners.push(listener);
    listener(this.state, this.closedForGood);
  }

  _setState(state, detail) {
    this.state = state;
    for (const l of this.stateListeners) l(state, detail);
  }

  subscribeView(deployment, view, listener) {
    const id = deployment + "/" + view;
    let entry = this.views.get(id);
    if (!entry) {
      entry = { state: new ViewState(deployment, view), listeners: [] };
      this.views.set(id, entry);
      this._send({ type: "view.subscribe", deployment, view });
    }
    entry.listeners.push(listener);
    return entry.state;
  }

  subscribeMonitor(deployment, listener) {
    if (!this.monitors.has(deployment)) {
      this.monitors.set(deployment, []);
      this._send({ type: "monitor.subscribe", deployment });
    }
    this.monitors.get(deployment).push(listener);
  }

  _connect() {
    this._setState(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this._setState("open");
      for (const entry of this.views.values()) {
        entry.state.seq = null; // a fresh snapshot follows every subscribe
        this._send({ type: "view.subscribe", deployment: entry.state.deployment, view: entry.state.view });
      }
      for (const deployment of this.monitors.keys()) this._send({ type: "monitor.subscribe", deployment });
    };
    ws.onmessage = (event) => this._onFrame(JSON.parse(event.data));
    ws.onclose = (event) => {
      if (event.code === 4401 || event.code === 4403 || event.code === 4400) {
        this.closedForGood = event.reason || "refused (" + event.code + ")";
        this._setState("refused", this.closedForGood);
        return;
      }
      const steps = this.options.backoffMs;
      const delay = steps[Math.min(this.attempt, steps.length - 1)] * (0.75 + Math.random() * 0.5);
      this.attempt += 1;
      this.stats.reconnects += 1;
      this._setState("reconnecting");
      setTimeout(() => this._connect(), delay);
    };
  }

  _send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.ws.send(JSON.stringify(Object.assign({ v: PROTOCOL_VERSION }, frame)));
    }
  }

  _onFrame(frame) {
    const now = performance.now();
    switch (frame.type) {
      case "view.snapshot": {
        const entry = this.views.get(frame.deployment + "/" + frame.view);
        if (!entry) return;
        this.stats.snapshots += 1;
        const result = entry.state.applySnapshot(frame, now);
        for (const l of entry.listeners) l(result, entry.state, frame);
        return;
      }
      case "view.delta": {
        const entry = this.views.get(frame.deployment + "/" + frame.view);
        if (!entry) return;
        this.stats.deltas += 1;
        const result = entry.state.applyDelta(frame, now);
        if (result.resync) this._resync(entry, result.resync);
        else if (result.changes) for (const l of entry.listeners) l(result, entry.state, frame);
        return;
      }
      case "monitor.snapshot":
      case "monitor.event": {
        for (const l of this.monitors.get(frame.deployment) || []) l(frame);
        return;
      }
      case "live.error": {
        this.closedForGood = frame.reason;
        this._setState("refused", frame.reason);
        return;
      }
      default:
        return; // live.resync is followed by snapshots; live.pong needs nothing
    }
  }

  _resync(entry, reason) {
    this.stats.resyncs += 1;
    entry.state.resyncs += 1;
    entry.state.gapSince = null;
    entry.state.pending = new Map();
    entry.state.seq = null; // buffer deltas until the snapshot arrives
    this._send({ type: "view.snapshot_request", deployment: entry.state.deployment, view: entry.state.view });
    for (const l of entry.listeners) l({ resyncing: reason }, entry.state);
  }

  _checkGaps() {
    const now = performance.now();
    for (const entry of this.views.values()) if (entry.state.gapExpired(now)) this._resync(entry, "gap");
  }

  isStale(state, now) {
    if (this.state !== "open") return true;
    return state.lastFrameAt === null || now - state.lastFrameAt > this.options.staleAfterMs;
  }
}

function liveUrl() {
  return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/live/";
}

export { PROTOCOL_VERSION, canonicalKey, ViewState, LiveSocket, liveUrl };
