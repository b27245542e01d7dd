"""Lowering: each node type becomes core operators with stable names, as in Kafka Streams."""

from __future__ import annotations

from typing import Any

import pytest

from tests.topology.compiler.documents import (
    doc,
    node,
    orders_join_customers,
    page_views,
    sink,
    source,
    table,
    view,
)
from topology.compiler import compile_document
from topology.compiler.expressions import compile_expression
from topology.compiler.plan import (
    Aggregate,
    Filter,
    FlatMap,
    Join,
    Plan,
    Project,
    Repartition,
    SelectKey,
    Sink,
    Source,
    ToStream,
    ToTable,
    View,
    plan_from_json,
    plan_to_json,
)


def compiled(document: dict[str, Any], **kwargs: Any) -> Plan:
    result = compile_document(document, **kwargs)
    assert result.ok, [str(issue) for issue in result.issues]
    assert result.plan is not None
    return result.plan


def kinds(plan: Plan) -> list[tuple[str, str]]:
    return [(op.id, op.kind) for op in plan.operators()]


def test_the_issue_example_splits_at_the_group_by_repartition():
    plan = compiled(page_views())
    assert [[op.id for op in sub.operators] for sub in plan.subtopologies] == [
        ["views", "eu_only", "by_page.select_key", "by_page.repartition"],
        ["by_page.source", "by_page", "live", "out"],
    ]
    assert plan.subtopologies[0].source_topics == ("pageviews",)
    assert plan.subtopologies[1].repartition_inputs == ("by_page",)
    aggregate = plan.operator("by_page")
    assert isinstance(aggregate, Aggregate)
    assert aggregate.store == "by_page-store"
    assert [(a.name, a.function, a.argument) for a in aggregate.aggregations] == [
        ("views", "COUNT", None),
        ("avg_ms", "AVG", "duration_ms"),
    ]
    assert (aggregate.window.type, aggregate.window.size_ms, aggregate.window.grace_ms) == (
        "tumbling",
        60000,
        10000,
    )
    assert [(s.name, s.kind, s.subtopology) for s in plan.stores] == [("by_page-store", "window", 1)]
    select = plan.operator("by_page.select_key")
    assert isinstance(select, SelectKey) and select.key == "page"
    repartition = plan.operator("by_page.repartition")
    assert isinstance(repartition, Repartition) and repartition.name == "by_page"


def test_group_by_null_groups_by_the_key_without_a_repartition():
    document = page_views()
    document["nodes"][2]["config"]["group_by"] = None
    plan = compiled(document)
    assert len(plan.subtopologies) == 1
    assert not plan.repartitions()
    assert plan.operator("by_page").inputs == ("eu_only",)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        ({"type": "tumbling", "size": "1m"}, ("tumbling", 60000, 0, 0, 0)),
        (
            {"type": "hopping", "size": "1m", "advance": "10s", "grace": "5s"},
            ("hopping", 60000, 10000, 0, 5000),
        ),
        ({"type": "sliding", "difference": "30s"}, ("sliding", 30000, 0, 0, 0)),
        ({"type": "session", "gap": "5m", "grace": 1000}, ("session", 0, 0, 300000, 1000)),
    ],
)
def test_each_window_type_lowers_to_its_sizes_in_milliseconds(window, expected):
    document = page_views()
    document["nodes"][2]["config"]["window"] = window
    document["nodes"][2]["config"]["emit"] = "final"
    plan = compiled(document)
    op = plan.operator("by_page")
    assert (
        op.window.type,
        op.window.size_ms,
        op.window.advance_ms,
        op.window.gap_ms,
        op.window.grace_ms,
    ) == expected
    assert op.emit == "final"
    assert plan.stores[0].kind == ("session" if window["type"] == "session" else "window")


def test_an_unwindowed_aggregate_keeps_a_key_value_store():
    document = page_views()
    document["nodes"][2]["config"]["window"] = None
    assert compiled(document).stores[0].kind == "kv"


