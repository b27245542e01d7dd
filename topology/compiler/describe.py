"""``describe(plan)``: the plan as text, in the shape of Kafka Streams' ``Topology#describe()``.

Each operator shows its kind and the kind of what it emits (``[filter → table]``); stores show
their retention and changelog topic config.

With ``partitions`` (topic → partition count) each sub-topology also shows its maximum useful
parallelism: one task per partition of its widest input topic (a repartition topic counts
with its configured partitions, else with the widest source topic). Joins whose inputs'
partition counts are unknown get a note: co-partitioning could not be checked.
"""

from __future__ import annotations

from topology.compiler.plan import (
    Aggregate,
    Filter,
    FlatMap,
    ForeignKeyJoin,
    ForeignKeyLookup,
    GroupTable,
    Join,
    Operator,
    Plan,
    Project,
    Repartition,
    SelectKey,
    Sink,
    Source,
    SubTopology,
    ToTable,
    View,
)


def _detail(op: Operator) -> str:
    if isinstance(op, Source):
        return f"topics: [{', '.join(op.topics)}]" if op.topics else f"repartition: {op.repartition}"
    if isinstance(op, Filter):
        return f"where: {op.predicate}"
    if isinstance(op, Project):
        parts = ["keep: all" if op.keep_all else "keep: none"]
        if op.drop:
            parts.append(f"drop: [{', '.join(op.drop)}]")
        if op.set:
            parts.append("set: [" + ", ".join(f"{f.name} = {f.expression}" for f in op.set) + "]")
        return "; ".join(parts)
    if isinstance(op, FlatMap):
        return f"explode: {op.field} as {op.as_name}"
    if isinstance(op, SelectKey):
        if op.keys:
            return "key: {" + ", ".join(f"{f.name}: {f.expression}" for f in op.keys) + "}"
        return f"key: {op.key}"
    if isinstance(op, GroupTable):
        key = "{" + ", ".join(f"{f.name}: {f.expression}" for f in op.keys) + "}" if op.keys else op.key
        return f"stores: [{op.store}]; group key: {key} (sends old and new rows)"
    if isinstance(op, Repartition):
        return f"topic: {op.name} (repartition" + (f", {op.partitions} partitions)" if op.partitions else ")")
    if isinstance(op, Aggregate):
        calls = ", ".join(
            f"{a.name} = {a.function}({a.argument or '*'}{'' if a.ignore_nulls else ', FALSE'}"
            f"{'' if a.k is None else f', {a.k}'})"
            for a in op.aggregations
        )
        window = ""
        if op.window is not None:
            w = op.window
            sizes = {
                "tumbling": f"size {w.size_ms}ms",
                "hopping": f"size {w.size_ms}ms, advance {w.advance_ms}ms",
                "sliding": f"difference {w.size_ms}ms",
                "session": f"gap {w.gap_ms}ms",
            }[w.type]
            window = f"; window: {w.type} {sizes}, grace {w.grace_ms}ms; emit: {op.emit}"
        undo = "; subtracts old rows (table input)" if op.from_table else ""
        return f"stores: [{op.store}]; {calls}{window}{undo}"
    if isinstance(op, ToTable):
        return f"stores: [{op.store}]"
    if isinstance(op, Join):
        stores = ", ".join(s for s in (op.left_store, op.right_store) if s)
        window = ""
        if op.window is not None:
            w = op.window
            span = (
                f"{w.size_ms}ms" if w.before_ms is None else f"before {w.before_ms}ms, after {w.after_ms}ms"
            )
            window = f"; window: {span}, grace {w.grace_ms}ms"
        return f"{op.sides.replace('_', '-')} {op.how}; stores: [{stores}]{window}"
    if isinstance(op, ForeignKeyJoin):
        return (
            f"foreign-key {op.how}; foreign key: {op.foreign_key}; stores: [{op.store}]; "
            f"subscriptions to: {op.subscription}"
        )
    if isinstance(op, ForeignKeyLookup):
        return f"foreign-key lookup; stores: [{op.store}, {op.subscription_store}]"
    if isinstance(op, Sink):
        return f"topic: {op.topic}" + ("; coalesced per key until the commit" if op.coalesce else "")
    if isinstance(op, View):
        return f"title: {op.title}" + ("; windowed" if op.windowed else "")
    return ""


def _label(op: Operator) -> str:
    if isinstance(op, Source):
        return "Source"
    if isinstance(op, Sink | Repartition):
        return "Sink"
    return "Processor"


def parallelism(plan: Plan, sub: SubTopology, partitions: dict[str, int]) -> int | None:
    counts: list[int | None] = [partitions.get(topic) for topic in sub.source_topics]
    if sub.repartition_inputs:
        widest_source = max((partitions.get(t) or 0 for t in plan.source_topics()), default=0) or None
        for name in sub.repartition_inputs:
            configured = next(
                (r.partitions for r in plan.repartitions() if r.name == name and r.partitions), None
            )
            counts.append(partitions.get(name) or configured or widest_source)
    if not counts or not all(counts):
        return None
    return max(c for c in counts if c is not None)


def describe(plan: Plan, partitions: dict[str, int] | None = None) -> str:
    known = dict(partitions or {})
    lines = [f"Topology: {plan.name}", "Topologies:"]
    notes: list[str] = []
    for sub in plan.subtopologies:
        header = f"   Sub-topology: {sub.id}"
        if partitions is not None:
            tasks = parallelism(plan, sub, known)
            header += f" (max parallelism: {tasks})" if tasks else " (max parallelism: unknown)"
        lines.append(header)
        consumers: dict[str, list[str]] = {op.id: [] for op in sub.operators}
        for op in sub.operators:
            for input_id in op.inputs:
                consumers[input_id].append(op.id)
        for op in sub.operators:
            detail = _detail(op)
            lines.append(
                f"    {_label(op)}: {op.id} [{op.kind} → {op.output}]" + (f" ({detail})" if detail else "")
            )
            if consumers[op.id]:
                lines.append(f"      --> {', '.join(consumers[op.id])}")
            if op.inputs:
                lines.append(f"      <-- {', '.join(op.inputs)}")
            if isinstance(op, Join):
                topics = sub.source_topics + tuple(f"{r} (repartition)" for r in sub.repartition_inputs)
                counts = {t: known.get(t) for t in sub.source_topics}
                if len(topics) > 1 and (partitions is None or not all(counts.values())):
                    notes.append(
                        f"join {op.id}: its inputs ({', '.join(topics)}) must be co-partitioned; "
                        "partition counts unknown, not checked"
                    )
                elif len(set(counts.values())) > 1:
                    notes.append(f"join {op.id}: inputs are NOT co-partitioned: {counts}")
        lines.append("")
    if plan.stores:
        lines.append("Stores:")
        for store in plan.stores:
            retention = f", retention {store.retention_ms}ms" if store.retention_ms is not None else ""
            config = ", ".join(f"{k}={v}" for k, v in store.changelog)
            lines.append(
                f"    {store.name} ({store.kind}{retention}, node {store.node_id}, "
                f"sub-topology {store.subtopology}; changelog: {config})"
            )
    if notes:
        lines.append("Notes:")
        lines.extend(f"    {note}" for note in notes)
    return "\n".join(lines).rstrip() + "\n"
