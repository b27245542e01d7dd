"""Exactly-once under crashes, and the at-least-once control that proves the check can fail.

The runner is a real ``manage.py run_topology`` subprocess; crashes are SIGKILL (no cleanup,
no leave-group, an open transaction left behind).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest

from processing.runtime.checkpoint import ProducerFailure
from processing.runtime.events import ListEventSink
from processing.runtime.kafka.loop import run
from tests.integration.runtime_harness import (
    Runner,
    count_plan,
    counts_by_key,
    create_topics,
    delete_app_topics,
    json_events,
    kafka_config,
    lag,
    produce,
    read_all,
    unique,
    wait_until,
    write_plan,
)

pytestmark = pytest.mark.integration

EVENTS = 200_000
KEYS = 1_000
PARTITIONS = 4
KILLS = 3


def _keys(seed: int, count: int = EVENTS) -> list[str]:
    rng = random.Random(seed)
    return [f"key-{rng.randrange(KEYS):04d}" for _ in range(count)]


def _produce_slowly(topic: str, keys: list[str], chunks: int, pause: float) -> threading.Thread:
    """Feed the input while the runner works, so every kill lands mid-processing."""
    events = json_events(keys)
    size = -(-len(events) // chunks)

    def feed() -> None:
        for start in range(0, len(events), size):
            produce(topic, events[start : start + size])
            time.sleep(pause)

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    return thread


def _defects(series: dict[str, list[int]], expected: Counter) -> dict[str, list[str]]:
    wrong_latest = [k for k in expected if not series.get(k) or series[k][-1] != expected[k]]
    not_increasing = [
        k for k, values in series.items() if any(b <= a for a, b in zip(values, values[1:], strict=False))
    ]
    return {"wrong_latest": wrong_latest, "not_increasing": not_increasing}


@pytest.mark.timeout(240)
def test_counts_are_exact_after_three_sigkills_under_exactly_once(tmp_path):
    source, out, app_id = unique("events"), unique("counts"), unique("eos")
    create_topics({source: PARTITIONS, out: PARTITIONS})
    plan_file = write_plan(tmp_path, count_plan([source], out))
    keys = _keys(seed=11)
    rng = random.Random(23)
    try:
        feeder = _produce_slowly(source, keys, chunks=40, pause=0.4)
        runner = Runner(plan_file, app_id, guarantee="exactly_once")
        for _ in range(KILLS):
            runner.wait_for_status("running")
            wait_until(lambda r=runner: r.processed() > 0, 60, "the runner to process records")
            time.sleep(rng.uniform(0.2, 1.5))
            assert runner.process.poll() is None, runner.describe()
            runner.kill()
            runner = Runner(plan_file, app_id, guarantee="exactly_once")
        feeder.join(timeout=120)
        wait_until(lambda: lag(app_id, [source]) == 0, 120, "the last runner to drain the input")
        assert runner.stop() == 0, runner.describe()

        series = counts_by_key(read_all(out))
        expected = Counter(keys)
        assert _defects(series, expected) == {"wrong_latest": [], "not_increasing": []}
        assert set(series) == set(expected)
    finally:
        delete_app_topics(app_id, [source, out])


@pytest.mark.timeout(180)
def test_at_least_once_killed_between_produce_and_commit_over_counts(tmp_path):
    """The control: same check, at_least_once, killed after producing but before committing."""
    source, out, app_id = unique("events"), unique("counts"), unique("alos")
    create_topics({source: PARTITIONS, out: PARTITIONS})
    plan_file = write_plan(tmp_path, count_plan([source], out))
    keys = _keys(seed=12)
    try:
        # All input up front: every crashing runner finds a backlog, so its first non-empty
        # checkpoint reaches the fault point (deterministic, unlike a random kill).
        produce(source, json_events(keys))
        for _ in range(KILLS):
            crashing = Runner(
                plan_file, app_id, guarantee="at_least_once", fault_after_produce_before_commit=1
            )
            assert crashing.wait_exit(90) != 0, crashing.describe()
            assert lag(app_id, [source]) > 0
        runner = Runner(plan_file, app_id, guarantee="at_least_once")
        wait_until(lambda: lag(app_id, [source]) == 0, 120, "the runner to drain the input")
        assert runner.stop() == 0, runner.describe()

        series = counts_by_key(read_all(out))
        expected = Counter(keys)
        defects = _defects(series, expected)
        over_counted = [k for k in expected if series.get(k) and series[k][-1] > expected[k]]
        assert over_counted, "replaying an uncommitted interval must count some records twice"
        assert defects["not_increasing"] or defects["wrong_latest"]
    finally:
        delete_app_topics(app_id, [source, out])


@pytest.mark.timeout(120)
def test_an_aborted_transaction_rewinds_and_rebuilds_state_so_counts_stay_exact():
    """Abortable then fatal checkpoint errors (raised at the commit point of a real
    transaction) make the loop abort, rewind to the committed offsets, rebuild the stores
    from the changelog — and for the fatal one, replace the producer."""
    source, out, app_id = unique("events"), unique("counts"), unique("abort")
    create_topics({source: PARTITIONS, out: PARTITIONS})
    keys = _keys(seed=13, count=30_000)
    sink = ListEventSink()
    injected: list[str] = []
    checkpoints = 0

    def fault_hook(point: str) -> None:
        nonlocal checkpoints
        if point != "after_produce_before_commit":
            return
        checkpoints += 1
        if checkpoints == 2:
            injected.append("abortable")
            raise ProducerFailure("injected abortable error", abortable=True)
        if checkpoints == 4:
            injected.append("fatal")
            raise ProducerFailure("injected fatal error", fatal=True)

    try:
        feeder = _produce_slowly(source, keys, chunks=15, pause=0.3)
        deadline = time.monotonic() + 90

        def should_stop() -> bool:
            return (not feeder.is_alive() and lag(app_id, [source]) == 0) or time.monotonic() > deadline

        run(
            count_plan([source], out),
            app_id=app_id,
            kafka_config=kafka_config(),
            guarantee="exactly_once",
            error_policy="fail",
            events=sink,
            should_stop=should_stop,
            commit_interval_ms=300,
            fault_hook=fault_hook,
        )
        assert injected == ["abortable", "fatal"]
        assert [e["status"] for e in sink.of_type("status")][-1] == "stopped"
        assert len([e for e in sink.of_type("restore") if e["done"]]) >= 3 * PARTITIONS

        series = counts_by_key(read_all(out))
        assert _defects(series, Counter(keys)) == {"wrong_latest": [], "not_increasing": []}
    finally:
        delete_app_topics(app_id, [source, out])
