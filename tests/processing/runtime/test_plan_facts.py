"""The runtime takes what the plan says (output kinds, coalescing sinks, store names, topic
names from the binding) and works none of it out again."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from processing.runtime.executor import TopologyRuntime
from processing.runtime.records import InputRecord
from processing.runtime.testing import TopologyTestDriver
from tests.processing.runtime.builders import counting_plan
from topology.compiler import compile_document
from topology.compiler.binding import bind
from topology.compiler.plan import Filter, Plan, Sink, SubTopology


def _with(plan: Plan, op_id: str, **changes) -> Plan:
    return replace(
        plan,
        subtopologies=tuple(
            replace(
                sub, operators=tuple(replace(op, **changes) if op.id == op_id else op for op in sub.operators)
            )
            for sub in plan.subtopologies
        ),
    )


def _table_filter_plan() -> Plan:
    document = {
        "name": "t",
        "nodes": [
            {"id": "users", "type": "table_source", "config": {"topic": "users"}},
            {"id": "adults", "type": "filter", "config": {"where": "age >= 18"}},
            {"id": "out", "type": "sink", "config": {"topic": "out"}},
        ],
        "edges": [{"source": "users", "target": "adults"}, {"source": "adults", "target": "out"}],
    }
    plan = compile_document(document).plan
    assert plan is not None
    return plan


def test_a_filter_follows_the_output_kind_the_plan_gives_it():
    plan = _table_filter_plan()
    assert plan.operator("adults").output == "table"
    driver = TopologyTestDriver(plan)
    driver.pipe_input("users", "ann", {"age": 30}, timestamp=1)
    driver.pipe_input("users", "ann", {"age": 12}, timestamp=2)
    # On a table, a row that stops matching leaves it: a tombstone.
    assert driver.read_output("out") == [("ann", {"age": 30}, 1), ("ann", None, 2)]

    as_stream = TopologyTestDriver(_with(plan, "adults", output="stream"))
    as_stream.pipe_input("users", "ann", {"age": 30}, timestamp=1)
    as_stream.pipe_input("users", "ann", {"age": 12}, timestamp=2)
    assert as_stream.read_output("out") == [("ann", {"age": 30}, 1)]


def test_a_sink_coalesces_only_when_the_plan_says_so():
    records = [InputRecord("in", 0, n, 10 + n, b"a", b"{}") for n in range(3)]
    plan = counting_plan()
    assert isinstance(plan.operator("sink"), Sink) and plan.operator("sink").coalesce
    task = TopologyRuntime(bind(plan, "app"), cache_tables=True).create_task(0, 0)
    task.process(records)
    task.flush_caches()
    assert [orjson.loads(r.value) for r in task.take_output()] == [{"count": 3}]

    eager = TopologyRuntime(bind(_with(plan, "sink", coalesce=False), "app"), cache_tables=True).create_task(
        0, 0
    )
    eager.process(records)
    assert [orjson.loads(r.value) for r in eager.take_output()] == [{"count": 1}, {"count": 2}, {"count": 3}]


def test_topic_names_come_from_the_binding():
    plan = compile_document(
        {
            "name": "t",
            "nodes": [
                {"id": "in", "type": "source", "config": {"topics": ["in"]}},
                {
                    "id": "n",
                    "type": "aggregate",
                    "config": {"group_by": "page", "aggregations": {"n": "COUNT(*)"}},
                },
                {"id": "out", "type": "sink", "config": {"topic": "out"}},
            ],
            "edges": [{"source": "in", "target": "n"}, {"source": "n", "target": "out"}],
        }
    ).plan
    assert plan is not None
    bound = bind(plan, "shop")
    runtime = TopologyRuntime(bound)
    assert runtime.input_topics() == ["in", "shop-n-repartition"]
    task = runtime.create_task(runtime.subtopology_of("shop-n-repartition"), 0)
    assert task.changelog_topics == {"n-store": "shop-n-store-changelog"}
    assert task.dlq_topic == "shop.dlq"


def test_a_plan_naming_an_undeclared_store_is_refused_before_it_runs():
    plan = counting_plan()
    with pytest.raises(ValueError, match="does not declare"):
        TopologyTestDriver(replace(plan, stores=()))


def test_hand_built_operators_keep_their_plan_defaults():
    plan = Plan(
        name="t",
        subtopologies=(SubTopology(id=0, operators=(Filter(id="f", node_id="f", inputs=()),)),),
    )
    assert plan.operator("f").output == "stream"
