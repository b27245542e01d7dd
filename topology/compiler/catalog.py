"""The node catalog: every node type once, with its config model, ports and docs.

The editor builds its forms from ``catalog_schema()`` and the compiler validates configs with
the same models, so nothing is written twice. Ports are typed ``stream`` or ``table`` as in
Kafka Streams. A node's output kind may depend on its input (``filter`` and ``map`` keep
the kind they receive; a ``join`` of two tables is a table). That dependency is data, the
``output_rule`` of each type, exported with the catalog: ``output_kind`` here and the editor's
``outputKind`` (static/editor/model.mjs) both evaluate the same rule, and a golden test
(tests/topology/compiler/golden/) feeds both the same documents.

``catalog_schema()`` is the one format the editor reads (docs/editor.md, "The catalog").

Expression fields hold SQL (see docs/expressions.md); durations are an integer number of
milliseconds or a string such as ``"500ms"``, ``"10s"``, ``"5m"``, ``"1h"``, ``"1d"``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, WithJsonSchema

from topology.compiler.naming import ID_PATTERN

StreamKind = Literal["stream", "table"]
STREAM: tuple[StreamKind, ...] = ("stream",)
TABLE: tuple[StreamKind, ...] = ("table",)
EITHER: tuple[StreamKind, ...] = ("stream", "table")

TOPIC_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"
FIELD_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
FIELD_PATH_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}(\.[A-Za-z_][A-Za-z0-9_]{0,127}){0,15}$"
MAX_EXPRESSION = 4_000
MAX_DURATION_MS = 365 * 24 * 3600 * 1000
MAX_KEY_EXPRESSIONS = 16

_DURATION = re.compile(r"^\s*(\d{1,12})\s*(ms|s|m|h|d)?\s*$")
_UNIT_MS = {"ms": 1, None: 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration(value: Any) -> int:
    """``"5m"`` → 300000. Raises ValueError with a message for people."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of milliseconds or a string like '10s', '5m', '1h'")
    if isinstance(value, int):
        milliseconds = value
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value[:40]!r} is not a duration; use e.g. '500ms', '10s', '5m', '1h', '1d'")
        milliseconds = int(match.group(1)) * _UNIT_MS[match.group(2)]
    else:
        raise ValueError("a duration is a number of milliseconds or a string like '10s', '5m', '1h'")
    if not 0 <= milliseconds <= MAX_DURATION_MS:
        raise ValueError("a duration must be between 0 and 365 days")
    return milliseconds


Duration = Annotated[
    int,
    BeforeValidator(parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "description": "milliseconds"},
                {"type": "string", "pattern": _DURATION.pattern, "examples": ["10s", "5m", "1h"]},
            ]
        }
    ),
]
Expression = Annotated[
    str, Field(min_length=1, max_length=MAX_EXPRESSION, json_schema_extra={"format": "sql"})
]
Format = Literal["json", "string", "long", "integer", "double", "bytes"]
Topic = Annotated[str, Field(pattern=TOPIC_PATTERN)]
Partitions = Annotated[int, Field(ge=1, le=10_000)]
FieldType = Literal["string", "integer", "double", "number", "boolean", "object", "array", "any"]
# One expression keeps the key's shape; a list of several makes a composite key, the object
# {name: value} (ksqlDB's multi-column GROUP BY / PARTITION BY; see docs/semantics.md).


def parse_key_expressions(value: Any) -> str | list[str]:
    """An expression, or a list of 1 to MAX_KEY_EXPRESSIONS of them; one message either way
    (a plain union would report a failure per branch)."""
    items = value if isinstance(value, list) else [value]
    if not isinstance(value, str | list) or not 1 <= len(items) <= MAX_KEY_EXPRESSIONS:
        raise ValueError(f"a key is an expression or a list of 1 to {MAX_KEY_EXPRESSIONS} expressions")
    for index, item in enumerate(items):
        where = f"key expression {index + 1}" if isinstance(value, list) else "the key expression"
        if not isinstance(item, str) or not item:
            raise ValueError(f"{where} must be a non-empty SQL expression")
        if len(item) > MAX_EXPRESSION:
            raise ValueError(f"{where} is longer than {MAX_EXPRESSION} characters")
    return value


