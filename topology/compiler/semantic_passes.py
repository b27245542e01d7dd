"""Semantic passes: expressions (with field schemas where declared), windows, joins and
co-partitioning, derived names. They run after the structural passes in ``passes.py`` and
skip nodes whose structure is already reported as broken.
"""

from __future__ import annotations

from sqlglot import exp

from topology.compiler import naming
from topology.compiler.catalog import (
    AggregateConfig,
    BranchConfig,
    JoinConfig,
    MapConfig,
    SelectKeyConfig,
    SourceConfig,
    TableSourceConfig,
    join_sides,
)
from topology.compiler.expressions import ExpressionError, compile_expression, parse, parse_aggregation_spec
from topology.compiler.graph import TopologyGraph
from topology.compiler.plan import TABLE_AGGREGATE_FUNCTIONS

_SOURCE_TYPES = ("source", "table_source")


# --- 4. expressions ---------------------------------------------------------------------------


Schema = dict[str, str] | None  # declared value fields → type; None when unknown


def _expression(
    graph: TopologyGraph,
    node_id: str,
    field: str,
    sql: str | None,
    *,
    boolean: bool = False,
    schema: Schema = None,
) -> str | None:
    compiled = _compiled(graph, node_id, field, sql, boolean=boolean, schema=schema)
    return compiled[0] if compiled else None


def _compiled(
    graph: TopologyGraph,
    node_id: str,
    field: str,
    sql: str | None,
    *,
    boolean: bool = False,
    schema: Schema = None,
) -> tuple[str, str] | None:
    if sql is None:
        return None
    try:
        compiled = compile_expression(sql, fields=schema, expected_type="boolean" if boolean else None)
    except ExpressionError as error:
        graph.add(error.code, error.message, node_id=node_id, field=field, position=error.position)
        return None
    graph.expressions[(node_id, field)] = compiled.sql
    return compiled.sql, compiled.type


# Nodes that pass values through unchanged, so a declared schema still applies after them.
_SHAPE_PRESERVING = ("filter", "branch", "select_key", "to_table", "to_stream", "merge")


def _input_schema(graph: TopologyGraph, schemas: dict[str, Schema], node_id: str) -> Schema:
    found = [schemas.get(edge.edge.source) for edge in graph.inputs(node_id)]
    if not found or any(schema is None for schema in found):
        return None
    first = found[0]
    return first if all(schema == first for schema in found) else None


def _output_schema(graph: TopologyGraph, node_id: str, schema: Schema, computed: dict[str, str]) -> Schema:
    node_type = graph.types[node_id].name
    config = graph.configs[node_id]
    if isinstance(config, SourceConfig | TableSourceConfig):
        return dict(config.fields) if config.fields is not None else None
    if node_type in _SHAPE_PRESERVING:
        return schema
    if isinstance(config, MapConfig) and schema is not None:
        if config.keep == "all":
            result = {name: kind for name, kind in schema.items() if name not in config.drop}
        else:
            result = {name: schema.get(name, "any") for name in config.keep}
        result.update(computed)
        return result
    return None


