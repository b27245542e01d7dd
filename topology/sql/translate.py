"""Queries → topology documents (pure): one document per persistent query, never a second runtime.

``translate(statement, catalog, name=...)`` turns ``CREATE STREAM|TABLE ... AS SELECT`` and
``INSERT INTO ... SELECT`` into a topology document (the same JSON the editor saves) and the
``SourceDef`` of what it writes; ``translate_push(select, catalog, topic=...)`` turns a push
query into a document whose one sink writes ``topic`` (the push-query runner reads that
sink's output in memory; the topic is never created).

How a query becomes nodes (docs/sql.md, "How SQL becomes a topology"):

- each FROM/JOIN source is a ``source`` (stream) or ``table_source`` (table) node, followed by
  a ``map`` node, ``<alias>_row``, that makes the row ksqlDB's queries see: every declared
  column by its name, key columns copied from the record key (ksqlDB's key columns are not in
  the value);
- WHERE is a ``filter``; joins are ``join`` nodes (re-keying a side with ``left_key``/
  ``right_key`` when ON is not on its key); GROUP BY is an ``aggregate`` (its aggregations
  named ``KSQL_AGG_n``), HAVING a filter on its table, the projection a ``map``;
  PARTITION BY a ``select_key``;
- the result is written by a ``sink`` node ``sink`` (key columns back into the record key,
  the value without them), and a table also feeds a ``view`` node ``table``: the serving
  copy that pull queries read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from topology.sql.ast import CreateAsSelect, InsertIntoSelect, Select
from topology.sql.catalog import Catalog, SourceDef

SINK_NODE = "sink"
VIEW_NODE = "table"


@dataclass(frozen=True)
class Translation:
    """A query as a topology document, what it writes, and which catalog sources it reads."""

    document: dict[str, Any]
    output: SourceDef  # the stream or table the query writes (for a push query: its rows)
    reads: tuple[str, ...]  # catalog names of the sources it reads, in FROM/JOIN order
    sink_node: str = SINK_NODE
    view_node: str | None = None  # set for tables: the view node pull queries read
    offset_reset: str = "earliest"


def translate(
    statement: CreateAsSelect | InsertIntoSelect, catalog: Catalog, *, name: str
) -> Translation:
    """The document of a persistent query named ``name`` (its topology's name)."""
    raise NotImplementedError


def translate_push(select: Select, catalog: Catalog, *, topic: str, offset_reset: str = "latest") -> Translation:
    """The document of a transient push query whose rows are what its sink writes to ``topic``."""
    raise NotImplementedError


def row_columns(output: SourceDef, key: Any, value: Any) -> list[Any]:
    """One output record as the row of ksqlDB's REST answers: key columns, then value columns.

    A single key column is the record key itself; several are the composite key object
    ``{name: value}``. Value columns are read from the value object by name."""
    keys = output.key_columns
    if len(keys) == 1:
        key_values = [key]
    else:
        key_values = [key.get(c.name) if isinstance(key, dict) else None for c in keys]
    values = value if isinstance(value, dict) else {}
    return [*key_values, *(values.get(c.name) for c in output.value_columns)]
