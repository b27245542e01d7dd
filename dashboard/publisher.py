"""The dashboards' event sink: runtime events -> Redis serving tables + channel-layer groups.

One ``DeploymentEventSink(deployment_id, slot)`` per running instance. The instance runner
(processing/runner.py) creates it from its dotted path in ``settings.WEIR_EVENT_SINKS``, so
processing never imports dashboard. For each ``view`` node
the serving copy in Redis is the snapshot every browser starts from:

- ``table_delta`` rows are applied to the view's hash and the view's serving ``seq`` is
  incremented in the same Lua script, so a snapshot read in a transaction is always consistent
  with its seq. The runtime's own seq counts per instance; several instances feed one view, so
  the serving seq (dense, per view, assigned by Redis) is the one clients order by.
- The delta frame is serialised once here (versioned JSON, see dashboard/protocol.py) and sent
  to the view's group, whose members are one hub per web process, not one per browser.
- Redis may vanish and come back empty (no persistence). Each sink keeps the rows its instance
  produced; when the table's generation changes, or a write failed, it writes them all again so
  the serving copy converges to the runtime's state without waiting for every key to change.
  Generations are checked on every write and once a second (with the runtime's metrics), so a
  table lost while its keys stand still comes back too.

- Each view's tick (how long the runtime coalesces its changes before sending a delta) follows
  how many sockets watch it, as counted by the hubs (dashboard/hub.py): see ``view_tick_s``.

Status, metrics, lag and restore events update the slot's entry in the monitor hash and go to
the deployment group. A sink never raises into the runtime: Redis trouble is logged and retried
on the next event.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from typing import Any

import orjson
import redis
from django.conf import settings

from dashboard import groups
from dashboard.protocol import PROTOCOL_VERSION, encode_frame, row_key

log = logging.getLogger(__name__)

# Applies a delta and assigns the view's serving seq atomically. ARGV: generation proposal,
# windowed flag, and the ops as ONE JSON array of strings ("u", key, value, "d", key, ...):
# packing thousands of separate arguments costs redis-py far more than Redis decoding one.
# Every element is a string, so cjson hands back exactly the JSON text we stored.
APPLY_DELTA_LUA = """
local gen = redis.call('HGET', KEYS[2], 'generation')
local created = 0
if not gen then
  gen = ARGV[1]
  redis.call('HSET', KEYS[2], 'generation', gen, 'seq', 0)
  created = 1
end
redis.call('HSET', KEYS[2], 'windowed', ARGV[2])
local ops = cjson.decode(ARGV[3])
local i = 1
while i <= #ops do
  if ops[i] == 'd' then
    redis.call('HDEL', KEYS[1], ops[i + 1])
    i = i + 2
  else
    redis.call('HSET', KEYS[1], ops[i + 1], ops[i + 2])
    i = i + 3
  end
end
local seq = redis.call('HINCRBY', KEYS[2], 'seq', 1)
return {seq, gen, created}
"""

# Waiting longer than this on the channel layer would stall the runtime's poll loop; a frame
# that misses it is detected by clients as a seq gap and healed by a resync.
PUBLISH_TIMEOUT_S = 2.0
# View ticks. A delta costs each hub ~15 µs of CPU per socket (dashboard/wire.py), so the tick
# grows with the sockets watching: 20 ms up to 400 of them (rows wait 10 ms on average for their
# tick), 50 ms from 1,000 on (measured: 25 ms ticks at 10,000 events/s x 1,000 sockets saturated
# this 2-core machine). Nobody watching: the snapshot is all that is read, 4 updates a second.
MIN_VIEW_TICK_S = 0.020
MAX_VIEW_TICK_S = 0.050
TICK_PER_WATCHER_S = 0.000050
UNWATCHED_VIEW_TICK_S = 0.250
# How often a sink reads a view's watcher count (the hubs refresh theirs every second).
WATCHERS_REFRESH_S = 1.0
# Redis errors are logged at most this often per sink, so an outage does not flood the log.
ERROR_LOG_INTERVAL_S = 10.0


def view_tick_s(watchers: int) -> float:
    """How long a view's changes are coalesced, given how many sockets watch it."""
    if watchers <= 0:
        return UNWATCHED_VIEW_TICK_S
    return min(MAX_VIEW_TICK_S, max(MIN_VIEW_TICK_S, watchers * TICK_PER_WATCHER_S))


class _LayerPublisher:
    """One event loop thread per process for channel-layer sends.

    ``async_to_sync`` per event would open a new Redis pool per call; a long-lived loop keeps
    one. Recreated after fork (Celery prefork children inherit the parent's object, not its
    thread).
    """

    _instance: _LayerPublisher | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="weir-layer", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls) -> _LayerPublisher:
        with cls._lock:
            if cls._instance is None or cls._instance.pid != os.getpid():
                cls._instance = cls()
            return cls._instance

    def group_send(self, group: str, message: dict[str, Any], layer: Any = None) -> None:
        from channels.layers import get_channel_layer

        layer = layer or get_channel_layer()
        future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), self.loop)
        future.result(timeout=PUBLISH_TIMEOUT_S)