def check_expressions(graph: TopologyGraph) -> None:
    """Compile every expression, against the declared schema of its input when known."""
    order = graph.order if graph.acyclic else sorted(graph.configs)
    schemas: dict[str, Schema] = {}
    for node_id in order:
        config = graph.configs.get(node_id)
        if config is None:
            continue
        schema = _input_schema(graph, schemas, node_id)
        computed: dict[str, str] = {}
        if isinstance(config, SourceConfig | TableSourceConfig):
            declared: Schema = dict(config.fields) if config.fields is not None else None
            _expression(graph, node_id, "config.timestamp", config.timestamp, schema=declared)
        elif isinstance(config, SelectKeyConfig):
            _key_expressions(graph, node_id, "config.key", config.key, schema)
        elif isinstance(config, MapConfig):
            for name, sql in config.fields.items():
                compiled = _compiled(graph, node_id, f"config.fields.{name}", sql, schema=schema)
                computed[name] = compiled[1] if compiled and compiled[1] != "null" else "any"
        elif isinstance(config, BranchConfig):
            conditions = [
                _expression(
                    graph, node_id, f"config.branches[{index}].where", case.where, boolean=True, schema=schema
                )
                for index, case in enumerate(config.branches)
            ]
            if all(conditions):
                _branch_predicates(graph, node_id, config, conditions)  # type: ignore[arg-type]
        elif isinstance(config, AggregateConfig):
            _key_expressions(graph, node_id, "config.group_by", config.group_by, schema)
            parsed = []
            for name, sql in config.aggregations.items():
                field = f"config.aggregations.{name}"
                try:
                    call = parse_aggregation_spec(sql, fields=schema)
                except ExpressionError as error:
                    graph.add(
                        error.code, error.message, node_id=node_id, field=field, position=error.position
                    )
                    continue
                parsed.append((name, call.function, call.argument, call.ignore_nulls))
                if call.k is not None:
                    graph.topk_sizes.setdefault(node_id, {})[name] = call.k
            graph.aggregations[node_id] = parsed
        elif isinstance(config, JoinConfig):
            sides = {edge.target_port: schemas.get(edge.edge.source) for edge in graph.inputs(node_id)}
            _expression(graph, node_id, "config.left_key", config.left_key, schema=sides.get("left"))
            _expression(graph, node_id, "config.right_key", config.right_key, schema=sides.get("right"))
            _expression(graph, node_id, "config.foreign_key", config.foreign_key, schema=sides.get("left"))
            select_schema = _join_schema(sides.get("left"), sides.get("right"))
            for name, sql in config.select.items():
                _expression(graph, node_id, f"config.select.{name}", sql, schema=select_schema)
        elif hasattr(config, "where"):
            _expression(graph, node_id, "config.where", config.where, boolean=True, schema=schema)
        if node_id in graph.types:
            schemas[node_id] = _output_schema(graph, node_id, schema, computed)


def composite_key_names(expressions: list[str]) -> list[str]:
    """The field names of a composite key, as ksqlDB names the key columns of a multi-column
    GROUP BY / PARTITION BY: a plain field reference keeps its name, any other expression is
    ``KSQL_COL_<n>`` (n counting from 0 over those, skipping names already taken)."""
    plain = [_plain_field(sql) for sql in expressions]
    taken = {name for name in plain if name is not None}
    names: list[str] = []
    counter = 0
    for name in plain:
        if name is None:
            while f"KSQL_COL_{counter}" in taken:
                counter += 1
            name = f"KSQL_COL_{counter}"
            taken.add(name)
            counter += 1
        names.append(name)
    return names


def _plain_field(sql: str) -> str | None:
    tree = parse(sql)
    if isinstance(tree, exp.Column) and not tree.table and isinstance(tree.this, exp.Identifier):
        return tree.this.name
    return None


def _key_expressions(
    graph: TopologyGraph, node_id: str, field: str, value: str | list[str] | None, schema: Schema
) -> None:
    """A key expression, or each of a list of them (``field[i]``); a composite key's names
    must differ (``GROUP BY a, a`` would give the object one field)."""
    if value is None or isinstance(value, str):
        _expression(graph, node_id, field, value, schema=schema)
        return
    compiled = [
        _expression(graph, node_id, f"{field}[{i}]", sql, schema=schema) for i, sql in enumerate(value)
    ]
    if len(compiled) < 2 or None in compiled:
        return
    names = composite_key_names(compiled)  # type: ignore[arg-type]
    for index, name in enumerate(names):
        if name in names[:index]:
            graph.add(
                "key.duplicate_name",
                f"key field {name!r} appears twice in the composite key; each key expression must differ",
                node_id=node_id,
                field=f"{field}[{index}]",
            )


def _join_schema(left: Schema, right: Schema) -> Schema:
    if left is None or right is None:
        return None
    schema = {f"left.{name}": kind for name, kind in left.items()}
    schema.update({f"right.{name}": kind for name, kind in right.items()})
    return schema


def _branch_predicates(
    graph: TopologyGraph, node_id: str, config: BranchConfig, conditions: list[str]
) -> None:
    """Ordered predicates, first match wins: branch i passes when its condition is TRUE and no
    earlier one is; ``default`` passes when none is. Built as ASTs, never by pasting text."""
    earlier: list[exp.Expr] = []
    for case, sql in [*zip(config.branches, conditions, strict=True), (None, None)]:
        parts = [*([_is_true(sql)] if sql else []), *[exp.Not(this=e) for e in earlier]]
        tree: exp.Expr = exp.Boolean(this=True) if not parts else parts[0]
        for part in parts[1:]:
            tree = exp.And(this=tree, expression=part)
        name = case.name if case is not None else "default"
        try:
            # Re-compiled so the stored text is exactly the canonical form the runtime parses.
            graph.expressions[(node_id, f"branch.{name}")] = compile_expression(tree.sql()).sql
        except ExpressionError as error:
            graph.add(
                "expression.limit",
                f"the combined condition of branch {name!r} is too large: {error.message}",
                node_id=node_id,
                field="config.branches",
            )
            return
        if sql:
            earlier.append(_is_true(sql))


