"""Helpers for the runtime's integration tests: topics, producing, read_committed reading, runners.

Everything talks to the real broker at ``KAFKA_BOOTSTRAP_SERVERS``; names carry a uuid so
concurrent tests and helpers never collide.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, Producer, TopicPartition

from processing.runtime.kafka import admin
from processing.runtime.records import TopicSpec
from topology.compiler import naming
from topology.compiler.plan import (
    Aggregate,
    Aggregation,
    Plan,
    Sink,
    Source,
    Store,
    SubTopology,
    complete_plan,
    plan_to_json,
)

REPO = Path(__file__).resolve().parents[2]


def bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def kafka_config() -> dict[str, Any]:
    return {"bootstrap.servers": bootstrap()}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def create_topics(partitions: dict[str, int]) -> None:
    admin.ensure_topics(kafka_config(), [TopicSpec(name, n, {}) for name, n in partitions.items()])


def delete_app_topics(app_id: str, extra: Iterable[str] = ()) -> None:
    """Delete the topics a test created plus the internal topics of its application id."""
    metadata = admin.admin_client(kafka_config()).list_topics(timeout=10)
    internal = [t for t in metadata.topics if t.startswith(f"{app_id}-") or t == naming.dlq_topic(app_id)]
    admin.delete_topics(kafka_config(), [*extra, *internal])


def producer() -> Producer:
    return Producer(
        {
            "bootstrap.servers": bootstrap(),
            "partitioner": "murmur2_random",
            "linger.ms": 20,
            "enable.idempotence": True,
            "queue.buffering.max.messages": 1_000_000,
        }
    )


def produce(
    topic: str,
    records: Iterable[tuple[Any, ...]],
    *,
    partition: int | None = None,
) -> int:
    """Produce (key, value[, timestamp_ms[, headers]]) records (a timestamp of None: now), to
    ``partition`` if given (else by key); returns the count. Raises on delivery errors."""
    errors: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Any) -> None:
        if err is not None:
            errors.append(err)

    p = producer()
    count = 0
    for record in records:
        kwargs: dict[str, Any] = {"key": record[0], "value": record[1], "on_delivery": on_delivery}
        if len(record) > 2 and record[2] is not None:
            kwargs["timestamp"] = record[2]
        if len(record) > 3:
            kwargs["headers"] = record[3]
        if partition is not None:
            kwargs["partition"] = partition
        while True:
            try:
                p.produce(topic, **kwargs)
                break
            except BufferError:
                p.poll(0.05)
        count += 1
    assert p.flush(30) == 0
    assert not errors, errors[:3]
    return count


def json_events(keys: list[str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), orjson.dumps({"key": k, "n": i})) for i, k in enumerate(keys)]


def read_all(topic: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Every committed record of ``topic`` (read_committed, from the beginning to the end)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap(),
            "group.id": unique("reader"),
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        remaining = set(partitions)
        records: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while remaining:
            assert time.monotonic() < deadline, f"reading {topic} did not reach the end in {timeout}s"
            for msg in consumer.consume(num_messages=10_000, timeout=0.5):
                if msg.error():
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        remaining.discard(msg.partition())
                        continue
                    raise AssertionError(msg.error())
                records.append(
                    {
                        "key": msg.key(),
                        "value": msg.value(),
                        "partition": msg.partition(),
                        "offset": msg.offset(),
                        "timestamp": msg.timestamp()[1],
                        "headers": msg.headers() or [],
                    }
                )
        return records
    finally:
        consumer.close()


def counts_by_key(records: list[dict[str, Any]], field: str = "count") -> dict[str, list[int]]:
    """Successive values of ``field`` per key, in log order (a key lives in one partition)."""
    series: dict[str, list[int]] = {}
    for record in sorted(records, key=lambda r: (r["partition"], r["offset"])):
        key = record["key"].decode()
        value = orjson.loads(record["value"]) if record["value"] is not None else None
        series.setdefault(key, []).append(value[field] if isinstance(value, dict) else value)
    return series


def lag(app_id: str, topics: list[str]) -> int:
    """Records of ``topics`` not yet covered by the group's committed offsets."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap(),
            "group.id": naming.consumer_group(app_id),
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        tps = []
        for topic in topics:
            metadata = consumer.list_topics(topic, timeout=10)
            tps += [TopicPartition(topic, p) for p in metadata.topics[topic].partitions]
        committed = consumer.committed(tps, timeout=10)
        total = 0
        for tp in committed:
            low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=10)
            position = tp.offset if tp.offset >= 0 else low
            total += max(0, high - position)
        return total
    finally:
        consumer.close()


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Runner:
    """``manage.py run_topology`` in a subprocess, with its JSON event lines collected."""

    def __init__(
        self,
        file: Path,
        app_id: str,
        *,
        guarantee: str = "at_least_once",
        error_policy: str = "fail",
        slot: int = 0,
        plan: bool = True,
        fault_after_produce_before_commit: int | None = None,
        commit_interval_ms: int = 500,
    ) -> None:
        args = [
            sys.executable,
            str(REPO / "manage.py"),
            "run_topology",
            str(file),
            "--app-id",
            app_id,
            "--guarantee",
            guarantee,
            "--error-policy",
            error_policy,
            "--instance-slot",
            str(slot),
            "--commit-interval-ms",
            str(commit_interval_ms),
        ]
        if plan:
            args.append("--plan")
        if fault_after_produce_before_commit:
            args += ["--fault-after-produce-before-commit", str(fault_after_produce_before_commit)]
        env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap(), "PYTHONUNBUFFERED": "1"}
        self.events: list[dict[str, Any]] = []
        self.stderr_lines: list[str] = []
        self.process = subprocess.Popen(
            args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._readers = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_events(self) -> None:
        for line in self.process.stdout:
            line = line.strip()
            if line.startswith("{"):
                try:
                    self.events.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    pass

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr_lines.append(line.rstrip())

    def statuses(self) -> list[str]:
        return [e["status"] for e in list(self.events) if e.get("type") == "status"]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in list(self.events) if e.get("type") == kind]

    def processed(self) -> int:
        """Records counted into the source nodes so far (from the latest metrics event)."""
        metrics = self.of_type("metrics")
        if not metrics:
            return 0
        return max((c.get("in", 0) for c in metrics[-1]["nodes"].values()), default=0)

    def wait_for_status(self, status: str, timeout: float = 60.0) -> None:
        wait_until(
            lambda: status in self.statuses() or self.process.poll() is not None,
            timeout,
            f"status {status}",
        )
        assert status in self.statuses(), self.describe()

    def describe(self) -> str:
        failed = [e for e in self.of_type("status") if e["status"] == "failed"]
        return f"exit={self.process.poll()} statuses={self.statuses()} failed={failed} stderr={self.stderr_lines[-20:]}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        for reader in self._readers:
            reader.join(timeout=5)

    def stop(self, timeout: float = 60.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code

    def wait_exit(self, timeout: float = 60.0) -> int:
        code = self.process.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=5)
        return code