def count_watchers(fields: Any, now: float) -> int:
    """Sum the hubs' ``"<sockets> <unix time>"`` fields refreshed within ``WATCHERS_FRESH_S``."""
    total = 0
    for field in fields:
        try:
            count, at = (field.decode() if isinstance(field, bytes) else field).split()
            if now - float(at) <= groups.WATCHERS_FRESH_S:
                total += int(count)
        except ValueError:  # not ours: ignore it
            continue
    return total


class DeploymentEventSink:
    """EventSink for one deployment instance (see processing/runtime/events.py)."""

    def __init__(
        self, deployment_id: int, slot: int, *, redis_url: str | None = None, channel_layer: Any = None
    ) -> None:
        """``redis_url`` and ``channel_layer`` default to the settings' (tests point both elsewhere)."""
        self.deployment_id = int(deployment_id)
        self.slot = int(slot)
        self.redis = redis.Redis.from_url(
            redis_url or settings.REDIS_URL, socket_timeout=5, socket_connect_timeout=2
        )
        self.channel_layer = channel_layer
        self._apply = self.redis.register_script(APPLY_DELTA_LUA)
        # view id -> {row key (canonical JSON) -> (key, value)}: what this instance has produced.
        self._rows: dict[str, dict[str, tuple[Any, Any]]] = {}
        self._windowed: dict[str, bool] = {}
        self._generation: dict[str, str] = {}
        self._needs_replay: set[str] = set()
        # Keys deleted while a view awaited its replay: the replay must delete them too.
        self._missed_deletes: dict[str, set[str]] = {}
        self._slot_state: dict[str, Any] = {"slot": self.slot, "status": None, "error": None}
        self._last_error_log = 0.0
        # view id -> (sockets watching, monotonic time read)
        self._watchers: dict[str, tuple[int, float]] = {}

    # -- EventSink -------------------------------------------------------------------------
    def emit(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        try:
            if kind == "table_delta":
                self._on_table_delta(event)
            elif kind in ("status", "metrics", "lag", "restore", "error"):
                self._on_monitor_event(event)
        except Exception as exc:  # a sink must never take the runtime down
            self._log_failure(kind, exc)
        if kind == "metrics":
            try:
                self._heal_views()
            except Exception as exc:
                self._log_failure("view check", exc)

    def _heal_views(self) -> None:
        """Once a second (the runtime's metrics): write again every view whose serving table
        Redis lost (a restart leaves no generation, or another one) or whose last write failed.

        Without this, a table lost while its keys stop changing would stay empty until the
        next change: a replay used to wait for the next delta.
        """
        views = [view for view in self._generation if self._rows.get(view) or view in self._needs_replay]
        views += [view for view in self._needs_replay if view not in self._generation]
        if not views:
            return
        with self.redis.pipeline(transaction=False) as pipe:
            for view in views:
                pipe.hget(groups.serving_meta_key(self.deployment_id, view), "generation")
            generations = pipe.execute()
        for view, generation in zip(views, generations, strict=True):
            found = generation.decode() if isinstance(generation, bytes) else generation
            if view in self._needs_replay or found != self._generation.get(view):
                self._replay(view)

    def view_interval_s(self, view: str) -> float:
        """The runtime asks this at every flush of a view: how long to coalesce until the next."""
        return view_tick_s(self.watchers(view))

    def watchers(self, view: str) -> int:
        """Sockets watching a view over all web processes (read from Redis at most once a second)."""
        now = time.monotonic()
        cached = self._watchers.get(view)
        if cached is not None and now - cached[1] < WATCHERS_REFRESH_S:
            return cached[0]
        count = cached[0] if cached is not None else 0
        try:
            fields = self.redis.hgetall(groups.watchers_key(groups.view_group(self.deployment_id, view)))
            count = count_watchers(fields.values(), time.time())
        except Exception as exc:  # keep the last count; the serving copy matters more
            self._log_failure("watchers", exc)
        self._watchers[view] = (count, now)
        return count

    def close(self) -> None:
        try:
            self.redis.close()
        except Exception:  # closing a dead connection is not worth reporting
            pass

    # -- views -----------------------------------------------------------------------------
    def _on_table_delta(self, event: dict[str, Any]) -> None:
        view = str(event["view"])
        windowed = bool(event.get("windowed", False))
        self._windowed[view] = windowed
        local = self._rows.setdefault(view, {})
        changes: dict[str, tuple[Any, Any]] = {}
        for row in event.get("rows", ()):
            encoded = row_key(row["key"])
            changes[encoded] = (row["key"], row.get("value"))
            if row.get("value") is None:
                local.pop(encoded, None)
                if view in self._needs_replay:
                    self._missed_deletes.setdefault(view, set()).add(encoded)
            else:
                local[encoded] = (row["key"], row["value"])
        if view in self._needs_replay:
            self._replay(view)
            return
        try:
            self._write(view, changes)
        except redis.RedisError:
            self._needs_replay.add(view)
            self._missed_deletes.setdefault(view, set()).update(
                encoded for encoded, (_key, value) in changes.items() if value is None
            )
            raise

    def _replay(self, view: str) -> None:
        """Write every row this instance owns (after Redis lost the table or a write failed)."""
        rows: dict[str, tuple[Any, Any]] = {
            encoded: (orjson.loads(encoded), None) for encoded in self._missed_deletes.get(view, ())
        }
        rows.update(self._rows.get(view, {}))
        self._write(view, rows, replay=True)
        self._needs_replay.discard(view)
        self._missed_deletes.pop(view, None)

    def _write(self, view: str, changes: dict[str, tuple[Any, Any]], replay: bool = False) -> None:
        ops: list[str] = []
        for encoded, (_key, value) in changes.items():
            if value is None:
                ops += ["d", encoded]
            else:
                ops += ["u", encoded, orjson.dumps(value).decode()]
        args = [uuid.uuid4().hex, "1" if self._windowed.get(view) else "0", orjson.dumps(ops)]
        keys = [
            groups.serving_rows_key(self.deployment_id, view),
            groups.serving_meta_key(self.deployment_id, view),
        ]
        seq, generation, created = self._apply(keys=keys, args=args)
        generation = generation.decode() if isinstance(generation, bytes) else str(generation)
        known = self._generation.get(view)
        self._generation[view] = generation
        self._publish_delta(view, int(seq), generation, changes)
        table_was_lost = (known is not None and known != generation) or (
            created and len(self._rows.get(view, {})) > len(changes)
        )
        if table_was_lost and not replay:
            self._replay(view)

    def _publish_delta(
        self, view: str, seq: int, generation: str, changes: dict[str, tuple[Any, Any]]
    ) -> None:
        frame = encode_frame(
            {
                "v": PROTOCOL_VERSION,
                "type": "view.delta",
                "deployment": self.deployment_id,
                "view": view,
                "seq": seq,
                "generation": generation,
                "windowed": self._windowed.get(view, False),
                "at": time.time(),
                "rows": [{"key": key, "value": value} for key, value in changes.values()],
            }
        )
        self._send(groups.view_group(self.deployment_id, view), frame)

    # -- monitor ---------------------------------------------------------------------------
    def _on_monitor_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        state = self._slot_state
        now = time.time()
        state["heartbeat"] = now
        if kind == "status":
            state["status"] = event.get("status")
            state["error"] = event.get("error")
        elif kind == "metrics":
            state["metrics"] = {"nodes": event.get("nodes", {}), "latency_ms": event.get("latency_ms")}
            state["metrics_at"] = now
            state["partitions"] = event.get("partitions", [])
        elif kind == "lag":
            state["lag"] = event.get("partitions", [])
            state["lag_at"] = now
        elif kind == "restore":
            restore = state.setdefault("restore", {})
            restore[f"{event.get('store')}:{event.get('partition')}"] = {
                "store": event.get("store"),
                "partition": event.get("partition"),
                "restored": event.get("restored"),
                "total": event.get("total"),
                "done": event.get("done"),
            }
        elif kind == "error":
            errors = state.setdefault("recent_errors", [])
            errors.append(
                {
                    k: event.get(k)
                    for k in ("node_id", "topic", "partition", "offset", "error_class", "message", "policy")
                }
            )
            del errors[:-20]
        self.redis.hset(groups.monitor_slots_key(self.deployment_id), str(self.slot), orjson.dumps(state))
        frame = encode_frame(
            {
                "v": PROTOCOL_VERSION,
                "type": "monitor.event",
                "deployment": self.deployment_id,
                "slot": self.slot,
                "at": now,
                "event": event,
                "state": state,
            }
        )
        self._send(groups.deployment_group(self.deployment_id), frame)

    # -- plumbing --------------------------------------------------------------------------
    def _send(self, group: str, frame: str) -> None:
        _LayerPublisher.get().group_send(
            group, {"type": "live.frame", "group": group, "frame": frame}, self.channel_layer
        )

    def _log_failure(self, kind: Any, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= ERROR_LOG_INTERVAL_S:
            self._last_error_log = now
            log.warning(
                "deployment %s slot %s: could not publish %s event: %s",
                self.deployment_id,
                self.slot,
                kind,
                exc,
            )
