"""The execution plan: what the compiler hands to the runtime.

Frozen, JSON round-trippable (``plan_to_json`` / ``plan_from_json``) and deterministic: the
same document compiles to the same plan, and ``plan_hash`` ignores layout. The plan only
holds *core operators*; every editor node is lowered onto them by the compiler
(``branch`` becomes ordered filters, ``table_source`` a source plus ``to_table``, ``merge``
disappears into operator inputs, ``group_by`` on a field becomes ``select_key`` +
``repartition`` + a new sub-topology; an aggregate of a table starts with ``group_table``; a
foreign-key join is ``fk_join`` + ``fk_lookup`` around two repartitions).

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

Complete (format 2)
-------------------
The plan says everything the compiler knew, so the runtime derives nothing again:

- every operator carries ``output``: ``"stream"`` or ``"table"``, the kind of the records it
  emits, computed once by the compiler from the catalog's kind rules (``catalog.output_kind``);
  a sink's or a view's is the kind of what it writes; a repartition's is the kind it carries
  to the other side;
- a view says whether its rows are keyed by window (``windowed``); a sink whether it may hold
  the latest record per key until the commit (``coalesce``: fed by a table whose updates are
  not already emitted once per window);
- every ``Store`` carries its kind, retention (ms, or None for key-value stores) and the
  config of its changelog topic (``cleanup.policy`` compact, or compact,delete with
  ``retention.ms`` for windowed stores); every store an operator names is listed.

Retention and changelog config are part of the plan hash, so ``compat.compare_plans`` sees a
change to them.

Names are relative to the application id: stores and repartitions carry node-id based names.
``topology.compiler.binding.bind(plan, app_id)`` resolves them, once, into topic names, consumer
groups and transactional ids (see ``naming`` for the format); the runtime runs a bound plan.

Format 1 plans (before the derived facts above) still load: ``plan_from_dict`` upgrades them
in memory (``upgrade_format_1``), computing the missing fields from the operators as the
runtime of format 1 did, and hashes the result anew.

Expressions are stored as canonical SQL text (sqlglot's rendering of the parsed AST); the
runtime compiles them with ``topology.compiler.expressions.compile_expression``.
"""

from __future__ import annotations

import hashlib
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any, ClassVar, Literal

import orjson

from topology.compiler import naming

PLAN_FORMAT = 2
READABLE_FORMATS = (1, 2)

Format = Literal["json", "string", "long", "integer", "double", "bytes"]
WindowType = Literal["tumbling", "hopping", "sliding", "session"]
Emit = Literal["changes", "final"]
StreamKind = Literal["stream", "table"]
StoreKind = Literal["kv", "window", "session", "join_window"]
AggregateFunction = Literal[
    "COUNT",
    "SUM",
    "MIN",
    "MAX",
    "AVG",
    "COUNT_DISTINCT",
    "LATEST",
    "EARLIEST",
    "LATEST_BY_OFFSET",
    "EARLIEST_BY_OFFSET",
    "COLLECT_LIST",
    "COLLECT_SET",
    "TOPK",
    "TOPKDISTINCT",
]
# The functions an aggregate of a table may use: each has an undo (Kafka Streams' subtractor)
# for the old value of a changed row. ksqlDB allows SUM, COUNT and AVG on tables too; MIN,
# MAX, COUNT_DISTINCT and the LATEST/EARLIEST kinds cannot take a value back out.
TABLE_AGGREGATE_FUNCTIONS: tuple[str, ...] = ("COUNT", "SUM", "AVG", "COLLECT_LIST")


@dataclass(frozen=True)
class Window:
    """Event-time window. Sizes in milliseconds.

    tumbling: size. hopping: size, advance. sliding: size is the max time difference between
    two records in one window (Kafka Streams' SlidingWindows.ofTimeDifference...).
    session: gap (inactivity gap). grace applies to all: a record later than
    window end + grace (by stream time) is late and dropped.

    A stream-stream join's window is a ``sliding`` one: symmetric with ``size_ms`` (a left
    record at t joins right records in [t - size, t + size]), or asymmetric with
    ``before_ms`` and ``after_ms`` set (and ``size_ms`` 0): [t - before, t + after], as Kafka
    Streams' ``JoinWindows...before(..).after(..)``. The compiler writes equal bounds as the
    symmetric form, so one meaning has one plan.
    """

    type: WindowType
    size_ms: int = 0
    advance_ms: int = 0
    gap_ms: int = 0
    grace_ms: int = 0
    before_ms: int | None = None
    after_ms: int | None = None

    # Fields added after plan format 2 was fixed: left out of the JSON (and so of the hash)
    # while they hold their default, so plans that do not use them keep their hash.
    OMITTED_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("before_ms", "after_ms")

    @property
    def join_before_ms(self) -> int:
        return self.size_ms if self.before_ms is None else self.before_ms

    @property
    def join_after_ms(self) -> int:
        return self.size_ms if self.after_ms is None else self.after_ms


