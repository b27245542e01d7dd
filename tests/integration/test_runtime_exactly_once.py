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

from tests.integration.runtime_harness import (
    Runner,
    count_plan,
    counts_by_key,
    create_topics,
    delete_app_topics,
    json_events,
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