_EXPRESSION_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_EXPRESSION, "format": "sql"}
KeyExpressions = Annotated[
    str | list[str],
    PlainValidator(parse_key_expressions),
    WithJsonSchema(
        {
            "anyOf": [
                {**_EXPRESSION_SCHEMA, "title": "one expression"},
                {
                    "title": "several (composite key)",
                    "type": "array",
                    "items": _EXPRESSION_SCHEMA,
                    "minItems": 1,
                    "maxItems": MAX_KEY_EXPRESSIONS,
                    "description": "several expressions: a composite key {name: value}",
                },
            ]
        }
    ),
]
DeclaredFields = dict[Annotated[str, Field(pattern=FIELD_NAME_PATTERN)], FieldType]
FIELDS_DESCRIPTION = (
    "Optional value schema (field → type). When given, expressions downstream are checked "
    "against it: unknown fields and type errors become issues."
)


class Config(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- windows ------------------------------------------------------------------------------------


class Tumbling(Config):
    type: Literal["tumbling"] = Field(description="Fixed-size, non-overlapping windows.")
    size: Duration = Field(description="Window size.")
    grace: Duration = Field(default=0, description="How late a record may arrive after the window end.")


class Hopping(Config):
    type: Literal["hopping"] = Field(description="Fixed-size windows that overlap, starting every `advance`.")
    size: Duration = Field(description="Window size.")
    advance: Duration = Field(description="How far each window starts after the previous one (≤ size).")
    grace: Duration = Field(default=0, description="How late a record may arrive after the window end.")


class Sliding(Config):
    type: Literal["sliding"] = Field(
        description="Windows defined by a maximum time difference between records."
    )
    difference: Duration = Field(description="Maximum time difference between two records in one window.")
    grace: Duration = Field(default=0, description="How late a record may arrive after the window end.")


class Session(Config):
    type: Literal["session"] = Field(description="Activity sessions per key, closed by an inactivity gap.")
    gap: Duration = Field(description="Inactivity gap that closes a session.")
    grace: Duration = Field(default=0, description="How late a record may arrive after the session end.")


WindowConfig = Annotated[Tumbling | Hopping | Sliding | Session, Field(discriminator="type")]


class JoinWindow(Config):
    size: Duration | None = Field(
        default=None,
        description="Records join when their timestamps differ by at most this (before = after = size).",
    )
    before: Duration | None = Field(
        default=None,
        description="Instead of size, with after: a left record at t joins right records from t - before …",
    )
    after: Duration | None = Field(
        default=None, description="… to t + after (ksqlDB's WITHIN (before, after))."
    )
    grace: Duration = Field(default=0, description="How late a record may arrive and still join.")


# --- node configs ------------------------------------------------------------------------------


class SourceConfig(Config):
    topics: list[Topic] = Field(min_length=1, max_length=100, description="Topics read as one stream.")
    key_format: Format = Field(default="string", description="How record keys are decoded.")
    value_format: Format = Field(default="json", description="How record values are decoded.")
    timestamp: Expression | None = Field(
        default=None,
        description="Event time: an expression over the value (epoch ms or ISO-8601), or the record timestamp.",
    )
    offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="Where a new application starts reading."
    )
    partitions: Partitions | None = Field(
        default=None, description="Partition count, when known (checks co-partitioning)."
    )
    fields: DeclaredFields | None = Field(default=None, description=FIELDS_DESCRIPTION)


class TableSourceConfig(Config):
    topic: Topic = Field(description="A topic read as a table (compacted topics fit best).")
    key_format: Format = Field(
        default="string", description="How record keys (the table's primary key) are decoded."
    )
    value_format: Format = Field(
        default="json", description="How record values are decoded; null deletes the row."
    )
    timestamp: Expression | None = Field(default=None, description="Event time, as for source.")
    offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="Where a new application starts reading."
    )
    partitions: Partitions | None = Field(default=None, description="Partition count, when known.")
    fields: DeclaredFields | None = Field(default=None, description=FIELDS_DESCRIPTION)


class FilterConfig(Config):
    where: Expression = Field(description="Records pass when this is TRUE (NULL and FALSE drop them).")


