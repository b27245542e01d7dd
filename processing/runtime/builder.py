"""Turns the operators of one sub-topology into wired executable nodes for one task."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from processing.runtime.operators.aggregate import make_aggregate, make_group_table
from processing.runtime.operators.base import Node, TaskContext, downstream
from processing.runtime.operators.join import ForeignKeyJoinNode, ForeignKeyLookupNode, make_join
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
from processing.runtime.state.base import StateStore
from processing.runtime.state.memory import MemoryStore
from topology.compiler.binding import BoundPlan
from topology.compiler.plan import (
    Aggregate,
    ForeignKeyJoin,
    ForeignKeyLookup,
    GroupTable,
    Join,
    Repartition,
    Sink,
    Source,
    SubTopology,
)


@dataclass
class Built:
    nodes: list[Node]
    stores: dict[str, StateStore]
    views: list[ViewNode]
    captured: dict[str, list[tuple[Any, Any, int]]]
    receivers: dict[str, Any]
    entry_nodes: set[str] = field(default_factory=set)
    exit_nodes: set[str] = field(default_factory=set)


def _make_node(
    op: Any, ctx: TaskContext, bound: BoundPlan, stores: dict[str, StateStore], output: dict[str, str]
) -> Node:
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
        return RepartitionNode(op, ctx, bound.repartition_topics[op.name])
    if kind == "sink":
        return SinkNode(op, ctx)
    if kind == "view":
        return ViewNode(op, ctx)
    if kind == "to_stream":
        return ToStreamNode(op, ctx)
    if kind == "to_table":
        store = stores.setdefault(op.store, MemoryStore(op.store))
        return ToTableNode(op, ctx, store)
    if isinstance(op, Aggregate):
        return make_aggregate(op, ctx, stores)
    if isinstance(op, GroupTable):
        return make_group_table(op, ctx, stores)
    if isinstance(op, Join):
        sides = tuple(output.get(i) == "table" for i in op.inputs)
        return make_join(op, ctx, stores, sides)
    if isinstance(op, ForeignKeyJoin):
        return ForeignKeyJoinNode(op, ctx, stores)
    if isinstance(op, ForeignKeyLookup):
        return ForeignKeyLookupNode(op, ctx, stores)
    raise ValueError(f"operator {op.id!r}: unknown kind {kind!r}")


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


def build_nodes(sub: SubTopology, ctx: TaskContext, bound: BoundPlan, *, capture: bool = False) -> Built:
    """Every fact about an operator comes from the plan: whether it emits a table
    (``op.output``), whether a sink coalesces (``op.coalesce``), its store names, and from the
    bound plan its topic names."""
    stores: dict[str, StateStore] = {}
    nodes: dict[str, Node] = {}
    output: dict[str, str] = {}
    receivers: dict[str, list[Any]] = {}
    for op in sub.operators:
        node = _make_node(op, ctx, bound, stores, output)
        node.is_table = op.output == "table"
        if isinstance(node, SinkNode) and isinstance(op, Sink):
            node.fed_by_table = op.coalesce
        output[op.id] = op.output
        nodes[op.id] = node

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
        side_push = getattr(node, "side_push", None)
        return node.push if side_push is None else side_push(index)

    ops = {op.id: op for op in sub.operators}
    captured: dict[str, list[tuple[Any, Any, int]]] = {}
    for op_id in reversed(_topological_order(sub)):
        node = nodes[op_id]
        targets = consumers_of[op_id]
        if isinstance(node, ForeignKeyJoinNode):
            # Its subscriptions go to the subscription repartition, its joined rows on.
            def subscribes(target: tuple[str, int], name: str = node.op.subscription) -> bool:
                op = ops[target[0]]
                return isinstance(op, Repartition) and op.name == name

            node.subscribe = downstream([push_into(c, i) for c, i in targets if subscribes((c, i))])
            targets = [t for t in targets if not subscribes(t)]
        emit = downstream([push_into(c, i) for c, i in targets])
        if capture:
            tap = TapNode(captured.setdefault(op_id, []))
            tap.emit = emit
            emit = tap.push
        node.bind(emit)

    for op in sub.operators:
        node = nodes[op.id]
        if isinstance(node, SourceNode) and isinstance(op, Source):
            topics = [bound.repartition_topics[op.repartition]] if op.repartition is not None else op.topics
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
