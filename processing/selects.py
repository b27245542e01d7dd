"""Running one SELECT: a push query started, or a pull query answered (REST and the CLI).

``start_statement(text, properties, user)`` parses a query, looks its sources up in the
user's catalog and either starts a push query (``processing/push.py``; ``EMIT CHANGES`` or
``EMIT FINAL``) or runs a pull query over a materialized table (``processing/pull.py``).
Refusals are ``StatementRefused`` carrying ksqlDB's error body. ``/query`` and
``/query-stream`` (config/ksqldb_stream.py) and ``manage.py sql`` share it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from processing import pull, push
from processing.ksqldb import ErrorCode, statement_error
from topology.sql import SqlError, parse_statement
from topology.sql.ast import Emit, Select
from topology.sql.catalog import Column, split_top_level
from topology.sql.translate import translate_push


@dataclass
class Started:
    """A statement of /query or /query-stream, started: a push query's rows to stream, or a
    pull query's rows all at once."""

    query_id: str
    schema: str
    columns: tuple[Column, ...]
    push: push.PushQuery | None = None
    rows: list[list[Any]] = field(default_factory=list)


class StatementRefused(Exception):
    def __init__(self, body: dict[str, Any], code: ErrorCode) -> None:
        super().__init__(body.get("message"))
        self.body = body
        self.code = code


def start_statement(
    text: str, properties: dict[str, Any], user: Any, variables: dict[str, str] | None = None
) -> Started:
    """Parse and start the query ``text`` (``${name}`` from ``variables``); StatementRefused
    (ksqlDB's error body) when it cannot."""
    try:
        statement = parse_statement(text, variables)
    except SqlError as exc:
        raise StatementRefused(statement_error(str(exc), text), ErrorCode.BAD_STATEMENT) from None
    if not isinstance(statement, Select):
        raise StatementRefused(
            statement_error(
                f"{statement.text.split(None, 1)[0].upper()} is a statement for /ksql; "
                "/query and /query-stream run SELECT queries",
                statement.text,
            ),
            ErrorCode.BAD_STATEMENT,
        )
    catalog = push.catalog_for(user)
    try:
        if statement.emit is Emit.CHANGES or statement.emit is Emit.FINAL:
            return _start_push(statement, properties, catalog)
        return _run_pull(statement, catalog, user)
    except SqlError as exc:
        raise StatementRefused(statement_error(str(exc), statement.text), ErrorCode.BAD_STATEMENT) from None
    except push.PushQueryError as exc:
        raise StatementRefused(statement_error(str(exc), statement.text), ErrorCode.BAD_STATEMENT) from None


def _start_push(select: Select, properties: dict[str, Any], catalog: Any) -> Started:
    query_id = push.new_query_id(select.from_.name.value)
    offset_reset = push.offset_reset_of(properties)
    translation = translate_push(
        select, catalog, topic=push.virtual_topic(query_id), offset_reset=offset_reset
    )
    query = push.start_push_query(
        translation,
        limit=select.limit,
        properties={k: str(v) for k, v in properties.items()},
        query_id=query_id,
    )
    return Started(query_id, query.schema, translation.output.columns, push=query)


def _run_pull(select: Select, catalog: Any, user: Any) -> Started:
    name = select.from_.name
    source = catalog.source(name.value)
    if source is None:
        raise SqlError(
            f"{name.value} does not exist", line=name.span.line, column=name.span.column, token=name.text
        )
    rows = pull.materialized_rows(source, user)
    if rows is None:
        raise SqlError(
            f"{name.value} is not materialized: pull queries read a table a running query keeps "
            "(CREATE TABLE ... AS SELECT); use EMIT CHANGES for a push query",
            line=name.span.line,
            column=name.span.column,
            token=name.text,
        )
    schema, result = pull.run_pull(select, source, rows)
    columns = _columns_of_schema(schema)
    return Started(f"query_{int(time.time() * 1000)}", schema, columns, rows=result)


def _columns_of_schema(schema: str) -> tuple[Column, ...]:
    columns = []
    for part in split_top_level(schema):
        name, _, rest = part[1:].partition("` ")
        key = rest.endswith(" KEY")
        type_ = rest.removesuffix(" PRIMARY KEY").removesuffix(" KEY")
        columns.append(Column(name.replace("``", "`"), type_, key=key))
    return tuple(columns)