@dataclass(frozen=True)
class Aggregation:
    """One output column of an aggregate: ``name = FUNCTION(argument)``.

    ``argument`` is canonical SQL, or None for ``COUNT(*)``. ``ignore_nulls`` is False only
    for ``LATEST_BY_OFFSET(x, FALSE)`` / ``EARLIEST_BY_OFFSET(x, FALSE)``: a null value counts
    as the latest (earliest) one. ``k`` is set only for ``TOPK(x, k)`` / ``TOPKDISTINCT(x, k)``.
    """

    name: str
    function: AggregateFunction
    argument: str | None = None
    ignore_nulls: bool = True
    k: int | None = None

    OMITTED_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("ignore_nulls", "k")


@dataclass(frozen=True)
class Field:
    """A computed field: ``name = expression`` (canonical SQL)."""

    name: str
    expression: str


# --- core operators ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Operator:
    id: str  # unique in the plan: the node id, or "<node id>.<role>" for lowered parts
    node_id: str  # the document node this operator came from (metrics, errors)
    inputs: tuple[str, ...]  # operator ids within the same sub-topology
    # The kind of the records this operator emits (see the module docstring). The compiler
    # always sets it; the default only serves operators built by hand.
    output: StreamKind = "stream"

    kind = "operator"


@dataclass(frozen=True, kw_only=True)
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


@dataclass(frozen=True, kw_only=True)
class Filter(Operator):
    predicate: str = "TRUE"
    kind = "filter"


@dataclass(frozen=True, kw_only=True)
class Project(Operator):
    """map: start from all fields (``keep_all``) or none, drop ``drop``, then set ``set``."""

    keep_all: bool = True
    drop: tuple[str, ...] = ()
    set: tuple[Field, ...] = ()
    kind = "project"


@dataclass(frozen=True, kw_only=True)
class FlatMap(Operator):
    """Explode the array at ``field`` (dotted path): one record per element, the element
    stored under ``as_name`` in a copy of the value."""

    field: str = ""
    as_name: str = ""
    kind = "flat_map"


@dataclass(frozen=True, kw_only=True)
class SelectKey(Operator):
    """Sets the record key: ``key`` (canonical SQL; ``ROWKEY`` keeps it), or when ``keys`` is
    set a composite key, the object ``{name: value, ...}`` of those fields (``key`` is then
    empty). Composite keys are serialised as canonical JSON, object keys sorted, so one group
    is always the same bytes and lands on the same partition."""

    key: str = "ROWKEY"
    keys: tuple[Field, ...] = ()
    kind = "select_key"

    OMITTED_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("keys",)


@dataclass(frozen=True, kw_only=True)
class Repartition(Operator):
    """Writes records (with their current key) to the internal topic ``name``.

    ``bind`` names the topic (``naming.repartition_topic``); it has ``partitions`` partitions,
    or when None as many as the largest source topic of the plan. ``output`` says whether it
    carries a stream or a table's changes (the reading ``source`` has the same output).
    """

    name: str
    partitions: int | None = None
    kind = "repartition"


@dataclass(frozen=True, kw_only=True)
class GroupTable(Operator):
    """A table's rows re-keyed by a group key, as changes (Kafka Streams' KTableRepartitionMap).

    ``key`` / ``keys`` as ``SelectKey``. ``store`` keeps each input row by its own key, so an
    update knows the row it replaces. A change of a row becomes records of value
    ``{"new": row or null, "old": row or null}``: one ``{"new", "old"}`` to the group when the
    group key did not change, else ``{"old"}`` to the old group and then ``{"new"}`` to the
    new one (a null group key sends nothing). A tombstone sends the old row only.
    """

    store: str
    key: str = "ROWKEY"
    keys: tuple[Field, ...] = ()
    kind = "group_table"


