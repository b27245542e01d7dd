"""Windowed aggregates over event time: tumbling and hopping, session, sliding.

Stream time (the task's largest event time) decides what is late and what is closed; the
rules, and where they differ from Kafka Streams, are in docs/semantics.md.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Callable
from typing import Any

import orjson

from processing.runtime.operators.accumulators import OFFSET_ORDERED, Aggregations
from processing.runtime.operators.base import NEVER_DUE, Node, NodeError, TaskContext
from processing.runtime.serde import (
    canonical_json,
    hashable_key,
    key_from_hashable,
    key_from_json,
    key_to_json,
)
from processing.runtime.state.base import StateStore
from topology.compiler.plan import Aggregate

KEY_CACHE_LIMIT = 200_000


def window_codec(size: int) -> tuple[Callable[[Any], bytes], Callable[[bytes], Any]]:
    # The changelog key is the canonical JSON of {"key", "window_start", "window_end"}; sorted
    # keys put the group key first, so its canonical JSON is computed once per group key and
    # the window bounds (plain integers, written as orjson writes them) are spliced around it.
    # Every window of a key is written and tombstoned, so this is the bulk of a windowed
    # changelog's cost. The cache holds the keys of the open windows at most, and is dropped
    # when it grows past KEY_CACHE_LIMIT entries (keys seen once and never again).
    key_json: dict[Any, bytes] = {}

    def encode(store_key: tuple) -> bytes:
        hkey, start = store_key
        prefix = key_json.get(hkey)
        if prefix is None:
            if len(key_json) >= KEY_CACHE_LIMIT:
                key_json.clear()
            prefix = key_json[hkey] = b'{"key":' + canonical_json(key_to_json(key_from_hashable(hkey)))
        return b'%s,"window_end":%d,"window_start":%d}' % (prefix, start + size, start)

    def decode(raw: bytes) -> tuple:
        data = orjson.loads(raw)
        return (hashable_key(key_from_json(data["key"])), data["window_start"])

    return encode, decode


class TimeWindowAggregateNode(Node):
    """Tumbling and hopping windows ``[start, start + size)`` aligned to the epoch.

    A record is late for a window when ``window end + grace <= stream time``; late records
    are counted (``late``) and dropped. Windows are purged (and tombstoned in the changelog,
    if they reached it) when they close; under ``emit="final"`` each is emitted exactly once, at that moment.
    """

    is_table = True
    timed = True

    def __init__(self, op: Aggregate, ctx: TaskContext, store: StateStore) -> None:
        super().__init__(op, ctx)
        window = op.window
        assert window is not None
        self.size = window.size_ms
        self.advance = window.advance_ms if window.type == "hopping" and window.advance_ms else window.size_ms
        if self.size <= 0 or self.advance <= 0 or self.advance > self.size:
            raise ValueError(
                f"aggregate {op.id!r}: window size and advance must be positive, advance <= size"
            )
        self.grace = window.grace_ms
        self.final = op.emit == "final"
        self.aggs = Aggregations(op)
        self.store = store
        self.stores = [store]
        self.data = store.data
        self.dirty = store.dirty
        # window start -> its keys, in first-update order (a dict as an ordered set): closing a
        # window emits in that order, deterministic without sorting 10,000 keys per window.
        self.by_start: dict[int, dict[Any, None]] = {}
        self.starts: list[int] = []  # heap of the starts in by_start
        self.due = NEVER_DUE

    def after_restore(self) -> None:
        self.by_start = {}
        for hkey, start in self.data:
            self.by_start.setdefault(start, {})[hkey] = None
        self.starts = list(self.by_start)
        heapq.heapify(self.starts)
        self._set_due()

    def _set_due(self) -> None:
        # The earliest window closes when stream time reaches its end plus grace.
        self.due = self.starts[0] + self.size + self.grace if self.starts else NEVER_DUE

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None or value is None or timestamp < 0:
            return
        hkey = key if key.__class__ is str else hashable_key(key)
        size, advance, aggs = self.size, self.advance, self.aggs
        close = self.ctx.stream_time - self.grace
        start = max(0, timestamp - size + advance) // advance * advance
        ctx = self.ctx
        while start <= timestamp:
            end = start + size
            if end <= close:
                self.n_late += 1
                start += advance
                continue
            skey = (hkey, start)
            accs = self.data.get(skey)
            if accs is None:
                accs = self.data[skey] = aggs.new(timestamp)
                keys = self.by_start.get(start)
                if keys is None:
                    keys = self.by_start[start] = {}
                    heapq.heappush(self.starts, start)
                    if end + self.grace < self.due:
                        self.due = end + self.grace
                keys[hkey] = None
            try:
                aggs.update(accs, value, key, timestamp, ctx.partition, ctx.offset)
            except Exception as exc:
                raise NodeError(self.node_id, exc) from None
            self.dirty[skey] = timestamp
            if not self.final:
                self.n_out += 1
                self.emit({"key": key, "window_start": start, "window_end": end}, aggs.result(accs), accs[0])
            start += advance

    def on_time(self, stream_time: int) -> None:
        starts = self.starts
        limit = stream_time - self.grace - self.size
        while starts and starts[0] <= limit:
            start = heapq.heappop(starts)
            end = start + self.size
            for hkey in self.by_start.pop(start, ()):
                skey = (hkey, start)
                accs = self.data.pop(skey, None)
                if accs is None:
                    continue
                self.dirty[skey] = accs[0]
                if self.final:
                    self.n_out += 1
                    key = key_from_hashable(hkey)
                    self.emit(
                        {"key": key, "window_start": start, "window_end": end},
                        self.aggs.result(accs),
                        accs[0],
                    )
        self._set_due()


class SessionAggregateNode(Node):
    """Session windows: a record opens ``[ts, ts]`` and merges every session of its key
    within ``gap`` of it. Windowed keys carry ``window_end`` = the last record's time
    (inclusive), as Kafka Streams' SessionWindow.

    Late (Kafka Streams' rule): the merged session ends before ``stream time - gap - grace``.
    A session is final once ``end + gap + grace < stream time``.
    """

    is_table = True
    timed = True

    def __init__(self, op: Aggregate, ctx: TaskContext, store: StateStore) -> None:
        super().__init__(op, ctx)
        window = op.window
        assert window is not None
        if window.gap_ms <= 0:
            raise ValueError(f"aggregate {op.id!r}: a session window needs a positive gap")
        self.gap = window.gap_ms
        self.grace = window.grace_ms
        self.final = op.emit == "final"
        self.aggs = Aggregations(op)
        self.store = store
        self.stores = [store]
        self.data = store.data  # hkey -> [[start, end, max ts, acc...], ...] sorted by start
        self.dirty = store.dirty
        self.ends: list[tuple[int, Any, int]] = []  # heap of (end, hkey, start), lazily invalidated
        self._seq = 0

    def after_restore(self) -> None:
        self.ends = [(s[1], hkey, s[0]) for hkey, sessions in self.data.items() for s in sessions]
        heapq.heapify(self.ends)

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None or value is None or timestamp < 0:
            return
        hkey = hashable_key(key)
        gap, aggs, ctx = self.gap, self.aggs, self.ctx
        sessions = self.data.get(hkey, [])
        merged_away = [s for s in sessions if s[0] - gap <= timestamp <= s[1] + gap]
        start = min([timestamp, *[s[0] for s in merged_away]])
        end = max([timestamp, *[s[1] for s in merged_away]])
        if end < ctx.stream_time - gap - self.grace:
            self.n_late += 1
            return
        accs = aggs.new(timestamp)
        try:
            for s in merged_away:
                accs = aggs.merge(accs, [s[2], *s[3:]])
            aggs.update(accs, value, key, timestamp, ctx.partition, ctx.offset)
        except Exception as exc:
            raise NodeError(self.node_id, exc) from None
        kept = [s for s in sessions if not any(s is m for m in merged_away)]
        kept.append([start, end, *accs])
        kept.sort(key=lambda s: s[0])
        self.data[hkey] = kept
        self.dirty[hkey] = timestamp
        heapq.heappush(self.ends, (end, hkey, start))
        if not self.final:
            for s in merged_away:
                if s[0] != start or s[1] != end:
                    self.n_out += 1
                    self.emit({"key": key, "window_start": s[0], "window_end": s[1]}, None, timestamp)
            self.n_out += 1
            self.emit({"key": key, "window_start": start, "window_end": end}, aggs.result(accs), accs[0])

    def on_time(self, stream_time: int) -> None:
        ends = self.ends
        limit = stream_time - self.gap - self.grace
        while ends and ends[0][0] < limit:
            end, hkey, start = heapq.heappop(ends)
            sessions = self.data.get(hkey)
            if not sessions:
                continue
            index = next((i for i, s in enumerate(sessions) if s[0] == start and s[1] == end), None)
            if index is None:
                continue  # merged into a newer session since
            s = sessions.pop(index)
            if sessions:
                self.dirty[hkey] = s[2]
            else:
                del self.data[hkey]
                self.dirty[hkey] = s[2]
            if self.final:
                self.n_out += 1
                self.emit(
                    {"key": key_from_hashable(hkey), "window_start": start, "window_end": end},
                    self.aggs.result([s[2], *s[3:]]),
                    s[2],
                )


class SlidingAggregateNode(Node):
    """Sliding windows (Kafka Streams' SlidingWindows, KIP-450): windows ``[start, start +
    size]``, both ends inclusive, that start or end at a record: every record has a left window
    ``[ts - size, ts]`` and, when a later record is within ``size + 1``, a right window
    ``[ts + 1, ts + 1 + size]``. Windows of records earlier than ``size`` start at 0.

    Each key keeps its recent records (time and evaluated arguments) and the starts of its
    open windows; an affected window is recomputed from the records, so each result equals
    the aggregate of exactly the records inside it. Its end is inclusive, so a window closes
    when ``end + grace < stream time``; a record whose windows are all closed is late.
    """

    is_table = True
    timed = True

    def __init__(self, op: Aggregate, ctx: TaskContext, store: StateStore) -> None:
        super().__init__(op, ctx)
        window = op.window
        assert window is not None
        if window.size_ms <= 0:
            raise ValueError(f"aggregate {op.id!r}: a sliding window needs a positive size")
        if any(a.function in OFFSET_ORDERED for a in op.aggregations):
            # Its windows are recomputed from records kept in event-time order (the compiler
            # refuses this combination too).
            raise ValueError(f"aggregate {op.id!r}: a sliding window has no offset order")
        self.size = window.size_ms
        self.grace = window.grace_ms
        self.final = op.emit == "final"
        self.aggs = Aggregations(op)
        self.store = store
        self.stores = [store]
        self.data = store.data  # hkey -> [[[ts, [args]], ...] sorted by ts, [open window starts]]
        self.dirty = store.dirty
        self.window_ends: list[tuple[int, Any, int]] = []  # heap of (end, hkey, start)
        self.record_ends: list[tuple[int, Any]] = []  # heap of (ts + size, hkey)

    def after_restore(self) -> None:
        self.window_ends = [(s + self.size, h, s) for h, (_, starts) in self.data.items() for s in starts]
        self.record_ends = [(r[0] + self.size, h) for h, (records, _) in self.data.items() for r in records]
        heapq.heapify(self.window_ends)
        heapq.heapify(self.record_ends)

    def _result(self, records: list, start: int) -> list:
        end = start + self.size
        accs = self.aggs.new(start)
        updaters = self.aggs.updaters
        for ts, args in records:
            if start <= ts <= end:
                for update, arg in zip(updaters, args, strict=True):
                    update(accs, arg, ts)
                if ts > accs[0]:
                    accs[0] = ts
        return accs

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None or value is None or timestamp < 0:
            return
        size, ctx = self.size, self.ctx
        close = ctx.stream_time - self.grace
        if timestamp + size < close:
            self.n_late += 1
            return
        try:
            args = [
                None if fn is None else fn(value, key, timestamp, ctx.partition, ctx.offset)
                for fn in self.aggs.arguments
            ]
            self._result([[timestamp, args]], timestamp)  # type errors surface before any change
        except Exception as exc:
            raise NodeError(self.node_id, exc) from None
        hkey = hashable_key(key)
        entry = self.data.get(hkey)
        if entry is None:
            entry = self.data[hkey] = [[], []]
        records, starts = entry
        times = [r[0] for r in records]
        records.insert(bisect_left(times, timestamp + 1), [timestamp, args])
        heapq.heappush(self.record_ends, (timestamp + size, hkey))
        affected = set()
        for ts, _ in records:
            if timestamp <= ts <= timestamp + size:
                affected.add(max(0, ts - size))  # left windows that now contain the record
            if timestamp - size - 1 <= ts <= timestamp - 1:
                affected.add(ts + 1)  # right windows of earlier records that now contain it
            if timestamp + 1 <= ts <= timestamp + 1 + size:
                affected.add(timestamp + 1)  # the new record's own right window
        open_starts = set(starts)
        for start in sorted(affected):
            if start + size < close:
                continue
            if start not in open_starts:
                open_starts.add(start)
                starts.append(start)
                heapq.heappush(self.window_ends, (start + size, hkey, start))
            if not self.final:
                try:
                    accs = self._result(records, start)
                    result = self.aggs.result(accs)
                except Exception as exc:
                    raise NodeError(self.node_id, exc) from None
                self.n_out += 1
                self.emit({"key": key, "window_start": start, "window_end": start + size}, result, accs[0])
        starts.sort()
        self.dirty[hkey] = timestamp

    def on_time(self, stream_time: int) -> None:
        close = stream_time - self.grace
        ends = self.window_ends
        while ends and ends[0][0] < close:
            end, hkey, start = heapq.heappop(ends)
            entry = self.data.get(hkey)
            if entry is None or start not in entry[1]:
                continue
            entry[1].remove(start)
            self.dirty[hkey] = stream_time
            if self.final:
                accs = self._result(entry[0], start)
                self.n_out += 1
                self.emit(
                    {"key": key_from_hashable(hkey), "window_start": start, "window_end": end},
                    self.aggs.result(accs),
                    accs[0],
                )
        # Records leave once every window that can contain them has closed.
        record_ends = self.record_ends
        while record_ends and record_ends[0][0] < close:
            _, hkey = heapq.heappop(record_ends)
            entry = self.data.get(hkey)
            if entry is None:
                continue
            entry[0] = [r for r in entry[0] if r[0] + self.size >= close]
            if not entry[0] and not entry[1]:
                del self.data[hkey]
            self.dirty[hkey] = stream_time
