"""How aggregates of tables and foreign-key joins lower to a plan (format 2)."""

from __future__ import annotations

from tests.topology.compiler.documents import doc, node, sink, source, table
from topology.compiler import compile_document
from topology.compiler.plan import GroupTable, plan_from_json, plan_to_json


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
