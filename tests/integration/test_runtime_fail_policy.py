"""Policy ``fail`` never commits past the bad record, whatever happens around the failure."""

from __future__ import annotations

import time

import orjson
import pytest
from confluent_kafka import Consumer, TopicPartition

from processing.runtime.events import NullEventSink
from processing.runtime.kafka.loop import Instance, Phase
from tests.integration.runtime_harness import (
    Runner,
    bootstrap,
    count_plan,
    create_topics,
    delete_app_topics,
    kafka_config,
    produce,
    unique,
    write_plan,
)
from topology.compiler import naming

pytestmark = pytest.mark.integration

BAD_PARTITION, BAD_OFFSET = 1, 3


def _poisoned_input(source: str) -> int:
    """Two partitions in one batch; partition 1 holds a bad record at offset 3. Returns the total."""
    good = [(b"k", orjson.dumps({"n": i})) for i in range(6)]
    produce(source, good, partition=0)
    produce(source, [*good[:BAD_OFFSET], (b"k", b"{not json"), *good[BAD_OFFSET:]], partition=BAD_PARTITION)
    return 6 + 7


def _committed(app_id: str, source: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap(), "group.id": naming.consumer_group(app_id)})
    try:
        tps = consumer.committed([TopicPartition(source, p) for p in (0, 1)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        consumer.close()


def _assert_fails_at_the_bad_record(tmp_path, plan, app_id: str, source: str) -> None:
    runner = Runner(write_plan(tmp_path, plan), app_id, error_policy="fail")
    assert runner.wait_exit(60) == 1, runner.describe()
    failed = [e for e in runner.of_type("status") if e["status"] == "failed"][-1]
    assert (failed["topic"], failed["partition"], failed["offset"]) == (source, BAD_PARTITION, BAD_OFFSET)
    assert _committed(app_id, source).get(BAD_PARTITION, -1) <= BAD_OFFSET


@pytest.mark.timeout(120)
def test_a_restarted_runner_fails_again_at_the_same_bad_record_in_a_multi_partition_batch(tmp_path):
    source, out, app_id = unique("events"), unique("counts"), unique("fail-again")
    create_topics({source: 2, out: 2})
    try:
        _poisoned_input(source)
        plan = count_plan([source], out)
        for _ in range(3):
            _assert_fails_at_the_bad_record(tmp_path, plan, app_id, source)
    finally:
        delete_app_topics(app_id, [source, out])


@pytest.mark.timeout(120)
def test_a_revoke_inside_consume_does_not_commit_records_of_the_unprocessed_batch(tmp_path):
    """librdkafka serves rebalance callbacks inside consume(), after it may have collected (and
    moved the positions past) records of the batch it is about to return. The revoke
    checkpoint then runs before those records are processed: it must not commit them, or the
    next owner starts after a bad record that nobody ever processed."""
    source, out, app_id = unique("events"), unique("counts"), unique("revoke-in-consume")
    create_topics({source: 2, out: 2})
    plan = count_plan([source], out)
    try:
        total = _poisoned_input(source)
        instance = Instance(
            plan,
            app_id=app_id,
            kafka_config=kafka_config(),
            guarantee="at_least_once",
            error_policy="fail",
            events=NullEventSink(),
            should_stop=lambda: False,
            instance_slot=0,
            commit_interval_ms=1000,
            fault_hook=None,
            view_interval_ms=250,
        )
        instance._start()
        try:
            # What consume() does: serve the assignment, then collect the batch (positions move).
            batch: list = []
            deadline = time.monotonic() + 60
            while len(batch) < total and time.monotonic() < deadline:
                instance.checkpoint.settled = False
                batch += [
                    m for m in instance.consumer.consume(num_messages=100, timeout=0.5) if not m.error()
                ]
            assert len(batch) == total
            positions = instance.consumer.position([TopicPartition(source, p) for p in (0, 1)])
            assert {tp.partition: tp.offset for tp in positions} == {0: 6, 1: 7}
            # ... and the rebalance callback served before that batch reaches the loop.
            instance._on_revoke(instance.consumer, [TopicPartition(source, p) for p in (0, 1)])
            instance._raise_callback_error()
            assert _committed(app_id, source).get(BAD_PARTITION, -1) <= BAD_OFFSET
        finally:
            instance.enter(Phase.SHUTTING_DOWN)
            instance.consumer.close()
            instance.restore_consumer.close()
            instance.producer.close()

        # The next owner meets the bad record and fails there, as policy fail demands.
        _assert_fails_at_the_bad_record(tmp_path, plan, app_id, source)
    finally:
        delete_app_topics(app_id, [source, out])


@pytest.mark.timeout(120)
def test_a_cached_table_value_that_cannot_be_written_fails_the_instance_without_committing(tmp_path):
    """The record cache encodes at the commit: a count row written as a Kafka ``long`` cannot
    be encoded, and under ``fail`` the instance stops naming the record that produced it."""
    import dataclasses

    source, out, app_id = unique("events"), unique("counts"), unique("unwritable")
    create_topics({source: 1, out: 1})
    try:
        produce(source, [(b"k", orjson.dumps({"n": i})) for i in range(5)], partition=0)
        plan = count_plan([source], out)
        sub = plan.subtopologies[0]
        operators = tuple(
            dataclasses.replace(op, value_format="long") if op.id == "out" else op for op in sub.operators
        )
        plan = dataclasses.replace(plan, subtopologies=(dataclasses.replace(sub, operators=operators),))
        runner = Runner(write_plan(tmp_path, plan), app_id, error_policy="fail")
        assert runner.wait_exit(60) == 1, runner.describe()
        failed = [e for e in runner.of_type("status") if e["status"] == "failed"][-1]
        assert (failed["node_id"], failed["error_class"]) == ("out", "SerializationError")
        # The latest update of key k came from the last record.
        assert (failed["topic"], failed["partition"], failed["offset"]) == (source, 0, 4)
        assert _committed(app_id, source).get(0, -1) < 0
    finally:
        delete_app_topics(app_id, [source, out])
