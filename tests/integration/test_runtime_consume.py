"""How the loop reads the broker: a trickle of records is handed over at once, not held for the
poll timeout (real broker)."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer
from confluent_kafka import TopicPartition as TP

from processing.runtime.kafka.admin import delete_topics
from processing.runtime.kafka.consume import next_batch
from tests.integration.runtime_harness import bootstrap, create_topics, kafka_config, produce, unique

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_a_batch_is_whatever_has_arrived_not_a_wait_for_a_full_batch():
    topic = unique("trickle")
    create_topics({topic: 1})
    consumer = Consumer(
        {"bootstrap.servers": bootstrap(), "group.id": unique("g"), "enable.auto.commit": False}
    )
    try:
        consumer.assign([TP(topic, 0, OFFSET_BEGINNING)])
        produce(topic, [(b"k", b"%d" % i) for i in range(5)])
        started = time.monotonic()
        first = next_batch(consumer, 10_000, timeout=30.0)
        waited = time.monotonic() - started
        # consume(10000, 30.0) would have returned only after 30 s, with 5 of 10,000 messages.
        assert first and waited < 15.0, (len(first), waited)
        offsets = [m.offset() for m in first]
        while len(offsets) < 5:
            offsets += [m.offset() for m in next_batch(consumer, 10_000, timeout=5.0)]
        assert offsets == [0, 1, 2, 3, 4]
        # Nothing queued and no time to wait: an empty batch at once.
        assert next_batch(consumer, 10_000, timeout=0) == []
    finally:
        consumer.close()
        delete_topics(kafka_config(), [topic])