@dataclass(frozen=True, kw_only=True)
class Aggregate(Operator):
    """Groups by the current record key (the compiler repartitioned if needed).

    Output is a table: key = group key, or for windows a dict
    ``{"key": group key, "window_start": ms, "window_end": ms}``; value = a dict with one
    entry per aggregation. ``emit="final"`` emits each window once, when stream time passes
    window end + grace (Kafka Streams' suppress(untilWindowCloses)).
    """

    store: str
    aggregations: tuple[Aggregation, ...] = ()
    window: Window | None = None
    emit: Emit = "changes"
    # The input is a ``GroupTable``'s changes: the old row is subtracted from the group
    # before the new one is added (Kafka Streams' KTableAggregate; no window).
    from_table: bool = False
    kind = "aggregate"

    OMITTED_AT_DEFAULT: ClassVar[tuple[str, ...]] = ("from_table",)


@dataclass(frozen=True, kw_only=True)
class ToTable(Operator):
    """Stream → table: the latest value per key, materialized in ``store``; null deletes."""

    store: str
    kind = "to_table"


@dataclass(frozen=True, kw_only=True)
class ToStream(Operator):
    """Table → its changelog stream (each upsert or tombstone becomes a record)."""

    kind = "to_stream"


@dataclass(frozen=True, kw_only=True)
class Join(Operator):
    """inputs = (left, right), both keyed on the join key and co-partitioned.

    ``sides``: stream_stream (``window`` required: records join when
    |left.ts - right.ts| <= window.size_ms, grace as in windows), stream_table (lookup of the
    table side as of the stream record; only stream records trigger), table_table.
    Output value: ``select`` fields evaluated with ``left`` and ``right`` as nested records;
    when ``select`` is empty, the merge ``{**right, **left}`` (left wins on a name clash; a
    missing side contributes nothing). Stores: one per side (``left_store``/``right_store``);
    a stream_table join keeps only the table side's store (``right_store``: the compiler puts
    the stream on the left) and ``left_store`` is None.
    """

    sides: Literal["stream_stream", "stream_table", "table_table"] = "stream_table"
    how: Literal["inner", "left", "outer"] = "inner"
    window: Window | None = None
    left_store: str | None = None
    right_store: str | None = None
    select: tuple[Field, ...] = ()
    kind = "join"


@dataclass(frozen=True, kw_only=True)
class ForeignKeyJoin(Operator):
    """The left half of a foreign-key table-table join (Kafka Streams' KIP-213
    ``KTable.join(other, foreignKeyExtractor, joiner)``), keyed by the left key.

    inputs = (the left table's rows, the responses of the ``ForeignKeyLookup``). ``store``
    keeps the left rows. Each left change sends subscriptions ``{"key", "hash", "instruction"}``
    keyed by the foreign key (``foreign_key``, SQL over the left row) to the repartition named
    ``subscription``, Kafka Streams' SubscriptionSendProcessor; a response ``{"hash", "right"}``
    whose hash is not the current left row's is stale and dropped, else it forwards the joined
    row (``select`` / the merge, as ``Join``) or a tombstone. ``how``: inner or left.
    """

    store: str
    foreign_key: str
    subscription: str
    how: Literal["inner", "left"] = "inner"
    select: tuple[Field, ...] = ()
    kind = "fk_join"


@dataclass(frozen=True, kw_only=True)
class ForeignKeyLookup(Operator):
    """The right half of a foreign-key join, keyed by the foreign key: inputs = (the right
    table's rows, the subscriptions). ``store`` keeps the right rows, ``subscription_store`` each
    subscribed left key per foreign key with the hash of the left row. It answers a subscription
    with the right row (per its instruction), and a right change to every subscriber; responses
    are keyed by the left key."""

    store: str
    subscription_store: str
    kind = "fk_lookup"


@dataclass(frozen=True, kw_only=True)
class Sink(Operator):
    """Writes its input to ``topic``. ``coalesce``: the input is a table whose updates may be
    held per key until the commit (Kafka Streams' record cache in front of
    ``toStream().to()``); False for streams and for windows emitted once when they close."""

    topic: str = ""
    key_format: Format = "string"
    value_format: Format = "json"
    coalesce: bool = False
    kind = "sink"


