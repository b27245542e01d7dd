"""One benchmark process: Weir's runtime, or the consume+decode limit. Run by bench_streams.

    python bench/weir_worker.py '<json spec>'

spec: {"system": "weir"|"limit"|"passthrough", "app_id", "bootstrap", "stats" (path), and for weir "plan"
(plan JSON), "guarantee"}. Timing marks (wall time, process CPU) go to the stats file as JSON
lines; the harness reads them together with the group's committed offsets.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

stopping = False


def _stop(*_: Any) -> None:
    global stopping
    stopping = True


class StatsFile:
    """Appends marks as JSON lines; flushed at once so the harness sees them while we run."""

    def __init__(self, path: str) -> None:
        self.file = open(path, "ab", buffering=0)  # noqa: SIM115 - lives as long as the process

    def mark(self, name: str, **extra: Any) -> None:
        self.file.write(
            orjson.dumps({"mark": name, "t": time.time(), "cpu": time.process_time(), **extra}) + b"\n"
        )


class MarkingEvents:
    """Weir's event sink: marks when processing can start (after assignment and restore)."""

    def __init__(self, stats: StatsFile) -> None:
        self.stats = stats
        self.assigned = False

    def emit(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "status":
            status = event["status"]
            if status in ("rebalancing", "restoring"):
                self.assigned = True
            self.stats.mark(f"status:{status}")
            if status == "running" and self.assigned:
                self.stats.mark("start")
            if status == "failed":
                print(f"weir failed: {event.get('error')}", file=sys.stderr, flush=True)
        elif kind == "restore" and event.get("done"):
            self.stats.mark("restored", partition=event["partition"], total=event["total"])


def run_weir(spec: dict[str, Any], stats: StatsFile) -> None:
    from processing.runtime.kafka.loop import run
    from topology.compiler.plan import plan_from_json

    plan = plan_from_json(spec["plan"])
    run(
        plan,
        app_id=spec["app_id"],
        kafka_config={"bootstrap.servers": spec["bootstrap"]},
        guarantee=spec["guarantee"],
        error_policy="fail",
        events=MarkingEvents(stats),
        should_stop=lambda: stopping,
        commit_interval_ms=1000,
    )


def run_limit(spec: dict[str, Any], stats: StatsFile) -> None:
    """The ceilings, no processing. ``limit``: batch consume + orjson decode of every value.
    ``passthrough``: also encode every value again and produce it (Weir's at-least-once
    producer settings), flushing before each commit: the floor of any workload that writes one
    record per event (W1, W4). Offsets are committed each second."""
    from confluent_kafka import Consumer, KafkaException, Producer

    from processing.runtime.kafka import clients
    from topology.compiler.binding import bind
    from topology.compiler.plan import Plan

    consumer = Consumer(
        {
            "bootstrap.servers": spec["bootstrap"],
            "group.id": spec["app_id"],
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    producer = None
    if spec["system"] == "passthrough":
        # No plan: the passthrough's names are those of an empty plan bound to its app id.
        names = bind(Plan(name="passthrough", subtopologies=()), spec["app_id"])
        config = clients.producer_config(
            {"bootstrap.servers": spec["bootstrap"]}, names, guarantee="at_least_once"
        )
        producer = Producer({**config, "delivery.report.only.error": True})
    sink = spec["topics"]["sink"]
    started = False

    def on_assign(_consumer: Any, _partitions: Any) -> None:
        nonlocal started
        if not started:
            started = True
            stats.mark("start")

    consumer.subscribe([spec["topic"]], on_assign=on_assign)
    loads, dumps = orjson.loads, orjson.dumps
    last_commit = time.monotonic()
    decoded = 0
    while not stopping:
        batch = consumer.consume(num_messages=10_000, timeout=0.2)
        if producer is None:
            for msg in batch:
                value = msg.value()
                if value is not None:
                    loads(value)
                    decoded += 1
        else:
            produce = producer.produce
            for msg in batch:
                value = msg.value()
                if value is not None:
                    produce(sink, dumps(loads(value)), msg.key(), timestamp=msg.timestamp()[1])
                    decoded += 1
            producer.poll(0)
        if decoded and time.monotonic() - last_commit >= 1.0:
            if producer is not None:
                producer.flush()
            try:
                consumer.commit(asynchronous=False)
            except KafkaException:
                pass  # nothing new to commit since the last time
            last_commit = time.monotonic()
    if producer is not None:
        producer.flush()
    consumer.close()


def main() -> int:
    spec = orjson.loads(sys.argv[1])
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    stats = StatsFile(spec["stats"])
    stats.mark("boot")
    if spec["system"] == "weir" and os.environ.get("BENCH_PROFILE"):
        # cProfile of the whole run (for the runtime owners: where W2's time goes).
        import cProfile

        cProfile.runctx(
            "run_weir(spec, stats)", globals(), {"spec": spec, "stats": stats}, os.environ["BENCH_PROFILE"]
        )
    elif spec["system"] == "weir":
        run_weir(spec, stats)
    else:
        run_limit(spec, stats)
    stats.mark("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
