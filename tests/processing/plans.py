"""Execution plans for deployment tests, built from the plan dataclasses directly so these
tests depend on the plan contract, not on the compiler's lowering.

``count_by_key`` is the talk's example: topics A and B -> count by record key -> a sink topic,
optionally behind a stateless filter (an upgrade that changes only the filter is compatible).
"""

from __future__ import annotations

from topology.compiler.plan import (
    Aggregate,
    Aggregation,
    Filter,
    Plan,
    Sink,
    Source,
    Store,
    SubTopology,
    plan_to_dict,
    with_hash,
)


def count_by_key(
    name: str,
    sources: tuple[str, ...],
    sink: str,
    *,
    where: str | None = None,
    aggregate_id: str = "counts",
    function: str = "COUNT",
) -> Plan:
    """``where`` is a stateless filter between the count and the sink: changing it changes no
    state, so ``compare_plans`` calls it compatible (a filter *before* the count would change
    what the store means, which is a reprocess)."""
    store = f"{aggregate_id}-store"
    ops: list = [
        Source(
            id="events", node_id="events", inputs=(), topics=sources, key_format="string", value_format="json"
        ),
        Aggregate(
            id=aggregate_id,
            node_id=aggregate_id,
            inputs=("events",),
            store=store,
            aggregations=(Aggregation(name="count", function=function),),
            output="table",
        ),
    ]
    upstream = aggregate_id
    if where is not None:
        ops.append(Filter(id="keep", node_id="keep", inputs=(upstream,), predicate=where, output="table"))
        upstream = "keep"
    ops.append(
        Sink(
            id="out",
            node_id="out",
            inputs=(upstream,),
            topic=sink,
            value_format="json",
            output="table",
            coalesce=True,
        )
    )
    return with_hash(
        Plan(
            name=name,
            subtopologies=(SubTopology(id=0, operators=tuple(ops), source_topics=tuple(sorted(sources))),),
            stores=(Store.of(store, "kv", aggregate_id, 0, None),),
        )
    )


def store_version(topology, plan: Plan, *, user=None):
    """A TopologyVersion holding ``plan`` (the document is not what these tests are about)."""
    from topology.models import TopologyVersion

    number = (topology.versions.order_by("-number").values_list("number", flat=True).first() or 0) + 1
    data = plan_to_dict(plan)
    return TopologyVersion.objects.create(
        topology=topology,
        number=number,
        document={"nodes": [], "edges": []},
        plan=data,
        plan_hash=data["hash"],
        created_by=user,
    )