def test_filter_and_map_lower_to_filter_and_project():
    document = doc(
        [
            source(),
            node("big", "filter", where="amount > 100"),
            node(
                "shape", "map", fields={"total": "amount * qty", "city": "user.address.city"}, drop=["secret"]
            ),
            node("narrow", "map", keep=["total", "id"], fields={"id": "UPPER(id)"}),
            sink(),
        ],
        [("src", "big"), ("big", "shape"), ("shape", "narrow"), ("narrow", "out")],
    )
    plan = compiled(document)
    assert isinstance(plan.operator("big"), Filter) and plan.operator("big").predicate == "amount > 100"
    shape = plan.operator("shape")
    assert isinstance(shape, Project) and shape.keep_all and shape.drop == ("secret",)
    assert [(f.name, f.expression) for f in shape.set] == [
        ("total", "amount * qty"),
        ("city", "user.address.city"),
    ]
    narrow = plan.operator("narrow")
    assert not narrow.keep_all
    assert [(f.name, f.expression) for f in narrow.set] == [("total", '"total"'), ("id", "UPPER(id)")]


def test_flat_map_explodes_into_the_arrays_name_by_default():
    document = doc(
        [
            source(),
            node("items", "flat_map", field="order.items"),
            node("tags", "flat_map", **{"field": "tags", "as": "tag"}),
            sink(),
        ],
        [("src", "items"), ("items", "tags"), ("tags", "out")],
    )
    plan = compiled(document)
    assert isinstance(plan.operator("items"), FlatMap)
    assert (plan.operator("items").field, plan.operator("items").as_name) == ("order.items", "items")
    assert plan.operator("tags").as_name == "tag"


def test_select_key_repartitions_and_starts_a_new_subtopology():
    document = doc(
        [source(), node("by_user", "select_key", key="user.id", partitions=12), sink()],
        [("src", "by_user"), ("by_user", "out")],
    )
    plan = compiled(document)
    assert kinds(plan) == [
        ("src", "source"),
        ("by_user", "select_key"),
        ("by_user.repartition", "repartition"),
        ("by_user.source", "source"),
        ("out", "sink"),
    ]
    assert len(plan.subtopologies) == 2
    assert plan.operator("by_user.repartition").partitions == 12
    internal = plan.operator("by_user.source")
    assert isinstance(internal, Source) and internal.repartition == "by_user" and internal.topics == ()


def branch_document() -> dict[str, Any]:
    return doc(
        [
            source(),
            node(
                "route",
                "branch",
                branches=[{"name": "big", "where": "amount > 100"}, {"name": "eu", "where": "region = 'eu'"}],
            ),
            sink("big_out", "big"),
            sink("eu_out", "eu"),
            sink("rest_out", "rest"),
        ],
        [
            ("src", "route"),
            ("route", "big_out", "big"),
            ("route", "eu_out", "eu"),
            ("route", "rest_out", "default"),
        ],
    )


@pytest.mark.parametrize(
    ("value", "port"),
    [
        ({"amount": 500, "region": "eu"}, "big"),
        ({"amount": 5, "region": "eu"}, "eu"),
        ({"amount": 5, "region": "us"}, "default"),
        ({"region": "eu"}, "eu"),
        ({}, "default"),
    ],
)
def test_branch_sends_each_record_to_the_first_matching_branch_only(value, port):
    plan = compiled(branch_document())
    filters = {op.id.split(".")[1]: op for op in plan.operators() if isinstance(op, Filter)}
    assert set(filters) == {"big", "eu", "default"}
    passed = [
        name
        for name, op in filters.items()
        if compile_expression(op.predicate).predicate(value, None, 0, 0, 0)
    ]
    assert passed == [port]


def test_merge_disappears_into_the_inputs_of_the_next_operator():
    document = doc(
        [
            source("a", "a"),
            source("b", "b"),
            node("both", "merge"),
            node("f", "filter", where="x > 1"),
            sink(),
        ],
        [("a", "both"), ("b", "both"), ("both", "f"), ("f", "out")],
    )
    plan = compiled(document)
    assert plan.operator("f").inputs == ("a", "b")
    assert "both" not in {op.id for op in plan.operators()}
    assert len(plan.subtopologies) == 1
    assert plan.subtopologies[0].source_topics == ("a", "b")


