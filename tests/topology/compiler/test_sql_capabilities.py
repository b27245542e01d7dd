"""The compiler side of three capabilities SQL needs: composite keys, asymmetric join windows
and offset-ordered aggregates (config, validation with located issues, lowering, plan JSON)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.topology.compiler.documents import PAGE_VIEWS, doc, node, orders_join_customers, sink, source, view
from topology.compiler import compile_document
from topology.compiler.compat import compare_plans
from topology.compiler.describe import describe
from topology.compiler.plan import Aggregate, Join, SelectKey, plan_from_json, plan_to_json


def compiled(document: dict[str, Any]):
    result = compile_document(document)
    assert result.ok, [i.to_dict() for i in result.issues]
    return result.plan


def issues(document: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    result = compile_document(document)
    return [(i.code, i.node_id, i.field) for i in result.issues if i.severity == "error"]


def grouped(group_by: Any, aggregations: dict[str, str] | None = None, **config: Any) -> dict[str, Any]:
    return doc(
        [
            source("src", "in"),
            node(
                "agg",
                "aggregate",
                group_by=group_by,
                aggregations=aggregations or {"n": "COUNT(*)"},
                **config,
            ),
            view("live"),
        ],
        [("src", "agg"), ("agg", "live")],
    )


def rekeyed(key: Any) -> dict[str, Any]:
    return doc(
        [source("src", "in"), node("by", "select_key", key=key), sink("out", "out")],
        [("src", "by"), ("by", "out")],
    )


def stream_join(**window: Any) -> dict[str, Any]:
    return doc(
        [
            source("orders", "orders"),
            source("shipments", "shipments"),
            node("within", "join", how="left", window=window, right_key="order_id"),
            sink("out", "shipped"),
        ],
        [("orders", "within", None, "left"), ("shipments", "within", None, "right"), ("within", "out")],
    )


# --- existing documents keep their plans --------------------------------------------------------

# Hashes computed with the compiler before these capabilities existed (commit 99bf9a1): a
# document that uses none of them must compile to the very same plan.
PINNED_HASHES = {
    "page_views": "ec7003cce8d08094ae9d53166792c7c6f4ae32884d40920cabedda205e8ea630",
    "select_key": "87cb471956d63c4823077558a982964e6b067243f316d579640331e24f2b9b8b",
    "latest_by_event_time": "ddfe91ad50ea26ab586518e2f7442ec891b99decad6e0fe83a85e033bffec2d3",
    "stream_stream_join": "699c6d59fded78b52bb9a4a025e15ca877d7817db3d277b02f9ddc323584c357",
    "stream_table_join": "a9bb494c9026b337e85eb9b53dd7f5ae0b61173b6db1e329d693d8ef8cc049a7",
}


def pinned_documents() -> dict[str, dict[str, Any]]:
    return {
        "page_views": copy.deepcopy(PAGE_VIEWS),
        "select_key": doc(
            [source("src", "in"), node("by_user", "select_key", key="user_id"), sink("out", "out")],
            [("src", "by_user"), ("by_user", "out")],
        ),
        "latest_by_event_time": doc(
            [
                source("src", "in"),
                node(
                    "last",
                    "aggregate",
                    group_by="user",
                    aggregations={"last": "LATEST(page)", "first": "EARLIEST(page)", "n": "COUNT(*)"},
                ),
                view("live"),
            ],
            [("src", "last"), ("last", "live")],
        ),
        "stream_stream_join": doc(
            [
                source("orders", "orders"),
                source("shipments", "shipments"),
                node(
                    "within", "join", how="left", window={"size": "1h", "grace": "5m"}, right_key="order_id"
                ),
                sink("out", "shipped"),
            ],
            [("orders", "within", None, "left"), ("shipments", "within", None, "right"), ("within", "out")],
        ),
        "stream_table_join": orders_join_customers(),
    }


@pytest.mark.parametrize("name", sorted(PINNED_HASHES))
def test_documents_without_the_new_options_keep_their_plan_hash(name):
    assert compiled(pinned_documents()[name]).hash == PINNED_HASHES[name]


def test_a_one_expression_list_is_the_single_key_with_the_same_plan():
    assert compiled(grouped(["page"])).hash == compiled(grouped("page")).hash
    assert compiled(rekeyed(["user_id"])).hash == compiled(rekeyed("user_id")).hash


# --- composite keys -------------------------------------------------------------------------------


def test_a_group_by_list_lowers_to_a_composite_select_key_named_as_ksqldb_names_key_columns():
    plan = compiled(grouped(["region", "page", "UPPER(country)", "duration_ms / 1000"]))
    select = plan.operator("agg.select_key")
    assert isinstance(select, SelectKey)
    assert select.key == ""
    assert [(f.name, f.expression) for f in select.keys] == [
        ("region", "region"),
        ("page", "page"),
        ("KSQL_COL_0", "UPPER(country)"),
        ("KSQL_COL_1", "duration_ms / 1000"),
    ]
    assert "key: {region: region, page: page" in describe(plan)


def test_a_synthetic_key_name_skips_a_field_of_that_name():
    select = compiled(grouped(["KSQL_COL_0", "a + 1"])).operator("agg.select_key")
    assert [f.name for f in select.keys] == ["KSQL_COL_0", "KSQL_COL_1"]


def test_the_key_order_is_part_of_the_plan():
    assert compiled(grouped(["a", "b"])).hash != compiled(grouped(["b", "a"])).hash


def test_a_select_key_list_makes_a_composite_key():
    select = compiled(rekeyed(["user_id", "device"])).operator("by")
    assert [f.name for f in select.keys] == ["user_id", "device"]


def test_a_composite_key_round_trips_through_the_plan_json():
    plan = compiled(grouped(["region", "page"]))
    again = plan_from_json(plan_to_json(plan))
    assert again == plan and again.hash == plan.hash


def test_a_key_field_named_twice_is_located_at_the_second_expression():
    assert issues(grouped(["page", "page"])) == [("key.duplicate_name", "agg", "config.group_by[1]")]


def test_a_bad_key_expression_is_located_at_its_index():
    found = issues(rekeyed(["user_id", "nosuch(1)"]))
    assert len(found) == 1 and found[0][1:] == ("by", "config.key[1]")


def test_an_empty_key_list_is_a_schema_issue():
    assert issues(grouped([]))[0][1:] == ("agg", "config.group_by")


# --- asymmetric join windows ----------------------------------------------------------------------


def test_before_and_after_lower_to_an_asymmetric_window_with_their_retention():
    plan = compiled(stream_join(before="10m", after="1h", grace="5m"))
    join = plan.operator("within")
    assert isinstance(join, Join) and join.window is not None
    assert (join.window.size_ms, join.window.before_ms, join.window.after_ms) == (0, 600_000, 3_600_000)
    retention = 600_000 + 3_600_000 + 300_000
    assert {s.name: s.retention_ms for s in plan.stores} == {
        "within-left-store": retention,
        "within-right-store": retention,
    }
    assert "window: before 600000ms, after 3600000ms, grace 300000ms" in describe(plan)
    assert plan_from_json(plan_to_json(plan)) == plan


def test_equal_before_and_after_are_the_symmetric_window():
    assert (
        compiled(stream_join(before="1h", after="1h", grace="5m")).hash == PINNED_HASHES["stream_stream_join"]
    )


def test_a_zero_bound_on_one_side_is_allowed():
    window = compiled(stream_join(before=0, after="1m")).operator("within").window
    assert (window.before_ms, window.after_ms) == (0, 60_000)


@pytest.mark.parametrize(
    ("window", "field"),
    [
        ({"size": "1m", "before": "1m", "after": "2m"}, "config.window.before"),
        ({"size": "1m", "after": "2m"}, "config.window.after"),
        ({"before": "1m"}, "config.window.after"),
        ({"after": "1m"}, "config.window.before"),
        ({"grace": "1m"}, "config.window.size"),
        ({"before": 0, "after": 0}, "config.window.after"),
    ],
)
def test_a_join_window_needs_a_size_or_both_bounds(window, field):
    assert issues(stream_join(**window)) == [("window.invalid", "within", field)]


# --- offset-ordered aggregates --------------------------------------------------------------------


def test_by_offset_aggregates_lower_next_to_the_event_time_ones():
    plan = compiled(
        grouped(
            "user",
            {"last": "LATEST_BY_OFFSET(page)", "first": "earliest_by_offset(page)", "t": "LATEST(page)"},
        )
    )
    agg = plan.operator("agg")
    assert isinstance(agg, Aggregate)
    assert [(a.name, a.function, a.argument) for a in agg.aggregations] == [
        ("last", "LATEST_BY_OFFSET", "page"),
        ("first", "EARLIEST_BY_OFFSET", "page"),
        ("t", "LATEST", "page"),
    ]
    assert plan_from_json(plan_to_json(plan)) == plan


def test_ignore_nulls_false_is_kept_in_the_plan_and_true_is_the_default():
    plan = compiled(grouped("user", {"last": "LATEST_BY_OFFSET(page, FALSE)"}))
    (aggregation,) = plan.operator("agg").aggregations
    assert (aggregation.function, aggregation.argument, aggregation.ignore_nulls) == (
        "LATEST_BY_OFFSET",
        "page",
        False,
    )
    assert "last = LATEST_BY_OFFSET(page, FALSE)" in describe(plan)
    assert plan_from_json(plan_to_json(plan)) == plan
    default = compiled(grouped("user", {"last": "LATEST_BY_OFFSET(page)"})).hash
    assert compiled(grouped("user", {"last": "LATEST_BY_OFFSET(page, TRUE)"})).hash == default != plan.hash


@pytest.mark.parametrize(
    "call", ["LATEST_BY_OFFSET(page, 3)", "EARLIEST_BY_OFFSET(page, 3, FALSE)", "LATEST(page, FALSE)"]
)
def test_other_second_arguments_are_refused_at_their_aggregation(call):
    assert issues(grouped("user", {"last": call})) == [
        ("expression.aggregate", "agg", "config.aggregations.last")
    ]


def test_a_sliding_window_refuses_offset_order_at_the_aggregation():
    document = grouped(
        "user",
        {"n": "COUNT(*)", "last": "LATEST_BY_OFFSET(page)"},
        window={"type": "sliding", "difference": "1m"},
    )
    assert issues(document) == [("window.offset_order", "agg", "config.aggregations.last")]


def test_a_session_window_takes_offset_order():
    compiled(grouped("user", {"last": "LATEST_BY_OFFSET(page)"}, window={"type": "session", "gap": "1m"}))


# --- upgrades -------------------------------------------------------------------------------------


def test_changing_a_key_or_a_join_window_to_the_new_forms_is_a_reprocess_with_reasons():
    rekeyed_by_two = compare_plans(compiled(grouped("page")), compiled(grouped(["page", "region"])))
    assert rekeyed_by_two.verdict == "reprocess"
    assert any("agg-store" in reason for reason in rekeyed_by_two.reasons)
    narrowed = compare_plans(
        compiled(stream_join(size="1h", grace="5m")),
        compiled(stream_join(before="10m", after="1h", grace="5m")),
    )
    assert narrowed.verdict == "reprocess"
    assert any("retention (7500000 → 4500000 ms)" in reason for reason in narrowed.reasons)
    assert compare_plans(compiled(grouped("page")), compiled(grouped(["page"]))).verdict == "compatible"
