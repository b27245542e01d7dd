"""Lowering: a validated ``TopologyGraph`` → an execution ``Plan`` of core operators.

Each document node becomes one or more operators (see ``plan.py`` for the rules). Operator
ids are the node id, or ``<node id>.<role>`` for the parts a node lowers to, so they are stable
when other nodes are inserted. Sub-topologies are the connected parts of the operator graph
once repartition topics are cut, as in Kafka Streams; they are numbered in a deterministic
topological order (node ids sorted lexicographically among ready nodes), so the plan and its
hash never depend on the order of nodes and edges in the document or on positions.

Lowering also writes down what the runtime must not work out again: each operator's
``output`` from the node kinds ``check_kinds`` computed with ``catalog.output_kind`` (the parts
a node lowers to carry the kind of what they pass on), each view's ``windowed`` and each sink's
``coalesce`` (``plan.emits_windows`` / ``plan.emits_final``), and every store with its
retention and changelog config (``plan.operator_stores``, ``Store.of``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import networkx as nx
from sqlglot import exp

from topology.compiler import naming
from topology.compiler.catalog import (
    AggregateConfig,
    BranchConfig,
    FlatMapConfig,
    JoinConfig,
    MapConfig,
    SelectKeyConfig,
    SinkConfig,
    SourceConfig,
    StreamKind,
    TableSourceConfig,
    ViewConfig,
    join_sides,
)
from topology.compiler.graph import TopologyGraph
from topology.compiler.plan import (
    Aggregate,
    Aggregation,
    Field,
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
    Store,
    SubTopology,
    ToStream,
    ToTable,
    View,
    Window,
    emits_final,
    emits_windows,
    operator_stores,
    with_hash,
)
from topology.compiler.semantic_passes import composite_key_names

INTERNAL_FORMAT: Literal["json"] = "json"  # repartition topics carry JSON keys and values


class _Builder:
    def __init__(self, graph: TopologyGraph) -> None:
        self.graph = graph
        self.operators: list[Operator] = []
        self.stores: list[tuple[str, str]] = []  # (store, operator id)
        # (node id, output port) → operator ids producing that port's records
        self.handles: dict[tuple[str, str], tuple[str, ...]] = {}
        # operator id → facts about what it emits, filled as operators are added
        self.output: dict[str, StreamKind] = {}
        self.windowed: dict[str, bool] = {}
        self.final: dict[str, bool] = {}

    def add(self, operator: Operator) -> str:
        inputs = operator.inputs
        if isinstance(operator, Sink):
            operator = replace(
                operator,
                coalesce=bool(inputs)
                and all(self.output[i] == "table" and not self.final[i] for i in inputs),
            )
        elif isinstance(operator, View):
            operator = replace(operator, windowed=any(self.windowed[i] for i in inputs))
        self.operators.append(operator)
        self.output[operator.id] = operator.output
        self.windowed[operator.id] = emits_windows(operator, [self.windowed[i] for i in inputs])
        self.final[operator.id] = emits_final(operator, [self.final[i] for i in inputs])
        return operator.id

    def kind(self, node_id: str) -> StreamKind:
        """The kind of the records ``node_id`` emits (the catalog's rule, from check_kinds)."""
        return self.graph.kinds[node_id]

    def port_kind(self, node_id: str, port: str = "in") -> StreamKind:
        """The kind of the records arriving at a port of ``node_id``."""
        kinds = {self.graph.kinds[e.edge.source] for e in self.graph.inputs(node_id) if e.target_port == port}
        return "table" if kinds == {"table"} else "stream"

    def inputs(self, node_id: str, port: str = "in") -> tuple[str, ...]:
        found: list[str] = []
        for edge in self.graph.inputs(node_id):
            if edge.target_port == port:
                found.extend(self.handles[(edge.edge.source, edge.source_port)])
        return tuple(sorted(set(found)))

    def single_input(self, node_id: str, port: str) -> str:
        """One operator feeding a port: a merged input gets a pass-through filter, because a
        join side is exactly one operator."""
        found = self.inputs(node_id, port)
        if len(found) == 1:
            return found[0]
        return self.add(
            Filter(
                id=f"{node_id}.{port}_merge",
                node_id=node_id,
                inputs=found,
                predicate="TRUE",
                output=self.port_kind(node_id, port),
            )
        )

    def expression(self, node_id: str, field: str) -> str:
        return self.graph.expressions[(node_id, field)]

    def key(self, node_id: str, field: str, value: str | list[str]) -> tuple[str, tuple[Field, ...]]:
        """``(key, keys)`` of a SelectKey: one expression (a list of one included, so it keeps
        today's plan), or a composite key's named fields."""
        if isinstance(value, str):
            return self.expression(node_id, field), ()
        expressions = [self.expression(node_id, f"{field}[{i}]") for i in range(len(value))]
        if len(expressions) == 1:
            return expressions[0], ()
        names = composite_key_names(expressions)
        return "", tuple(Field(name=n, expression=e) for n, e in zip(names, expressions, strict=True))

    def rekey(
        self,
        node_id: str,
        upstream: tuple[str, ...],
        key: tuple[str, tuple[Field, ...]],
        role: str,
        partitions: int | None,
        output: StreamKind,
        group_store: str | None = None,
    ) -> str:
        """select_key → repartition → source: re-keyed records of kind ``output`` (a table
        re-keyed for a join stays a table on the other side). With ``group_store``, a table
        grouped for an aggregate: group_table (which keeps each row in that store) sends the
        rows' changes instead, a stream of old/new pairs."""
        prefix = f"{node_id}.{role}" if role else node_id
        if group_store is not None:
            select = self.add(
                GroupTable(
                    id=f"{prefix}.group_table",
                    node_id=node_id,
                    inputs=upstream,
                    store=group_store,
                    key=key[0],
                    keys=key[1],
                    output=output,
                )
            )
        else:
            select = self.add(
                SelectKey(
                    id=f"{prefix}.select_key",
                    node_id=node_id,
                    inputs=upstream,
                    key=key[0],
                    keys=key[1],
                    output=output,
                )
            )
        name = naming.repartition_name(node_id, role)
        self.add(
            Repartition(
                id=f"{prefix}.repartition",
                node_id=node_id,
                inputs=(select,),
                name=name,
                partitions=partitions,
                output=output,
            )
        )
        return self.add(
            Source(
                id=f"{prefix}.source",
                node_id=node_id,
                inputs=(),
                repartition=name,
                key_format=INTERNAL_FORMAT,
                value_format=INTERNAL_FORMAT,
                output=output,
            )
        )

    # --- per node type --------------------------------------------------------------------------

    def lower(self, node_id: str) -> None:
        node_type = self.graph.types[node_id]
        config = self.graph.configs[node_id]
        out: str | None = None
        if isinstance(config, SourceConfig):
            out = self.add(
                Source(
                    id=node_id,
                    node_id=node_id,
                    inputs=(),
                    topics=tuple(config.topics),
                    key_format=config.key_format,
                    value_format=config.value_format,
                    timestamp=self.graph.expressions.get((node_id, "config.timestamp")),
                    offset_reset=config.offset_reset,
                    output=self.kind(node_id),
                )
            )
        elif isinstance(config, TableSourceConfig):
            source = self.add(
                Source(
                    id=f"{node_id}.source",
                    node_id=node_id,
                    inputs=(),
                    topics=(config.topic,),
                    key_format=config.key_format,
                    value_format=config.value_format,
                    timestamp=self.graph.expressions.get((node_id, "config.timestamp")),
                    offset_reset=config.offset_reset,
                    output="stream",  # the topic's records; to_table makes them the table
                )
            )
            out = self.table(node_id, (source,))
        elif node_type.name == "filter":
            out = self.add(
                Filter(
                    id=node_id,
                    node_id=node_id,
                    inputs=self.inputs(node_id),
                    predicate=self.expression(node_id, "config.where"),
                    output=self.kind(node_id),
                )
            )
        elif isinstance(config, MapConfig):
            out = self.add(self.project(node_id, config))
        elif isinstance(config, FlatMapConfig):
            as_name = config.as_name or config.field.rsplit(".", 1)[-1]
            out = self.add(
                FlatMap(
                    id=node_id,
                    node_id=node_id,
                    inputs=self.inputs(node_id),
                    field=config.field,
                    as_name=as_name,
                    output=self.kind(node_id),
                )
            )
        elif isinstance(config, SelectKeyConfig):
            key, keys = self.key(node_id, "config.key", config.key)
            kind = self.kind(node_id)
            select = self.add(
                SelectKey(
                    id=node_id, node_id=node_id, inputs=self.inputs(node_id), key=key, keys=keys, output=kind
                )
            )
            name = naming.repartition_name(node_id)
            self.add(
                Repartition(
                    id=f"{node_id}.repartition",
                    node_id=node_id,
                    inputs=(select,),
                    name=name,
                    partitions=config.partitions,
                    output=kind,
                )
            )
            out = self.add(
                Source(
                    id=f"{node_id}.source",
                    node_id=node_id,
                    inputs=(),
                    repartition=name,
                    key_format=INTERNAL_FORMAT,
                    value_format=INTERNAL_FORMAT,
                    output=kind,
                )
            )
        elif isinstance(config, BranchConfig):
            self.branch(node_id, config)
            return
        elif node_type.name == "merge":
            self.handles[(node_id, "out")] = self.inputs(node_id)
            return
        elif isinstance(config, AggregateConfig):
            out = self.aggregate(node_id, config)
        elif isinstance(config, JoinConfig):
            out = self.join(node_id, config)
        elif node_type.name == "to_table":
            out = self.table(node_id, self.inputs(node_id))
        elif node_type.name == "to_stream":
            out = self.add(
                ToStream(id=node_id, node_id=node_id, inputs=self.inputs(node_id), output=self.kind(node_id))
            )
        elif isinstance(config, SinkConfig):
            self.add(
                Sink(
                    id=node_id,
                    node_id=node_id,
                    inputs=self.inputs(node_id),
                    topic=config.topic,
                    key_format=config.key_format,
                    value_format=config.value_format,
                    output=self.port_kind(node_id),
                )
            )
            return
        elif isinstance(config, ViewConfig):
            self.add(
                View(
                    id=node_id,
                    node_id=node_id,
                    inputs=self.inputs(node_id),
                    title=config.title or node_id,
                    output=self.port_kind(node_id),
                )
            )
            return
        else:  # pragma: no cover - the catalog and this function list the same types
            raise AssertionError(f"no lowering for node type {node_type.name}")
        self.handles[(node_id, "out")] = (out,)

    def table(self, node_id: str, upstream: tuple[str, ...]) -> str:
        store = naming.store_name(node_id)
        self.stores.append((store, node_id))
        return self.add(ToTable(id=node_id, node_id=node_id, inputs=upstream, store=store, output="table"))

    def project(self, node_id: str, config: MapConfig) -> Project:
        keep_all = config.keep == "all"
        fields: list[Field] = []
        if not keep_all:
            for name in config.keep:
                if name not in config.fields:
                    fields.append(Field(name=name, expression=exp.to_identifier(name, quoted=True).sql()))
        for name in config.fields:
            fields.append(Field(name=name, expression=self.expression(node_id, f"config.fields.{name}")))
        return Project(
            id=node_id,
            node_id=node_id,
            inputs=self.inputs(node_id),
            keep_all=keep_all,
            drop=tuple(config.drop),
            set=tuple(fields),
            output=self.kind(node_id),
        )

    def branch(self, node_id: str, config: BranchConfig) -> None:
        upstream = self.inputs(node_id)
        used = {edge.source_port for edge in self.graph.outputs(node_id)}
        for name in [case.name for case in config.branches] + ["default"]:
            if name in used:
                predicate = self.graph.expressions[(node_id, f"branch.{name}")]
                self.handles[(node_id, name)] = (
                    self.add(
                        Filter(
                            id=f"{node_id}.{name}",
                            node_id=node_id,
                            inputs=upstream,
                            predicate=predicate,
                            output=self.kind(node_id),
                        )
                    ),
                )

    def aggregate(self, node_id: str, config: AggregateConfig) -> str:
        upstream = self.inputs(node_id)
        # A table is grouped as changes (check_windows made sure it has a group_by).
        from_table = self.port_kind(node_id) == "table"
        group_store = None
        if from_table:
            group_store = naming.store_name(node_id, "group")
            self.stores.append((group_store, f"{node_id}.group_table"))
        if config.group_by is not None:
            upstream = (
                self.rekey(
                    node_id,
                    upstream,
                    self.key(node_id, "config.group_by", config.group_by),
                    "",
                    config.partitions,
                    "stream" if from_table else self.port_kind(node_id),
                    group_store,
                ),
            )
        window = _window(config)
        store = naming.store_name(node_id)
        self.stores.append((store, node_id))
        sizes = self.graph.topk_sizes.get(node_id, {})
        aggregations = tuple(
            Aggregation(name, function, argument, ignore, sizes.get(name))  # type: ignore[arg-type]
            for name, function, argument, ignore in self.graph.aggregations[node_id]
        )
        return self.add(
            Aggregate(
                id=node_id,
                node_id=node_id,
                inputs=upstream,
                store=store,
                aggregations=aggregations,
                window=window,
                emit=config.emit,
                from_table=from_table,
                output=self.kind(node_id),
            )
        )

    def foreign_key_join(self, node_id: str, config: JoinConfig) -> str:
        """Kafka Streams' foreign-key join in two sub-topologies: the left rows and the
        responses, keyed by the left key (``ForeignKeyJoin``); the right rows and the
        subscriptions, keyed by the foreign key (``ForeignKeyLookup``). Both tables are
        repartitioned first (their key unchanged), so every topic a sub-topology reads has
        JSON keys and the same partition count: no co-partitioning is asked of the tables."""
        partitions = config.partitions
        ends = [
            self.rekey(
                node_id, (self.single_input(node_id, side),), ("ROWKEY", ()), side, partitions, "table"
            )
            for side in ("left", "right")
        ]
        names = {role: naming.repartition_name(node_id, role) for role in ("subscription", "response")}
        sources = {
            role: self.add(
                Source(
                    id=f"{node_id}.{role}.source",
                    node_id=node_id,
                    inputs=(),
                    repartition=name,
                    key_format=INTERNAL_FORMAT,
                    value_format=INTERNAL_FORMAT,
                    output="stream",
                )
            )
            for role, name in names.items()
        }
        left_store = naming.store_name(node_id, "left")
        self.stores.append((left_store, node_id))
        joined = self.add(
            ForeignKeyJoin(
                id=node_id,
                node_id=node_id,
                inputs=(ends[0], sources["response"]),
                store=left_store,
                foreign_key=self.expression(node_id, "config.foreign_key"),
                subscription=names["subscription"],
                how="left" if config.how == "left" else "inner",
                select=self.select(node_id, config),
                output=self.kind(node_id),
            )
        )
        lookup_id = f"{node_id}.lookup"
        right_store = naming.store_name(node_id, "right")
        subscription_store = naming.store_name(node_id, "subscription")
        self.stores += [(right_store, lookup_id), (subscription_store, lookup_id)]
        lookup = self.add(
            ForeignKeyLookup(
                id=lookup_id,
                node_id=node_id,
                inputs=(ends[1], sources["subscription"]),
                store=right_store,
                subscription_store=subscription_store,
            )
        )
        for role, upstream in (("subscription", joined), ("response", lookup)):
            self.add(
                Repartition(
                    id=f"{node_id}.{role}.repartition",
                    node_id=node_id,
                    inputs=(upstream,),
                    name=names[role],
                    partitions=partitions,
                )
            )
        return joined

    def select(self, node_id: str, config: JoinConfig) -> tuple[Field, ...]:
        return tuple(
            Field(name=name, expression=self.expression(node_id, f"config.select.{name}"))
            for name in config.select
        )

    def join(self, node_id: str, config: JoinConfig) -> str:
        if config.foreign_key is not None:
            return self.foreign_key_join(node_id, config)
        kinds = {e.target_port: self.graph.kinds[e.edge.source] for e in self.graph.inputs(node_id)}
        sides = join_sides(kinds["left"], kinds["right"])
        ends = []
        for side in ("left", "right"):
            upstream = self.single_input(node_id, side)
            key = getattr(config, f"{side}_key")
            if key is not None:
                upstream = self.rekey(
                    node_id,
                    (upstream,),
                    (self.expression(node_id, f"config.{side}_key"), ()),
                    side,
                    config.partitions,
                    kinds[side],
                )
            ends.append(upstream)
        left_store: str | None = None
        right_store: str | None
        if sides in ("stream_stream", "table_table"):
            left_store, right_store = naming.store_name(node_id, "left"), naming.store_name(node_id, "right")
            self.stores.append((left_store, node_id))
            self.stores.append((right_store, node_id))
        else:
            # The table side, looked up by stream records: check_joins puts it on the right.
            right_store = naming.store_name(node_id, "right")
            self.stores.append((right_store, node_id))
        window = None
        if config.window is not None and sides == "stream_stream":
            window = _join_window(config)
        select = self.select(node_id, config)
        return self.add(
            Join(
                id=node_id,
                node_id=node_id,
                inputs=tuple(ends),
                sides=sides,  # type: ignore[arg-type]
                how=config.how,
                window=window,
                left_store=left_store,
                right_store=right_store,
                select=select,
                output=self.kind(node_id),
            )
        )

    # --- assembly --------------------------------------------------------------------------------

    def plan(self) -> Plan:
        for node_id in self.graph.order:
            self.lower(node_id)
        return _assemble(self.graph.name, self.operators, self.stores)


def _assemble(name: str, operators: list[Operator], stores: list[tuple[str, str]]) -> Plan:
    connected = nx.Graph()
    position = {op.id: index for index, op in enumerate(operators)}
    connected.add_nodes_from(position)
    for op in operators:
        for input_id in op.inputs:
            connected.add_edge(op.id, input_id)
    components = sorted(nx.connected_components(connected), key=lambda c: min(position[i] for i in c))
    subtopology_of: dict[str, int] = {}
    for number, component in enumerate(components):
        for op_id in component:
            subtopology_of[op_id] = number
    grouped: list[list[Operator]] = [[] for _ in components]
    for op in operators:  # keeps the global topological order inside each sub-topology
        grouped[subtopology_of[op.id]].append(op)
    subtopologies = []
    for number, group in enumerate(grouped):
        members = tuple(group)
        sources = [op for op in members if isinstance(op, Source)]
        subtopologies.append(
            SubTopology(
                id=number,
                operators=members,
                source_topics=tuple(sorted({t for op in sources for t in op.topics})),
                repartition_inputs=tuple(sorted({op.repartition for op in sources if op.repartition})),
            )
        )
    by_id = {op.id: op for op in operators}
    plan_stores = []
    for store, op_id in stores:
        op = by_id[op_id]
        ((kind, retention),) = [(k, r) for n, k, r in operator_stores(op) if n == store]
        plan_stores.append(Store.of(store, kind, op.node_id, subtopology_of[op_id], retention))
    plan_stores.sort(key=lambda s: s.name)
    return with_hash(Plan(name=name, subtopologies=tuple(subtopologies), stores=tuple(plan_stores)))


def _window(config: AggregateConfig) -> Window | None:
    window = config.window
    if window is None:
        return None
    if window.type == "tumbling":
        return Window(type="tumbling", size_ms=window.size, grace_ms=window.grace)
    if window.type == "hopping":
        return Window(type="hopping", size_ms=window.size, advance_ms=window.advance, grace_ms=window.grace)
    if window.type == "sliding":
        return Window(type="sliding", size_ms=window.difference, grace_ms=window.grace)
    return Window(type="session", gap_ms=window.gap, grace_ms=window.grace)


def _join_window(config: JoinConfig) -> Window:
    """Equal bounds are the symmetric window: ``WITHIN (5 s, 5 s)`` and ``WITHIN 5 s`` are one
    meaning, so they are one plan (and one hash)."""
    window = config.window
    assert window is not None
    if window.size is not None:
        return Window(type="sliding", size_ms=window.size, grace_ms=window.grace)
    before, after = window.before or 0, window.after or 0
    if before == after:
        return Window(type="sliding", size_ms=before, grace_ms=window.grace)
    return Window(type="sliding", before_ms=before, after_ms=after, grace_ms=window.grace)


def lower(graph: TopologyGraph) -> Plan:
    return _Builder(graph).plan()