def test_table_source_lowers_to_a_source_and_a_to_table_with_a_store():
    document = doc([table(), view()], [("tbl", "live")])
    plan = compiled(document)
    assert kinds(plan) == [("tbl.source", "source"), ("tbl", "to_table"), ("live", "view")]
    assert plan.operator("tbl").store == "tbl-store"
    assert [(s.name, s.kind) for s in plan.stores] == [("tbl-store", "kv")]
    assert plan.operator("live").title == "Live"


def test_to_table_and_to_stream_convert_between_kinds():
    document = doc(
        [source(), node("latest", "to_table"), node("changes", "to_stream"), sink()],
        [("src", "latest"), ("latest", "changes"), ("changes", "out")],
    )
    plan = compiled(document)
    assert isinstance(plan.operator("latest"), ToTable) and isinstance(plan.operator("changes"), ToStream)
    assert plan.stores[0].name == "latest-store"


def test_sinks_and_views_accept_tables_and_streams():
    plan = compiled(page_views())
    assert isinstance(plan.operator("out"), Sink) and plan.operator("out").topic == "views-by-page"
    assert isinstance(plan.operator("live"), View)
    document = doc([source(), view()], [("src", "live")])
    assert compiled(document).views()[0].inputs == ("src",)


def test_a_stream_table_join_keeps_one_store_for_the_table_side():
    plan = compiled(orders_join_customers())
    join = plan.operator("enrich")
    assert isinstance(join, Join)
    assert (join.sides, join.how, join.inputs) == ("stream_table", "left", ("orders", "customers"))
    assert (join.left_store, join.right_store) == (None, "enrich-right-store")
    assert len(plan.subtopologies) == 1


def test_a_join_side_keyed_by_an_expression_gets_its_own_repartition():
    plan = compiled(
        orders_join_customers(left_key="customer_id", select={"name": "right.name", "total": "left.total"})
    )
    assert [[op.id for op in sub.operators] for sub in plan.subtopologies] == [
        ["customers.source", "customers", "enrich.left.source", "enrich", "out"],
        ["orders", "enrich.left.select_key", "enrich.left.repartition"],
    ]
    repartition = plan.operator("enrich.left.repartition")
    assert repartition.name == "enrich-left"
    join = plan.operator("enrich")
    assert join.inputs == ("enrich.left.source", "customers")
    assert [(f.name, f.expression) for f in join.select] == [("name", "right.name"), ("total", "left.total")]
    assert len(plan.subtopologies) == 2


def test_a_stream_stream_join_needs_a_window_and_keeps_window_stores():
    document = doc(
        [
            source("clicks", "clicks"),
            source("views", "views"),
            node("j", "join", how="outer", window={"size": "5m", "grace": "1m"}),
            sink(),
        ],
        [("clicks", "j", None, "left"), ("views", "j", None, "right"), ("j", "out")],
    )
    plan = compiled(document)
    join = plan.operator("j")
    assert (join.sides, join.how, join.window.size_ms, join.window.grace_ms) == (
        "stream_stream",
        "outer",
        300000,
        60000,
    )
    assert [(s.name, s.kind) for s in plan.stores] == [
        ("j-left-store", "join_window"),
        ("j-right-store", "join_window"),
    ]


def test_a_table_table_join_outputs_a_table():
    document = doc(
        [table("a", "a"), table("b", "b"), node("j", "join", how="outer"), node("back", "to_stream"), sink()],
        [("a", "j", None, "left"), ("b", "j", None, "right"), ("j", "back"), ("back", "out")],
    )
    plan = compiled(document)
    assert plan.operator("j").sides == "table_table"
    assert {s.name for s in plan.stores} == {"a-store", "b-store", "j-left-store", "j-right-store"}


def test_a_merged_join_side_is_one_pass_through_operator():
    document = doc(
        [source("a", "a"), source("b", "b"), table("t", "t"), node("m", "merge"), node("j", "join"), sink()],
        [("a", "m"), ("b", "m"), ("m", "j", None, "left"), ("t", "j", None, "right"), ("j", "out")],
    )
    plan = compiled(document)
    assert plan.operator("j").inputs == ("j.left_merge", "t")
    assert plan.operator("j.left_merge").inputs == ("a", "b")