@dataclass(frozen=True, kw_only=True)
class View(Operator):
    """A live dashboard table: the latest value per key of its input (stream or table).
    ``windowed``: its rows are keyed by window (a windowed aggregate feeds it)."""

    title: str = ""
    windowed: bool = False
    kind = "view"


OPERATOR_TYPES: dict[str, type[Operator]] = {
    cls.kind: cls
    for cls in (
        Source,
        Filter,
        Project,
        FlatMap,
        SelectKey,
        GroupTable,
        Repartition,
        Aggregate,
        ToTable,
        ToStream,
        Join,
        ForeignKeyJoin,
        ForeignKeyLookup,
        Sink,
        View,
    )
}


# --- stores --------------------------------------------------------------------------------

# Kafka Streams keeps windowed changelogs one day longer than the store needs
# (windowstore.changelog.additional.retention.ms) so a slow restore still finds its records.
EXTRA_WINDOW_RETENTION_MS = 24 * 3600 * 1000


def window_retention_ms(window: Window) -> int:
    """How long a windowed aggregate's store keeps a window: its span, plus grace. A sliding
    window's store keeps a window and the one a record difference before it."""
    span = max(window.size_ms, window.gap_ms) + (window.size_ms if window.type == "sliding" else 0)
    return span + window.grace_ms


def join_retention_ms(window: Window) -> int:
    """A stream-stream join buffers a record until no partner can arrive any more: before +
    after + grace (Kafka Streams' join store retention, ``JoinWindows.size() + grace``);
    2 × size + grace for a symmetric window."""
    return window.join_before_ms + window.join_after_ms + window.grace_ms


def changelog_config(kind: StoreKind, retention_ms: int | None) -> tuple[tuple[str, str], ...]:
    """Topic config of a store's changelog: compacted; windowed stores also delete what is
    older than their retention plus a day (Kafka Streams' defaults)."""
    if kind == "kv" or retention_ms is None:
        return (("cleanup.policy", "compact"),)
    return (
        ("cleanup.policy", "compact,delete"),
        ("retention.ms", str(retention_ms + EXTRA_WINDOW_RETENTION_MS)),
    )


@dataclass(frozen=True)
class Store:
    """A state store: its name (mandatory; the changelog topic is named from it), kind (kv:
    latest / aggregate per key; window, session, join_window), the operator's node, its
    sub-topology, retention (ms, None for kv) and changelog topic config (``Store.of``
    derives it from kind and retention)."""

    name: str
    kind: StoreKind
    node_id: str
    subtopology: int
    retention_ms: int | None
    changelog: tuple[tuple[str, str], ...]

    @classmethod
    def of(
        cls, name: str, kind: StoreKind, node_id: str, subtopology: int, retention_ms: int | None
    ) -> Store:
        if not name:
            raise ValueError(f"a store of node {node_id!r} has no name")
        return cls(name, kind, node_id, subtopology, retention_ms, changelog_config(kind, retention_ms))


def operator_stores(op: Operator) -> list[tuple[str, StoreKind, int | None]]:
    """(name, kind, retention ms) of every store ``op`` keeps, in the order it names them."""
    if isinstance(op, ToTable | GroupTable):
        return [(op.store, "kv", None)]
    if isinstance(op, Aggregate):
        if op.window is None:
            return [(op.store, "kv", None)]
        kind: StoreKind = "session" if op.window.type == "session" else "window"
        return [(op.store, kind, window_retention_ms(op.window))]
    if isinstance(op, Join):
        if op.sides == "stream_stream":
            retention = join_retention_ms(op.window) if op.window is not None else None
            return [(name, "join_window", retention) for name in (op.left_store, op.right_store) if name]
        return [(name, "kv", None) for name in (op.left_store, op.right_store) if name]
    if isinstance(op, ForeignKeyJoin):
        return [(op.store, "kv", None)]
    if isinstance(op, ForeignKeyLookup):
        return [(op.store, "kv", None), (op.subscription_store, "kv", None)]
    return []


# --- derived facts ---------------------------------------------------------------------------

# Operators that pass their input's records on with the same meaning (a table stays a table).
_PASS_THROUGH = ("filter", "project", "select_key", "repartition", "flat_map")


def emits_windows(op: Operator, inputs_windowed: list[bool]) -> bool:
    """Are the records ``op`` emits keyed by window? A windowed aggregate starts it, a join or a
    source ends it, everything else passes it on."""
    if isinstance(op, Aggregate):
        return op.window is not None
    if isinstance(op, Join | ForeignKeyJoin | Source):
        return False
    return any(inputs_windowed)


