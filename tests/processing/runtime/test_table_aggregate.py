"""Aggregating a table (Kafka Streams' ``KTable.groupBy(..).aggregate(init, adder, subtractor)``,
ksqlDB's ``CREATE TABLE t AS SELECT k, COUNT(*) FROM some_table GROUP BY k``): documents →
compiler → TopologyTestDriver, against results worked out by hand from Kafka Streams'
KTableRepartitionMap and KTableAggregate (4.x)."""

from __future__ import annotations

from typing import Any

import pytest

from processing.runtime.operators.accumulators import Aggregations
from processing.runtime.testing import TopologyTestDriver
from tests.topology.compiler.documents import doc, node, sink, table
from topology.compiler import compile_document
from topology.compiler.plan import TABLE_AGGREGATE_FUNCTIONS, Aggregate, Aggregation


def compiled(aggregations: dict[str, str], group_by: Any = "region") -> Any:
    result = compile_document(
        doc(
            [
                table("users", "users"),
                node("by_region", "aggregate", group_by=group_by, aggregations=aggregations),
                sink(),
            ],
            [("users", "by_region"), ("by_region", "out")],
        )
    )
    assert result.ok, [i.to_dict() for i in result.issues]
    return result.plan


# (key, value, timestamp) piped into the "users" table, and what Kafka Streams emits for it.
UPDATES = [
    ("u1", {"region": "eu", "age": 10}, 1),  # new row: eu gets it
    ("u2", {"region": "eu", "age": 20}, 2),
    ("u2", {"region": "eu", "age": 26}, 3),  # same group: one Change(new, old) → one result
    ("u1", {"region": "us", "age": 11}, 4),  # group changes: old to eu first, then new to us
    ("u3", {"region": None, "age": 5}, 5),  # null group key: nothing is sent
    ("u3", {"region": "us", "age": 7}, 6),  # from a null group: only the new row is sent
    ("u2", None, 7),  # tombstone: subtracted from eu
    ("u9", None, 8),  # tombstone of a row never seen: nothing
    ("u1", {"region": "us", "age": 12}, 9),
]
COUNT_SUM_AVG = {"n": "COUNT(*)", "total": "SUM(age)", "mean": "AVG(age)"}
EXPECTED = [
    ("eu", {"n": 1, "total": 10, "mean": 10.0}, 1),
    ("eu", {"n": 2, "total": 30, "mean": 15.0}, 2),
    ("eu", {"n": 2, "total": 36, "mean": 18.0}, 3),
    ("eu", {"n": 1, "total": 26, "mean": 26.0}, 4),  # max(4, 3): the group's latest timestamp
    ("us", {"n": 1, "total": 11, "mean": 11.0}, 4),
    ("us", {"n": 2, "total": 18, "mean": 9.0}, 6),
    ("eu", {"n": 0, "total": 0, "mean": None}, 7),  # the row stays, as Kafka Streams' count 0
    ("us", {"n": 2, "total": 19, "mean": 9.5}, 9),
]


@pytest.mark.parametrize("partitions", [1, 3])
def test_updates_move_a_rows_contribution_between_groups_as_kafka_streams_does(partitions):
    driver = TopologyTestDriver(compiled(COUNT_SUM_AVG), partitions=partitions)
    for key, value, ts in UPDATES:
        driver.pipe_input("users", key, value, timestamp=ts)
    assert driver.read_output("out") == EXPECTED
    assert driver.table("by_region-store").keys() == {"eu", "us"}


def test_the_repartition_carries_one_change_pair_per_update_or_two_when_the_group_changes():
    driver = TopologyTestDriver(compiled({"n": "COUNT(*)"}))
    for key, value, ts in UPDATES[:4]:
        driver.pipe_input("users", key, value, timestamp=ts)
    u1, u2, u2b = {"region": "eu", "age": 10}, {"region": "eu", "age": 20}, {"region": "eu", "age": 26}
    assert driver.node_outputs("by_region.group_table") == [
        ("eu", {"new": u1, "old": None}, 1),
        ("eu", {"new": u2, "old": None}, 2),
        ("eu", {"new": u2b, "old": u2}, 3),
        ("eu", {"new": None, "old": u1}, 4),
        ("us", {"new": {"region": "us", "age": 11}, "old": None}, 4),
    ]


def test_count_of_a_column_and_avg_ignore_nulls_both_ways():
    driver = TopologyTestDriver(compiled({"aged": "COUNT(age)", "mean": "AVG(age)", "total": "SUM(age)"}))
    driver.pipe_input("users", "a", {"region": "eu", "age": None}, timestamp=1)
    driver.pipe_input("users", "b", {"region": "eu", "age": 4}, timestamp=2)
    driver.pipe_input("users", "a", {"region": "eu", "age": 6}, timestamp=3)
    driver.pipe_input("users", "b", {"region": "eu"}, timestamp=4)
    assert [v for _, v, _ in driver.read_output("out")] == [
        {"aged": 0, "mean": None, "total": 0},
        {"aged": 1, "mean": 4.0, "total": 4},
        {"aged": 2, "mean": 5.0, "total": 10},
        {"aged": 1, "mean": 6.0, "total": 6},
    ]


