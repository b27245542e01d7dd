"""aggregate: per group key, non-windowed here; the windowed variants (tumbling, hopping,
session, sliding) are in ``windows``, and the accumulators both use in ``accumulators``.

An aggregate of a table is two operators, as Kafka Streams' ``KTable.groupBy().aggregate()``:
``GroupTableNode`` (before the repartition) turns each row change into old/new pairs keyed by
group, and ``TableAggregateNode`` (after it) subtracts the old row and adds the new one."""

from __future__ import annotations

from typing import Any

from processing.runtime.operators.accumulators import Aggregations
from processing.runtime.operators.base import Node, NodeError, TaskContext
from processing.runtime.operators.stateless import key_function
from processing.runtime.operators.windows import (
    SessionAggregateNode,
    SlidingAggregateNode,
    TimeWindowAggregateNode,
    window_codec,
)
from processing.runtime.serde import hashable_key, same_key
from processing.runtime.state.base import StateStore
from processing.runtime.state.memory import MemoryStore
from topology.compiler.plan import Aggregate, GroupTable


class AggregateNode(Node):
    """Non-windowed: a table keyed by the group key. Like Kafka Streams, a result's timestamp
    is the largest timestamp of the records in it (windowed aggregates too). ``emit="final"`` has no window to wait
    for, so it behaves like ``changes`` (as in Kafka Streams, where suppress needs windows)."""

    is_table = True

    def __init__(self, op: Aggregate, ctx: TaskContext, store: StateStore) -> None:
        super().__init__(op, ctx)
        self.aggs = Aggregations(op)
        self.store = store
        self.stores = [store]
        self.data = store.data
        self.dirty = store.dirty
        if self.aggs.count_only:
            # The hot path of the most common topology (a keyed count), kept to a few lookups.
            self.count_name = self.aggs.first_name
            self.push = self._push_count  # type: ignore[method-assign]

    def _push_count(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None or value is None:
            return
        hkey = key if key.__class__ is str else hashable_key(key)
        data = self.data
        accs = data.get(hkey)
        if accs is None:
            accs = data[hkey] = [timestamp, 1]
        else:
            accs[1] += 1
            if timestamp > accs[0]:
                accs[0] = timestamp
        self.dirty[hkey] = timestamp
        self.n_out += 1
        self.emit(key, {self.count_name: accs[1]}, accs[0])

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None or value is None:
            return  # Kafka Streams' aggregations skip null keys and null values
        hkey = key if key.__class__ is str else hashable_key(key)
        accs = self.data.get(hkey)
        if accs is None:
            accs = self.data[hkey] = self.aggs.new(timestamp)
        aggs = self.aggs
        ctx = self.ctx
        try:
            aggs.update(accs, value, key, timestamp, ctx.partition, ctx.offset)
        except Exception as exc:
            raise NodeError(self.node_id, exc) from None
        self.dirty[hkey] = timestamp
        self.n_out += 1
        self.emit(key, aggs.result(accs), accs[0])


class GroupTableNode(Node):
    """Kafka Streams' KTableRepartitionMap. The store keeps each row by its own key (Kafka
    Streams keeps it in the materialized source table, sending old values), so a change
    knows the row it replaces; its old group key is computed again from that row.

    Same group key: one ``{"new", "old"}`` record; else ``{"old"}`` to the old group first,
    then ``{"new"}`` to the new one. A null group key (old or new) sends nothing for it.
    """

    def __init__(self, op: GroupTable, ctx: TaskContext, store: StateStore) -> None:
        super().__init__(op, ctx)
        self.key_fn = key_function(op)
        self.store = store
        self.stores = [store]

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None:
            return  # a table row has a key (to_table drops the others)
        hkey = hashable_key(key)
        old = self.store.data.get(hkey)
        ctx = self.ctx
        try:
            new_group = (
                None if value is None else self.key_fn(value, key, timestamp, ctx.partition, ctx.offset)
            )
            old_group = None if old is None else self.key_fn(old, key, timestamp, ctx.partition, ctx.offset)
        except Exception as exc:
            raise NodeError(self.node_id, exc) from None
        if value is None:
            self.store.delete(hkey, timestamp)
        else:
            self.store.put(hkey, value, timestamp)
        if old_group is not None and new_group is not None and same_key(old_group, new_group):
            self.n_out += 1
            self.emit(new_group, {"new": value, "old": old}, timestamp)
            return
        if old_group is not None:
            self.n_out += 1
            self.emit(old_group, {"new": None, "old": old}, timestamp)
        if new_group is not None:
            self.n_out += 1
            self.emit(new_group, {"new": value, "old": None}, timestamp)


class TableAggregateNode(Node):
    """Kafka Streams' KTableAggregate: per change of a group, the old row is subtracted (when
    the group has an aggregate) and then the new row added (starting from the initial value).
    A group whose rows all left keeps its row (``COUNT`` 0, ``SUM`` 0, ``AVG`` null), as in
    Kafka Streams. The result carries the largest timestamp seen for the group. A change that
    fails (say, a SUM of a string) leaves the group as it was."""

    is_table = True

    def __init__(self, op: Aggregate, ctx: TaskContext, store: StateStore) -> None:
        super().__init__(op, ctx)
        self.aggs = Aggregations(op)
        self.store = store
        self.stores = [store]

    def push(self, key: Any, value: Any, timestamp: int) -> None:
        if key is None or value.__class__ is not dict:
            return
        hkey = hashable_key(key)
        aggs, ctx = self.aggs, self.ctx
        accs = self.store.data.get(hkey)
        old, new = value.get("old"), value.get("new")
        try:
            if accs is not None:
                accs = aggs.copy(accs)
                if old is not None:
                    aggs.subtract(accs, old, key, timestamp, ctx.partition, ctx.offset)
            if new is not None:
                if accs is None:
                    accs = aggs.new(timestamp)
                aggs.update(accs, new, key, timestamp, ctx.partition, ctx.offset)
        except Exception as exc:
            raise NodeError(self.node_id, exc) from None
        self.n_out += 1
        if accs is None:
            # Only an old row for a group with no aggregate (Kafka Streams forwards a tombstone).
            self.emit(key, None, timestamp)
            return
        self.store.put(hkey, accs, timestamp)
        self.emit(key, aggs.result(accs), accs[0])


def make_group_table(op: GroupTable, ctx: TaskContext, stores: dict[str, StateStore]) -> Node:
    return GroupTableNode(op, ctx, stores.setdefault(op.store, MemoryStore(op.store)))


def make_aggregate(op: Aggregate, ctx: TaskContext, stores: dict[str, StateStore]) -> Node:
    name = op.store
    window = op.window
    if op.from_table:
        if window is not None:
            raise ValueError(f"aggregate {op.id!r}: a table is aggregated without a window")
        return TableAggregateNode(op, ctx, stores.setdefault(name, MemoryStore(name)))
    if window is None:
        store = stores.setdefault(name, MemoryStore(name))
        return AggregateNode(op, ctx, store)
    if window.type in ("tumbling", "hopping"):
        encode, decode = window_codec(window.size_ms)
        store = stores.setdefault(name, MemoryStore(name, encode_key=encode, decode_key=decode))
        return TimeWindowAggregateNode(op, ctx, store)
    if window.type == "session":
        store = stores.setdefault(name, MemoryStore(name))
        return SessionAggregateNode(op, ctx, store)
    if window.type == "sliding":
        store = stores.setdefault(name, MemoryStore(name))
        return SlidingAggregateNode(op, ctx, store)
    raise ValueError(f"aggregate {op.id!r}: unknown window type {window.type!r}")
