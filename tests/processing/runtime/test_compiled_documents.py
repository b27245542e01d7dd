"""End to end without a broker: editor documents → compile_document → TopologyTestDriver."""

from __future__ import annotations

import orjson

from processing.runtime.testing import TopologyTestDriver
from tests.topology.compiler.documents import page_views
from topology.compiler import compile_document


def compiled(document):
    result = compile_document(document)
    assert result.ok, [i.to_dict() for i in result.issues]
    return result.plan


def test_the_talks_example_counts_two_topics_by_record_key():
    plan = compiled(
        {
            "name": "group-by-counts",
            "nodes": [
                {"id": "a", "type": "source", "config": {"topics": ["A"]}},
                {"id": "b", "type": "source", "config": {"topics": ["B"]}},
                {"id": "both", "type": "merge", "config": {}},
                {"id": "counts", "type": "aggregate", "config": {"aggregations": {"count": "COUNT(*)"}}},
                {"id": "out", "type": "sink", "config": {"topic": "group-by-counts"}},
            ],
            "edges": [
                {"source": "a", "target": "both"},
                {"source": "b", "target": "both"},
                {"source": "both", "target": "counts"},
                {"source": "counts", "target": "out"},
            ],
        }
    )
    driver = TopologyTestDriver(plan, partitions=2)
    for n, key in enumerate(["x", "y", "x", "z", "x", "y"]):
        driver.pipe_input("A" if n % 2 else "B", key, {"n": n}, timestamp=n)
    latest = {k: v["count"] for k, v, _ in driver.read_output("group-by-counts")}
    assert latest == {"x": 3, "y": 2, "z": 1}


def test_page_views_grouped_by_page_in_tumbling_windows_reach_the_sink_and_the_view():
    plan = compiled(page_views())
    assert len(plan.subtopologies) == 2
    driver = TopologyTestDriver(plan, app_id="pv", partitions=2)
    rows = [
        ("u1", {"region": "eu", "page": "/a", "duration_ms": 200}, 1_000),
        ("u2", {"region": "us", "page": "/a", "duration_ms": 900}, 2_000),
        ("u3", {"region": "eu", "page": "/a", "duration_ms": 400}, 3_000),
        ("u4", {"region": "eu", "page": "/b", "duration_ms": 150}, 61_000),
    ]
    for key, value, ts in rows:
        driver.pipe_input("pageviews", key, value, timestamp=ts)
    table = {
        (orjson.loads(k)["key"], orjson.loads(k)["window_start"]): v for k, v in driver.table("live").items()
    }
    assert table == {("/a", 0): {"views": 2, "avg_ms": 300.0}, ("/b", 60_000): {"views": 1, "avg_ms": 150.0}}
    assert len(driver.read_output("views-by-page")) == 3
    assert driver.metrics()["eu_only"] == {"in": 4, "out": 3, "errors": 0, "late": 0}
    assert [v["page"] for _, v, _ in driver.node_outputs("eu_only")] == ["/a", "/a", "/b"]


def test_orders_enriched_with_customers_through_a_stream_table_left_join():
    plan = compiled(
        {
            "name": "enrich",
            "nodes": [
                {"id": "orders", "type": "source", "config": {"topics": ["orders"]}},
                {"id": "customers", "type": "table_source", "config": {"topic": "customers"}},
                {"id": "enrich", "type": "join", "config": {"how": "left"}},
                {"id": "out", "type": "sink", "config": {"topic": "enriched"}},
            ],
            "edges": [
                {"source": "orders", "target": "enrich", "target_port": "left"},
                {"source": "customers", "target": "enrich", "target_port": "right"},
                {"source": "enrich", "target": "out"},
            ],
        }
    )
    driver = TopologyTestDriver(plan)
    driver.pipe_input("customers", "c1", {"name": "Ann"}, timestamp=1)
    driver.pipe_input("orders", "c1", {"total": 5}, timestamp=2)
    driver.pipe_input("orders", "c2", {"total": 7}, timestamp=3)
    assert driver.read_output("enriched") == [("c1", {"name": "Ann", "total": 5}, 2), ("c2", {"total": 7}, 3)]
    task = next(iter(driver.tasks.values()))
    assert set(task.changelog_topics) == {s.name for s in plan.stores}
