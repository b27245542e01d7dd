"""COLLECT_LIST, COLLECT_SET, TOPK and TOPKDISTINCT: ksqlDB's semantics, per window, across
session merges, and restored from their changelog (documents compiled, then run broker-free)."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from processing.runtime.executor import TopologyRuntime
from processing.runtime.operators.accumulators import COLLECT_LIMIT, Aggregations
from processing.runtime.records import InputRecord
from processing.runtime.testing import TopologyTestDriver
from tests.processing.runtime.builders import aggregate, single, sink, source
from tests.topology.compiler.documents import doc, node
from tests.topology.compiler.documents import sink as sink_node
from tests.topology.compiler.documents import source as source_node
from topology.compiler import compile_document
from topology.compiler.binding import bind
from topology.compiler.plan import Aggregation, Window

COLLECTIONS = {
    "all": "COLLECT_LIST(v)",
    "distinct": "COLLECT_SET(v)",
    "top": "TOPK(v, 3)",
    "top_distinct": "TOPKDISTINCT(v, 2)",
}


def collecting(window: dict[str, Any] | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {"aggregations": COLLECTIONS}
    if window is not None:
        config["window"] = window
    document = doc(
        [source_node("events", "events"), node("agg", "aggregate", **config), sink_node("out", "collected")],
        [("events", "agg"), ("agg", "out")],
    )
    result = compile_document(document)
    assert result.ok, [i.to_dict() for i in result.issues]
    return result.plan


def last_result(driver: TopologyTestDriver) -> dict[str, Any]:
    return [v for _, v, _ in driver.read_output("collected") if v is not None][-1]


def test_collections_keep_arrival_order_and_top_k_keeps_the_largest_first():
    driver = TopologyTestDriver(collecting())
    for ts, v in enumerate([5, 1, 5, 9, None, 3, 9]):
        driver.pipe_input("events", "k", {"v": v}, timestamp=ts)
    assert last_result(driver) == {
        "all": [5, 1, 5, 9, None, 3, 9],  # ksqlDB keeps nulls in COLLECT_LIST ...
        "distinct": [5, 1, 9, None, 3],  # ... and a null is one value of COLLECT_SET
        "top": [9, 9, 5],  # TOPK skips nulls and keeps equal values
        "top_distinct": [9, 5],
    }


def test_top_k_orders_strings_and_refuses_mixing_them_with_numbers():
    driver = TopologyTestDriver(collecting())
    for ts, v in enumerate(["pear", "apple", "zucchini"]):
        driver.pipe_input("events", "k", {"v": v}, timestamp=ts)
    assert last_result(driver)["top"] == ["zucchini", "pear", "apple"]
    accumulators = Aggregations(aggregate(aggregations=(Aggregation("top", "TOPK", "v", k=2),)))
    state = accumulators.new(0)
    accumulators.update(state, {"v": "a"}, "k", 0, 0, 0)
    with pytest.raises(TypeError, match="one kind"):
        accumulators.update(state, {"v": 1}, "k", 1, 0, 1)


def test_a_collect_set_tells_json_values_apart():
    accumulators = Aggregations(aggregate(aggregations=(Aggregation("set", "COLLECT_SET", "v"),)))
    state = accumulators.new(0)
    for n, v in enumerate([1, 1.0, True, {"a": 1, "b": 2}, {"b": 2, "a": 1}, [1], "1", 1]):
        accumulators.update(state, {"v": v}, "k", n, 0, n)
    assert accumulators.result(state)["set"] == [1, 1.0, True, {"a": 1, "b": 2}, [1], "1"]


def test_collections_stop_growing_at_the_limit():
    accumulators = Aggregations(
        aggregate(
            aggregations=(Aggregation("all", "COLLECT_LIST", "v"), Aggregation("set", "COLLECT_SET", "v"))
        )
    )
    state = accumulators.new(0)
    for n in range(COLLECT_LIMIT + 5):
        accumulators.update(state, {"v": n}, "k", n, 0, n)
    result = accumulators.result(state)
    assert result["all"] == list(range(COLLECT_LIMIT))
    assert result["set"] == list(range(COLLECT_LIMIT))
    merged = accumulators.merge(state, state)
    assert len(merged[1]) == COLLECT_LIMIT and len(merged[2]) == COLLECT_LIMIT


def test_a_result_is_a_copy_that_later_records_do_not_change():
    accumulators = Aggregations(aggregate(aggregations=(Aggregation("all", "COLLECT_LIST", "v"),)))
    state = accumulators.new(0)
    accumulators.update(state, {"v": 1}, "k", 0, 0, 0)
    first = accumulators.result(state)
    accumulators.update(state, {"v": 2}, "k", 1, 0, 1)
    assert first == {"all": [1]}


def test_collections_are_per_tumbling_window():
    driver = TopologyTestDriver(collecting({"type": "tumbling", "size": 1000}))
    for ts, v in [(900, 4), (100, 7), (1500, 2), (1600, 8)]:
        driver.pipe_input("events", "k", {"v": v}, timestamp=ts)
    by_window = {
        orjson.loads(k)["window_start"]: (v["all"], v["top"]) for k, v, _ in driver.read_output("collected")
    }
    assert by_window == {0: ([4, 7], [7, 4]), 1000: ([2, 8], [8, 2])}


def test_a_session_merge_appends_the_later_session_and_merges_the_top_values():
    driver = TopologyTestDriver(collecting({"type": "session", "gap": 100, "grace": 1000}))
    driver.pipe_input("events", "k", {"v": 1}, timestamp=0)
    driver.pipe_input("events", "k", {"v": 5}, timestamp=150)  # its own session
    driver.pipe_input("events", "k", {"v": 3}, timestamp=80)  # bridges both
    assert last_result(driver) == {
        "all": [1, 5, 3],  # the sessions in time order, then the bridging record
        "distinct": [1, 5, 3],
        "top": [5, 3, 1],
        "top_distinct": [5, 3],
    }


def test_sliding_windows_recompute_collections_from_their_records():
    driver = TopologyTestDriver(collecting({"type": "sliding", "difference": 100}))
    driver.pipe_input("events", "k", {"v": 1}, timestamp=1000)
    driver.pipe_input("events", "k", {"v": 2}, timestamp=1050)
    driver.pipe_input("events", "k", {"v": 3}, timestamp=1200)
    results = {orjson.loads(k)["window_start"]: v["all"] for k, v, _ in driver.read_output("collected")}
    assert results[950] == [1, 2]  # [950, 1050]: the first two
    assert results[1100] == [3]  # [1100, 1200]: the last one only


AGGS = (
    Aggregation("all", "COLLECT_LIST", "v"),
    Aggregation("distinct", "COLLECT_SET", "u"),
    Aggregation("top", "TOPK", "v", k=3),
    Aggregation("top_distinct", "TOPKDISTINCT", "u", k=2),
)
PLANS = {
    "kv": single(source(), aggregate(aggregations=AGGS), sink("agg")),
    "session": single(
        source(), aggregate(aggregations=AGGS, window=Window("session", gap_ms=15, grace_ms=10)), sink("agg")
    ),
    "hopping": single(
        source(),
        aggregate(aggregations=AGGS, window=Window("hopping", size_ms=50, advance_ms=10, grace_ms=20)),
        sink("agg"),
    ),
}


def records(n: int = 300, seed: int = 11) -> list[InputRecord]:
    rng = random.Random(seed)
    ts = 0
    out = []
    for offset in range(n):
        ts = max(0, ts + rng.randint(-20, 25))
        value = {"v": rng.choice([None, *range(10)]), "u": rng.choice("abcd")}
        key = f"k{rng.randint(0, 3)}".encode()
        out.append(InputRecord("in", 0, offset, ts, key, orjson.dumps(value), None))
    return out


@pytest.mark.parametrize("name", sorted(PLANS))
def test_collections_restore_from_their_changelog_and_go_on_identically(name):
    runtime = TopologyRuntime(bind(PLANS[name], "app"))
    data = records()
    original = runtime.create_task(0, 0)
    original.process(data[:180])
    original.take_output()
    changelog = original.take_changelog()
    restored = runtime.create_task(0, 0)
    for store, topic in restored.changelog_topics.items():
        restored.restore(store, [(r.key, r.value) for r in changelog if r.topic == topic])
    assert {n: s.data for n, s in restored.stores.items()} == {n: s.data for n, s in original.stores.items()}
    original.process(data[180:])
    restored.process(data[180:])
    output = original.take_output()
    assert output and restored.take_output() == output