class MapConfig(Config):
    fields: dict[Annotated[str, Field(pattern=FIELD_NAME_PATTERN)], Expression] = Field(
        default_factory=dict, description="Computed fields: name → expression, evaluated on the input record."
    )
    keep: Literal["all"] | list[Annotated[str, Field(pattern=FIELD_NAME_PATTERN)]] = Field(
        default="all", description="'all' keeps every input field; a list keeps only those."
    )
    drop: list[Annotated[str, Field(pattern=FIELD_NAME_PATTERN)]] = Field(
        default_factory=list, description="Fields removed from the value."
    )


class FlatMapConfig(Config):
    field: Annotated[str, Field(pattern=FIELD_PATH_PATTERN)] = Field(description="The array to explode.")
    as_name: Annotated[str, Field(pattern=FIELD_NAME_PATTERN)] | None = Field(
        default=None, alias="as", description="Field that holds each element (default: the array's name)."
    )


class SelectKeyConfig(Config):
    key: KeyExpressions = Field(
        description="The new record key; a list of expressions makes a composite key {name: value}."
    )
    partitions: Partitions | None = Field(default=None, description="Partitions of the repartition topic.")


class BranchCase(Config):
    name: Annotated[str, Field(pattern=ID_PATTERN)] = Field(description="The output port's name.")
    where: Expression = Field(
        description="Condition; the first branch whose condition is TRUE gets the record."
    )


class BranchConfig(Config):
    branches: list[BranchCase] = Field(
        min_length=1, max_length=64, description="Ordered: a record goes to the first branch it matches."
    )


class MergeConfig(Config):
    pass


class AggregateConfig(Config):
    group_by: KeyExpressions | None = Field(
        default=None,
        description="Group key expression, or a list of them for a composite key {name: value}; "
        "null groups by the record key (no repartition). Required when the input is a table.",
    )
    aggregations: dict[Annotated[str, Field(pattern=FIELD_NAME_PATTERN)], Expression] = Field(
        min_length=1,
        max_length=100,
        description="Output field → COUNT(*), SUM(x), AVG(x), MIN, MAX, COUNT_DISTINCT, LATEST, EARLIEST "
        "(by event time), LATEST_BY_OFFSET, EARLIEST_BY_OFFSET (by arrival order), COLLECT_LIST, "
        "COLLECT_SET, TOPK(x, k), TOPKDISTINCT(x, k). A table input takes COUNT, SUM, AVG and COLLECT_LIST only: "
        "an updated or deleted row is taken back out of its group.",
    )
    window: WindowConfig | None = Field(
        default=None, description="Event-time window; null aggregates forever."
    )
    emit: Literal["changes", "final"] = Field(
        default="changes", description="'final' emits each window once, when it closes."
    )
    partitions: Partitions | None = Field(
        default=None, description="Partitions of the repartition topic (group_by)."
    )


class JoinConfig(Config):
    how: Literal["inner", "left", "outer"] = Field(
        default="inner",
        description="inner, left or outer (stream-table and foreign-key joins: inner or left).",
    )
    window: JoinWindow | None = Field(default=None, description="Required for stream-stream joins.")
    left_key: Expression | None = Field(
        default=None, description="Re-key the left side (adds a repartition)."
    )
    right_key: Expression | None = Field(default=None, description="Re-key the right side (streams only).")
    foreign_key: Expression | None = Field(
        default=None,
        description="Foreign-key join of two tables (KTable.join(other, foreignKeyExtractor)): an expression "
        "over the left row giving the key of the right row it joins. The output is keyed by the left key; "
        "inner or left; the tables need not be co-partitioned.",
    )
    select: dict[Annotated[str, Field(pattern=FIELD_NAME_PATTERN)], Expression] = Field(
        default_factory=dict,
        description="Output fields over left.<field> and right.<field>; empty merges both.",
    )
    partitions: Partitions | None = Field(default=None, description="Partitions of the repartition topics.")


class ToTableConfig(Config):
    pass


class ToStreamConfig(Config):
    pass


class SinkConfig(Config):
    topic: Topic = Field(
        description="The topic written to. Created when missing, with as many partitions as the widest source topic."
    )
    key_format: Format = Field(default="string", description="How record keys are encoded.")
    value_format: Format = Field(default="json", description="How record values are encoded.")


class ViewConfig(Config):
    title: str = Field(
        default="", max_length=200, description="Shown on the dashboard (default: the node id)."
    )


# --- node types -------------------------------------------------------------------------------


