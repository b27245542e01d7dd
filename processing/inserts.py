"""``INSERT INTO source [(columns)] VALUES (...)``: one record written to the source's topic.

``evaluate_values(expressions)`` turns the VALUES expressions (literals, arithmetic, simple
functions; no column references) into Python values with ``topology.sql.compile_clause``.
``insert_values(source, columns, values)`` checks them against the declared column types and
writes the record as ksqlDB would, waiting for the broker's acknowledgement
(``run_insert_values(statement, catalog)`` does both for a parsed statement, with located errors):

- key columns make the record key: one key column is its value (KAFKA format: a string, or the
  big-endian number of a BIGINT, INTEGER or DOUBLE column, as the catalog's KAFKA_NUMERIC maps them),
  several are a JSON object ``{column: value}``;
- value columns make the JSON object ``{column: value}`` (every value column, null when not
  given, as ksqlDB writes them);
- ``ROWTIME`` sets the record's timestamp (epoch ms); without it the producer's clock does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings

from processing.runtime import serde
from topology.sql import compile_clause
from topology.sql.ast import Expression, InsertValues
from topology.sql.catalog import (
    KAFKA_NUMERIC,
    KEY_FORMATS,
    VALUE_FORMATS,
    Catalog,
    Column,
    SourceDef,
    error_at,
    split_top_level,
)

INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)


class InsertError(ValueError):
    """Values that do not fit the target; the message names the column (``column``, when one)."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


def evaluate_values(expressions: Sequence[Expression]) -> list[Any]:
    """The value of each VALUES expression; a column reference is an error located at it."""
    return [compile_clause(expression, fields={})({}) for expression in expressions]


