"""Turns the operators of one sub-topology into wired executable nodes for one task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processing.runtime.operators.aggregate import make_aggregate
from processing.runtime.operators.base import Node, TaskContext, downstream
from processing.runtime.operators.join import _JoinBase, make_join
from processing.runtime.operators.stateless import (
    FilterNode,
    FlatMapNode,
    ProjectNode,
    RepartitionNode,
    SelectKeyNode,
    SinkNode,
    SourceNode,
    TapNode,
    ToStreamNode,
    ToTableNode,
    ViewNode,
)
from processing.runtime.state.memory import MemoryStore
from topology.compiler import naming
from topology.compiler.plan import Aggregate, Join, Repartition, Source, SubTopology

_TABLE_PRESERVING = {"filter", "project", "select_key", "repartition", "flat_map"}


@dataclass
class Built:
    nodes: list[Node]
    stores: dict[str, MemoryStore]
    views: list[ViewNode]
    captured: dict[str, list[tuple[Any, Any, int]]]
    receivers: dict[str, Any]
    entry_nodes: set[str] = field(default_factory=set)
    exit_nodes: set[str] = field(default_factory=set)


def _make_node(op: Any, ctx: TaskContext, stores: dict[str, MemoryStore], is_table: dict[str, bool]) -> Node:
    kind = op.kind
    if kind == "source":
        return SourceNode(op, ctx)
    if kind == "filter":
        return FilterNode(op, ctx)
    if kind == "project":
        return ProjectNode(op, ctx)
    if kind == "flat_map":
        return FlatMapNode(op, ctx)
    if kind == "select_key":
        return SelectKeyNode(op, ctx)
    if kind == "repartition":
        return RepartitionNode(op, ctx)
    if kind == "sink":
        return SinkNode(op, ctx)
    if kind == "view":
        return ViewNode(op, ctx)
    if kind == "to_stream":
        return ToStreamNode(op, ctx)
    if kind == "to_table":
        name = op.store or naming.store_name(op.node_id)
        store = stores.setdefault(name, MemoryStore(name))
        return ToTableNode(op, ctx, store)
    if isinstance(op, Aggregate):
        return make_aggregate(op, ctx, stores)
    if isinstance(op, Join):
        sides = tuple(is_table.get(i, False) for i in op.inputs)
        return make_join(op, ctx, stores, sides)
    raise ValueError(f"operator {op.id!r}: unknown kind {kind!r}")


def _output_is_table(op: Any, inputs_table: list[bool]) -> bool:
    kind = op.kind
    if kind in ("to_table", "aggregate"):
        return True
    if kind == "join":
        return op.sides == "table_table"
    if kind in _TABLE_PRESERVING:
        return bool(inputs_table) and all(inputs_table)
    return False


def _final_windows(op_id: str, ops_by_id: dict[str, Any]) -> bool:
    """True when ``op_id`` forwards the results of windows emitted once, when they close
    (emit final): each key and window is written once anyway, so a record cache in front of
    its sink would only hold them back (Kafka Streams has no cache after suppress either)."""
    op = ops_by_id.get(op_id)
    if op is None:
        return False
    if op.kind == "aggregate":
        return op.window is not None and op.emit == "final"
    if op.kind in _TABLE_PRESERVING:
        return bool(op.inputs) and all(_final_windows(i, ops_by_id) for i in op.inputs)
    return False


def table_repartitions(subtopologies: tuple[SubTopology, ...]) -> set[str]:
    """Names of the repartition topics that carry a table (its changes) rather than a stream."""
    tables: set[str] = set()
    # Sub-topologies may list a reader before its writer: iterate to a fixed point.
    for _ in range(len(subtopologies) + 1):
        before = len(tables)
        for sub in subtopologies:
            is_table: dict[str, bool] = {}
            for op in sub.operators:
                if isinstance(op, Source):
                    is_table[op.id] = op.repartition in tables
                else:
                    is_table[op.id] = _output_is_table(op, [is_table.get(i, False) for i in op.inputs])
                if isinstance(op, Repartition) and is_table[op.id]:
                    tables.add(op.name)
        if len(tables) == before:
            break
    return tables


def _topological_order(sub: SubTopology) -> list[str]:
    """Operator ids, every operator after its inputs."""
    order: list[str] = []
    placed: set[str] = set()
    known = {op.id for op in sub.operators}
    pending = list(sub.operators)
    while pending:
        rest = [op for op in pending if not all(i in placed or i not in known for i in op.inputs)]
        if len(rest) == len(pending):
            raise ValueError(f"sub-topology {sub.id}: operators form a cycle")
        for op in pending:
            if op not in rest:
                order.append(op.id)
                placed.add(op.id)
        pending = rest
    return order


def build_nodes(
    sub: SubTopology, ctx: TaskContext, *, capture: bool = False, table_repartitions: set[str] | None = None
) -> Built:
    table_repartitions = table_repartitions or set()
    stores: dict[str, MemoryStore] = {}
    nodes: dict[str, Node] = {}
    is_table: dict[str, bool] = {}
    receivers: dict[str, list[Any]] = {}
    ops_by_id = {op.id: op for op in sub.operators}
    for op in sub.operators:
        node = _make_node(op, ctx, stores, is_table)
        node.is_table = _output_is_table(op, [is_table.get(i, False) for i in op.inputs])
        if isinstance(node, SinkNode):
            node.fed_by_table = bool(op.inputs) and all(
                is_table.get(i, False) and not _final_windows(i, ops_by_id) for i in op.inputs
            )
        is_table[op.id] = node.is_table
        nodes[op.id] = node
        if isinstance(op, Source) and op.repartition in table_repartitions:
            # A table carried through a repartition topic is still a table on the other side.
            node.is_table = is_table[op.id] = True

    # Bind each operator to the pushes of its consumers (a join gets a side-specific push),
    # consumers first: a stateless operator's push is a closure over its downstream push, so
    # that must exist when it is built.
    consumers_of: dict[str, list[tuple[str, int]]] = {op_id: [] for op_id in nodes}
    for op in sub.operators:
        for index, input_id in enumerate(op.inputs):
            if input_id not in nodes:
                raise ValueError(f"operator {op.id!r}: input {input_id!r} is not in sub-topology {sub.id}")
            consumers_of[input_id].append((op.id, index))

    def push_into(op_id: str, index: int) -> Any:
        node = nodes[op_id]
        return node.side_push(index) if isinstance(node, _JoinBase) else node.push

    captured: dict[str, list[tuple[Any, Any, int]]] = {}
    for op_id in reversed(_topological_order(sub)):
        node = nodes[op_id]
        emit = downstream([push_into(c, i) for c, i in consumers_of[op_id]])
        if capture:
            tap = TapNode(captured.setdefault(op_id, []))
            tap.emit = emit
            emit = tap.push
        node.bind(emit)

    for op in sub.operators:
        node = nodes[op.id]
        if isinstance(node, SourceNode) and isinstance(op, Source):
            topics = (
                [naming.repartition_topic(ctx.app_id, op.repartition)]
                if op.repartition is not None
                else op.topics
            )
            for topic in topics:
                receivers.setdefault(topic, []).append(node.receive)

    # Metrics per document node: "in" at the operators entered from another node, "out" at
    # the operators leaving it (lowered nodes span several operators).
    node_of = {op.id: op.node_id for op in sub.operators}
    consumers: dict[str, list[str]] = {op.id: [] for op in sub.operators}
    for op in sub.operators:
        for input_id in op.inputs:
            consumers[input_id].append(op.id)
    entry = {op.id for op in sub.operators if not any(node_of[i] == op.node_id for i in op.inputs)}
    exit_ = {op.id for op in sub.operators if not any(node_of[c] == op.node_id for c in consumers[op.id])}

    def fan(receivers_of_topic: list[Any]) -> Any:
        if len(receivers_of_topic) == 1:
            return receivers_of_topic[0]

        def receive_all(raw_key: Any, raw_value: Any, timestamp: int) -> None:
            for receive in receivers_of_topic:
                receive(raw_key, raw_value, timestamp)

        return receive_all

    return Built(
        nodes=list(nodes.values()),
        stores=stores,
        views=[n for n in nodes.values() if isinstance(n, ViewNode)],
        captured=captured,
        receivers={topic: fan(r) for topic, r in receivers.items()},
        entry_nodes=entry,
        exit_nodes=exit_,
    )
