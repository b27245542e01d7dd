import random

import orjson
import pytest

from processing.runtime.executor import TopologyRuntime
from processing.runtime.records import InputRecord
from tests.processing.runtime.builders import aggregate, counting_plan, single, sink, source
from tests.processing.runtime.test_joins import join_plan
from topology.compiler.binding import bind
from topology.compiler.plan import Aggregation, Window

AGGS = (
    Aggregation("n", "COUNT"),
    Aggregation("mean", "AVG", "v"),
    Aggregation("users", "COUNT_DISTINCT", "u"),
    Aggregation("last", "LATEST", "u"),
)

PLANS = {
    "kv": single(source(), aggregate(aggregations=AGGS), sink("agg")),
    "tumbling": counting_plan(Window("tumbling", size_ms=50, grace_ms=20)),
    "hopping_final": counting_plan(Window("hopping", size_ms=50, advance_ms=10, grace_ms=20), emit="final"),
    "sliding_final": counting_plan(Window("sliding", size_ms=30, grace_ms=10), emit="final"),
    "session": single(
        source(), aggregate(aggregations=AGGS, window=Window("session", gap_ms=15, grace_ms=10)), sink("agg")
    ),
}


def records(topic="in", n=400, seed=7):
    rng = random.Random(seed)
    ts = 0
    out = []
    for offset in range(n):
        ts = max(0, ts + rng.randint(-20, 25))
        value = {"v": rng.randint(0, 9), "u": rng.choice("abc")}
        out.append(
            InputRecord(topic, 0, offset, ts, f"k{rng.randint(0, 5)}".encode(), orjson.dumps(value), None)
        )
    return out


@pytest.mark.parametrize("name", sorted(PLANS))
def test_restoring_from_changelog_records_rebuilds_the_same_state_and_output(name):
    plan = PLANS[name]
    runtime = TopologyRuntime(bind(plan, "app"))
    data = records()
    original = runtime.create_task(0, 0)
    original.process(data[:250])
    original.take_output()
    changelog = original.take_changelog()
    assert changelog and all(r.partition == 0 for r in changelog)

    restored = runtime.create_task(0, 0)
    for store, topic in restored.changelog_topics.items():
        restored.restore(store, [(r.key, r.value) for r in changelog if r.topic == topic])
    assert {n: s.data for n, s in restored.stores.items()} == {n: s.data for n, s in original.stores.items()}
    if name != "kv":  # only time-driven stores log stream time (nothing else depends on it)
        assert restored.stream_time == original.stream_time

    original.process(data[250:])
    restored.process(data[250:])
    assert restored.take_output() == original.take_output()


def test_changelog_has_one_record_per_dirty_key_since_the_last_take():
    task = TopologyRuntime(bind(counting_plan(), "app")).create_task(0, 2)
    task.process([InputRecord("in", 2, n, n, b"ab"[n % 2 : n % 2 + 1], b"{}", None) for n in range(10)])
    first = task.take_changelog()
    assert sorted((r.key, orjson.loads(r.value)[1]) for r in first) == [(b'"a"', 5), (b'"b"', 5)]
    assert {(r.topic, r.partition) for r in first} == {("app-agg-store-changelog", 2)}
    assert task.take_changelog() == []


def test_stream_stream_join_buffers_survive_a_restore():
    from topology.compiler.plan import Window as W

    plan = join_plan("stream_stream", "left", window=W("tumbling", size_ms=10))
    runtime = TopologyRuntime(bind(plan, "app"))
    task = runtime.create_task(0, 0)
    task.process([InputRecord("L", 0, 0, 100, b"k", b'{"l":1}', None)])
    log = task.take_changelog()
    fresh = runtime.create_task(0, 0)
    for store, topic in fresh.changelog_topics.items():
        fresh.restore(store, [(r.key, r.value) for r in log if r.topic == topic])
    fresh.process([InputRecord("R", 0, 0, 105, b"k", b'{"r":1}', None)])
    assert [orjson.loads(r.value) for r in fresh.take_output()] == [{"l": 1, "r": 1}]


def test_internal_topics_have_the_right_partitions_and_cleanup_policies():
    runtime = TopologyRuntime(bind(PLANS["tumbling"], "app"))
    (spec,) = runtime.internal_topics({"in": 6})
    assert spec.name == "app-agg-store-changelog"
    assert spec.partitions == 6
    assert spec.config["cleanup.policy"] == "compact,delete"
    (kv,) = TopologyRuntime(bind(PLANS["kv"], "app")).internal_topics({"in": 2})
    assert kv.config == {"cleanup.policy": "compact"}
