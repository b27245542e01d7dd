"""The statements ``topology.sql.parse`` returns: frozen dataclasses, one per statement form.

Every statement carries its ``text`` (as written, without the closing ';') and its ``span``;
every name, type, duration and clause expression carries its own span, so the next stage
(compiling statements to topology documents) can locate what it refuses. Clause
expressions are kept as text (``Expression``): the parser only checks that they read as
expressions; functions and columns are checked when they are compiled.

Names follow ksqlDB: an unquoted name is upper-cased (``Identifier.value``), a quoted one
keeps its case; ``Identifier.text`` is as written.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Span:
    """Where something is in the parsed text: 1-based line and column, and offsets
    (``end`` exclusive). Text that came from a ``${variable}`` is located at the reference."""

    line: int
    column: int
    offset: int
    end: int


@dataclass(frozen=True, slots=True)
class Identifier:
    value: str
    text: str
    quoted: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Expression:
    """A clause expression. ``text`` is as written (after variable substitution); ``sql`` is
    the same expression as ``topology.compiler.expressions`` reads it: names double-quoted as
    ksqlDB resolves them (upper-cased unless quoted), ``a->b`` written ``a.b``, lambdas
    ``x => e`` written ``x -> e``. ``topology.sql.expressions.compile_clause`` compiles it and
    locates the compiler's errors in the original text."""

    text: str
    sql: str
    span: Span
    # (offset in ``sql``, line, column, offset in the text) per token, for locating errors.
    locations: tuple[tuple[int, int, int, int], ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Duration:
    milliseconds: int
    text: str  # as written, e.g. "1 HOUR"
    span: Span


@dataclass(frozen=True, slots=True)
class Literal:
    """A literal in a WITH list: str, int, float or bool."""

    value: str | int | float | bool
    span: Span


class SourceKind(enum.Enum):
    STREAM = "STREAM"
    TABLE = "TABLE"


# --- types ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SqlType:
    """A column type. ``name`` is ksqlDB's base type: BOOLEAN, INTEGER, BIGINT, DOUBLE,
    DECIMAL, STRING, BYTES, DATE, TIME, TIMESTAMP, ARRAY, MAP, STRUCT (``INT`` is read as
    INTEGER, ``VARCHAR`` as STRING). ``text`` is its canonical rendering."""

    name: str
    span: Span
    precision: int | None = None  # DECIMAL(precision, scale)
    scale: int | None = None
    element: SqlType | None = None  # ARRAY<element>
    key: SqlType | None = None  # MAP<key, value>
    value: SqlType | None = None
    fields: tuple[StructField, ...] = ()  # STRUCT<name type, ...>

    @property
    def text(self) -> str:
        if self.name == "DECIMAL":
            return f"DECIMAL({self.precision}, {self.scale})"
        if self.name == "ARRAY" and self.element is not None:
            return f"ARRAY<{self.element.text}>"
        if self.name == "MAP" and self.key is not None and self.value is not None:
            return f"MAP<{self.key.text}, {self.value.text}>"
        if self.name == "STRUCT":
            return "STRUCT<" + ", ".join(f"{f.name.value} {f.type.text}" for f in self.fields) + ">"
        return self.name


@dataclass(frozen=True, slots=True)
class StructField:
    name: Identifier
    type: SqlType


@dataclass(frozen=True, slots=True)
class ColumnDefinition:
    name: Identifier
    type: SqlType
    key: bool  # KEY (a stream's key column)
    primary_key: bool  # PRIMARY KEY (a table's)
    span: Span


@dataclass(frozen=True, slots=True)
class Property:
    """``NAME = literal`` in a WITH list; ``name`` upper-cased (ksqlDB's are case-insensitive)."""

    name: str
    value: Literal
    span: Span


def property_value(properties: tuple[Property, ...], name: str) -> Any:
    """The value of property ``name`` (case-insensitive), or None."""
    wanted = name.upper()
    return next((p.value.value for p in properties if p.name == wanted), None)


# --- statements ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Statement:
    text: str
    span: Span


@dataclass(frozen=True, kw_only=True)
class CreateSource(Statement):
    """``CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name [(columns)] [WITH (...)]``."""

    kind: SourceKind
    name: Identifier
    columns: tuple[ColumnDefinition, ...]
    properties: tuple[Property, ...]
    or_replace: bool = False
    if_not_exists: bool = False
    source: bool = False


class SelectItemKind(enum.Enum):
    EXPRESSION = "expression"
    STAR = "*"  # SELECT *
    QUALIFIED_STAR = "qualified *"  # SELECT alias.*


@dataclass(frozen=True, slots=True)
class SelectItem:
    kind: SelectItemKind
    span: Span
    expression: Expression | None = None
    alias: Identifier | None = None
    qualifier: Identifier | None = None  # the source alias of ``alias.*``


@dataclass(frozen=True, slots=True)
class Relation:
    """``name [[AS] alias]`` in FROM or JOIN."""

    name: Identifier
    alias: Identifier | None
    span: Span


class JoinType(enum.Enum):
    INNER = "INNER"
    LEFT = "LEFT"
    RIGHT = "RIGHT"
    FULL = "FULL"


@dataclass(frozen=True, slots=True)
class JoinWindow:
    """``WITHIN n unit`` (before == after) or ``WITHIN (before unit, after unit)``."""

    before: Duration
    after: Duration
    grace: Duration | None
    span: Span


@dataclass(frozen=True, slots=True)
class Join:
    type: JoinType
    relation: Relation
    within: JoinWindow | None
    on: Expression
    span: Span


class WindowType(enum.Enum):
    TUMBLING = "TUMBLING"
    HOPPING = "HOPPING"
    SESSION = "SESSION"
    SLIDING = "SLIDING"


@dataclass(frozen=True, slots=True)
class Window:
    """``WINDOW type (...)``. ``size`` is the session gap for SESSION (written without SIZE);
    ``grace`` None means the statement gave none (ksqlDB's default applies later)."""

    type: WindowType
    size: Duration
    span: Span
    advance: Duration | None = None
    retention: Duration | None = None
    grace: Duration | None = None


class Emit(enum.Enum):
    CHANGES = "CHANGES"
    FINAL = "FINAL"


@dataclass(frozen=True, kw_only=True)
class Select(Statement):
    """``SELECT ... FROM ... [joins] [WINDOW] [WHERE] [GROUP BY] [PARTITION BY] [HAVING]
    [EMIT CHANGES|FINAL] [LIMIT n]``: a query statement (push or pull) and the query of a
    CREATE ... AS SELECT or INSERT INTO ... SELECT."""

    items: tuple[SelectItem, ...]
    from_: Relation
    joins: tuple[Join, ...] = ()
    window: Window | None = None
    where: Expression | None = None
    group_by: tuple[Expression, ...] = ()
    partition_by: tuple[Expression, ...] = ()
    having: Expression | None = None
    emit: Emit | None = None
    limit: int | None = None


@dataclass(frozen=True, kw_only=True)
class CreateAsSelect(Statement):
    """``CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS SELECT ...``."""

    kind: SourceKind
    name: Identifier
    properties: tuple[Property, ...]
    query: Select
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True, kw_only=True)
class InsertIntoSelect(Statement):
    """``INSERT INTO name [WITH (...)] SELECT ...``."""

    target: Identifier
    properties: tuple[Property, ...]
    query: Select


