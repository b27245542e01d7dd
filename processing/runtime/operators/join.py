"""joins: stream-stream (windowed), stream-table and table-table, inner / left / outer, and
the foreign-key table-table join (``ForeignKeyJoinNode`` + ``ForeignKeyLookupNode``).

Both inputs are keyed on the join key and co-partitioned (the compiler repartitions). The
output value is the ``select`` fields evaluated over ``{"left": l, "right": r}``, or when
``select`` is empty the merge ``{**right, **left}`` (a missing side contributes nothing).
"""

from __future__ import annotations

import hashlib
import heapq
from typing import Any

import orjson

from processing.runtime.operators.base import Node, NodeError, Push, TaskContext, compile_sql
from processing.runtime.serde import hashable_key, key_from_hashable, key_from_json, key_to_json, same_key
from processing.runtime.state.base import StateStore
from processing.runtime.state.memory import MemoryStore
from topology.compiler.plan import ForeignKeyJoin, ForeignKeyLookup, Join


class _JoinBase(Node):
    def __init__(self, op: Join | ForeignKeyJoin, ctx: TaskContext) -> None:
        super().__init__(op, ctx)
        self.how = op.how
        self.select = tuple((f.name, compile_sql(f.expression, op.node_id)) for f in op.select)

    def joined(self, key: Any, left: Any, right: Any, timestamp: int) -> Any:
        if not self.select:
            out = dict(right) if right.__class__ is dict else {}
            if left.__class__ is dict:
                out.update(left)
            return out
        record = {"left": left, "right": right}
        ctx = self.ctx
        try:
            return {name: fn(record, key, timestamp, ctx.partition, ctx.offset) for name, fn in self.select}
        except Exception as exc:
            raise NodeError(self.node_id, exc) from None

    def side_push(self, index: int) -> Push:
        raise NotImplementedError


def _store(
    stores: dict[str, StateStore], op: Join | ForeignKeyJoin | ForeignKeyLookup, name: str | None
) -> StateStore:
    if not name:
        raise ValueError(f"join {op.id!r}: a side that keeps state needs a store name")
    return stores.setdefault(name, MemoryStore(name))


