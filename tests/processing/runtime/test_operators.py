import orjson
import pytest

from processing.runtime.executor import RecordFailure, TopologyRuntime
from processing.runtime.records import InputRecord
from processing.runtime.testing import TopologyTestDriver
from tests.processing.runtime.builders import aggregate, counting_plan, single, sink, source
from topology.compiler.binding import bind
from topology.compiler.plan import (
    Aggregation,
    Field,
    Filter,
    FlatMap,
    Plan,
    Project,
    Repartition,
    SelectKey,
    Source,
    SubTopology,
    ToStream,
    ToTable,
    View,
    complete_plan,
)


def test_filter_keeps_only_records_whose_predicate_is_true():
    plan = single(source(), Filter(id="f", node_id="f", inputs=("src",), predicate="amount > 10"), sink("f"))
    driver = TopologyTestDriver(plan)
    for amount in (5, 11, None, 20):
        driver.pipe_input("in", "k", {"amount": amount}, timestamp=1)
    assert [v["amount"] for _, v, _ in driver.read_output("out")] == [11, 20]
    assert driver.metrics()["f"] == {"in": 4, "out": 2, "errors": 0, "late": 0}


def test_project_keeps_drops_and_computes_fields_from_the_input_record():
    project = Project(
        id="m",
        node_id="m",
        inputs=("src",),
        drop=("secret",),
        set=(Field("total", "price * qty"), Field("price", "price + 1")),
    )
    driver = TopologyTestDriver(single(source(), project, sink("m")))
    driver.pipe_input("in", "k", {"price": 2, "qty": 3, "secret": "x"}, timestamp=5)
    assert driver.read_output("out") == [("k", {"price": 3, "qty": 3, "total": 6}, 5)]


def test_project_without_keep_all_starts_from_an_empty_record():
    project = Project(id="m", node_id="m", inputs=("src",), keep_all=False, set=(Field("k", "ROWKEY"),))
    driver = TopologyTestDriver(single(source(), project, sink("m")))
    driver.pipe_input("in", "abc", {"x": 1}, timestamp=5)
    assert driver.read_output("out") == [("abc", {"k": "abc"}, 5)]


def test_flat_map_emits_one_record_per_array_element():
    flat = FlatMap(id="fm", node_id="fm", inputs=("src",), field="order.items", as_name="item")
    driver = TopologyTestDriver(single(source(), flat, sink("fm")))
    driver.pipe_input("in", "k", {"order": {"items": [1, 2, 3]}}, timestamp=7)
    driver.pipe_input("in", "k", {"order": {}}, timestamp=8)
    out = driver.read_output("out")
    assert [v["item"] for _, v, _ in out] == [1, 2, 3]
    assert all(ts == 7 for _, _, ts in out)


def test_count_by_key_emits_every_update():
    driver = TopologyTestDriver(counting_plan())
    for key in ("a", "b", "a", "a"):
        driver.pipe_input("in", key, {"x": 1}, timestamp=1)
    assert [(k, v["count"]) for k, v, _ in driver.read_output("out")] == [
        ("a", 1),
        ("b", 1),
        ("a", 2),
        ("a", 3),
    ]
    assert driver.table("agg-store") == {"a": [1, 3], "b": [1, 1]}


def test_every_aggregate_function_over_one_group():
    aggs = (
        Aggregation("n", "COUNT"),
        Aggregation("n_price", "COUNT", "price"),
        Aggregation("total", "SUM", "price"),
        Aggregation("low", "MIN", "price"),
        Aggregation("high", "MAX", "price"),
        Aggregation("mean", "AVG", "price"),
        Aggregation("users", "COUNT_DISTINCT", "user"),
        Aggregation("last", "LATEST", "user"),
        Aggregation("first", "EARLIEST", "user"),
    )
    driver = TopologyTestDriver(single(source(), aggregate(aggregations=aggs), sink("agg")))
    rows = [(30, 4, "bo"), (10, 2, "al"), (20, None, "cy"), (30, 6, "al")]
    for ts, price, user in rows:
        driver.pipe_input("in", "g", {"price": price, "user": user}, timestamp=ts)
    *_, (key, final, ts) = driver.read_output("out")
    assert final == {
        "n": 4,
        "n_price": 3,
        "total": 12,
        "low": 2,
        "high": 6,
        "mean": 4.0,
        "users": 3,
        "last": "al",  # ts 30 twice: the later arrival wins
        "first": "al",  # earliest event time is 10, although it arrived second
    }


