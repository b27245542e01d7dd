"""SELECT in ``manage.py sql``: push queries print their rows as they arrive, pull queries
their table, as ksqlDB's CLI does (``+---+`` borders around query results).

The query runs in the command's own process (processing/selects.py, the same code as
``/query``): a push query's consumer is this process's, and it ends at LIMIT, at Ctrl-C, or
when its sources fail. ``--output json`` prints ksqlDB's ``/query`` elements, one a line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from processing import push
from processing.selects import Started, start_statement
from processing.sqlengine.session import Session

MIN_WIDTH = 12
MAX_WIDTH = 40


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "))


class Table:
    """Rows drawn one at a time, with widths fixed by the header (a push query's rows come
    after the header is printed)."""

    def __init__(self, names: list[str], rows: Sequence[list[Any]] = ()) -> None:
        # a pull query's rows are known before the header: they widen their columns
        widest = [
            max([len(n), *(len(_cell(row[i])) for row in rows if i < len(row))]) for i, n in enumerate(names)
        ]
        self.widths = [min(max(width, MIN_WIDTH), MAX_WIDTH) for width in widest]
        self.names = names

    def rule(self) -> str:
        return "+" + "+".join("-" * w for w in self.widths) + "+"

    def line(self, cells: list[str]) -> str:
        fitted = []
        for cell, width in zip(cells, self.widths, strict=False):
            fitted.append(cell if len(cell) <= width else cell[: width - 1] + "…")
        return "|" + "|".join(c.ljust(w) for c, w in zip(fitted, self.widths, strict=False)) + "|"

    def header(self) -> str:
        return "\n".join((self.rule(), self.line(self.names), self.rule()))

    def row(self, values: list[Any]) -> str:
        return self.line([_cell(v) for v in values])


def run_query(text: str, user: Any, session: Session, output: str, write: Callable[[str], None]) -> None:
    """Run one SELECT and write what it returns; StatementRefused when it cannot start."""
    properties = dict(session.properties)
    started = start_statement(text, properties, user, dict(session.variables))
    names = [c.name for c in started.columns]
    if output == "json":
        write(json.dumps({"header": {"queryId": started.query_id, "schema": started.schema}}))
    table = Table(names, started.rows if started.push is None else [])
    if output != "json":
        write(table.header())
    count = 0
    for row in _rows(started):
        count += 1
        write(json.dumps({"row": {"columns": list(row)}}) if output == "json" else table.row(list(row)))
    if output == "json":
        return
    write(table.rule())
    ended = started.push.end_reason if started.push is not None else None
    if ended == push.LIMIT_REACHED:
        write(push.LIMIT_REACHED)
    elif ended and ended != push.QUERY_CLOSED and started.push is not None:
        write(f"Query ended: {started.push.error or ended}")
    write(f"{count} row{'s' if count != 1 else ''} returned" if started.push is None else "Query terminated")


def _rows(started: Started):
    if started.push is None:
        yield from started.rows
        return
    query = started.push
    try:
        yield from query.rows()
    except KeyboardInterrupt:  # Ctrl-C ends a push query, not the CLI
        pass
    finally:
        query.close()