def check_value(type_text: str, value: Any, where: str) -> Any:
    """``value`` as a column of ksqlDB type ``type_text`` holds it; InsertError naming ``where``."""
    if value is None:
        return None
    text = type_text.strip()
    base = text.split("<", 1)[0].split("(", 1)[0].strip().upper()
    inner = text[text.index("<") + 1 : text.rindex(">")] if "<" in text else ""

    column = where.split("[", 1)[0].split("->", 1)[0]

    def refuse(expected: str) -> InsertError:
        return InsertError(f"column {where}: expected {expected}, got {value!r}", column)

    if base in ("STRING", "VARCHAR"):
        if not isinstance(value, str):
            raise refuse("a STRING")
        return value
    if base in ("INTEGER", "INT", "BIGINT"):
        low, high = INT32 if base != "BIGINT" else INT64
        if isinstance(value, bool) or not isinstance(value, int):
            raise refuse(f"an {base}" if base != "BIGINT" else "a BIGINT")
        if not low <= value <= high:
            raise InsertError(f"column {where}: {value} is out of range for {base}", column)
        return value
    if base in ("DOUBLE", "DECIMAL"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise refuse(f"a {base}")
        return float(value) if base == "DOUBLE" else value
    if base == "BOOLEAN":
        if not isinstance(value, bool):
            raise refuse("a BOOLEAN")
        return value
    if base == "ARRAY":
        if not isinstance(value, list):
            raise refuse(f"an {text}")
        return [check_value(inner, item, f"{where}[{index}]") for index, item in enumerate(value)]
    if base == "MAP":
        if not isinstance(value, dict):
            raise refuse(f"a {text}")
        value_type = split_top_level(inner)[-1] if inner else "STRING"
        return {str(k): check_value(value_type, v, f"{where}[{k!r}]") for k, v in value.items()}
    if base == "STRUCT":
        if not isinstance(value, dict):
            raise refuse(f"a {text}")
        fields = dict(part.split(None, 1) for part in split_top_level(inner))
        unknown = sorted(set(value) - set(fields))
        if unknown:
            raise InsertError(f"column {where}: the struct has no field {unknown[0]}", column)
        return {
            name: check_value(fields[name], value.get(name), f"{where}->{name}")
            for name in fields
            if name in value
        }
    # BYTES, DATE, TIME, TIMESTAMP: written as given (ksqlDB's JSON text of them).
    return value


def record_of(
    source: SourceDef, columns: Sequence[str], values: Sequence[Any]
) -> tuple[bytes | None, bytes | None, int | None]:
    """The (key, value, timestamp) bytes ``INSERT INTO source (columns) VALUES (values)`` writes."""
    names = list(columns) or [c.name for c in source.columns]
    if len(names) != len(values):
        raise InsertError(
            f"{len(names)} column(s) but {len(values)} value(s) for {source.name}: give one value per column"
        )
    given: dict[str, Any] = {}
    timestamp = None
    for name, value in zip(names, values, strict=True):
        if name in given:
            raise InsertError(f"column {name} is given twice", name)
        if name == "ROWTIME":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InsertError(
                    f"column ROWTIME: expected epoch milliseconds (a BIGINT), got {value!r}", "ROWTIME"
                )
            timestamp = value
            continue
        column = source.column(name)
        if column is None:
            known = ", ".join(c.name for c in source.columns)
            raise InsertError(f"{source.name} has no column {name}; its columns are {known}", name)
        given[name] = check_value(column.type, value, name)
    keys = source.key_columns
    if source.kind == "TABLE":
        missing = [c.name for c in keys if given.get(c.name) is None]
        if missing:
            raise InsertError(f"table {source.name}: a value for primary key column {missing[0]} is required")
    return _encode_key(source, keys, given), _encode_value(source, given), timestamp


def _encode_key(source: SourceDef, keys: Sequence[Column], given: dict[str, Any]) -> bytes | None:
    if not keys:
        return None
    try:
        if len(keys) == 1:
            fmt = KEY_FORMATS.get(source.key_format, "string")
            if source.key_format == "KAFKA":
                fmt = KAFKA_NUMERIC.get(keys[0].type.upper(), "string")
            return serde.key_encoder(fmt)(given.get(keys[0].name))
        return serde.key_encoder("json")({c.name: given.get(c.name) for c in keys})
    except serde.SerdeError as exc:
        raise InsertError(f"key of {source.name}: {exc}") from None


def _encode_value(source: SourceDef, given: dict[str, Any]) -> bytes | None:
    columns = source.value_columns
    if source.value_format == "KAFKA":
        if len(columns) != 1:
            raise InsertError(f"{source.name} has VALUE_FORMAT='KAFKA', which holds exactly one value column")
        fmt = KAFKA_NUMERIC.get(columns[0].type.upper(), "string")
        try:
            return serde.value_encoder(fmt)(given.get(columns[0].name))
        except serde.SerdeError as exc:
            raise InsertError(f"column {columns[0].name}: {exc}") from None
    fmt = VALUE_FORMATS.get(source.value_format, "json")
    return serde.value_encoder(fmt)({c.name: given.get(c.name) for c in columns})


def insert_values(source: SourceDef, columns: list[str], values: list[Any]) -> None:
    """Write one record to ``source``'s topic and wait for the broker (InsertError for values
    that do not fit, naming the column; TailError when Kafka does not take the record)."""
    from processing.runtime.kafka.transient import produce_now

    key, value, timestamp = record_of(source, columns, values)
    produce_now(settings.KAFKA_CLIENT_CONFIG, source.topic, [(key, value, timestamp)])


def run_insert_values(statement: InsertValues, catalog: Catalog) -> SourceDef:
    """``INSERT INTO ... VALUES`` as a statement: the target looked up in ``catalog``, the values
    evaluated, checked and written. Every refusal is a SqlError located at the target, the
    column's value, or the statement; returns the target."""
    target = statement.target
    source = catalog.source(target.value)
    if source is None:
        raise error_at(target.span, f"{target.value} does not exist", target.text)
    if source.source:
        raise error_at(
            target.span,
            f"cannot insert into {target.value}: it was declared with CREATE SOURCE, which is read-only",
            target.text,
        )
    values = evaluate_values(statement.values)
    columns = [c.value for c in statement.columns]
    try:
        insert_values(source, columns, values)
    except InsertError as exc:
        names = columns or [c.name for c in source.columns]
        where = statement.span
        if exc.column in names and names.index(exc.column) < len(statement.values):
            where = statement.values[names.index(exc.column)].span
        raise error_at(where, str(exc), exc.column or target.text) from None
    return source
