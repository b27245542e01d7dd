"""``bind(plan, app_id) -> BoundPlan``: a plan under one application id, every name resolved once.

A plan's stores and repartitions carry names relative to the application id. Binding decorates
them once, as Kafka Streams' ``InternalTopologyBuilder.decorateTopic`` prefixes internal topics
with the application id, and lists what the application owns on the broker:

- the changelog topic of every store and the topic of every repartition;
- the topics each sub-topology reads (external topics, and bound repartition topics);
- the dead-letter topic, the consumer group, the restore consumer's group, and per instance
  slot the transactional id and the client ids;
- the internal topics with their specs: a partition rule and a topic config.

The formats are ``naming``'s (the one documented authority); nothing else joins the
application id onto a name. Pure and frozen: the same plan and id always bind alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from topology.compiler import naming
from topology.compiler.plan import Plan, Source

TopicRole = Literal["repartition", "changelog", "dead_letter"]


@dataclass(frozen=True)
class InternalTopic:
    """A topic the application owns. Partitions: ``partitions`` when set; else as many as the
    widest of ``partitions_of`` (the inputs of the store's sub-topology, for a changelog); a
    topic with neither has as many as the widest source topic of the plan."""

    name: str
    role: TopicRole
    partitions: int | None
    partitions_of: tuple[str, ...]
    config: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BoundPlan:
    plan: Plan
    app_id: str
    consumer_group: str
    restore_consumer_group: str
    dlq_topic: str
    changelog_topics: Mapping[str, str]  # store name → changelog topic
    repartition_topics: Mapping[str, str]  # repartition name → topic
    input_topics: Mapping[int, tuple[str, ...]]  # sub-topology id → topics its sources read
    internal_topics: tuple[InternalTopic, ...]

    def transactional_id(self, slot: int) -> str:
        return naming.transactional_id(self.app_id, slot)

    def client_id(self, slot: int, role: str) -> str:
        return naming.client_id(self.app_id, slot, role)

    def topic_partitions(self, source_partitions: Mapping[str, int]) -> dict[str, int]:
        """Partition count of every internal topic, given the source topics' counts."""
        default = max(source_partitions.values(), default=1)
        known: dict[str, int] = dict(source_partitions)
        counts: dict[str, int] = {}
        # Fixed and source-sized topics first: a changelog may be sized by a repartition topic.
        for topic in sorted(self.internal_topics, key=lambda t: bool(t.partitions_of)):
            if topic.partitions is not None:
                count = topic.partitions
            elif topic.partitions_of:
                count = max(known.get(t, default) for t in topic.partitions_of)
            else:
                count = default
            counts[topic.name] = known[topic.name] = count
        return counts


def _check_stores(plan: Plan) -> None:
    """Every store an operator names is declared, in the operator's sub-topology."""
    declared = {store.name: store for store in plan.stores}
    for sub in plan.subtopologies:
        for op in sub.operators:
            for attribute in ("store", "left_store", "right_store", "subscription_store"):
                name = getattr(op, attribute, None)
                if name is None:
                    continue
                store = declared.get(name)
                if store is None:
                    raise ValueError(
                        f"operator {op.id!r} names store {name!r}, which the plan does not declare"
                    )
                if store.subtopology != sub.id:
                    raise ValueError(
                        f"store {name!r} is declared in sub-topology {store.subtopology}, "
                        f"but operator {op.id!r} of sub-topology {sub.id} keeps it"
                    )


def bind(plan: Plan, app_id: str) -> BoundPlan:
    """Resolve every name of ``plan`` under ``app_id``. Raises ValueError on a plan whose
    operators name stores it does not declare."""
    _check_stores(plan)
    # Written by a repartition operator, or read by a source (of another plan's writer).
    names = {op.name for op in plan.repartitions()}
    names |= {op.repartition for op in plan.operators() if isinstance(op, Source) and op.repartition}
    repartitions = {name: naming.repartition_topic(app_id, name) for name in sorted(names)}
    changelogs = {store.name: naming.changelog_topic(app_id, store.name) for store in plan.stores}
    inputs: dict[int, tuple[str, ...]] = {}
    for sub in plan.subtopologies:
        topics: list[str] = []
        for op in sub.operators:
            if isinstance(op, Source):
                if op.repartition is not None:
                    topics.append(repartitions[op.repartition])
                else:
                    topics.extend(op.topics)
        topics += [t for t in sub.source_topics if t not in topics]
        inputs[sub.id] = tuple(topics)
    internal = [
        InternalTopic(topic, "repartition", op.partitions, (), (("cleanup.policy", "delete"),))
        for op in plan.repartitions()
        for topic in (repartitions[op.name],)
    ]
    internal += [
        InternalTopic(changelogs[store.name], "changelog", None, inputs[store.subtopology], store.changelog)
        for sub in plan.subtopologies
        for store in plan.stores
        if store.subtopology == sub.id
    ]
    dlq = naming.dlq_topic(app_id)
    internal.append(InternalTopic(dlq, "dead_letter", 1, (), ()))
    return BoundPlan(
        plan=plan,
        app_id=app_id,
        consumer_group=naming.consumer_group(app_id),
        restore_consumer_group=naming.restore_consumer_group(app_id),
        dlq_topic=dlq,
        changelog_topics=MappingProxyType(changelogs),
        repartition_topics=MappingProxyType(repartitions),
        input_topics=MappingProxyType(inputs),
        internal_topics=tuple(internal),
    )


__all__ = ["BoundPlan", "InternalTopic", "bind"]
