"""What SQL knows about a stream or table: its columns, key, topic and formats (pure).

``SourceDef`` is the translator's view of one catalog entry; the Django catalog
(``topology.models.SqlSource``) stores ``to_dict()`` and rebuilds it with ``from_dict``.
``define_source`` turns ``CREATE STREAM|TABLE name (...) WITH (...)`` into one, checking
what ksqlDB checks (a topic, a value format, key columns only on streams, a primary key on
tables, known formats and properties), with every error located at the offending token.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from topology.sql.ast import CreateSource, Property, SourceKind, Span
from topology.sql.errors import SqlError

# ksqlDB's formats → the runtime's serde names (topology/compiler/catalog.py ``Format``).
KEY_FORMATS = {"KAFKA": "string", "JSON": "json", "NONE": "string"}
VALUE_FORMATS = {"JSON": "json", "KAFKA": "string"}
# ksqlDB's KAFKA format of a numeric column is a big-endian number: Weir's long/integer/double serdes.
KAFKA_NUMERIC = {"BIGINT": "long", "INTEGER": "integer", "DOUBLE": "double"}
SOURCE_PROPERTIES = (
    "KAFKA_TOPIC",
    "VALUE_FORMAT",
    "KEY_FORMAT",
    "FORMAT",
    "PARTITIONS",
    "REPLICAS",
    "TIMESTAMP",
    "TIMESTAMP_FORMAT",
    "KEY_SCHEMA_ID",
    "VALUE_SCHEMA_ID",
    "WRAP_SINGLE_VALUE",
    "RETENTION_MS",
)


@dataclass(frozen=True, slots=True)
class Column:
    """A column: its name as ksqlDB resolves it (upper-cased unless quoted), its type's text
    (``STRING``, ``ARRAY<INTEGER>``, ...), and whether it is a key column."""

    name: str
    type: str
    key: bool = False
    # As written in CREATE, when unquoted and not already upper-case: JSON fields are matched
    # by this spelling and in lower case too (ksqlDB matches JSON field names ignoring case).
    text: str | None = None

    def json_names(self) -> tuple[str, ...]:
        """The JSON field names a value column is read from, in order of preference."""
        names = [self.name]
        for other in (self.text, self.name.lower()):
            if other and other not in names:
                names.append(other)
        return tuple(names) if self.text is not None else (self.name,)


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """The window of a windowed table's key (a CTAS with WINDOW): type and size in ms."""

    type: str  # TUMBLING, HOPPING, SESSION, SLIDING
    size_ms: int


@dataclass(frozen=True)
class SourceDef:
    name: str
    kind: str  # "STREAM" or "TABLE"
    topic: str
    columns: tuple[Column, ...]
    key_format: str = "KAFKA"
    value_format: str = "JSON"
    timestamp: str | None = None  # a column name
    timestamp_format: str | None = None  # a Java DateTimeFormatter pattern
    partitions: int | None = None
    replicas: int | None = None
    window: WindowInfo | None = None
    source: bool = False  # CREATE SOURCE TABLE / STREAM: read-only, pull-queryable
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.key)

    @property
    def value_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.key)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def schema_text(self) -> str:
        """ksqlDB's schema string of a query header: ```ID` STRING KEY, `X` INTEGER``."""
        parts = []
        for column in self.columns:
            suffix = (" PRIMARY KEY" if self.kind == "TABLE" else " KEY") if column.key else ""
            parts.append(f"`{column.name}` {column.type}{suffix}")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "topic": self.topic,
            "columns": [_column_dict(c) for c in self.columns],
            "key_format": self.key_format,
            "value_format": self.value_format,
            "timestamp": self.timestamp,
            "timestamp_format": self.timestamp_format,
            "partitions": self.partitions,
            "replicas": self.replicas,
            "window": None
            if self.window is None
            else {"type": self.window.type, "size_ms": self.window.size_ms},
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceDef:
        window = data.get("window")
        return cls(
            name=data["name"],
            kind=data["kind"],
            topic=data["topic"],
            columns=tuple(
                Column(c["name"], c["type"], bool(c.get("key")), c.get("text")) for c in data["columns"]
            ),
            key_format=data.get("key_format", "KAFKA"),
            value_format=data.get("value_format", "JSON"),
            timestamp=data.get("timestamp"),
            timestamp_format=data.get("timestamp_format"),
            partitions=data.get("partitions"),
            replicas=data.get("replicas"),
            window=None if not window else WindowInfo(window["type"], int(window["size_ms"])),
            source=bool(data.get("source")),
        )