def count_plan(topics: list[str], out: str, *, name: str = "count-by-key") -> Plan:
    """Source(topics) → COUNT(*) grouped by the record key → Sink(out): the talk's example."""
    return complete_plan(
        Plan(
            name=name,
            subtopologies=(
                SubTopology(
                    id=0,
                    operators=(
                        Source(id="events", node_id="events", inputs=(), topics=tuple(topics)),
                        Aggregate(
                            id="counts",
                            node_id="counts",
                            inputs=("events",),
                            store=naming.store_name("counts"),
                            aggregations=(Aggregation("count", "COUNT"),),
                        ),
                        Sink(id="out", node_id="out", inputs=("counts",), topic=out),
                    ),
                    source_topics=tuple(topics),
                ),
            ),
            stores=(Store.of(naming.store_name("counts"), "kv", "counts", 0, None),),
        )
    )


def write_plan(directory: Path, plan: Plan) -> Path:
    path = directory / f"{plan.name}-{uuid.uuid4().hex[:6]}.plan.json"
    path.write_bytes(plan_to_json(plan))
    return path


def write_document(directory: Path, document: dict[str, Any]) -> Path:
    path = directory / f"{document.get('name', 'doc')}-{uuid.uuid4().hex[:6]}.json"
    path.write_bytes(orjson.dumps(document))
    return path


def count_document(topics: list[str], out: str, *, group_by: str | None = None) -> dict[str, Any]:
    """The talk's example as an editor document: source → aggregate COUNT(*) → sink."""

    def node(node_id: str, node_type: str, config: dict[str, Any]) -> dict[str, Any]:
        return {"id": node_id, "type": node_type, "config": config, "position": {"x": 0, "y": 0}}

    return {
        "name": "group-by-counts",
        "nodes": [
            node("events", "source", {"topics": topics}),
            node("counts", "aggregate", {"group_by": group_by, "aggregations": {"count": "COUNT(*)"}}),
            node("out", "sink", {"topic": out}),
        ],
        "edges": [{"source": "events", "target": "counts"}, {"source": "counts", "target": "out"}],
    }