class StreamTableJoinNode(_JoinBase):
    """Only stream records trigger; the table side is looked up as of the stream record.
    ``outer`` is not defined for stream-table joins and behaves as ``left``."""

    def __init__(self, op: Join, ctx: TaskContext, stores: dict[str, StateStore], stream_index: int) -> None:
        super().__init__(op, ctx)
        self.stream_index = stream_index
        table_store = op.right_store if stream_index == 0 else op.left_store
        self.table = _store(stores, op, table_store)
        self.stores = [self.table]

    def side_push(self, index: int) -> Push:
        return self.push_stream if index == self.stream_index else self.push_table

    def push_table(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None:
            return
        if value is None:
            self.table.delete(hashable_key(key), timestamp)
        else:
            self.table.put(hashable_key(key), value, timestamp)

    def push_stream(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None or value is None:
            return  # as KStream-KTable joins: no key or no value, no lookup
        other = self.table.data.get(key if key.__class__ is str else hashable_key(key))
        if other is None and self.how == "inner":
            return
        if self.stream_index == 0:
            left, right = value, other
        else:
            left, right = other, value
        if self.select or left.__class__ is not dict:
            joined = self.joined(key, left, right, timestamp)
        elif right.__class__ is dict:
            # The common enrichment: no select, both sides objects. Same merge as joined().
            joined = {**right, **left}
        else:
            joined = dict(left)
        self.n_out += 1
        self.emit(key, joined, timestamp)

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        self.push_stream(key, value, timestamp)


class TableTableJoinNode(_JoinBase):
    """Both sides trigger. The result row exists when both sides do (inner), when the left
    does (left), or when either does (outer); otherwise a tombstone is forwarded."""

    is_table = True

    def __init__(self, op: Join, ctx: TaskContext, stores: dict[str, StateStore]) -> None:
        super().__init__(op, ctx)
        self.left = _store(stores, op, op.left_store)
        self.right = _store(stores, op, op.right_store)
        self.stores = [self.left, self.right]

    def side_push(self, index: int) -> Push:
        return self.push_left if index == 0 else self.push_right

    def push_left(self, key: Any, value: Any, timestamp: int) -> None:
        self._change(self.left, key, value, timestamp)

    def push_right(self, key: Any, value: Any, timestamp: int) -> None:
        self._change(self.right, key, value, timestamp)

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        self.push_left(key, value, timestamp)

    def _change(self, store: StateStore, key: Any, value: Any, timestamp: int) -> None:
        if key is None:
            return
        hkey = hashable_key(key)
        if value is None:
            store.delete(hkey, timestamp)
        else:
            store.put(hkey, value, timestamp)
        left = self.left.data.get(hkey)
        right = self.right.data.get(hkey)
        how = self.how
        if how == "inner":
            exists = left is not None and right is not None
        elif how == "left":
            exists = left is not None
        else:
            exists = left is not None or right is not None
        self.n_out += 1
        self.emit(key, self.joined(key, left, right, timestamp) if exists else None, timestamp)


class StreamStreamJoinNode(_JoinBase):
    """A left record at t joins the right records in ``[t - before, t + after]`` (a right
    record at t, the left ones in ``[t - after, t + before]``); before = after = size for a
    symmetric window. The output time is the larger one.

    Each side is buffered per key as ``[ts, value, joined]``. A record is late (counted,
    dropped) when its own window has closed: ``ts + after + grace < stream time`` for a left
    record, ``ts + before + grace`` for a right one (Kafka Streams' window-close rule, per
    side). A buffered record can still meet a partner until
    ``ts + before + after + grace >= stream time`` (the store's retention, as Kafka Streams'
    join stores); after that it is purged, and under left/outer joins a record that never
    joined is emitted with a null partner, exactly once and never followed by a joined result
    for it (no eager left/outer results; see docs/semantics.md).
    """

    timed = True

    def __init__(self, op: Join, ctx: TaskContext, stores: dict[str, StateStore]) -> None:
        super().__init__(op, ctx)
        window = op.window
        if window is None or window.size_ms < 0:
            raise ValueError(f"join {op.id!r}: a stream-stream join needs a window")
        self.before = window.join_before_ms
        self.after = window.join_after_ms
        if self.before < 0 or self.after < 0:
            raise ValueError(f"join {op.id!r}: join window bounds must not be negative")
        self.grace = window.grace_ms
        self.retention = self.before + self.after + self.grace
        self.left = _store(stores, op, op.left_store)
        self.right = _store(stores, op, op.right_store)
        self.stores = [self.left, self.right]
        self.expiry: list[tuple[int, int, Any]] = []  # heap of (ts, side, hkey)

    def after_restore(self) -> None:
        self.expiry = [
            (entry[0], side, hkey)
            for side, store in ((0, self.left), (1, self.right))
            for hkey, entries in store.data.items()
            for entry in entries
        ]
        heapq.heapify(self.expiry)

    def side_push(self, index: int) -> Push:
        return self.push_left if index == 0 else self.push_right

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        self.push_left(key, value, timestamp)

    def push_left(self, key: Any, value: Any, timestamp: int) -> None:
        self._arrive(0, self.left, self.right, key, value, timestamp)

    def push_right(self, key: Any, value: Any, timestamp: int) -> None:
        self._arrive(1, self.right, self.left, key, value, timestamp)

    def _arrive(self, side: int, own: StateStore, other: StateStore, key: Any, value: Any, ts: int) -> None:
        if key is None or value is None:
            return
        # Partners of a left record lie in [ts - before, ts + after]; of a right one in
        # [ts - after, ts + before].
        if side == 0:
            low, high = ts - self.before, ts + self.after
        else:
            low, high = ts - self.after, ts + self.before
        if high + self.grace < self.ctx.stream_time:
            self.n_late += 1
            return
        hkey = hashable_key(key)
        entry = [ts, value, False]
        partners = other.data.get(hkey)
        if partners:
            for partner in partners:
                if low <= partner[0] <= high:
                    entry[2] = True
                    if not partner[2]:
                        partner[2] = True
                        other.mark_dirty(hkey, ts)
                    left, right = (value, partner[1]) if side == 0 else (partner[1], value)
                    out_ts = ts if ts > partner[0] else partner[0]
                    self.n_out += 1
                    self.emit(key, self.joined(key, left, right, out_ts), out_ts)
        entries = own.data.get(hkey)
        if entries is None:
            own.data[hkey] = [entry]
        else:
            entries.append(entry)
        own.mark_dirty(hkey, ts)
        heapq.heappush(self.expiry, (ts, side, hkey))

    def on_time(self, stream_time: int) -> None:
        expiry = self.expiry
        limit = stream_time - self.retention
        how = self.how
        while expiry and expiry[0][0] < limit:
            _, side, hkey = heapq.heappop(expiry)
            store = self.left if side == 0 else self.right
            entries = store.data.get(hkey)
            if not entries:
                continue
            keep = [e for e in entries if e[0] >= limit]
            expired = [e for e in entries if e[0] < limit]
            if keep:
                store.data[hkey] = keep
            else:
                del store.data[hkey]
            store.mark_dirty(hkey, stream_time)
            if how == "outer" or (how == "left" and side == 0):
                key = key_from_hashable(hkey)
                for ts, value, was_joined in expired:
                    if not was_joined:
                        left, right = (value, None) if side == 0 else (None, value)
                        self.n_out += 1
                        self.emit(key, self.joined(key, left, right, ts), ts)


# Subscription instructions, Kafka Streams' SubscriptionWrapper.Instruction.
DELETE = "delete"  # DELETE_KEY_AND_PROPAGATE: unsubscribe, answer with no right row
DELETE_QUIET = "delete_quiet"  # DELETE_KEY_NO_PROPAGATE: unsubscribe only
NULL_IF_MISSING = "null_if_missing"  # PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE: always answer
ONLY_IF_PRESENT = "only_if_present"  # PROPAGATE_ONLY_IF_FK_VAL_AVAILABLE: answer if the row exists


def row_hash(value: Any) -> str | None:
    """The hash a subscription carries of the left row that sent it (Kafka Streams: murmur3
    128 of the serialized value), so a response to an older version of the row is dropped."""
    if value is None:
        return None
    return hashlib.blake2b(orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


class ForeignKeyJoinNode(_JoinBase):
    """Left half of the foreign-key join (Kafka Streams' SubscriptionSendProcessorSupplier and
    ResponseJoinProcessorSupplier): input 0 the left rows, input 1 the lookup's responses.

    The subscriptions go to ``subscribe`` (the builder binds it to the subscription
    repartition), the joined rows to ``emit``. A null foreign key under a left join needs no
    round trip: the answer is "no right row", so the result is forwarded at once (Kafka
    Streams sends it through the subscription topic with a null key and gets that answer).
    """

    is_table = True

    def __init__(self, op: ForeignKeyJoin, ctx: TaskContext, stores: dict[str, StateStore]) -> None:
        super().__init__(op, ctx)
        self.store = _store(stores, op, op.store)
        self.stores = [self.store]
        self.foreign_key = compile_sql(op.foreign_key, op.node_id)
        self.left_join = op.how == "left"
        self.subscribe: Push = _ignore

    def side_push(self, index: int) -> Push:
        return self.push_left if index == 0 else self.push_response

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        self.push_left(key, value, timestamp)

    def _foreign_key(self, row: Any, key: Any, timestamp: int) -> Any:
        if row is None:
            return None
        ctx = self.ctx
        try:
            return self.foreign_key(row, key, timestamp, ctx.partition, ctx.offset)
        except Exception as exc:
            raise NodeError(self.node_id, exc) from None

    def push_left(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None:
            return
        hkey = hashable_key(key)
        old = self.store.data.get(hkey)
        old_fk = self._foreign_key(old, key, timestamp)
        new_fk = self._foreign_key(value, key, timestamp)
        if value is None:
            self.store.delete(hkey, timestamp)
        else:
            self.store.put(hkey, value, timestamp)
        digest = row_hash(value)
        if self.left_join:
            # leftJoinInstructions: every change answers, a null foreign key with no right row.
            if old is not None and old_fk is not None and not same_key(old_fk, new_fk):
                self._send(key, old_fk, DELETE, digest, timestamp)
            if old is not None or value is not None:
                self._send(key, new_fk, NULL_IF_MISSING, digest, timestamp)
            return
        # defaultJoinInstructions (inner): a new row whose foreign key is null is ignored.
        if value is not None and new_fk is None:
            return
        if old is None:
            if value is not None:
                self._send(key, new_fk, ONLY_IF_PRESENT, digest, timestamp)
            return
        if old_fk is None:
            # Kafka Streams' code skips these too; its documentation ignores only a null new
            # key, so the row is joined (or its old result deleted): see docs/semantics.md.
            if value is None:
                self._resolve(key, None, None, timestamp)
            else:
                self._send(key, new_fk, NULL_IF_MISSING, digest, timestamp)
            return
        if value is None:
            self._send(key, old_fk, DELETE, digest, timestamp)
            return
        if not same_key(old_fk, new_fk):
            self._send(key, old_fk, DELETE_QUIET, digest, timestamp)
        self._send(key, new_fk, NULL_IF_MISSING, digest, timestamp)

    def _send(self, key: Any, foreign_key: Any, instruction: str, digest: str | None, timestamp: int) -> None:
        if foreign_key is None:  # a left join's null foreign key: no right row, no round trip
            self._resolve(key, self.store.data.get(hashable_key(key)), None, timestamp)
            return
        self.subscribe(
            foreign_key, {"key": key_to_json(key), "hash": digest, "instruction": instruction}, timestamp
        )

    def push_response(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None or value.__class__ is not dict:
            return
        current = self.store.data.get(hashable_key(key))
        if value.get("hash") != row_hash(current):
            return  # stale: the left row changed since it subscribed
        self._resolve(key, current, value.get("right"), timestamp)

    def _resolve(self, key: Any, left: Any, right: Any, timestamp: int) -> None:
        if left is None or (right is None and not self.left_join):
            result = None
        else:
            result = self.joined(key, left, right, timestamp)
        self.n_out += 1
        self.emit(key, result, timestamp)


def _ignore(key: Any, value: Any, timestamp: int) -> None:
    return None


class ForeignKeyLookupNode(Node):
    """Right half of the foreign-key join (Kafka Streams' SubscriptionReceiveProcessor,
    SubscriptionJoinProcessor and ForeignTableJoinProcessor), keyed by the foreign key: input 0
    the right rows (kept as ``[row, timestamp]``), input 1 the subscriptions (kept per
    ``[foreign key, left key]`` with the left row's hash; ``subscribers`` indexes them by
    foreign key, rebuilt after a restore). Emits responses ``{"hash", "right"}`` keyed by the
    left key; a right change answers every subscriber, in the order of their keys."""

    def __init__(self, op: ForeignKeyLookup, ctx: TaskContext, stores: dict[str, StateStore]) -> None:
        super().__init__(op, ctx)
        self.right = _store(stores, op, op.store)
        self.subscriptions = _store(stores, op, op.subscription_store)
        self.stores = [self.right, self.subscriptions]
        self.subscribers: dict[Any, dict[Any, None]] = {}

    def after_restore(self) -> None:
        self.subscribers = {}
        for skey, entry in self.subscriptions.data.items():
            self.subscribers.setdefault(hashable_key(entry["fk"]), {})[skey] = None

    def side_push(self, index: int) -> Push:
        return self.push_right if index == 0 else self.push_subscription

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        self.push_right(key, value, timestamp)

    def push_right(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None:
            return
        hkey = hashable_key(key)
        if value is None:
            self.right.delete(hkey, timestamp)
        else:
            self.right.put(hkey, [value, timestamp], timestamp)
        subscriptions = self.subscriptions.data
        for skey in sorted(self.subscribers.get(hkey, ())):
            entry = subscriptions[skey]
            self.n_out += 1
            self.emit(key_from_json(entry["key"]), {"hash": entry["hash"], "right": value}, timestamp)

    def push_subscription(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None or value.__class__ is not dict:
            return
        hkey = hashable_key(key)
        instruction = value["instruction"]
        left_key = value["key"]
        skey = hashable_key([key_to_json(key), left_key])
        if instruction in (DELETE, DELETE_QUIET):
            self.subscriptions.delete(skey, timestamp)
            subscribers = self.subscribers.get(hkey)
            if subscribers is not None:
                subscribers.pop(skey, None)
                if not subscribers:
                    del self.subscribers[hkey]
        else:
            entry = {"fk": key_to_json(key), "key": left_key, "hash": value["hash"]}
            self.subscriptions.put(skey, entry, timestamp)
            self.subscribers.setdefault(hkey, {})[skey] = None
        if instruction == DELETE_QUIET:
            return
        found = self.right.data.get(hkey)
        if found is None and instruction == ONLY_IF_PRESENT:
            return
        right = None if found is None or instruction == DELETE else found[0]
        result_ts = timestamp if found is None else max(timestamp, found[1])
        self.n_out += 1
        self.emit(key_from_json(left_key), {"hash": value["hash"], "right": right}, result_ts)


def make_join(op: Join, ctx: TaskContext, stores: dict[str, StateStore], sides: tuple[bool, ...]) -> Node:
    if op.sides == "stream_stream":
        return StreamStreamJoinNode(op, ctx, stores)
    if op.sides == "table_table":
        return TableTableJoinNode(op, ctx, stores)
    if op.sides == "stream_table":
        # The stream is the left input unless only the right one is a stream.
        stream_index = 1 if sides == (True, False) else 0
        return StreamTableJoinNode(op, ctx, stores, stream_index)
    raise ValueError(f"join {op.id!r}: unknown sides {op.sides!r}")