def split_top_level(text: str) -> list[str]:
    """``A INTEGER, B MAP<STRING, INTEGER>`` → its top-level comma-separated parts, stripped
    (commas inside ``<...>`` and ``(...)`` stay): type lists and schema strings."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index].strip())
            start = index + 1
    parts.append(text[start:].strip())
    return [part for part in parts if part]


def _column_dict(column: Column) -> dict[str, Any]:
    data: dict[str, Any] = {"name": column.name, "type": column.type, "key": column.key}
    if column.text is not None:
        data["text"] = column.text
    return data


class Catalog(Protocol):
    """What the translator asks of the catalog: a source by its resolved name, or None."""

    def source(self, name: str) -> SourceDef | None: ...


class DictCatalog:
    """A catalog over a dict (tests, and a script's statements seen so far)."""

    def __init__(self, sources: Mapping[str, SourceDef] | None = None) -> None:
        self.sources: dict[str, SourceDef] = dict(sources or {})

    def source(self, name: str) -> SourceDef | None:
        return self.sources.get(name)

    def add(self, source: SourceDef) -> None:
        self.sources[source.name] = source


def error_at(span: Span, message: str, token: str, code: str = "sql.semantic") -> SqlError:
    """A SqlError at ``span``: the translator's one way to refuse something."""
    return SqlError(message, line=span.line, column=span.column, token=token, offset=span.offset, code=code)


def _property(properties: tuple[Property, ...], name: str) -> Property | None:
    return next((p for p in properties if p.name == name), None)


def define_source(statement: CreateSource) -> SourceDef:
    """The catalog entry a ``CREATE STREAM|TABLE`` statement declares (no topic is touched)."""
    for prop in statement.properties:
        if prop.name not in SOURCE_PROPERTIES:
            raise error_at(
                prop.span,
                f"unknown property {prop.name}; a source takes " + ", ".join(SOURCE_PROPERTIES[:8]),
                prop.name,
            )
    topic = _property(statement.properties, "KAFKA_TOPIC")
    if topic is None or not isinstance(topic.value.value, str) or not topic.value.value:
        raise error_at(
            statement.name.span,
            f"{statement.kind.value} {statement.name.value} needs WITH (KAFKA_TOPIC='...')",
            statement.name.text,
        )
    both = _property(statement.properties, "FORMAT")
    value_prop = _property(statement.properties, "VALUE_FORMAT") or both
    key_prop = _property(statement.properties, "KEY_FORMAT") or both
    value_format = _format(value_prop, VALUE_FORMATS, "JSON") if value_prop else None
    if value_format is None:
        raise error_at(
            statement.name.span,
            f"{statement.kind.value} {statement.name.value} needs WITH (VALUE_FORMAT='JSON')",
            statement.name.text,
        )
    key_format = _format(key_prop, KEY_FORMATS, "KAFKA") if key_prop else "KAFKA"
    columns = []
    seen: set[str] = set()
    for definition in statement.columns:
        name = definition.name.value
        if name in seen:
            raise error_at(definition.name.span, f"column {name} is defined twice", definition.name.text)
        seen.add(name)
        if statement.kind is SourceKind.TABLE and definition.key:
            raise error_at(
                definition.span,
                f"column {name}: a table's key column is declared PRIMARY KEY, not KEY",
                definition.name.text,
            )
        if statement.kind is SourceKind.STREAM and definition.primary_key:
            raise error_at(
                definition.span,
                f"column {name}: a stream's key column is declared KEY, not PRIMARY KEY",
                definition.name.text,
            )
        written = definition.name.text
        text = written if not definition.name.quoted and written != name else None
        columns.append(Column(name, definition.type.text, definition.key or definition.primary_key, text))
    if statement.kind is SourceKind.TABLE and columns and not any(c.key for c in columns):
        raise error_at(
            statement.name.span,
            f"table {statement.name.value} needs a PRIMARY KEY column",
            statement.name.text,
        )
    timestamp = _property(statement.properties, "TIMESTAMP")
    timestamp_name = None
    if timestamp is not None:
        timestamp_name = (
            str(timestamp.value.value).upper() if isinstance(timestamp.value.value, str) else None
        )
        if timestamp_name is None or timestamp_name not in seen:
            raise error_at(
                timestamp.value.span,
                f"TIMESTAMP names column {timestamp.value.value!r}, which {statement.name.value} does not have",
                str(timestamp.value.value),
            )
    return SourceDef(
        name=statement.name.value,
        kind=statement.kind.value,
        topic=str(topic.value.value),
        columns=tuple(columns),
        key_format=key_format,
        value_format=value_format,
        timestamp=timestamp_name,
        timestamp_format=_string_property(statement.properties, "TIMESTAMP_FORMAT"),
        partitions=_int_property(statement.properties, "PARTITIONS"),
        replicas=_int_property(statement.properties, "REPLICAS"),
        source=statement.source,
    )


def _format(prop: Property, known: Mapping[str, str], default: str) -> str:
    value = prop.value.value
    if not isinstance(value, str):
        raise error_at(prop.value.span, f"{prop.name} is a format name such as '{default}'", str(value))
    upper = value.upper()
    if upper not in known:
        raise error_at(
            prop.value.span,
            f"{prop.name} {value!r} is not supported; Weir reads " + ", ".join(sorted(known)),
            value,
            code="sql.unsupported",
        )
    return upper


def _string_property(properties: tuple[Property, ...], name: str) -> str | None:
    prop = _property(properties, name)
    if prop is None:
        return None
    if not isinstance(prop.value.value, str):
        raise error_at(prop.value.span, f"{name} is a string", str(prop.value.value))
    return prop.value.value


def _int_property(properties: tuple[Property, ...], name: str) -> int | None:
    prop = _property(properties, name)
    if prop is None:
        return None
    value = prop.value.value
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise error_at(prop.value.span, f"{name} is a positive whole number", str(value))
    return value
