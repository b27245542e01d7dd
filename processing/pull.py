"""Pull queries: ``SELECT ... FROM table [WHERE ...] [LIMIT n]`` over a table's current rows.

``run_pull(select, source, rows)`` evaluates a pull query over rows given as ``(key, value)``
pairs, as a materialized view holds them: the key of a table with one key column is its value,
of a table with several the object ``{column: value}``; a windowed table's key is the view's
``{"key": ..., "window_start": ms, "window_end": ms}`` (docs/dashboards.md), read as the
``WINDOWSTART`` and ``WINDOWEND`` columns. Each row is the record ksqlDB's queries see (every
column by name, those two included), so the WHERE clause is any expression over columns,
compiled by ``topology.sql.compile_clause``: key lookups (``ID = 'a'``, ``ID IN (...)``),
window bounds (``WINDOWSTART >= ...``, ``BETWEEN``, ``AND``) and table scans alike. (ksqlDB
plans a key lookup differently from a scan; the rows are the same.)

``read_materialized(deployment_id, view_id)`` reads a live view's rows through the function
``settings.WEIR_VIEW_READER`` names (the dashboards' Redis serving copy, dashboard/serving.py),
so processing does not import dashboard. ``materialized_rows(source, user)`` finds the view of
a catalog table: the deployment of the persistent query that writes it, view node ``table``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from topology.compiler.expressions import CompiledExpression
from topology.sql import compile_clause
from topology.sql.ast import Select, SelectItemKind
from topology.sql.catalog import Column, SourceDef, error_at
from topology.sql.translate import VIEW_NODE

WINDOW_COLUMNS = ("WINDOWSTART", "WINDOWEND")
# ksqlDB's column types → the expression compiler's field types (type checks in WHERE).
_FIELD_TYPES = {
    "STRING": "string",
    "VARCHAR": "string",
    "INTEGER": "integer",
    "INT": "integer",
    "BIGINT": "integer",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "ARRAY": "array",
    "MAP": "object",
    "STRUCT": "object",
}
# The compiler's result types → ksqlDB's, for the schema of a computed column.
_SQL_TYPES = {
    "string": "STRING",
    "integer": "INTEGER",
    "double": "DOUBLE",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
}
_QUOTED_NAME = re.compile(r'"((?:[^"]|"")+)"')
DEFAULT_VIEW_READER = "dashboard.serving.read_table_sync"


def field_type(sql_type: str) -> str:
    """The expression compiler's type of a column of ksqlDB type ``sql_type``."""
    base = sql_type.split("<", 1)[0].split("(", 1)[0].strip().upper()
    if base == "DECIMAL":
        return "number"
    return _FIELD_TYPES.get(base, "any")


def row_columns_of(source: SourceDef) -> tuple[Column, ...]:
    """The columns a query over ``source`` sees, in ksqlDB's order: key columns, then
    WINDOWSTART and WINDOWEND for a windowed table, then value columns."""
    window = (
        tuple(Column(name, "BIGINT", key=True) for name in WINDOW_COLUMNS)
        if source.window is not None
        else ()
    )
    return (*source.key_columns, *window, *source.value_columns)


def source_row(source: SourceDef, key: Any, value: Any) -> dict[str, Any]:
    """The record a query sees for one ``(key, value)`` of ``source``'s view."""
    row: dict[str, Any] = {}
    if source.window is not None:
        windowed = key if isinstance(key, dict) else {}
        key = windowed.get("key")
        row["WINDOWSTART"] = windowed.get("window_start")
        row["WINDOWEND"] = windowed.get("window_end")
    keys = source.key_columns
    if len(keys) == 1:
        row[keys[0].name] = key
    else:
        for column in keys:
            row[column.name] = key.get(column.name) if isinstance(key, dict) else None
    values = value if isinstance(value, dict) else {}
    for column in source.value_columns:
        row[column.name] = values.get(column.name)
    return row


def _refuse_clauses(select: Select) -> None:
    span, what = None, ""
    if select.joins:
        span, what = select.joins[0].span, "JOIN"
    elif select.window is not None:
        span, what = select.window.span, "WINDOW"
    elif select.group_by:
        span, what = select.group_by[0].span, "GROUP BY"
    elif select.partition_by:
        span, what = select.partition_by[0].span, "PARTITION BY"
    elif select.having is not None:
        span, what = select.having.span, "HAVING"
    if span is not None:
        raise error_at(
            span,
            f"a pull query reads one table's rows and takes no {what}; add EMIT CHANGES for a push query",
            what,
            code="sql.unsupported",
        )


