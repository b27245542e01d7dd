"""Example documents shared by the compiler tests (plain dicts, as the editor sends them)."""

from __future__ import annotations

import copy
from typing import Any

# The example from issue 3: filter, windowed count/avg grouped by page, sink and view. The
# compiler tests, the topology app's DB tests and the runtime's end-to-end tests all use it.
PAGE_VIEWS: dict[str, Any] = {
    "name": "page-views-by-region",
    "nodes": [
        {
            "id": "views",
            "type": "source",
            "config": {"topics": ["pageviews"], "value_format": "json"},
            "position": {"x": 80, "y": 120},
        },
        {
            "id": "eu_only",
            "type": "filter",
            "config": {"where": "region = 'eu' AND duration_ms > 100"},
            "position": {"x": 280, "y": 120},
        },
        {
            "id": "by_page",
            "type": "aggregate",
            "config": {
                "group_by": "page",
                "aggregations": {"views": "COUNT(*)", "avg_ms": "AVG(duration_ms)"},
                "window": {"type": "tumbling", "size": "1m", "grace": "10s"},
            },
            "position": {"x": 480, "y": 120},
        },
        {"id": "out", "type": "sink", "config": {"topic": "views-by-page"}, "position": {"x": 680, "y": 60}},
        {
            "id": "live",
            "type": "view",
            "config": {"title": "Views by page"},
            "position": {"x": 680, "y": 180},
        },
    ],
    "edges": [
        {"source": "views", "target": "eu_only"},
        {"source": "eu_only", "target": "by_page"},
        {"source": "by_page", "target": "out"},
        {"source": "by_page", "target": "live"},
    ],
}


def page_views() -> dict[str, Any]:
    """A fresh copy of the issue 3 example, free to change."""
    return copy.deepcopy(PAGE_VIEWS)


def doc(
    nodes: list[dict[str, Any]], edges: list[tuple[str, ...] | dict[str, Any]], name: str = "t"
) -> dict[str, Any]:
    """Build a document; an edge is (source, target) or (source, target, source_port, target_port)."""
    built = []
    for edge in edges:
        if isinstance(edge, dict):
            built.append(edge)
            continue
        item: dict[str, Any] = {"source": edge[0], "target": edge[1]}
        if len(edge) > 2 and edge[2]:
            item["source_port"] = edge[2]
        if len(edge) > 3 and edge[3]:
            item["target_port"] = edge[3]
        built.append(item)
    return {"name": name, "nodes": nodes, "edges": built}


def node(node_id: str, type_: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "config": config}


def source(node_id: str = "src", topic: str = "in", **config: Any) -> dict[str, Any]:
    return node(node_id, "source", topics=[topic], **config)


def table(node_id: str = "tbl", topic: str = "tbl", **config: Any) -> dict[str, Any]:
    return node(node_id, "table_source", topic=topic, **config)


def sink(node_id: str = "out", topic: str = "out") -> dict[str, Any]:
    return node(node_id, "sink", topic=topic)


def view(node_id: str = "live", title: str = "Live") -> dict[str, Any]:
    return node(node_id, "view", title=title)


def orders_join_customers(**join_config: Any) -> dict[str, Any]:
    """A stream-table join: orders (stream) enriched with customers (table)."""
    return doc(
        [
            source("orders", "orders"),
            table("customers", "customers"),
            node("enrich", "join", **({"how": "left"} | join_config)),
            sink("out", "enriched"),
        ],
        [("orders", "enrich", None, "left"), ("customers", "enrich", None, "right"), ("enrich", "out")],
    )
