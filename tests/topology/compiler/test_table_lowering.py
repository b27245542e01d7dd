"""How aggregates of tables and foreign-key joins lower to a plan (format 2)."""

from __future__ import annotations

from tests.topology.compiler.documents import doc, node, sink, source, table
from topology.compiler import compile_document
from topology.compiler.plan import ForeignKeyJoin, ForeignKeyLookup, GroupTable, plan_from_json, plan_to_json


def _plan(document):
    result = compile_document(document)
    assert result.ok, [i.to_dict() for i in result.issues]
    return result.plan


def test_a_table_aggregate_groups_rows_as_changes_before_the_repartition():
    plan = _plan(
        doc(
            [
                table("users", "users"),
                node("agg", "aggregate", group_by="region", aggregations={"n": "COUNT(*)"}),
                sink(),
            ],
            [("users", "agg"), ("agg", "out")],
        )
    )
    group = plan.operator("agg.group_table")
    assert isinstance(group, GroupTable) and group.key == "region" and group.output == "stream"
    assert plan.operator("agg.repartition").output == "stream"
    aggregate = plan.operator("agg")
    assert aggregate.from_table and aggregate.output == "table"
    stores = {s.name: (s.kind, s.subtopology) for s in plan.stores}
    assert stores == {"users-store": ("kv", 0), "agg-group-store": ("kv", 0), "agg-store": ("kv", 1)}
    assert plan_from_json(plan_to_json(plan)) == plan


def test_a_stream_aggregate_plan_does_not_mention_from_table():
    plan = _plan(
        doc(
            [source(), node("agg", "aggregate", group_by="region", aggregations={"n": "COUNT(*)"}), sink()],
            [("src", "agg"), ("agg", "out")],
        )
    )
    assert b"from_table" not in plan_to_json(plan)
    assert not plan.operator("agg").from_table


def _fk_join(**config):
    return doc(
        [table("orders", "orders"), table("customers", "customers"), node("j", "join", **config), sink()],
        [("orders", "j", None, "left"), ("customers", "j", None, "right"), ("j", "out")],
    )


def test_a_foreign_key_join_is_two_sub_topologies_around_subscription_and_response_topics():
    plan = _plan(_fk_join(foreign_key="customer", how="left"))
    joined, lookup = plan.operator("j"), plan.operator("j.lookup")
    assert isinstance(joined, ForeignKeyJoin) and isinstance(lookup, ForeignKeyLookup)
    assert (joined.how, joined.foreign_key, joined.subscription, joined.output) == (
        "left",
        "customer",
        "j-subscription",
        "table",
    )
    assert joined.inputs == ("j.left.source", "j.response.source")
    assert lookup.inputs == ("j.right.source", "j.subscription.source")
    assert {r.name for r in plan.repartitions()} == {"j-left", "j-right", "j-subscription", "j-response"}
    sub_of = {s.name: s.subtopology for s in plan.stores}
    assert sub_of["j-subscription-store"] == sub_of["j-right-store"] != sub_of["j-left-store"]
    assert plan_from_json(plan_to_json(plan)) == plan


def _issues(document):
    return [(i.code, i.field) for i in compile_document(document).errors]


def test_a_foreign_key_join_is_inner_or_left_and_takes_no_side_keys():
    assert _issues(_fk_join(foreign_key="customer", how="outer")) == [("join.how", "config.how")]
    assert _issues(_fk_join(foreign_key="customer", left_key="x")) == [
        ("join.table_rekey", "config.left_key")
    ]


def test_the_foreign_key_is_checked_against_the_left_rows_schema():
    document = _fk_join(foreign_key="customr")
    document["nodes"][0]["config"]["fields"] = {"customer": "string", "item": "string"}
    assert _issues(document) == [("expression.unknown_field", "config.foreign_key")]


def test_upgrade_verdicts_walk_a_foreign_key_join_whose_responses_loop_back():
    from topology.compiler.compat import compare_plans

    before = _plan(_fk_join(foreign_key="customer"))
    renamed = _plan(_fk_join(foreign_key="customer", select={"name": "right.name"}))
    verdict = compare_plans(before, renamed)
    assert verdict.verdict == "reprocess"
    assert any("store j-left-store" in reason for reason in verdict.reasons)
    changed_right = _fk_join(foreign_key="customer")
    changed_right["nodes"].insert(2, node("vip", "filter", where="vip"))
    changed_right["edges"] = [
        {"source": "orders", "target": "j", "target_port": "left"},
        {"source": "customers", "target": "vip"},
        {"source": "vip", "target": "j", "target_port": "right"},
        {"source": "j", "target": "out"},
    ]
    reasons = compare_plans(before, _plan(changed_right)).reasons
    assert any("store j-right-store" in r for r in reasons) and any(
        "j-subscription-store" in r for r in reasons
    )
    assert not any("j-left-store" in r for r in reasons)
