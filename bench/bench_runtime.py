"""Runtime benchmarks against the real broker: throughput of the talk's example and restore time.

    .venv/bin/python bench/bench_runtime.py [--events 200000] [--keys 1000] [--restore-keys 1000000]

1. throughput: ``count by key`` over a 4-partition topic, one instance pinned to one core,
   at_least_once and exactly_once, from the first assignment to the last commit (startup and
   topic creation excluded). Also the core alone (``StreamTask.process`` on in-memory records)
   to show what the Kafka edge costs.
2. restore: a count over ``--restore-keys`` distinct keys, so the changelog holds one record per
   key; then a fresh instance restores it and the time from ``restoring`` to ``running`` is taken.

Results are printed and written to bench/results_runtime.json.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from processing.runtime.executor import TopologyRuntime  # noqa: E402
from processing.runtime.kafka.loop import Instance  # noqa: E402
from processing.runtime.records import InputRecord  # noqa: E402
from tests.integration.runtime_harness import (  # noqa: E402
    count_plan,
    create_topics,
    delete_app_topics,
    json_events,
    kafka_config,
    produce,
    unique,
)
from topology.compiler.binding import bind  # noqa: E402


class TimedSink:
    def __init__(self) -> None:
        self.events: list[tuple[float, dict[str, Any]]] = []

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append((time.monotonic(), event))

    def first(self, kind: str, **match: Any) -> float:
        for at, event in self.events:
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return at
        raise LookupError(kind)

    def last(self, kind: str, **match: Any) -> float:
        found = [
            at for at, e in self.events if e["type"] == kind and all(e.get(k) == v for k, v in match.items())
        ]
        return found[-1]


def run_until_committed(
    plan, app_id: str, guarantee: str, total: int, source: str, *, until_restored: bool = False
) -> tuple[TimedSink, float]:
    sink = TimedSink()
    holder: dict[str, Any] = {}
    done_at: list[float] = []

    def should_stop() -> bool:
        if until_restored:
            statuses = [e["status"] for _, e in sink.events if e["type"] == "status"]
            if "restoring" in statuses and statuses[-1] == "running":
                done_at.append(time.monotonic())
                return True
            return False
        instance = holder["instance"]
        checkpoint = instance.checkpoint
        if checkpoint is None:
            return False
        committed = sum(o for (t, _p), o in checkpoint.committed.items() if t == source)
        if committed >= total:
            done_at.append(time.monotonic())
            return True
        return False

    instance = Instance(
        plan,
        app_id=app_id,
        kafka_config=kafka_config(),
        guarantee=guarantee,
        error_policy="fail",
        events=sink,
        should_stop=should_stop,
        instance_slot=0,
        commit_interval_ms=1000,
        fault_hook=None,
        view_interval_ms=250,
    )
    holder["instance"] = instance
    instance.run()
    return sink, done_at[0]


def bench_throughput(events: int, keys: int) -> dict[str, Any]:
    results: dict[str, Any] = {"events": events, "keys": keys}
    payload = json_events([f"key-{i % keys:05d}" for i in range(events)])
    for guarantee in ("at_least_once", "exactly_once"):
        source, out, app_id = unique("bench-src"), unique("bench-out"), unique("bench")
        create_topics({source: 4, out: 4})
        try:
            produce(source, payload)
            sink, done = run_until_committed(count_plan([source], out), app_id, guarantee, events, source)
            start = min(at for at, e in sink.events if e["type"] == "status" and e["status"] == "rebalancing")
            seconds = done - start
            results[guarantee] = {"seconds": round(seconds, 2), "events_per_s": round(events / seconds)}
        finally:
            delete_app_topics(app_id, [source, out])

    runtime = TopologyRuntime(bind(count_plan(["in"], "out"), "bench-core"))
    task = runtime.create_task(0, 0)
    records = [InputRecord("in", 0, i, 1_700_000_000_000 + i, k, v, None) for i, (k, v) in enumerate(payload)]
    started = time.perf_counter()
    for i in range(0, len(records), 2000):
        task.process(records[i : i + 2000])
        task.take_output()
    task.take_changelog()
    seconds = time.perf_counter() - started
    results["core_only"] = {"seconds": round(seconds, 2), "events_per_s": round(events / seconds)}
    return results


def bench_restore(restore_keys: int) -> dict[str, Any]:
    source, out, app_id = unique("bench-src"), unique("bench-out"), unique("bench-restore")
    create_topics({source: 4, out: 4})
    try:
        produce(source, json_events([f"key-{i:07d}" for i in range(restore_keys)]))
        run_until_committed(count_plan([source], out), app_id, "at_least_once", restore_keys, source)
        # A fresh instance: no local state, everything comes from the changelog.
        sink, _ = run_until_committed(
            count_plan([source], out), app_id, "at_least_once", restore_keys, source, until_restored=True
        )
        started = sink.first("status", status="restoring")
        restored = sum(e["restored"] for _, e in sink.events if e["type"] == "restore" and e["done"])
        finished = max(at for at, e in sink.events if e["type"] == "restore" and e["done"])
        seconds = finished - started
        return {
            "keys": restore_keys,
            "restored_records": restored,
            "seconds": round(seconds, 2),
            "records_per_s": round(restored / seconds) if seconds else None,
        }
    finally:
        delete_app_topics(app_id, [source, out])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=1_000)
    parser.add_argument("--restore-keys", type=int, default=1_000_000)
    parser.add_argument("--skip-restore", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        # "On one core": the Python thread and librdkafka's threads share CPU 0.
        os.sched_setaffinity(0, {0})
    results = {"throughput": bench_throughput(args.events, args.keys)}
    print(orjson.dumps(results, option=orjson.OPT_INDENT_2).decode(), flush=True)
    if not args.skip_restore:
        results["restore"] = bench_restore(args.restore_keys)
    results["cpus"] = os.cpu_count()
    text = orjson.dumps(results, option=orjson.OPT_INDENT_2).decode()
    print(text)
    (ROOT / "bench" / "results_runtime.json").write_text(text + "\n")


if __name__ == "__main__":
    main()
