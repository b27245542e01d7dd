"""describe(), compare_plans() and semantic_diff()."""

from __future__ import annotations

import copy
from typing import Any

from tests.topology.compiler.documents import doc, node, orders_join_customers, page_views, sink, source
from topology.compiler import compare_plans, compile_document, describe, semantic_diff
from topology.compiler.plan import Plan


def plan_of(document: dict[str, Any]) -> Plan:
    result = compile_document(document)
    assert result.ok, [str(issue) for issue in result.issues]
    return result.plan


def changed(document: dict[str, Any], node_id: str, **config: Any) -> dict[str, Any]:
    document = copy.deepcopy(document)
    for item in document["nodes"]:
        if item["id"] == node_id:
            item["config"].update(config)
    return document


# --- describe ------------------------------------------------------------------------------------


def test_describe_lists_subtopologies_with_sources_processors_and_sinks():
    text = describe(plan_of(page_views()))
    assert "Sub-topology: 0" in text and "Sub-topology: 1" in text
    assert "Source: views [source → stream] (topics: [pageviews])" in text
    assert "Sink: by_page.repartition [repartition → stream]" in text
    assert "Source: by_page.source [source → stream] (repartition: by_page)" in text
    assert "Processor: by_page [aggregate → table]" in text
    assert "--> eu_only" in text and "<-- views" in text
    assert (
        "by_page-store (window, retention 70000ms, node by_page, sub-topology 1; "
        "changelog: cleanup.policy=compact,delete, retention.ms=86470000)"
    ) in text
    assert "max parallelism" not in text


def test_describe_shows_max_parallelism_when_partitions_are_known():
    text = describe(plan_of(page_views()), {"pageviews": 6})
    assert text.count("(max parallelism: 6)") == 2
    unknown = describe(plan_of(page_views()), {})
    assert "(max parallelism: unknown)" in unknown


def test_describe_uses_the_configured_repartition_partitions():
    document = changed(page_views(), "by_page", partitions=3)
    text = describe(plan_of(document), {"pageviews": 6})
    assert "Sub-topology: 0 (max parallelism: 6)" in text
    assert "Sub-topology: 1 (max parallelism: 3)" in text


def test_describe_notes_unchecked_copartitioning_of_joins():
    plan = plan_of(orders_join_customers())
    assert "partition counts unknown, not checked" in describe(plan)
    assert "not checked" not in describe(plan, {"orders": 4, "customers": 4})


def test_describe_is_deterministic():
    assert describe(plan_of(page_views())) == describe(plan_of(page_views()))


# --- compare_plans --------------------------------------------------------------------------------


def test_identical_plans_are_compatible():
    verdict = compare_plans(plan_of(page_views()), plan_of(page_views()))
    assert verdict.verdict == "compatible"
    assert verdict.to_dict()["verdict"] == "compatible"


def test_a_layout_only_change_is_compatible():
    moved = page_views()
    moved["nodes"][0]["position"] = {"x": 999, "y": 1}
    assert compare_plans(plan_of(page_views()), plan_of(moved)).verdict == "compatible"


def test_changing_a_sink_topic_is_compatible_and_named():
    new = changed(page_views(), "out", topic="elsewhere")
    verdict = compare_plans(plan_of(page_views()), plan_of(new))
    assert verdict.verdict == "compatible"
    assert any("node out" in reason for reason in verdict.reasons)


def test_changing_a_filter_upstream_of_state_needs_reprocessing():
    new = changed(page_views(), "eu_only", where="region = 'us'")
    verdict = compare_plans(plan_of(page_views()), plan_of(new))
    assert verdict.verdict == "reprocess"
    assert any("node by_page" in reason and "input" in reason for reason in verdict.reasons)


def test_changing_an_aggregation_needs_reprocessing():
    new = changed(page_views(), "by_page", aggregations={"views": "COUNT(*)"})
    verdict = compare_plans(plan_of(page_views()), plan_of(new))
    assert verdict.verdict == "reprocess"
    assert any("node by_page" in reason and "definition" in reason for reason in verdict.reasons)