def _projection(
    select: Select, source: SourceDef, fields: dict[str, str]
) -> list[tuple[Column, CompiledExpression | None]]:
    """(output column, expression or None for a plain copy of the column of that name)."""
    out: list[tuple[Column, CompiledExpression | None]] = []
    for index, item in enumerate(select.items):
        if item.kind is not SelectItemKind.EXPRESSION or item.expression is None:
            out.extend((column, None) for column in row_columns_of(source))
            continue
        compiled = compile_clause(item.expression, fields=fields)
        bare = _bare_name(item.expression.sql)
        column = next((c for c in row_columns_of(source) if c.name == bare), None)
        name = item.alias.value if item.alias is not None else (bare or f"KSQL_COL_{index}")
        if column is not None:
            out.append((Column(name, column.type, key=column.key), None if name == column.name else compiled))
        else:
            out.append((Column(name, _SQL_TYPES.get(compiled.type, "STRING")), compiled))
    return out


def _bare_name(sql: str) -> str | None:
    """The column name when an expression is just a quoted name (``"ID"``), else None."""
    match = _QUOTED_NAME.fullmatch(sql.strip())
    if match is not None:
        return match.group(1).replace('""', '"')
    return sql.strip() if sql.strip() in WINDOW_COLUMNS else None


def schema_text(columns: Iterable[Column]) -> str:
    """ksqlDB's header schema of a pull query: key columns marked ``KEY``."""
    return ", ".join(f"`{c.name}` {c.type}{' KEY' if c.key else ''}" for c in columns)


def run_pull(
    select: Select, source: SourceDef, rows: Iterable[tuple[Any, Any]]
) -> tuple[str, list[list[Any]]]:
    """(schema text, rows as column lists) of the pull query ``select`` over ``source``'s rows.

    Raises SqlError located in the statement for clauses a pull query does not take and for
    expressions that do not compile (unknown columns, type errors)."""
    _refuse_clauses(select)
    fields = {c.name: field_type(c.type) for c in row_columns_of(source)}
    where = (
        compile_clause(select.where, fields=fields, expected_type="boolean")
        if select.where is not None
        else None
    )
    projection = _projection(select, source, fields)
    result: list[list[Any]] = []
    for key, value in rows:
        if select.limit is not None and len(result) >= select.limit:
            break
        if value is None:
            continue
        row = source_row(source, key, value)
        if where is not None and not where.predicate(row, key, None, None, None):
            continue
        result.append([row.get(column.name) if fn is None else fn(row, key) for column, fn in projection])
    return schema_text(column for column, _ in projection), result


def read_materialized(deployment_id: int, view_id: str) -> list[tuple[Any, Any]]:
    """The live rows of a deployment's view, as ``(key, value)`` pairs, read by the function
    ``settings.WEIR_VIEW_READER`` names (it returns ``(seq, {canonical key JSON: value})``)."""
    reader = import_string(getattr(settings, "WEIR_VIEW_READER", DEFAULT_VIEW_READER))
    _seq, table = reader(deployment_id, view_id)
    return [(json.loads(key), value) for key, value in table.items()]


def materialized_rows(source: SourceDef, user: Any = None) -> list[tuple[Any, Any]] | None:
    """The rows of a catalog table's live view, or None when no running query keeps one.

    The catalog entry (``topology.models.SqlSource`` of that name, as ``user`` sees it) names
    the persistent query that writes the table (``query``); that query's topology has the
    deployment, and its document the view node ``translate.VIEW_NODE`` whose serving copy
    the dashboards keep. None where the model or any link is missing."""
    from processing.models import Deployment
    from topology import models

    model = getattr(models, "SqlSource", None)
    if model is None:
        return None
    entries = model.objects
    entries = (
        entries.visible_to(user) if user is not None and hasattr(entries, "visible_to") else entries.all()
    )
    entry = entries.filter(name=source.name).first()
    topology_id = getattr(getattr(entry, "query", None), "topology_id", None)
    if topology_id is None:
        return None
    deployment = (
        Deployment.objects.filter(version__topology_id=topology_id).order_by("-created_at", "-id").first()
    )
    if deployment is None:
        return None
    return read_materialized(deployment.pk, VIEW_NODE)