def _is_true(sql: str) -> exp.Expr:
    return exp.Is(this=exp.Paren(this=parse(sql)), expression=exp.Boolean(this=True))


# --- 5. windows and joins --------------------------------------------------------------------


def aggregates_table(graph: TopologyGraph, node_id: str) -> bool:
    """Does the aggregate ``node_id`` read a table (Kafka Streams' KGroupedTable)?"""
    kinds = {graph.kinds.get(edge.edge.source) for edge in graph.inputs(node_id)}
    return kinds == {"table"}


def _check_table_aggregate(graph: TopologyGraph, node_id: str, config: AggregateConfig) -> None:
    """A table's rows are re-grouped with a subtractor: a group key is needed, no window (a
    windowed aggregation of a table is refused by ksqlDB too), and every function must be able
    to take a row's old value back out."""
    if config.group_by is None:
        graph.add(
            "aggregate.table_group_by",
            "aggregating a table needs group_by: a table is already one row per key",
            node_id=node_id,
            field="config.group_by",
        )
    if config.window is not None:
        graph.add(
            "aggregate.table_window",
            "a table cannot be aggregated in windows (its rows are updated, not appended); "
            "remove the window or aggregate the table's changelog stream (to_stream)",
            node_id=node_id,
            field="config.window",
        )
    allowed = ", ".join(TABLE_AGGREGATE_FUNCTIONS)
    for name, function, _, _ in graph.aggregations.get(node_id, ()):
        if function not in TABLE_AGGREGATE_FUNCTIONS:
            graph.add(
                "aggregate.table_function",
                f"{function} cannot aggregate a table: an updated or deleted row must be taken back out "
                f"of its group, and {function} cannot undo a value; use {allowed}, or aggregate the "
                "table's changelog stream (to_stream)",
                node_id=node_id,
                field=f"config.aggregations.{name}",
            )


def check_windows(graph: TopologyGraph) -> None:
    for node_id, config in sorted(graph.configs.items()):
        if isinstance(config, AggregateConfig):
            if aggregates_table(graph, node_id):
                _check_table_aggregate(graph, node_id, config)
            window = config.window
            if window is None:
                if config.emit == "final":
                    graph.add(
                        "window.emit_final_requires_window",
                        "emit 'final' needs a window: an unwindowed aggregate never closes",
                        node_id=node_id,
                        field="config.emit",
                    )
                continue
            sizes = {
                "tumbling": ("size",),
                "hopping": ("size", "advance"),
                "sliding": ("difference",),
                "session": ("gap",),
            }[window.type]
            for name in sizes:
                if getattr(window, name) <= 0:
                    graph.add(
                        "window.invalid",
                        f"window {name} must be greater than zero",
                        node_id=node_id,
                        field=f"config.window.{name}",
                    )
            if window.type == "sliding":
                for name, function, _, _ in graph.aggregations.get(node_id, ()):
                    if function in ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET"):
                        graph.add(
                            "window.offset_order",
                            f"{function} is not available in a sliding window (its windows are "
                            "recomputed in event-time order); use a tumbling, hopping or session window",
                            node_id=node_id,
                            field=f"config.aggregations.{name}",
                        )
            if window.type == "hopping" and window.advance > window.size:
                graph.add(
                    "window.invalid",
                    "window advance must not exceed its size (records would fall between windows)",
                    node_id=node_id,
                    field="config.window.advance",
                )
        elif isinstance(config, JoinConfig):
            sides = _join_sides(graph, node_id)
            if sides is None:
                continue
            if sides == "stream_stream":
                if config.window is None:
                    graph.add(
                        "window.required",
                        "a stream-stream join needs a window: {'size': '5m'}",
                        node_id=node_id,
                        field="config.window",
                    )
                else:
                    _check_join_window(graph, node_id, config)
            elif config.window is not None:
                graph.add(
                    "window.not_allowed",
                    f"only stream-stream joins take a window; this join is {sides.replace('_', '-')}",
                    node_id=node_id,
                    field="config.window",
                )