def test_source_settings_reach_the_plan():
    document = doc(
        [
            source(
                key_format="long",
                value_format="json",
                timestamp="STRING_TO_TIMESTAMP(ts)",
                offset_reset="latest",
            ),
            sink(),
        ],
        [("src", "out")],
    )
    op = compiled(document).operator("src")
    assert (op.key_format, op.value_format, op.timestamp, op.offset_reset) == (
        "long",
        "json",
        "STRING_TO_TIMESTAMP(ts)",
        "latest",
    )


def test_expressions_are_stored_as_canonical_sql():
    document = doc(
        [source(), node("f", "filter", where="a   IS NOT NULL and b<>1"), sink()],
        [("src", "f"), ("f", "out")],
    )
    assert compiled(document).operator("f").predicate == "NOT a IS NULL AND b <> 1"


def test_plans_round_trip_through_json():
    plan = compiled(orders_join_customers(left_key="customer_id"))
    assert plan_from_json(plan_to_json(plan)) == plan
    assert plan_from_json(plan_to_json(plan)).hash == plan.hash


def test_inserting_a_node_renames_no_other_nodes_state():
    before = compiled(page_views())
    document = page_views()
    document["nodes"].append({"id": "long_only", "type": "filter", "config": {"where": "duration_ms > 1000"}})
    document["edges"] = [e for e in document["edges"] if e["target"] != "eu_only"]
    document["edges"] += [
        {"source": "views", "target": "long_only"},
        {"source": "long_only", "target": "eu_only"},
    ]
    after = compiled(document)
    assert [s.name for s in before.stores] == [s.name for s in after.stores]
    assert [r.name for r in before.repartitions()] == [r.name for r in after.repartitions()]


def test_layout_and_order_do_not_change_the_plan_hash():
    document = page_views()
    moved = page_views()
    for index, item in enumerate(moved["nodes"]):
        item["position"] = {"x": index * 37, "y": 5}
        item["label"] = f"Node {index}"
    moved["nodes"].reverse()
    moved["edges"].reverse()
    assert compiled(document).hash == compiled(moved).hash


def test_a_rename_of_the_topology_keeps_the_hash_but_a_config_change_does_not():
    renamed = page_views()
    renamed["name"] = "something-else"
    changed = page_views()
    changed["nodes"][1]["config"]["where"] = "region = 'us'"
    assert compiled(renamed).hash == compiled(page_views()).hash
    assert compiled(changed).hash != compiled(page_views()).hash


def test_known_partition_counts_check_copartitioning_of_joins():
    ok = compile_document(orders_join_customers(), partitions={"orders": 4, "customers": 4})
    assert ok.ok
    bad = compile_document(orders_join_customers(), partitions={"orders": 4, "customers": 8})
    assert [issue.code for issue in bad.issues] == ["join.copartition"]
    # A re-keyed side is repartitioned into as many partitions as the widest source topic.
    rekeyed = compile_document(
        orders_join_customers(left_key="cid"), partitions={"orders": 4, "customers": 8}
    )
    assert rekeyed.ok
    narrow = compile_document(
        orders_join_customers(left_key="cid", partitions=4), partitions={"orders": 4, "customers": 8}
    )
    assert [issue.code for issue in narrow.issues] == ["join.copartition"]


def test_a_long_chain_compiles_without_recursion_limits():
    nodes = [source()] + [node(f"f{i}", "filter", where=f"a > {i}") for i in range(3000)] + [sink()]
    ids = [item["id"] for item in nodes]
    plan = compiled(doc(nodes, list(zip(ids, ids[1:], strict=False))))
    assert len(plan.operators()) == 3002
    assert plan.operator("f2999").inputs == ("f2998",)


def test_partition_hints_of_the_wrong_shape_are_ignored_not_fatal():
    for hints in (["orders"], {"orders": "four"}, {"orders": -1}, None):
        assert compile_document(orders_join_customers(), partitions=hints).ok  # type: ignore[arg-type]
