"""Plan format 2: complete plans, binding to an application id, and reading format 1."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from hypothesis import given

from tests.topology.compiler.documents import doc, node, orders_join_customers, page_views, sink, source, view
from tests.topology.compiler.test_properties import PROPERTY_SETTINGS, valid_documents
from topology.compiler import compare_plans, compile_document
from topology.compiler.binding import bind
from topology.compiler.plan import (
    EXTRA_WINDOW_RETENTION_MS,
    PLAN_FORMAT,
    Aggregate,
    Join,
    Plan,
    Sink,
    Store,
    SubTopology,
    View,
    complete_plan,
    compute_plan_hash,
    plan_from_dict,
    plan_from_json,
    plan_to_dict,
    plan_to_json,
    with_hash,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str):
    return orjson.loads((FIXTURES / name).read_bytes())


def compiled(document) -> Plan:
    result = compile_document(document)
    assert result.plan is not None, [str(issue) for issue in result.issues]
    return result.plan


def windowed_count(grace: str = "0s", size: str = "1m") -> dict:
    return doc(
        [
            source("views", "pageviews"),
            node(
                "per_minute",
                "aggregate",
                aggregations={"n": "COUNT(*)"},
                window={"type": "tumbling", "size": size, "grace": grace},
            ),
            sink("out", "counts"),
            view("live"),
        ],
        [("views", "per_minute"), ("per_minute", "out"), ("per_minute", "live")],
    )


def table_pipeline() -> dict:
    """A table filtered, joined with another table, written, viewed and turned into a stream."""
    return doc(
        [
            {"id": "users", "type": "table_source", "config": {"topic": "users"}},
            {"id": "plans", "type": "table_source", "config": {"topic": "plans"}},
            node("paying", "filter", where="plan <> 'free'"),
            node("both", "join"),
            node("as_stream", "to_stream"),
            sink("out", "paying"),
            view("live"),
            sink("changes", "changes"),
        ],
        [
            ("users", "paying"),
            ("paying", "both", None, "left"),
            ("plans", "both", None, "right"),
            ("both", "out"),
            ("both", "live"),
            ("both", "as_stream"),
            ("as_stream", "changes"),
        ],
    )


# --- what format 2 carries ---------------------------------------------------------------------


def test_every_operator_says_whether_it_emits_a_stream_or_a_table():
    plan = compiled(table_pipeline())
    outputs = {op.id: op.output for op in plan.operators()}
    assert plan.format == PLAN_FORMAT == 2
    assert outputs["users.source"] == "stream" and outputs["users"] == "table"
    assert outputs["paying"] == "table"  # a filter keeps the kind it receives
    assert outputs["both"] == "table" and outputs["as_stream"] == "stream"
    assert outputs["out"] == "table" and outputs["changes"] == "stream"


def test_sinks_say_whether_they_coalesce_and_views_whether_they_are_windowed():
    plan = compiled(table_pipeline())
    assert plan.operator("out").coalesce is True  # a table: the latest per key per commit
    assert plan.operator("changes").coalesce is False  # a stream: every record
    assert plan.operator("live").windowed is False

    windowed = compiled(windowed_count())
    assert windowed.operator("live").windowed is True
    assert windowed.operator("out").coalesce is True
    final = windowed_count()
    final["nodes"][1]["config"]["emit"] = "final"
    # Windows emitted once when they close have nothing to coalesce.
    assert compiled(final).operator("out").coalesce is False


def test_every_store_carries_its_kind_retention_and_changelog_config():
    plan = compiled(windowed_count(grace="10s"))
    (store,) = plan.stores
    assert (store.name, store.kind, store.retention_ms) == ("per_minute-store", "window", 70_000)
    assert dict(store.changelog) == {
        "cleanup.policy": "compact,delete",
        "retention.ms": str(70_000 + EXTRA_WINDOW_RETENTION_MS),
    }
    kv = compiled(orders_join_customers()).stores
    assert [(s.kind, s.retention_ms, dict(s.changelog)) for s in kv] == [
        ("kv", None, {"cleanup.policy": "compact"})
    ] * len(kv)


def test_every_store_an_operator_names_is_declared_and_named():
    for document in (page_views(), orders_join_customers(), table_pipeline(), windowed_count()):
        plan = compiled(document)
        declared = {s.name for s in plan.stores}
        named = {
            getattr(op, attribute)
            for op in plan.operators()
            for attribute in ("store", "left_store", "right_store")
            if getattr(op, attribute, None)
        }
        assert named == declared
    with pytest.raises(ValueError, match="no name"):
        Store.of("", "kv", "n", 0, None)


def test_format_2_round_trips_through_json():
    plan = compiled(table_pipeline())
    data = orjson.loads(plan_to_json(plan))
    assert data["format"] == 2
    assert data["stores"][0]["changelog"] == {"cleanup.policy": "compact"}
    assert plan_from_json(plan_to_json(plan)) == plan
    assert plan_from_dict(data).hash == plan.hash


def test_lowering_and_the_format_1_rules_agree_on_every_example():
    """complete_plan derives the facts from operators as the format-1 runtime did; the
    compiler derives them from the catalog. They must never disagree."""
    for document in (
        page_views(),
        orders_join_customers(),
        table_pipeline(),
        windowed_count(),
        fixture("format1_document.json"),
    ):
        plan = compiled(document)
        assert complete_plan(plan) == plan


@PROPERTY_SETTINGS
@given(valid_documents())
def test_lowering_and_the_format_1_rules_agree_on_random_documents(document):
    plan = compiled(copy.deepcopy(document))
    assert complete_plan(plan) == plan


# --- plan hash and compatibility -------------------------------------------------------------------


def test_a_retention_change_changes_the_hash_and_the_verdict_says_why():
    short, long = compiled(windowed_count(grace="0s")), compiled(windowed_count(grace="30s"))
    assert short.hash != long.hash
    verdict = compare_plans(short, long)
    assert verdict.verdict == "reprocess"
    assert any(
        "store per_minute-store changes retention (60000 → 90000 ms)" in reason
        and "retention.ms=86460000 → cleanup.policy=compact,delete, retention.ms=86490000" in reason
        for reason in verdict.reasons
    ), verdict.reasons


def test_a_changelog_config_change_alone_is_noticed():
    """Same operators, another changelog config (as a new rule for windowed changelogs would
    give): the hash differs and the verdict names the store."""
    plan = compiled(windowed_count())
    (store,) = plan.stores
    changed = with_hash(replace(plan, stores=(replace(store, changelog=(("cleanup.policy", "compact"),)),)))
    assert compute_plan_hash(changed) != plan.hash
    verdict = compare_plans(plan, changed)
    assert verdict.verdict == "reprocess"
    assert any("store per_minute-store changes changelog config" in r for r in verdict.reasons), (
        verdict.reasons
    )


# --- binding ---------------------------------------------------------------------------------------


def test_bind_resolves_every_name_once():
    plan = compiled(page_views())
    bound = bind(plan, "shop")
    assert bound.consumer_group == "shop" and bound.restore_consumer_group == "shop-restore"
    assert bound.dlq_topic == "shop.dlq"
    assert bound.transactional_id(2) == "shop-2"
    assert bound.client_id(1, "producer") == "shop-1-producer"
    assert dict(bound.changelog_topics) == {"by_page-store": "shop-by_page-store-changelog"}
    assert dict(bound.repartition_topics) == {"by_page": "shop-by_page-repartition"}
    assert dict(bound.input_topics) == {0: ("pageviews",), 1: ("shop-by_page-repartition",)}
    assert [(t.name, t.role, dict(t.config)) for t in bound.internal_topics] == [
        ("shop-by_page-repartition", "repartition", {"cleanup.policy": "delete"}),
        (
            "shop-by_page-store-changelog",
            "changelog",
            {
                "cleanup.policy": "compact,delete",
                "retention.ms": str(plan.stores[0].retention_ms + EXTRA_WINDOW_RETENTION_MS),
            },
        ),
        ("shop.dlq", "dead_letter", {}),
    ]
    # Changelogs have as many partitions as their sub-topology's inputs; repartitions as the
    # widest source topic unless configured.
    assert bound.topic_partitions({"pageviews": 6}) == {
        "shop-by_page-repartition": 6,
        "shop-by_page-store-changelog": 6,
        "shop.dlq": 1,
    }
    configured = page_views()
    configured["nodes"][2]["config"]["partitions"] = 3
    assert bind(compiled(configured), "shop").topic_partitions({"pageviews": 6}) == {
        "shop-by_page-repartition": 3,
        "shop-by_page-store-changelog": 3,
        "shop.dlq": 1,
    }


def test_bind_refuses_a_plan_whose_operators_name_undeclared_stores():
    plan = compiled(page_views())
    with pytest.raises(ValueError, match="does not declare"):
        bind(replace(plan, stores=()), "shop")
    (store,) = plan.stores
    with pytest.raises(ValueError, match="sub-topology"):
        bind(replace(plan, stores=(replace(store, subtopology=0),)), "shop")


# --- format 1 ----------------------------------------------------------------------------------


def test_a_format_1_plan_loads_as_the_plan_its_document_compiles_to_now():
    old = fixture("format1_plan.json")
    assert old["format"] == 1
    upgraded = plan_from_dict(old)
    fresh = compiled(fixture("format1_document.json"))
    assert upgraded == fresh and upgraded.hash == fresh.hash
    assert plan_to_dict(upgraded)["format"] == 2


def test_a_format_1_plan_upgrades_to_what_the_format_1_runtime_derived():
    """The fixture holds what the runtime of format 1 worked out for itself from this plan."""
    derived = fixture("format1_runtime_derived.json")
    plan = plan_from_dict(fixture("format1_plan.json"))
    for op in plan.operators():
        if not isinstance(op, Sink | View):  # their kind was never read by that runtime
            assert (op.output == "table") is derived["is_table"][op.id], op.id
        if isinstance(op, Sink):
            assert op.coalesce is derived["fed_by_table"][op.id], op.id
    assert sorted(v.node_id for v in plan.views() if v.windowed) == derived["windowed_views"]
    bound = bind(plan, derived["app_id"])
    counts = bound.topic_partitions(derived["source_partitions"])
    topics = sorted(
        [t.name, counts[t.name], dict(t.config)] for t in bound.internal_topics if t.role != "dead_letter"
    )
    assert topics == sorted(derived["internal_topics"])


def test_a_format_1_stream_table_join_keeps_the_store_its_runtime_used():
    """Format-1 runtimes kept a left-hand table side in "<join>-left-store", whatever the
    plan said: the upgrade names that store, so its state and changelog are found again."""
    old = fixture("format1_plan.json")
    for sub in old["subtopologies"]:
        for op in sub["operators"]:
            if op["id"] == "enrich":
                op["inputs"] = ["customers", "orders"]  # the table on the left (hand-built)
    plan = plan_from_dict(old)
    join = plan.operator("enrich")
    assert isinstance(join, Join)
    assert (join.left_store, join.right_store) == ("enrich-left-store", None)
    assert "enrich-left-store" in {s.name for s in plan.stores}


def test_unknown_formats_are_refused():
    data = plan_to_dict(compiled(page_views()))
    with pytest.raises(ValueError, match="unsupported plan format 3"):
        plan_from_dict({**data, "format": 3})


def test_hand_built_plans_are_completed_from_their_operators():
    from topology.compiler.plan import Aggregation, Source

    plan = complete_plan(
        Plan(
            name="t",
            subtopologies=(
                SubTopology(
                    id=0,
                    operators=(
                        Source(id="in", node_id="in", inputs=(), topics=("in",)),
                        Aggregate(
                            id="n",
                            node_id="n",
                            inputs=("in",),
                            store="n-store",
                            aggregations=(Aggregation("n", "COUNT"),),
                        ),
                        Sink(id="out", node_id="out", inputs=("n",), topic="out"),
                    ),
                    source_topics=("in",),
                ),
            ),
        )
    )
    assert [op.output for op in plan.operators()] == ["stream", "table", "table"]
    assert plan.operator("out").coalesce is True
    assert plan.stores == (Store.of("n-store", "kv", "n", 0, None),)