def test_a_new_stateful_node_needs_reprocessing():
    old = doc([source(), sink()], [("src", "out")])
    new = doc([source(), node("latest", "to_table"), sink()], [("src", "latest"), ("latest", "out")])
    verdict = compare_plans(plan_of(old), plan_of(new))
    assert verdict.verdict == "reprocess"
    assert any("node latest" in reason for reason in verdict.reasons)


def test_removing_a_stateful_node_is_compatible():
    old = doc([source(), node("latest", "to_table"), sink()], [("src", "latest"), ("latest", "out")])
    new = doc([source(), sink()], [("src", "out")])
    verdict = compare_plans(plan_of(old), plan_of(new))
    assert verdict.verdict == "compatible"
    assert any("latest-store is no longer used" in reason for reason in verdict.reasons)


def test_changing_a_window_type_needs_a_new_identity():
    new = changed(page_views(), "by_page", window=None)
    verdict = compare_plans(plan_of(page_views()), plan_of(new))
    assert verdict.verdict == "new_identity"
    assert any("node by_page" in reason and "window → kv" in reason for reason in verdict.reasons)


def test_changing_repartition_partitions_needs_a_new_identity():
    new = changed(page_views(), "by_page", partitions=12)
    verdict = compare_plans(plan_of(page_views()), plan_of(new))
    assert verdict.verdict == "new_identity"
    assert any("by_page" in reason and "partitions" in reason for reason in verdict.reasons)


def test_changing_source_topics_needs_a_new_identity():
    new = changed(page_views(), "views", topics=["pageviews-v2"])
    verdict = compare_plans(plan_of(page_views()), plan_of(new))
    assert verdict.verdict == "new_identity"
    assert verdict.reasons[0].startswith("new_identity")


# --- semantic_diff ---------------------------------------------------------------------------------


def test_semantic_diff_lists_nodes_added_removed_and_changed():
    new = changed(page_views(), "by_page", window={"type": "tumbling", "size": "5m"})
    new["nodes"] = [n for n in new["nodes"] if n["id"] != "live"]
    new["nodes"].append({"id": "big_only", "type": "filter", "config": {"where": "views > 10"}})
    new["edges"] = [e for e in new["edges"] if e["target"] not in ("live", "out")]
    new["edges"] += [{"source": "by_page", "target": "big_only"}, {"source": "big_only", "target": "out"}]
    diff = semantic_diff(page_views(), new)
    assert diff["added"] == ["big_only"]
    assert diff["removed"] == ["live"]
    assert diff["changed"] == [{"id": "by_page", "type": "aggregate", "fields": ["config.window"]}]
    assert {"source": "big_only", "source_port": "out", "target": "out", "target_port": "in"} in diff[
        "edges_added"
    ]
    assert {"source": "by_page", "source_port": "out", "target": "live", "target_port": "in"} in diff[
        "edges_removed"
    ]
    assert not diff["layout_only"] and not diff["unchanged"]


def test_semantic_diff_ignores_positions_but_reports_layout_only():
    moved = page_views()
    moved["nodes"][0]["position"] = {"x": 1, "y": 2}
    diff = semantic_diff(page_views(), moved)
    assert diff["added"] == diff["removed"] == diff["changed"] == []
    assert diff["layout_changed"] == ["views"] and diff["layout_only"]


def test_semantic_diff_of_a_document_with_itself_is_unchanged():
    diff = semantic_diff(page_views(), page_views())
    assert diff["unchanged"] and not diff["added"] and not diff["changed"]


def test_semantic_diff_reports_a_type_change():
    new = page_views()
    new["nodes"][1]["type"] = "map"
    assert semantic_diff(page_views(), new)["changed"] == [
        {"id": "eu_only", "type": "map", "old_type": "filter", "fields": ["type"]}
    ]


def test_semantic_diff_never_raises_on_garbage():
    for old, new in [
        (None, page_views()),
        ({"nodes": 5}, [1, 2]),
        ({"nodes": [1, {"id": 3}]}, {"edges": [None]}),
    ]:
        assert isinstance(semantic_diff(old, new), dict)