def _check_join_window(graph: TopologyGraph, node_id: str, config: JoinConfig) -> None:
    """``size`` alone (before = after = size), or ``before`` and ``after`` together; a window
    must span some time: before + after > 0, as a symmetric size must be > 0 (Kafka Streams
    only refuses a negative span; Weir's durations are never negative)."""
    window = config.window
    assert window is not None
    bounds = (window.before, window.after)
    if window.size is not None:
        if bounds != (None, None):
            graph.add(
                "window.invalid",
                "a join window takes either size, or before and after, not both",
                node_id=node_id,
                field="config.window.before" if window.before is not None else "config.window.after",
            )
        elif window.size <= 0:
            graph.add(
                "window.invalid",
                "join window size must be greater than zero",
                node_id=node_id,
                field="config.window.size",
            )
        return
    if None in bounds:
        missing = "size" if bounds == (None, None) else "after" if window.after is None else "before"
        hint = {
            "size": "",
            "before": " (after is given, before is not)",
            "after": " (before is given, after is not)",
        }
        graph.add(
            "window.invalid",
            "a join window needs a size, or both before and after" + hint[missing],
            node_id=node_id,
            field=f"config.window.{missing}",
        )
        return
    if window.before + window.after <= 0:  # type: ignore[operator]
        graph.add(
            "window.invalid",
            "join window before + after must be greater than zero",
            node_id=node_id,
            field="config.window.after",
        )


def _join_sides(graph: TopologyGraph, node_id: str) -> str | None:
    kinds = {e.target_port: graph.kinds.get(e.edge.source) for e in graph.inputs(node_id)}
    left, right = kinds.get("left"), kinds.get("right")
    if left is None or right is None:
        return None
    return join_sides(left, right)


def check_joins(graph: TopologyGraph) -> None:
    compute_partitions(graph)
    for node_id, config in sorted(graph.configs.items()):
        if not isinstance(config, JoinConfig):
            continue
        sides = _join_sides(graph, node_id)
        if sides is None:
            continue
        kinds = {e.target_port: graph.kinds.get(e.edge.source) for e in graph.inputs(node_id)}
        if config.foreign_key is not None:
            _check_foreign_key_join(graph, node_id, config, sides)
            continue
        if sides == "stream_table" and kinds["left"] == "table":
            graph.add(
                "join.sides",
                "a stream-table join takes the stream on the left and the table on the right",
                node_id=node_id,
                field="left",
            )
        if sides == "stream_table" and config.how == "outer":
            graph.add(
                "join.how",
                "a stream-table join is inner or left (only stream records trigger it)",
                node_id=node_id,
                field="config.how",
            )
        for side, key in (("left", config.left_key), ("right", config.right_key)):
            if key is not None and kinds.get(side) == "table":
                graph.add(
                    "join.table_rekey",
                    f"the {side} side is a table, keyed by its primary key; re-key the stream before it "
                    "becomes a table instead",
                    node_id=node_id,
                    field=f"config.{side}_key",
                )
        left_partitions = input_partitions(graph, node_id, "left")
        right_partitions = input_partitions(graph, node_id, "right")
        if left_partitions and right_partitions and left_partitions != right_partitions:
            graph.add(
                "join.copartition",
                f"the join's sides are not co-partitioned: left has {left_partitions} partitions, right has "
                f"{right_partitions}; re-key a side (left_key/right_key with 'partitions') or fix the topics",
                node_id=node_id,
            )


def _check_foreign_key_join(graph: TopologyGraph, node_id: str, config: JoinConfig, sides: str) -> None:
    """Kafka Streams' foreign-key join joins two tables, inner or left; each side is
    repartitioned by the compiler, so the tables need not be co-partitioned."""
    if sides != "table_table":
        graph.add(
            "join.foreign_key_sides",
            f"a foreign-key join takes two tables; this join is {sides.replace('_', '-')} "
            "(insert a to_table node, or join on the key with left_key/right_key)",
            node_id=node_id,
            field="config.foreign_key",
        )
    if config.how == "outer":
        graph.add(
            "join.how",
            "a foreign-key join is inner or left (a right row has no single left row to pair with)",
            node_id=node_id,
            field="config.how",
        )
    for side, key in (("left", config.left_key), ("right", config.right_key)):
        if key is not None:
            graph.add(
                "join.table_rekey",
                f"a foreign-key join takes no {side}_key: the right row is found by foreign_key",
                node_id=node_id,
                field=f"config.{side}_key",
            )


