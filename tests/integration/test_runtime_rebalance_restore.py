"""State moves with partitions: runners joining and leaving one application id, and restarts
that rebuild state from the changelog alone."""

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


def _owned_partitions(runner: Runner) -> int:
    metrics = runner.of_type("metrics")
    return len(metrics[-1]["partitions"]) if metrics else 0


@pytest.mark.timeout(180)
def test_three_runners_started_and_stopped_in_turn_keep_counts_exact(tmp_path):
    source, out, app_id = unique("events"), unique("counts"), unique("rebalance")
    create_topics({source: 4, out: 4})
    plan_file = write_plan(tmp_path, count_plan([source], out))
    rng = random.Random(5)
    keys = [f"key-{rng.randrange(300):03d}" for _ in range(60_000)]
    events = json_events(keys)

    def feed() -> None:
        for start in range(0, len(events), 2_000):
            produce(source, events[start : start + 2_000])
            time.sleep(0.25)

    feeder = threading.Thread(target=feed, daemon=True)
    try:
        feeder.start()
        runners = [Runner(plan_file, app_id, guarantee="exactly_once", slot=0)]
        runners[0].wait_for_status("running")
        wait_until(lambda: runners[0].processed() > 0, 60, "the first runner to process")
        for slot in (1, 2):
            runners.append(Runner(plan_file, app_id, guarantee="exactly_once", slot=slot))
            wait_until(lambda r=runners[-1]: _owned_partitions(r) > 0, 60, f"runner {slot} to own partitions")
        for leaving in runners[:2]:
            assert leaving.stop() == 0, leaving.describe()
            assert leaving.statuses()[-1] == "stopped", leaving.describe()
        last = runners[2]
        wait_until(lambda: _owned_partitions(last) == 4, 60, "the last runner to own every partition")
        feeder.join(timeout=120)
        wait_until(lambda: lag(app_id, [source]) == 0, 120, "the last runner to drain the input")
        assert last.stop() == 0, last.describe()

        series = counts_by_key(read_all(out))
        expected = Counter(keys)
        assert {k: v[-1] for k, v in series.items()} == dict(expected)
        assert all(b > a for values in series.values() for a, b in zip(values, values[1:], strict=False))
    finally:
        delete_app_topics(app_id, [source, out])


@pytest.mark.timeout(150)
def test_co_partitioned_topics_stay_on_one_runner_per_partition_while_runners_come_and_go(tmp_path):
    """A and B feed one count: partition p of both must live in one task on one runner."""
    topic_a, topic_b, out, app_id = unique("A"), unique("B"), unique("counts"), unique("copart")
    create_topics({topic_a: 2, topic_b: 2, out: 2})
    plan_file = write_plan(tmp_path, count_plan([topic_a, topic_b], out))
    rng = random.Random(6)
    keys_a = [f"key-{rng.randrange(100):03d}" for _ in range(20_000)]
    keys_b = [f"key-{rng.randrange(100):03d}" for _ in range(20_000)]

    def feed() -> None:
        for start in range(0, 20_000, 1_000):
            produce(topic_a, json_events(keys_a[start : start + 1_000]))
            produce(topic_b, json_events(keys_b[start : start + 1_000]))
            time.sleep(0.25)

    feeder = threading.Thread(target=feed, daemon=True)
    try:
        feeder.start()
        first = Runner(plan_file, app_id, guarantee="exactly_once", slot=0)
        wait_until(lambda: first.processed() > 0, 60, "the first runner to process")
        second = Runner(plan_file, app_id, guarantee="exactly_once", slot=1)
        wait_until(lambda: _owned_partitions(second) > 0, 60, "the second runner to own partitions")
        owned = second.of_type("metrics")[-1]["partitions"]
        assert sorted(p for t, p in owned if t == topic_a) == sorted(p for t, p in owned if t == topic_b)
        assert first.stop() == 0, first.describe()
        feeder.join(timeout=120)
        wait_until(lambda: lag(app_id, [topic_a, topic_b]) == 0, 90, "the second runner to drain")
        assert second.stop() == 0, second.describe()

        series = counts_by_key(read_all(out))
        assert {k: v[-1] for k, v in series.items()} == dict(Counter(keys_a + keys_b))
    finally:
        delete_app_topics(app_id, [topic_a, topic_b, out])


@pytest.mark.timeout(120)
@pytest.mark.parametrize("guarantee", ["at_least_once", "exactly_once"])
def test_a_fresh_process_restores_counts_from_the_changelog(tmp_path, guarantee):
    source, out, app_id = unique("events"), unique("counts"), unique("restore")
    create_topics({source: 4, out: 4})
    plan_file = write_plan(tmp_path, count_plan([source], out))
    rng = random.Random(9)
    first = [f"key-{rng.randrange(500):03d}" for _ in range(20_000)]
    second = [f"key-{rng.randrange(500):03d}" for _ in range(10_000)]
    try:
        produce(source, json_events(first))
        runner = Runner(plan_file, app_id, guarantee=guarantee)
        wait_until(lambda: lag(app_id, [source]) == 0, 60, "the first runner to drain")
        assert runner.stop() == 0, runner.describe()

        # A new process has no local state at all: only the changelog can give it the counts.
        produce(source, json_events(second))
        restarted = Runner(plan_file, app_id, guarantee=guarantee)
        wait_until(lambda: lag(app_id, [source]) == 0, 60, "the restarted runner to drain")
        assert restarted.stop() == 0, restarted.describe()

        restored = [e for e in restarted.of_type("restore") if e["done"]]
        assert len(restored) == 4
        assert sum(e["restored"] for e in restored) >= len(set(first))
        statuses = restarted.statuses()
        assert statuses.index("restoring") < len(statuses) - 1 - statuses[::-1].index("running")

        series = counts_by_key(read_all(out))
        assert {k: v[-1] for k, v in series.items()} == dict(Counter(first + second))
    finally:
        delete_app_topics(app_id, [source, out])
