"""Hand-written translations of the shape ``translate_push`` returns, for the push-query tests.

``orders_over(topic, sink_topic, minimum)`` is ``SELECT ID, AMOUNT FROM ORDERS WHERE AMOUNT >
minimum EMIT CHANGES``: a source on ``topic``, the filter, the value without the key column,
and the ``sink`` node writing the virtual topic.
"""

from __future__ import annotations

from topology.sql.catalog import Column, SourceDef
from topology.sql.translate import Translation

ORDERS = SourceDef(
    name="ORDERS",
    kind="STREAM",
    topic="orders",
    columns=(Column("ID", "STRING", key=True), Column("AMOUNT", "INTEGER"), Column("REGION", "STRING")),
)


def orders_over(
    topic: str, sink_topic: str, minimum: int = 10, *, topics: list[str] | None = None
) -> Translation:
    output = SourceDef(
        name="ORDERS",
        kind="STREAM",
        topic=sink_topic,
        columns=(Column("ID", "STRING", key=True), Column("AMOUNT", "INTEGER")),
    )
    document = {
        "name": "push",
        "nodes": [
            {
                "id": "orders",
                "type": "source",
                "config": {"topics": topics or [topic], "value_format": "json"},
            },
            {"id": "where", "type": "filter", "config": {"where": f'"AMOUNT" > {minimum}'}},
            {"id": "project", "type": "map", "config": {"keep": ["AMOUNT"]}},
            {"id": "sink", "type": "sink", "config": {"topic": sink_topic}},
        ],
        "edges": [
            {"source": "orders", "target": "where"},
            {"source": "where", "target": "project"},
            {"source": "project", "target": "sink"},
        ],
    }
    return Translation(document=document, output=output, reads=("ORDERS",), offset_reset="latest")