def source_partitions(graph: TopologyGraph, node_id: str) -> int | None:
    config = graph.configs.get(node_id)
    if isinstance(config, SourceConfig):
        if config.partitions:
            return config.partitions
        counts = [graph.partitions.get(topic) for topic in config.topics]
        return max(counts) if counts and all(counts) else None  # type: ignore[type-var]
    if isinstance(config, TableSourceConfig):
        return config.partitions or graph.partitions.get(config.topic)
    return None


def _all_source_partitions(graph: TopologyGraph) -> int | None:
    counts = [source_partitions(graph, n) for n, t in graph.types.items() if t.name in _SOURCE_TYPES]
    return max(counts) if counts and all(counts) else None  # type: ignore[type-var]


def compute_partitions(graph: TopologyGraph) -> None:
    """Partition count of every node's output stream, where known (topological order)."""
    if not graph.acyclic:
        return
    everywhere = _all_source_partitions(graph)
    for node_id in graph.order:
        config = graph.configs.get(node_id)
        node_type = graph.types.get(node_id)
        if node_type is None or config is None:
            continue
        if node_type.name in _SOURCE_TYPES:
            count = source_partitions(graph, node_id)
        elif isinstance(config, SelectKeyConfig) or (
            isinstance(config, AggregateConfig) and config.group_by is not None
        ):
            count = config.partitions or everywhere
        elif isinstance(config, JoinConfig) and config.foreign_key is not None:
            count = config.partitions or everywhere  # the left rows are repartitioned
        elif isinstance(config, JoinConfig):
            count = input_partitions(graph, node_id, "left")
        else:
            count = input_partitions(graph, node_id)
        if count:
            graph.partition_counts[node_id] = count


def input_partitions(graph: TopologyGraph, node_id: str, port: str | None = None) -> int | None:
    """Partition count of the stream entering ``node_id`` (at ``port``), when known."""
    if port is not None:
        config = graph.configs.get(node_id)
        if isinstance(config, JoinConfig) and getattr(config, f"{port}_key") is not None:
            return config.partitions or _all_source_partitions(graph)
    counts = [
        graph.partition_counts.get(edge.edge.source)
        for edge in graph.inputs(node_id)
        if port is None or edge.target_port == port
    ]
    if not counts or not all(counts):
        return None
    return max(counts)  # type: ignore[type-var]


# --- 6. derived names ---------------------------------------------------------------------------


def check_names(graph: TopologyGraph) -> None:
    owners: dict[str, str] = {}
    for node_id, config in sorted(graph.configs.items()):
        names: list[str] = []
        if isinstance(config, AggregateConfig):
            names.append("store " + naming.store_name(node_id))
            if aggregates_table(graph, node_id):
                names.append("store " + naming.store_name(node_id, "group"))
            if config.group_by is not None:
                names.append("repartition " + naming.repartition_name(node_id))
        elif isinstance(config, JoinConfig):
            names += [
                "store " + naming.store_name(node_id, "left"),
                "store " + naming.store_name(node_id, "right"),
            ]
            if config.foreign_key is not None:
                names.append("store " + naming.store_name(node_id, "subscription"))
                names += [
                    "repartition " + naming.repartition_name(node_id, role)
                    for role in ("left", "right", "subscription", "response")
                ]
            for side, key in (("left", config.left_key), ("right", config.right_key)):
                if key is not None:
                    names.append("repartition " + naming.repartition_name(node_id, side))
        elif isinstance(config, SelectKeyConfig):
            names.append("repartition " + naming.repartition_name(node_id))
        elif graph.types[node_id].name in ("to_table", "table_source"):
            names.append("store " + naming.store_name(node_id))
        for name in names:
            other = owners.get(name)
            if other is not None and other != node_id:
                graph.add(
                    "name.collision",
                    f"{name} of {node_id!r} is also derived from {other!r}; rename one of the nodes",
                    node_id=node_id,
                    field="id",
                )
            owners[name] = node_id