def test_a_composite_group_key_groups_rows_by_several_columns():
    driver = TopologyTestDriver(compiled({"n": "COUNT(*)"}, group_by=["region", "plan"]))
    driver.pipe_input("users", "a", {"region": "eu", "plan": "pro"}, timestamp=1)
    driver.pipe_input("users", "b", {"region": "eu", "plan": "pro"}, timestamp=2)
    driver.pipe_input("users", "a", {"region": "eu", "plan": "free"}, timestamp=3)
    pro, free = '{"plan":"pro","region":"eu"}', '{"plan":"free","region":"eu"}'  # a string sink's keys
    assert driver.read_output("out") == [
        (pro, {"n": 1}, 1),
        (pro, {"n": 2}, 2),
        (pro, {"n": 1}, 3),
        (free, {"n": 1}, 3),
    ]


def test_a_change_that_fails_leaves_its_group_as_it_was():
    driver = TopologyTestDriver(compiled({"n": "COUNT(*)", "total": "SUM(age)"}), error_policy="skip")
    driver.pipe_input("users", "a", {"region": "eu", "age": 3}, timestamp=1)
    driver.pipe_input("users", "b", {"region": "eu", "age": "old"}, timestamp=2)  # SUM of a string
    driver.pipe_input("users", "a", {"region": "eu", "age": 5}, timestamp=3)
    assert [v for _, v, _ in driver.read_output("out")] == [{"n": 1, "total": 3}, {"n": 1, "total": 5}]
    assert driver.metrics()["by_region"]["errors"] == 1


def _restart(driver: TopologyTestDriver, logged: list) -> None:
    """Every task replaced by a new one restored from the changelog written so far (a crash
    after a commit, or a rebalance), which must hold the same state."""
    logged += driver.changelog()
    for (sub, partition), task in list(driver.tasks.items()):
        fresh = driver.runtime.create_task(sub, partition, capture=True)
        for store, topic in fresh.changelog_topics.items():
            fresh.restore(
                store, [(r.key, r.value) for r in logged if r.topic == topic and r.partition == partition]
            )
        assert {n: s.data for n, s in fresh.stores.items()} == {n: s.data for n, s in task.stores.items()}
        driver.tasks[(sub, partition)] = fresh


@pytest.mark.parametrize("split", range(1, len(UPDATES)))
def test_restored_from_the_changelog_mid_stream_the_groups_continue_exactly(split):
    driver = TopologyTestDriver(compiled(COUNT_SUM_AVG), partitions=2)
    logged: list = []
    for index, (key, value, ts) in enumerate(UPDATES):
        if index == split:
            _restart(driver, logged)
        driver.pipe_input("users", key, value, timestamp=ts)
    assert driver.read_output("out") == EXPECTED
    stores = {r.topic for r in logged}
    assert {"test-by_region-group-store-changelog", "test-by_region-store-changelog"} <= stores


def test_subtract_undoes_update_for_every_function_a_table_may_use():
    aggregations = tuple(
        Aggregation(f"{f.lower()}_{n}", f, arg)  # type: ignore[arg-type]
        for f in TABLE_AGGREGATE_FUNCTIONS
        for n, arg in enumerate((None if f == "COUNT" else "x", "x"))
    )
    aggs = Aggregations(Aggregate(id="a", node_id="a", inputs=(), store="s", aggregations=aggregations))
    accs = aggs.new(0)
    for x in (3, None, 4.5):
        aggs.update(accs, {"x": x}, "k", 1, 0, 0)
    before = aggs.copy(accs)
    aggs.update(accs, {"x": 7}, "k", 2, 0, 1)
    aggs.subtract(accs, {"x": 7}, "k", 2, 0, 1)
    assert accs[1:] == before[1:] and accs[0] == 2


def test_functions_without_an_undo_refuse_to_subtract():
    aggs = Aggregations(
        Aggregate(id="a", node_id="a", inputs=(), store="s", aggregations=(Aggregation("m", "MAX", "x"),))
    )
    with pytest.raises(ValueError, match="MAX cannot take a value back out"):
        aggs.subtract(aggs.new(0), {"x": 1}, "k", 0, 0, 0)


def test_the_compiler_allows_on_tables_exactly_the_functions_that_can_undo():
    from typing import get_args

    from processing.runtime.operators.accumulators import _undoer
    from topology.compiler.plan import AggregateFunction

    undoable = {f for f in get_args(AggregateFunction) if _undoer(f, 1, False) is not None}
    assert undoable == set(TABLE_AGGREGATE_FUNCTIONS)