def test_aggregate_skips_null_keys_and_null_values_like_kafka_streams():
    driver = TopologyTestDriver(counting_plan())
    driver.pipe_input("in", None, {"x": 1}, timestamp=1)
    driver.pipe_input("in", "a", None, timestamp=1)
    assert driver.read_output("out") == []
    assert driver.table("agg-store") == {}


def test_select_key_and_repartition_regroup_through_a_second_subtopology():
    first = SubTopology(
        id=0,
        operators=(
            source(),
            SelectKey(id="by_user", node_id="by_user", inputs=("src",), key="user"),
            Repartition(id="by_user.rp", node_id="by_user", inputs=("by_user",), name="by_user"),
        ),
        source_topics=("in",),
    )
    second = SubTopology(
        id=1,
        operators=(
            Source(id="by_user.src", node_id="by_user", inputs=(), repartition="by_user"),
            aggregate("by_user.src"),
            sink("agg"),
        ),
        repartition_inputs=("by_user",),
    )
    plan = complete_plan(Plan(name="t", subtopologies=(first, second)))
    driver = TopologyTestDriver(plan, partitions=3)
    for n, user in enumerate(["ann", "bob", "ann", "cid", "ann"]):
        driver.pipe_input("in", f"order-{n}", {"user": user}, timestamp=n)
    latest = {k: v["count"] for k, v, _ in driver.read_output("out")}
    assert latest == {"ann": 3, "bob": 1, "cid": 1}
    # Each user is counted by exactly one task: the partition its key hashes to.
    owners = {k: p for (sub, p), t in driver.tasks.items() if sub == 1 for k in t.stores["agg-store"].data}
    assert len(owners) == 3
    assert TopologyRuntime(bind(plan, "shop")).input_topics() == ["in", "shop-by_user-repartition"]


def test_to_table_keeps_the_latest_value_and_a_tombstone_deletes():
    table = ToTable(id="t", node_id="t", inputs=("src",), store="t-store")
    view = View(id="v", node_id="v", inputs=("t",))
    stream = ToStream(id="s", node_id="s", inputs=("t",))
    driver = TopologyTestDriver(single(source(), table, view, stream, sink("s")))
    driver.pipe_input("in", "a", {"v": 1}, timestamp=1)
    driver.pipe_input("in", "b", {"v": 2}, timestamp=2)
    driver.pipe_input("in", "a", {"v": 3}, timestamp=3)
    driver.pipe_input("in", "b", None, timestamp=4)
    assert driver.table("t-store") == {"a": {"v": 3}}
    assert driver.table("v") == {"a": {"v": 3}}
    assert driver.read_output("out") == [
        ("a", {"v": 1}, 1),
        ("b", {"v": 2}, 2),
        ("a", {"v": 3}, 3),
        ("b", None, 4),
    ]


def test_filter_on_a_table_turns_rows_that_stop_matching_into_tombstones():
    table = ToTable(id="t", node_id="t", inputs=("src",), store="t-store")
    big = Filter(id="f", node_id="f", inputs=("t",), predicate="v > 1")
    view = View(id="v", node_id="v", inputs=("f",))
    driver = TopologyTestDriver(single(source(), table, big, view))
    driver.pipe_input("in", "a", {"v": 5}, timestamp=1)
    assert driver.table("v") == {"a": {"v": 5}}
    driver.pipe_input("in", "a", {"v": 0}, timestamp=2)
    assert driver.table("v") == {}


def test_view_deltas_are_coalesced_per_key_until_taken():
    runtime = TopologyRuntime(
        bind(single(source(), aggregate(), View(id="v", node_id="v", inputs=("agg",))), "app")
    )
    task = runtime.create_task(0, 0)
    task.process([InputRecord("in", 0, n, n, b"k", b"{}", None) for n in range(5)])
    assert task.take_view_deltas() == {"v": {"k": {"count": 5}}}
    assert task.take_view_deltas() == {}


def test_event_time_can_come_from_a_field_in_epoch_ms_or_iso_text():
    plan = single(source(timestamp="at"), sink("src"))
    driver = TopologyTestDriver(plan)
    driver.pipe_input("in", "k", {"at": 1234}, timestamp=1)
    driver.pipe_input("in", "k", {"at": "1970-01-01T00:00:02Z"}, timestamp=1)
    assert [ts for _, _, ts in driver.read_output("out")] == [1234, 2000]


