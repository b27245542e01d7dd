"""Kafka Streams' record cache in front of a table written to a topic (SinkNode + flush_caches).

The Kafka loop builds tasks with ``cache_tables=True`` and flushes at every checkpoint; the test
driver does not cache, so its outputs show every update like TopologyTestDriver's.
"""

from __future__ import annotations

import orjson
import pytest

from processing.runtime.executor import RecordFailure, TopologyRuntime
from processing.runtime.records import InputRecord
from tests.processing.runtime.builders import aggregate, counting_plan, single, sink, source
from topology.compiler.binding import bind


def _records(*pairs: tuple[str, int]) -> list[InputRecord]:
    return [InputRecord("in", 0, offset, ts, key.encode(), b"{}") for offset, (key, ts) in enumerate(pairs)]


def _decoded(task) -> list[tuple[str, dict, int]]:
    return [(r.key.decode(), orjson.loads(r.value), r.timestamp) for r in task.take_output()]


def test_a_cached_table_sink_writes_the_latest_value_per_key_once_per_flush():
    task = TopologyRuntime(bind(counting_plan(), "app"), cache_tables=True).create_task(0, 0)
    task.process(_records(("a", 10), ("a", 11), ("b", 12), ("a", 13)))
    assert task.take_output() == []  # nothing leaves before the checkpoint
    task.flush_caches()
    assert _decoded(task) == [("a", {"count": 3}, 13), ("b", {"count": 1}, 12)]
    task.flush_caches()
    assert task.take_output() == []  # a flush empties the cache
    task.process(_records(("b", 20)))
    task.flush_caches()
    assert _decoded(task) == [("b", {"count": 2}, 20)]
    # The sink counts what it wrote, not the updates it absorbed.
    assert task.metrics()["sink"]["out"] == 3


def test_without_the_cache_every_update_is_written_at_once():
    task = TopologyRuntime(bind(counting_plan(), "app")).create_task(0, 0)
    task.process(_records(("a", 10), ("a", 11)))
    assert _decoded(task) == [("a", {"count": 1}, 10), ("a", {"count": 2}, 11)]


def test_a_stream_sink_is_never_cached():
    plan = single(source(), sink("src"))
    task = TopologyRuntime(bind(plan, "app"), cache_tables=True).create_task(0, 0)
    task.process(_records(("a", 10), ("a", 11)))
    assert [r.timestamp for r in task.take_output()] == [10, 11]


def test_a_full_cache_is_flushed_after_the_batch_so_memory_stays_bounded(monkeypatch):
    from processing.runtime.operators.stateless import SinkNode

    monkeypatch.setattr(SinkNode, "CACHE_MAX_KEYS", 3)
    task = TopologyRuntime(bind(counting_plan(), "app"), cache_tables=True).create_task(0, 0)
    task.process(_records(("a", 1), ("b", 2)))
    assert task.take_output() == []
    task.process(_records(("c", 3), ("a", 4)))
    assert [(key, value["count"]) for key, value, _ in _decoded(task)] == [("a", 2), ("b", 1), ("c", 1)]


def _unwritable_sink_task(policy: str):
    # A count written as a Kafka `long` value: the {"count": n} row is not an integer, so every
    # cached entry fails when it is encoded at the flush.
    plan = single(source(), aggregate(), sink("agg", value_format="long"))
    return TopologyRuntime(bind(plan, "app"), cache_tables=True, error_policy=policy).create_task(0, 0)


def test_a_cached_value_that_cannot_be_written_dead_letters_the_record_that_made_it():
    task = _unwritable_sink_task("dlq")
    task.process(
        [
            InputRecord("in", 0, 7, 10, b"a", b'{"n":1}'),
            InputRecord("in", 0, 8, 11, b"b", b'{"n":2}'),
            InputRecord("in", 0, 9, 12, b"a", b'{"n":3}'),
        ]
    )
    task.flush_caches()
    dead = task.take_output()
    assert [(r.key, r.value, dict(r.headers)["weir.error.offset"]) for r in dead] == [
        (b"a", b'{"n":3}', b"9"),  # the latest update of key a
        (b"b", b'{"n":2}', b"8"),
    ]
    assert {dict(r.headers)["weir.error.class"] for r in dead} == {b"SerializationError"}
    assert task.metrics()["sink"] == {"in": 3, "out": 0, "errors": 2, "late": 0}


def test_under_the_fail_policy_the_flush_stops_at_the_record_that_made_the_bad_value():
    task = _unwritable_sink_task("fail")
    task.process([InputRecord("in", 0, 41, 10, b"a", b"{}"), InputRecord("in", 0, 42, 11, b"a", b"{}")])
    with pytest.raises(RecordFailure) as failure:
        task.flush_caches()
    assert (failure.value.offset, failure.value.node_id) == (42, "sink")


def test_final_window_results_are_not_held_back_by_the_cache():
    # Each window is emitted once, when it closes: nothing to coalesce, so it leaves at once.
    from topology.compiler.plan import Window

    plan = counting_plan(window=Window(type="tumbling", size_ms=10, grace_ms=0), emit="final")
    task = TopologyRuntime(bind(plan, "app"), cache_tables=True).create_task(0, 0)
    task.process(_records(("a", 1), ("a", 2), ("b", 25)))
    closed = [(r.key, orjson.loads(r.value)) for r in task.take_output()]
    assert closed == [(b'{"key":"a","window_end":10,"window_start":0}', {"count": 2})]