def emits_final(op: Operator, inputs_final: list[bool]) -> bool:
    """Does ``op`` emit each key and window once, when the window closes (emit final)?"""
    if isinstance(op, Aggregate):
        return op.window is not None and op.emit == "final"
    if op.kind in _PASS_THROUGH:
        return bool(inputs_final) and all(inputs_final)
    return False


# --- plan ----------------------------------------------------------------------------------


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

    def store(self, name: str) -> Store:
        for store in self.stores:
            if store.name == name:
                return store
        raise KeyError(name)


# --- JSON ----------------------------------------------------------------------------------


def _encoded_fields(value: Any) -> dict[str, Any]:
    omitted = getattr(value, "OMITTED_AT_DEFAULT", ())
    return {
        f.name: _encode(getattr(value, f.name))
        for f in fields(value)
        if not (f.name in omitted and getattr(value, f.name) == _default(f))
    }


def _default(f: Any) -> Any:
    return f.default_factory() if f.default_factory is not MISSING else f.default


def _encode(value: Any) -> Any:
    if isinstance(value, Operator):
        return {"kind": value.kind, **_encoded_fields(value)}
    if isinstance(value, Store):
        data = {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
        data["changelog"] = dict(value.changelog)
        return data
    if hasattr(value, "__dataclass_fields__"):
        return _encoded_fields(value)
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
    if "keys" in data:
        data["keys"] = tuple(Field(**f) for f in data["keys"])
    if "aggregations" in data:
        data["aggregations"] = tuple(Aggregation(**a) for a in data["aggregations"])
    if "window" in data:
        data["window"] = _window(data["window"])
    return cls(**data)


def _store(data: dict[str, Any]) -> Store:
    return Store(
        name=data["name"],
        kind=data["kind"],
        node_id=data["node_id"],
        subtopology=data["subtopology"],
        retention_ms=data["retention_ms"],
        changelog=tuple(sorted(data["changelog"].items())),
    )


def _subtopologies(data: dict[str, Any]) -> tuple[SubTopology, ...]:
    return tuple(
        SubTopology(
            id=s["id"],
            operators=tuple(_operator(o) for o in s["operators"]),
            source_topics=tuple(s.get("source_topics", ())),
            repartition_inputs=tuple(s.get("repartition_inputs", ())),
        )
        for s in data["subtopologies"]
    )


def plan_from_dict(data: dict[str, Any]) -> Plan:
    """Read a plan of any readable format; format 1 is upgraded to the current one."""
    if data.get("format") not in READABLE_FORMATS:
        raise ValueError(
            f"unsupported plan format {data.get('format')!r}, expected one of {READABLE_FORMATS}"
        )
    if data["format"] == 1:
        return upgrade_format_1(data)
    stores = tuple(_store(s) for s in data.get("stores", ()))
    return Plan(
        name=data["name"],
        subtopologies=_subtopologies(data),
        stores=stores,
        format=data["format"],
        hash=data.get("hash", ""),
    )


def plan_from_json(raw: bytes | str) -> Plan:
    return plan_from_dict(orjson.loads(raw))


def compute_plan_hash(plan: Plan) -> str:
    """sha256 of the canonical JSON of everything but the hash and the name.

    The plan holds no layout, so documents that differ only in node positions hash alike.
    Store retention and changelog config are in it.
    """
    data = _encode(plan)
    data.pop("hash", None)
    data.pop("name", None)  # a rename is not a semantic change
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


def with_hash(plan: Plan) -> Plan:
    return replace(plan, hash=compute_plan_hash(plan))


# --- format 1 ----------------------------------------------------------------------------------


def _format_1_output(op: Operator, inputs: list[StreamKind], table_repartitions: set[str]) -> StreamKind:
    """The kind rule the format-1 runtime applied to operators (the compiler's, per operator)."""
    if isinstance(op, ToTable | Aggregate | ForeignKeyJoin):
        return "table"
    if isinstance(op, Join):
        return "table" if op.sides == "table_table" else "stream"
    if isinstance(op, Source):
        return "table" if op.repartition in table_repartitions else "stream"
    if op.kind in _PASS_THROUGH or isinstance(op, Sink | View):
        return "table" if inputs and all(kind == "table" for kind in inputs) else "stream"
    return "stream"


def complete_plan(plan: Plan) -> Plan:
    """Compute what a plan not made by the compiler lacks, from its operators: ``output``,
    ``windowed``, ``coalesce``, and every store with its retention and changelog config (stores
    a format-1 plan lists keep their order; stores only an operator named are added).

    Reads format 1 plans, and completes plans that tests build by hand. The compiler never
    needs it: lowering sets all of this from the catalog's rules.
    """
    tables: set[str] = set()
    subtopologies = plan.subtopologies
    # A reader may be listed before the sub-topology writing its repartition: to a fixed point.
    for _ in range(len(subtopologies) + 1):
        before = len(tables)
        completed: list[SubTopology] = []
        for sub in subtopologies:
            output: dict[str, StreamKind] = {}
            windowed: dict[str, bool] = {}
            final: dict[str, bool] = {}
            ops: list[Operator] = []
            for op in sub.operators:
                kinds = [output.get(i, "stream") for i in op.inputs]
                changes: dict[str, Any] = {"output": _format_1_output(op, kinds, tables)}
                if isinstance(op, View):
                    changes["windowed"] = any(windowed.get(i, False) for i in op.inputs)
                if isinstance(op, Sink):
                    changes["coalesce"] = bool(op.inputs) and all(
                        output.get(i) == "table" and not final.get(i, False) for i in op.inputs
                    )
                if isinstance(op, Join):
                    changes["left_store"] = op.left_store or None
                    changes["right_store"] = op.right_store or None
                    if op.sides == "stream_table" and kinds[:1] == ["table"]:
                        # The format-1 runtime kept a left table side in "<node id>-left-store"
                        # whatever the plan named: that is where its state is.
                        changes["left_store"] = naming.store_name(op.node_id, "left")
                        changes["right_store"] = None
                new = replace(op, **changes)
                output[op.id] = new.output
                windowed[op.id] = emits_windows(new, [windowed.get(i, False) for i in op.inputs])
                final[op.id] = emits_final(new, [final.get(i, False) for i in op.inputs])
                if isinstance(new, Repartition) and new.output == "table":
                    tables.add(new.name)
                ops.append(new)
            completed.append(replace(sub, operators=tuple(ops)))
        if len(tables) == before:
            break
    declared = {store.name: store for store in plan.stores}
    found: dict[str, Store] = {}
    for sub in completed:
        for op in sub.operators:
            for name, kind, retention in operator_stores(op):
                old = declared.get(name)
                found[name] = Store.of(
                    name, old.kind if old else kind, op.node_id, old.subtopology if old else sub.id, retention
                )
    order = [s.name for s in plan.stores if s.name in found] + sorted(set(found) - set(declared))
    return with_hash(
        Plan(
            name=plan.name,
            subtopologies=tuple(completed),
            stores=tuple(found[name] for name in order),
            format=PLAN_FORMAT,
        )
    )


def upgrade_format_1(data: dict[str, Any]) -> Plan:
    """A format-1 plan, read and completed (``complete_plan``) into the current format."""
    stores = tuple(
        Store.of(s["name"], s["kind"], s["node_id"], s["subtopology"], None) for s in data.get("stores", ())
    )
    plan = Plan(name=data["name"], subtopologies=_subtopologies(data), stores=stores, format=1)
    return complete_plan(plan)


__all__ = [
    "EXTRA_WINDOW_RETENTION_MS",
    "PLAN_FORMAT",
    "READABLE_FORMATS",
    "Aggregate",
    "Aggregation",
    "Field",
    "Filter",
    "FlatMap",
    "ForeignKeyJoin",
    "ForeignKeyLookup",
    "GroupTable",
    "Join",
    "Operator",
    "Plan",
    "Project",
    "Repartition",
    "SelectKey",
    "Sink",
    "Source",
    "Store",
    "StreamKind",
    "SubTopology",
    "TABLE_AGGREGATE_FUNCTIONS",
    "ToStream",
    "ToTable",
    "View",
    "Window",
    "asdict",
    "changelog_config",
    "complete_plan",
    "emits_final",
    "emits_windows",
    "operator_stores",
    "plan_from_dict",
    "plan_from_json",
    "plan_to_dict",
    "plan_to_json",
    "upgrade_format_1",
    "with_hash",
]