@dataclass(frozen=True, kw_only=True)
class InsertValues(Statement):
    """``INSERT INTO name [(columns)] VALUES (expressions)``."""

    target: Identifier
    columns: tuple[Identifier, ...]
    values: tuple[Expression, ...]


class ShowWhat(enum.Enum):
    STREAMS = "STREAMS"
    TABLES = "TABLES"
    TOPICS = "TOPICS"
    QUERIES = "QUERIES"
    FUNCTIONS = "FUNCTIONS"
    PROPERTIES = "PROPERTIES"
    VARIABLES = "VARIABLES"


@dataclass(frozen=True, kw_only=True)
class Show(Statement):
    """``SHOW|LIST what [EXTENDED]`` (``verb`` is SHOW or LIST; they mean the same)."""

    what: ShowWhat
    extended: bool = False
    verb: str = "SHOW"


@dataclass(frozen=True, kw_only=True)
class Describe(Statement):
    """``DESCRIBE [EXTENDED] name`` or ``DESCRIBE FUNCTION name`` (then ``function`` is set)."""

    name: Identifier
    extended: bool = False
    function: bool = False


@dataclass(frozen=True, kw_only=True)
class Explain(Statement):
    """``EXPLAIN statement`` (a query, CREATE ... AS SELECT or INSERT INTO ... SELECT) or
    ``EXPLAIN query_id``: exactly one of ``statement`` and ``query_id`` is set."""

    statement: Select | CreateAsSelect | InsertIntoSelect | None = None
    query_id: Identifier | None = None


@dataclass(frozen=True, kw_only=True)
class Terminate(Statement):
    """``TERMINATE query_id`` or ``TERMINATE ALL`` (then ``query_id`` is None)."""

    query_id: Identifier | None = None
    all: bool = False


@dataclass(frozen=True, kw_only=True)
class Drop(Statement):
    """``DROP STREAM|TABLE [IF EXISTS] name [DELETE TOPIC]``."""

    kind: SourceKind
    name: Identifier
    if_exists: bool = False
    delete_topic: bool = False


@dataclass(frozen=True, kw_only=True)
class SetProperty(Statement):
    """``SET 'name' = 'value'``."""

    name: str
    value: str


@dataclass(frozen=True, kw_only=True)
class UnsetProperty(Statement):
    """``UNSET 'name'``."""

    name: str


@dataclass(frozen=True, kw_only=True)
class Define(Statement):
    """``DEFINE name = 'value'``; ``name`` is upper-cased (variable names are case-insensitive)."""

    name: str
    value: str


@dataclass(frozen=True, kw_only=True)
class Undefine(Statement):
    """``UNDEFINE name``."""

    name: str


@dataclass(frozen=True, kw_only=True)
class RunScript(Statement):
    """``RUN SCRIPT 'path'``: the parser does not read the file."""

    path: str


QUERY_STATEMENTS = (Select, CreateAsSelect, InsertIntoSelect)