PaletteGroup = Literal["sources", "transforms", "aggregations", "joins", "sinks"]
# The editor's palette shows the groups in this order, under these titles.
PALETTE_GROUPS: tuple[tuple[PaletteGroup, str], ...] = (
    ("sources", "Sources"),
    ("transforms", "Transforms"),
    ("aggregations", "Aggregations"),
    ("joins", "Joins"),
    ("sinks", "Sinks and views"),
)


@dataclass(frozen=True)
class InputPort:
    name: str
    kinds: tuple[StreamKind, ...]
    multiple: bool = False  # merge takes any number of edges into one port


@dataclass(frozen=True)
class NodeType:
    name: str
    title: str
    group: PaletteGroup
    description: str
    config: type[Config]
    inputs: tuple[InputPort, ...] = ()
    # Fixed output port kinds; "same" follows the input; joins are computed.
    output: Literal["stream", "table", "same", "join", "none"] = "stream"
    dynamic_outputs: bool = False  # branch: one port per branch name, plus "default"
    expression_fields: tuple[str, ...] = field(default=())


IN_STREAM = (InputPort("in", STREAM),)
IN_EITHER = (InputPort("in", EITHER),)

NODE_TYPES: dict[str, NodeType] = {
    t.name: t
    for t in (
        NodeType(
            "source",
            "Stream source",
            "sources",
            "Reads one or more topics as a stream (KStream).",
            SourceConfig,
            output="stream",
            expression_fields=("timestamp",),
        ),
        NodeType(
            "table_source",
            "Table source",
            "sources",
            "Reads a topic as a table: the latest value per key, null deletes (KTable).",
            TableSourceConfig,
            output="table",
            expression_fields=("timestamp",),
        ),
        NodeType(
            "filter",
            "Filter",
            "transforms",
            "Keeps the records for which `where` is TRUE. On a table, a dropped row becomes a delete.",
            FilterConfig,
            IN_EITHER,
            output="same",
            expression_fields=("where",),
        ),
        NodeType(
            "map",
            "Map",
            "transforms",
            "Computes, keeps and drops fields of each value.",
            MapConfig,
            IN_EITHER,
            output="same",
            expression_fields=("fields",),
        ),
        NodeType(
            "flat_map",
            "Explode array",
            "transforms",
            "Emits one record per element of an array field.",
            FlatMapConfig,
            IN_STREAM,
        ),
        NodeType(
            "select_key",
            "Re-key",
            "transforms",
            "Sets a new record key and repartitions the stream by it.",
            SelectKeyConfig,
            IN_STREAM,
            expression_fields=("key",),
        ),
        NodeType(
            "branch",
            "Branch",
            "transforms",
            "Routes each record to the first branch whose condition is TRUE; the `default` output gets the rest.",
            BranchConfig,
            IN_STREAM,
            dynamic_outputs=True,
            expression_fields=("branches",),
        ),
        NodeType(
            "merge",
            "Merge",
            "transforms",
            "Merges several streams into one.",
            MergeConfig,
            (InputPort("in", STREAM, multiple=True),),
        ),
        NodeType(
            "aggregate",
            "Aggregate",
            "aggregations",
            "Groups by an expression (repartitioning) or by the record key, optionally in windows; the output "
            "is a table. On a table input (KGroupedTable), a row's update moves its contribution from its "
            "old group to its new one, and a delete takes it out.",
            AggregateConfig,
            IN_EITHER,
            output="table",
            expression_fields=("group_by", "aggregations"),
        ),
        NodeType(
            "join",
            "Join",
            "joins",
            "Joins two inputs on their key: stream-stream within a window, stream-table lookups, or "
            "table-table; two tables also join on a foreign key taken from the left row (foreign_key).",
            JoinConfig,
            (InputPort("left", EITHER), InputPort("right", EITHER)),
            output="join",
            expression_fields=("left_key", "right_key", "foreign_key", "select"),
        ),
        NodeType(
            "to_table",
            "To table",
            "transforms",
            "Turns a stream into a table: the latest value per key.",
            ToTableConfig,
            IN_STREAM,
            output="table",
        ),
        NodeType(
            "to_stream",
            "To stream",
            "transforms",
            "Turns a table into its changelog stream of updates and deletes.",
            ToStreamConfig,
            (InputPort("in", TABLE),),
            output="stream",
        ),
        NodeType(
            "sink",
            "Sink",
            "sinks",
            "Writes records to a topic (a table writes its updates and deletes).",
            SinkConfig,
            IN_EITHER,
            output="none",
        ),
        NodeType(
            "view",
            "Live view",
            "sinks",
            "A live dashboard table: the latest value per key of its input.",
            ViewConfig,
            IN_EITHER,
            output="none",
        ),
    )
}


