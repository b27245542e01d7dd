"""Small hand-built plans for runtime tests."""

from __future__ import annotations

from topology.compiler.plan import (
    Aggregate,
    Aggregation,
    Plan,
    Sink,
    Source,
    SubTopology,
    Window,
    complete_plan,
)


def source(op_id: str = "src", topics: tuple[str, ...] = ("in",), **config) -> Source:
    return Source(id=op_id, node_id=op_id, inputs=(), topics=topics, **config)


def sink(input_id: str, topic: str = "out", op_id: str = "sink", **config) -> Sink:
    return Sink(id=op_id, node_id=op_id, inputs=(input_id,), topic=topic, **config)


def single(*operators) -> Plan:
    topics = tuple(t for op in operators if isinstance(op, Source) for t in op.topics)
    return complete_plan(
        Plan(name="t", subtopologies=(SubTopology(id=0, operators=tuple(operators), source_topics=topics),))
    )


def aggregate(
    input_id: str = "src",
    aggregations: tuple[Aggregation, ...] = (Aggregation("count", "COUNT"),),
    window: Window | None = None,
    emit: str = "changes",
    op_id: str = "agg",
) -> Aggregate:
    return Aggregate(
        id=op_id,
        node_id=op_id,
        inputs=(input_id,),
        store=f"{op_id}-store",
        aggregations=aggregations,
        window=window,
        emit=emit,
    )


def counting_plan(window: Window | None = None, emit: str = "changes") -> Plan:
    """in (string keys, JSON values) -> count per key [-> window] -> out."""
    return single(source(), aggregate(window=window, emit=emit), sink("agg"))