def test_node_outputs_show_what_each_node_emitted():
    plan = single(source(), Filter(id="f", node_id="f", inputs=("src",), predicate="x = 1"), sink("f"))
    driver = TopologyTestDriver(plan)
    driver.pipe_input("in", "a", {"x": 1}, timestamp=3)
    driver.pipe_input("in", "b", {"x": 2}, timestamp=4)
    assert driver.node_outputs("src") == [("a", {"x": 1}, 3), ("b", {"x": 2}, 4)]
    assert driver.node_outputs("f") == [("a", {"x": 1}, 3)]


def test_sink_writes_in_its_declared_formats():
    plan = single(
        source(), aggregate(aggregations=(Aggregation("n", "COUNT"),)), sink("agg", value_format="json")
    )
    runtime = TopologyRuntime(bind(plan, "app"))
    task = runtime.create_task(0, 0)
    task.process([InputRecord("in", 0, 0, 10, b"k", b"{}", None)])
    (record,) = task.take_output()
    assert (record.topic, record.key, orjson.loads(record.value), record.timestamp, record.partition) == (
        "out",
        b"k",
        {"n": 1},
        10,
        None,
    )


def test_a_task_refuses_a_topic_its_subtopology_does_not_read():
    task = TopologyRuntime(bind(counting_plan(), "app")).create_task(0, 0)
    with pytest.raises(ValueError, match="does not read topic 'other'"):
        task.process([InputRecord("other", 0, 0, 0, b"k", b"{}", None)])


def test_fail_policy_raises_at_the_bad_record_and_keeps_earlier_output():
    task = TopologyRuntime(bind(counting_plan(), "app"), error_policy="fail").create_task(0, 3)
    records = [
        InputRecord("in", 3, 40, 1, b"k", b"{}", None),
        InputRecord("in", 3, 41, 1, b"k", b"{broken", None),
        InputRecord("in", 3, 42, 1, b"k", b"{}", None),
    ]
    with pytest.raises(RecordFailure) as failure:
        task.process(records)
    assert (failure.value.topic, failure.value.partition, failure.value.offset) == ("in", 3, 41)
    assert failure.value.node_id == "src"
    assert failure.value.error_class == "DeserializationError"
    assert len(task.take_output()) == 1


def test_the_driver_names_an_unknown_table():
    driver = TopologyTestDriver(counting_plan())
    assert driver.table("agg-store") == {}
    with pytest.raises(KeyError, match="no view or store named 'nope'"):
        driver.table("nope")


def test_metrics_of_a_lowered_branch_count_each_record_in_once_and_every_branch_out():
    branches = (
        Filter(id="b.big", node_id="b", inputs=("src",), predicate="x > 10"),
        Filter(id="b.default", node_id="b", inputs=("src",), predicate="NOT (x > 10)"),
    )
    plan = single(
        source(),
        *branches,
        sink("b.big", topic="big", op_id="s1"),
        sink("b.default", topic="small", op_id="s2"),
    )
    driver = TopologyTestDriver(plan)
    for x in (1, 20, 30):
        driver.pipe_input("in", "k", {"x": x}, timestamp=1)
    assert driver.metrics()["b"] == {"in": 3, "out": 3, "errors": 0, "late": 0}
    assert len(driver.read_output("big")) == 2
    assert len(driver.node_outputs("b")) == 3
    assert driver.node_outputs("b.big") == [("k", {"x": 20}, 1), ("k", {"x": 30}, 1)]


def test_metrics_add_up_across_partitions():
    driver = TopologyTestDriver(counting_plan(), partitions=4)
    for n in range(40):
        driver.pipe_input("in", f"key-{n}", {}, timestamp=n)
    assert len({p for (_, p) in driver.tasks}) > 1
    assert driver.metrics()["agg"]["in"] == 40
    assert sum(v["count"] for v in {k: v for k, v, _ in driver.read_output("out")}.values()) == 40


def test_an_aggregate_result_carries_the_largest_timestamp_of_its_records():
    driver = TopologyTestDriver(counting_plan())
    for ts in (50, 20, 70):
        driver.pipe_input("in", "k", {}, timestamp=ts)
    assert [ts for _, _, ts in driver.read_output("out")] == [50, 50, 70]
