"""The confluent_kafka side of the checkpoint's protocols, broker-free: the librdkafka client
under the adapters is replaced by a fake."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as TP

from processing.runtime.checkpoint import ProducerFailure
from processing.runtime.kafka.consume import ConsumerCommitter
from processing.runtime.kafka.producer import FLUSH_TIMEOUT_S, OutputProducer, failure_from_kafka


class FakeClient:
    def __init__(self, undelivered=0):
        self.undelivered = undelivered
        self.calls = []

    def flush(self, timeout):
        self.calls.append(("flush", timeout))
        return self.undelivered

    def send_offsets_to_transaction(self, offsets, metadata, timeout):
        self.calls.append(("send_offsets", [(tp.topic, tp.partition, tp.offset) for tp in offsets], metadata))


def producer_over(client, *, transactional=False):
    # No broker is contacted: creating a librdkafka producer connects lazily.
    producer = OutputProducer({"bootstrap.servers": "127.0.0.1:1"}, transactional=False)
    producer._producer = client
    producer.transactional = transactional
    return producer


def test_a_flush_that_times_out_with_records_undelivered_is_a_checkpoint_failure():
    client = FakeClient(undelivered=3)
    producer = producer_over(client)
    with pytest.raises(ProducerFailure, match="3 records not delivered"):
        producer.flush()
    assert client.calls == [("flush", FLUSH_TIMEOUT_S)]


def test_a_failed_delivery_reported_before_the_flush_is_a_checkpoint_failure():
    producer = producer_over(FakeClient())
    producer._on_delivery(KafkaError(KafkaError.MSG_SIZE_TOO_LARGE), None)
    with pytest.raises(ProducerFailure, match="MSG_SIZE_TOO_LARGE"):
        producer.flush()
    producer.flush()  # reported once


def test_offsets_go_to_the_transaction_as_topic_partitions():
    client = FakeClient()
    producer = producer_over(client, transactional=True)
    producer.send_offsets({("events", 0): 10, ("events", 1): 4}, "meta")
    assert client.calls == [("send_offsets", [("events", 0, 10), ("events", 1, 4)], "meta")]


def test_fenced_producers_are_fatal_and_transaction_errors_abortable():
    fenced = failure_from_kafka(KafkaException(KafkaError(KafkaError._FENCED)))
    assert fenced.fatal
    plain = failure_from_kafka(KafkaException("no error object"))
    assert not plain.fatal and not plain.abortable


class FakeConsumer:
    def __init__(self, *, commit_error=None):
        self.commit_error = commit_error
        self.committed = []

    def position(self, tps):
        out = []
        for tp in tps:
            found = TP(tp.topic, tp.partition, 7 if tp.partition == 0 else -1001)
            out.append(found)
        return out

    def commit(self, offsets, asynchronous):
        assert asynchronous is False
        if self.commit_error:
            raise self.commit_error
        self.committed.append([(tp.topic, tp.partition, tp.offset) for tp in offsets])

    def consumer_group_metadata(self):
        return "meta"


def test_the_committer_commits_synchronously_and_reports_positions():
    consumer = FakeConsumer()
    committer = ConsumerCommitter(consumer)
    assert committer.positions([("events", 0), ("events", 1)]) == {("events", 0): 7, ("events", 1): -1001}
    committer.commit({("events", 0): 7})
    assert consumer.committed == [[("events", 0, 7)]]
    assert committer.group_metadata() == "meta"


def test_a_failed_offset_commit_is_a_checkpoint_failure():
    committer = ConsumerCommitter(
        FakeConsumer(commit_error=KafkaException(KafkaError(KafkaError.REBALANCE_IN_PROGRESS)))
    )
    with pytest.raises(ProducerFailure, match="offset commit failed"):
        committer.commit({("events", 0): 7})
