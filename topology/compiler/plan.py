"""The execution plan: what the compiler hands to the runtime.

Frozen, JSON round-trippable (``plan_to_json`` / ``plan_from_json``) and deterministic: the
same document compiles to the same plan, and ``plan_hash`` ignores layout. The plan only
holds *core operators*; every editor node is lowered onto them by the compiler
(``branch`` becomes ordered filters, ``table_source`` a source plus ``to_table``, ``merge``
disappears into operator inputs, ``group_by`` on a field becomes ``select_key`` +
``repartition`` + a new sub-topology).

Shape
-----
A plan is a list of sub-topologies. A sub-topology is the unit of parallelism, as in Kafka
Streams: one *task* per (sub-topology, input partition) runs its operators over the records of
all its input topics that share that partition number. Sub-topologies are split at repartition
boundaries: a ``repartition`` operator writes to an internal topic which a ``source`` operator
of another sub-topology reads.

Operators inside a sub-topology are listed in topological order; ``inputs`` names the
operators feeding each one (for ``join`` the order is ``(left, right)``). Records flowing
between operators are ``(key, value, timestamp)``; values are decoded JSON (dicts) or scalars.

Names are relative to the application id: stores and repartitions carry node-id based names and
``topology.compiler.naming`` turns them into topic names for a given application id.

Expressions are stored as canonical SQL text (sqlglot's rendering of the parsed AST); the
runtime compiles them with ``topology.compiler.expressions.compile_expression``.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

import orjson

PLAN_FORMAT = 1

Format = Literal["json", "string", "long", "double", "bytes"]
WindowType = Literal["tumbling", "hopping", "sliding", "session"]
Emit = Literal["changes", "final"]
AggregateFunction = Literal["COUNT", "SUM", "MIN", "MAX", "AVG", "COUNT_DISTINCT", "LATEST", "EARLIEST"]


@dataclass(frozen=True)
class Window:
    """Event-time window. Sizes in milliseconds.

    tumbling: size. hopping: size, advance. sliding: size is the max time difference between
    two records in one window (Kafka Streams' SlidingWindows.ofTimeDifference...).
    session: gap (inactivity gap). grace applies to all: a record later than
    window end + grace (by stream time) is late and dropped.
    """

    type: WindowType
    size_ms: int = 0
    advance_ms: int = 0
    gap_ms: int = 0
    grace_ms: int = 0


@dataclass(frozen=True)
class Aggregation:
    """One output column of an aggregate: ``name = FUNCTION(argument)``.

    ``argument`` is canonical SQL, or None for ``COUNT(*)``.
    """

    name: str
    function: AggregateFunction
    argument: str | None = None


@dataclass(frozen=True)
class Field:
    """A computed field: ``name = expression`` (canonical SQL)."""

    name: str
    expression: str


# --- core operators ----------------------------------------------------------------------


@dataclass(frozen=True)
class Operator:
    id: str  # unique in the plan: the node id, or "<node id>.<role>" for lowered parts
    node_id: str  # the document node this operator came from (metrics, errors)
    inputs: tuple[str, ...]  # operator ids within the same sub-topology

    kind = "operator"


@dataclass(frozen=True)
class Source(Operator):
    """Reads external topics, or one repartition topic (``repartition`` set, ``topics`` empty).

    ``timestamp`` is None for the record timestamp, else an expression over the value whose
    result (epoch ms, or ISO-8601 string) is the event time.
    """

    topics: tuple[str, ...] = ()
    repartition: str | None = None
    key_format: Format = "string"
    value_format: Format = "json"
    timestamp: str | None = None
    offset_reset: Literal["earliest", "latest"] = "earliest"

    kind = "source"


@dataclass(frozen=True)
class Filter(Operator):
    predicate: str = "TRUE"
    kind = "filter"


@dataclass(frozen=True)
class Project(Operator):
    """map: start from all fields (``keep_all``) or none, drop ``drop``, then set ``set``."""

    keep_all: bool = True
    drop: tuple[str, ...] = ()
    set: tuple[Field, ...] = ()
    kind = "project"


@dataclass(frozen=True)
class FlatMap(Operator):
    """Explode the array at ``field`` (dotted path): one record per element, the element
    stored under ``as_name`` in a copy of the value."""

    field: str = ""
    as_name: str = ""
    kind = "flat_map"


@dataclass(frozen=True)
class SelectKey(Operator):
    key: str = "ROWKEY"
    kind = "select_key"


@dataclass(frozen=True)
class Repartition(Operator):
    """Writes records (with their current key) to the internal topic ``name``.

    The topic is ``naming.repartition_topic(app_id, name)``; it has ``partitions`` partitions,
    or when None as many as the largest source topic of the plan.
    """

    name: str = ""
    partitions: int | None = None
    kind = "repartition"


@dataclass(frozen=True)
class Aggregate(Operator):
    """Groups by the current record key (the compiler repartitioned if needed).

    Output is a table: key = group key, or for windows a dict
    ``{"key": group key, "window_start": ms, "window_end": ms}``; value = a dict with one
    entry per aggregation. ``emit="final"`` emits each window once, when stream time passes
    window end + grace (Kafka Streams' suppress(untilWindowCloses)).
    """

    store: str = ""
    aggregations: tuple[Aggregation, ...] = ()
    window: Window | None = None
    emit: Emit = "changes"
    kind = "aggregate"


@dataclass(frozen=True)
class ToTable(Operator):
    """Stream → table: the latest value per key, materialized in ``store``; null deletes."""

    store: str = ""
    kind = "to_table"


@dataclass(frozen=True)
class ToStream(Operator):
    """Table → its changelog stream (each upsert or tombstone becomes a record)."""

    kind = "to_stream"


@dataclass(frozen=True)
class Join(Operator):
    """inputs = (left, right), both keyed on the join key and co-partitioned.

    ``sides``: stream_stream (``window`` required: records join when
    |left.ts - right.ts| <= window.size_ms, grace as in windows), stream_table (lookup of the
    table side as of the stream record; only stream records trigger), table_table.
    Output value: ``select`` fields evaluated with ``left`` and ``right`` as nested records;
    when ``select`` is empty, the merge ``{**right, **left}`` (left wins on a name clash; a
    missing side contributes nothing). Stores: one per side (``left_store``/``right_store``);
    the compiler gives a stream_table join only the table side's store (``right_store``, the
    stream is on the left) and leaves ``left_store`` empty.
    """

    sides: Literal["stream_stream", "stream_table", "table_table"] = "stream_table"
    how: Literal["inner", "left", "outer"] = "inner"
    window: Window | None = None
    left_store: str = ""
    right_store: str = ""
    select: tuple[Field, ...] = ()
    kind = "join"


@dataclass(frozen=True)
class Sink(Operator):
    topic: str = ""
    key_format: Format = "string"
    value_format: Format = "json"
    kind = "sink"


@dataclass(frozen=True)
class View(Operator):
    """A live dashboard table: the latest value per key of its input (stream or table)."""

    title: str = ""
    kind = "view"


OPERATOR_TYPES: dict[str, type[Operator]] = {
    cls.kind: cls
    for cls in (
        Source,
        Filter,
        Project,
        FlatMap,
        SelectKey,
        Repartition,
        Aggregate,
        ToTable,
        ToStream,
        Join,
        Sink,
        View,
    )
}


# --- plan ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Store:
    """A state store. ``kind``: kv (latest / aggregate per key), window, session, join_window.
    Its changelog topic is ``naming.changelog_topic(app_id, name)`` (compacted, except
    windowed stores which use compact,delete)."""

    name: str
    kind: Literal["kv", "window", "session", "join_window"]
    node_id: str
    subtopology: int


@dataclass(frozen=True)
class SubTopology:
    id: int
    operators: tuple[Operator, ...]
    # External topics read by this sub-topology's sources, and repartition names it reads.
    source_topics: tuple[str, ...] = ()
    repartition_inputs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    name: str
    subtopologies: tuple[SubTopology, ...]
    stores: tuple[Store, ...] = ()
    format: int = PLAN_FORMAT
    hash: str = field(default="", compare=False)

    def operators(self) -> list[Operator]:
        return [op for sub in self.subtopologies for op in sub.operators]

    def operator(self, op_id: str) -> Operator:
        for op in self.operators():
            if op.id == op_id:
                return op
        raise KeyError(op_id)

    def source_topics(self) -> tuple[str, ...]:
        return tuple(sorted({t for sub in self.subtopologies for t in sub.source_topics}))

    def sink_topics(self) -> tuple[str, ...]:
        return tuple(sorted({op.topic for op in self.operators() if isinstance(op, Sink)}))

    def repartitions(self) -> tuple[Repartition, ...]:
        return tuple(op for op in self.operators() if isinstance(op, Repartition))

    def views(self) -> tuple[View, ...]:
        return tuple(op for op in self.operators() if isinstance(op, View))


# --- JSON ----------------------------------------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, Operator):
        return {"kind": value.kind, **{f.name: _encode(getattr(value, f.name)) for f in fields(value)}}
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    return value


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    data = _encode(plan)
    data["hash"] = plan.hash or compute_plan_hash(plan)
    return data


def plan_to_json(plan: Plan) -> bytes:
    return orjson.dumps(plan_to_dict(plan), option=orjson.OPT_SORT_KEYS)


def _window(data: dict | None) -> Window | None:
    return Window(**data) if data else None


def _operator(data: dict[str, Any]) -> Operator:
    data = dict(data)
    cls = OPERATOR_TYPES[data.pop("kind")]
    data["inputs"] = tuple(data.get("inputs", ()))
    for name in ("topics", "drop"):
        if name in data:
            data[name] = tuple(data[name])
    if "set" in data:
        data["set"] = tuple(Field(**f) for f in data["set"])
    if "select" in data:
        data["select"] = tuple(Field(**f) for f in data["select"])
    if "aggregations" in data:
        data["aggregations"] = tuple(Aggregation(**a) for a in data["aggregations"])
    if "window" in data:
        data["window"] = _window(data["window"])
    return cls(**data)


def plan_from_dict(data: dict[str, Any]) -> Plan:
    if data.get("format") != PLAN_FORMAT:
        raise ValueError(f"unsupported plan format {data.get('format')!r}, expected {PLAN_FORMAT}")
    subs = tuple(
        SubTopology(
            id=s["id"],
            operators=tuple(_operator(o) for o in s["operators"]),
            source_topics=tuple(s.get("source_topics", ())),
            repartition_inputs=tuple(s.get("repartition_inputs", ())),
        )
        for s in data["subtopologies"]
    )
    stores = tuple(Store(**s) for s in data.get("stores", ()))
    return Plan(
        name=data["name"], subtopologies=subs, stores=stores, format=data["format"], hash=data.get("hash", "")
    )


def plan_from_json(raw: bytes | str) -> Plan:
    return plan_from_dict(orjson.loads(raw))


def compute_plan_hash(plan: Plan) -> str:
    """sha256 of the canonical JSON of everything but the hash and the name.

    The plan holds no layout, so documents that differ only in node positions hash alike.
    """
    data = _encode(plan)
    data.pop("hash", None)
    data.pop("name", None)  # a rename is not a semantic change
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def with_hash(plan: Plan) -> Plan:
    return Plan(
        name=plan.name,
        subtopologies=plan.subtopologies,
        stores=plan.stores,
        format=plan.format,
        hash=compute_plan_hash(plan),
    )


__all__ = [
    "PLAN_FORMAT",
    "Aggregate",
    "Aggregation",
    "Field",
    "Filter",
    "FlatMap",
    "Join",
    "Operator",
    "Plan",
    "Project",
    "Repartition",
    "SelectKey",
    "Sink",
    "Source",
    "Store",
    "SubTopology",
    "ToStream",
    "ToTable",
    "View",
    "Window",
    "asdict",
    "plan_from_dict",
    "plan_from_json",
    "plan_to_dict",
    "plan_to_json",
    "with_hash",
]
