"""aggregate: per group key, non-windowed here; the windowed variants (tumbling, hopping,
session, sliding) are in ``windows``, and the accumulators both use in ``accumulators``."""

from __future__ import annotations

from typing import Any

from processing.runtime.operators.accumulators import Aggregations
from processing.runtime.operators.base import Node, NodeError, TaskContext
from processing.runtime.operators.windows import (
    SessionAggregateNode,
    SlidingAggregateNode,
    TimeWindowAggregateNode,
    window_codec,
)
from processing.runtime.serde import hashable_key
from processing.runtime.state.base import StateStore
from processing.runtime.state.memory import MemoryStore
from topology.compiler.plan import Aggregate


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


def make_aggregate(op: Aggregate, ctx: TaskContext, stores: dict[str, StateStore]) -> Node:
    name = op.store
    window = op.window
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
