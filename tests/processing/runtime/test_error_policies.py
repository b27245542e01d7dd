from processing.runtime.executor import (
    H_CLASS,
    H_MESSAGE,
    H_NODE,
    H_OFFSET,
    H_PARTITION,
    H_TOPIC,
    TopologyRuntime,
)
from processing.runtime.operators.stateless import MAX_RECORD_BYTES
from processing.runtime.records import InputRecord
from processing.runtime.testing import TopologyTestDriver
from tests.processing.runtime.builders import aggregate, counting_plan, single, sink, source
from topology.compiler.binding import bind
from topology.compiler.plan import Aggregation, Filter


def test_dlq_policy_sends_the_original_record_with_located_headers():
    driver = TopologyTestDriver(counting_plan(), app_id="shop", error_policy="dlq")
    driver.pipe_input("in", "good", {"x": 1}, timestamp=1)
    driver.pipe_input("in", "bad", b"\x00not json", timestamp=2)
    driver.pipe_input("in", "good", {"x": 1}, timestamp=3)
    (dead,) = driver.dlq()
    assert dead.topic == "shop.dlq"
    assert (dead.key, dead.value, dead.timestamp) == (b"bad", b"\x00not json", 2)
    headers = dict(dead.headers)
    assert headers[H_TOPIC] == b"in"
    assert headers[H_PARTITION] == b"0"
    assert headers[H_OFFSET] == b"1"
    assert headers[H_NODE] == b"src"
    assert headers[H_CLASS] == b"DeserializationError"
    assert b"invalid JSON" in headers[H_MESSAGE]
    assert [v["count"] for _, v, _ in driver.read_output("out")] == [1, 2]
    assert driver.metrics()["src"]["errors"] == 1


def test_a_dead_letter_keeps_the_records_own_headers_before_the_error_headers():
    driver = TopologyTestDriver(counting_plan(), app_id="shop", error_policy="dlq")
    own = [("trace-id", b"abc"), ("trace-id", b"twice"), ("empty", None)]
    driver.pipe_input("in", "bad", b"\x00not json", timestamp=2, headers=own)
    (dead,) = driver.dlq()
    assert dead.headers[:3] == own
    assert [name for name, _ in dead.headers[3:]] == [
        H_TOPIC,
        H_PARTITION,
        H_OFFSET,
        H_NODE,
        H_CLASS,
        H_MESSAGE,
    ]


def test_expression_errors_are_attributed_to_their_node():
    plan = single(source(), aggregate(aggregations=(Aggregation("total", "SUM", "price"),)), sink("agg"))
    driver = TopologyTestDriver(plan, error_policy="dlq")
    driver.pipe_input("in", "k", {"price": "expensive"}, timestamp=1)
    (dead,) = driver.dlq()
    assert dict(dead.headers)[H_NODE] == b"agg"
    assert driver.events.of_type("error")[0]["node_id"] == "agg"


def test_skip_policy_counts_and_drops_bad_records():
    plan = single(
        source(), Filter(id="f", node_id="f", inputs=("src",), predicate="CAST(x AS INT) > 0"), sink("f")
    )
    driver = TopologyTestDriver(plan, error_policy="skip")
    driver.pipe_input("in", "k", {"x": "1"}, timestamp=1)
    driver.pipe_input("in", "k", b"[", timestamp=2)
    driver.pipe_input("in", "k", {"x": "2"}, timestamp=3)
    assert len(driver.read_output("out")) == 2
    assert driver.dlq() == []
    assert driver.metrics()["src"]["errors"] == 1


def test_oversize_values_are_bad_records():
    task = TopologyRuntime(bind(counting_plan(), "app"), error_policy="dlq").create_task(0, 0)
    huge = b'{"x":"' + b"a" * MAX_RECORD_BYTES + b'"}'
    task.process([InputRecord("in", 0, 9, 1, b"k", huge, None)])
    (dead,) = task.take_output()
    assert dead.topic == "app.dlq"
    assert dict(dead.headers)[H_OFFSET] == b"9"
    assert b"exceeds" in dict(dead.headers)[H_MESSAGE]


def test_mixed_types_in_min_are_a_bad_record_not_a_crash():
    plan = single(source(), aggregate(aggregations=(Aggregation("low", "MIN", "x"),)), sink("agg"))
    driver = TopologyTestDriver(plan, error_policy="skip")
    driver.pipe_input("in", "k", {"x": 5}, timestamp=1)
    driver.pipe_input("in", "k", {"x": "five"}, timestamp=2)
    driver.pipe_input("in", "k", {"x": 3}, timestamp=3)
    assert [v["low"] for _, v, _ in driver.read_output("out")] == [5, 3]
    assert driver.metrics()["agg"]["errors"] == 1


def test_session_merges_of_mixed_types_are_bad_records_too():
    from topology.compiler.plan import Window

    window = Window("session", gap_ms=20, grace_ms=100)
    plan = single(
        source(), aggregate(aggregations=(Aggregation("low", "MIN", "x"),), window=window), sink("agg")
    )
    driver = TopologyTestDriver(plan, error_policy="dlq")
    driver.pipe_input("in", "k", {"x": 5}, timestamp=0)
    driver.pipe_input("in", "k", {"x": "a"}, timestamp=30)
    driver.pipe_input("in", "k", {"x": 1}, timestamp=15)  # bridges both sessions: 5 vs "a"
    (dead,) = driver.dlq()
    assert dict(dead.headers)[H_NODE] == b"agg"
    assert dict(dead.headers)[H_OFFSET] == b"2"