def output_ports(node_type: NodeType, config: Config | None) -> tuple[str, ...]:
    if node_type.output == "none":
        return ()
    if node_type.dynamic_outputs:
        names = tuple(case.name for case in config.branches) if isinstance(config, BranchConfig) else ()
        return (*names, "default")
    return ("out",)


def join_sides(left: StreamKind, right: StreamKind) -> str:
    if left == "stream" and right == "stream":
        return "stream_stream"
    if left == "table" and right == "table":
        return "table_table"
    return "stream_table"


def output_rule(node_type: NodeType) -> dict[str, Any] | None:
    """How a node's output kind follows from its input kinds, as data (exported to the editor).

    ``{"kind": k}``: always ``k``. ``{"same_as": port}``: the kind arriving on that input
    port (``KTable#filter`` is a table). ``{"table_if_all": [ports]}``: a table when every
    named input is a table, else a stream (a join: table-table gives a table, stream-stream and
    stream-table give a stream). ``None``: no output (sinks and views).
    """
    return _OUTPUT_RULES[node_type.name]


def _rule_of(node_type: NodeType) -> dict[str, Any] | None:
    if node_type.output in ("stream", "table"):
        return {"kind": node_type.output}
    if node_type.output == "same":
        return {"same_as": node_type.inputs[0].name}
    if node_type.output == "join":
        return {"table_if_all": [port.name for port in node_type.inputs]}
    return None


def evaluate_output_rule(
    rule: dict[str, Any] | None, input_kinds: dict[str, StreamKind]
) -> StreamKind | None:
    """The kind a rule gives for these input kinds, or None while an input it needs is unknown.
    static/editor/model.mjs ``evaluateOutputRule`` is the same function, line for line."""
    if rule is None:
        return None
    if "kind" in rule:
        kind: StreamKind = rule["kind"]
        return kind
    if "same_as" in rule:
        return input_kinds.get(rule["same_as"])
    if "table_if_all" in rule:
        sides = [input_kinds.get(port) for port in rule["table_if_all"]]
        if None in sides:
            return None
        return "table" if all(side == "table" for side in sides) else "stream"
    raise ValueError(f"unknown output rule {rule!r}")


def output_kind(node_type: NodeType, input_kinds: dict[str, StreamKind]) -> StreamKind | None:
    return evaluate_output_rule(_OUTPUT_RULES[node_type.name], input_kinds)


_OUTPUT_RULES: dict[str, dict[str, Any] | None] = {name: _rule_of(t) for name, t in NODE_TYPES.items()}


def _output_ports_schema(node_type: NodeType) -> list[dict[str, Any]]:
    if node_type.output == "none":
        return []
    if node_type.dynamic_outputs:
        # One port per entry of config.branches, named by its "name", then the catch-all.
        return [{"dynamic": {"config_field": "branches", "name_field": "name"}}, {"name": "default"}]
    return [{"name": "out"}]


def catalog_schema() -> dict[str, Any]:
    """Every node type with its palette group, ports, output rule and config JSON Schema.

    This is the editor's only source for node types; docs/editor.md describes each field.
    """
    types: dict[str, Any] = {}
    for name, node_type in NODE_TYPES.items():
        types[name] = {
            "title": node_type.title,
            "group": node_type.group,
            "description": node_type.description,
            "config": node_type.config.model_json_schema(by_alias=True),
            "inputs": [
                {"name": p.name, "kinds": list(p.kinds), "multiple": p.multiple} for p in node_type.inputs
            ],
            "outputs": _output_ports_schema(node_type),
            "output_rule": output_rule(node_type),
            "expression_fields": list(node_type.expression_fields),
        }
    return {
        "port_kinds": ["stream", "table"],
        "palette_groups": [{"id": group, "title": title} for group, title in PALETTE_GROUPS],
        "node_types": types,
    }
