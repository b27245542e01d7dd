"""Read the last records of a topic for the editor's preview, without joining a group.

The consumer assigns partitions explicitly (no group membership, no rebalance, no commits),
so sampling never disturbs a running deployment's consumer group or offsets.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

from processing.runtime.kafka.clients import _split
from processing.runtime.records import InputRecord

# The preview is interactive: waiting longer than this for a broker is worse than showing
# fewer records with a note.
SAMPLE_TIMEOUT_S = 5.0
MAX_SAMPLE = 500


class TopicSampleError(RuntimeError):
    """The topic cannot be read (missing, unreachable broker); the message says which."""


def sample_topic(
    kafka_config: dict[str, Any], topic: str, n: int, timeout: float = SAMPLE_TIMEOUT_S
) -> list[InputRecord]:
    """The last ``n`` records of ``topic`` across its partitions, oldest first by timestamp."""
    n = max(1, min(int(n), MAX_SAMPLE))
    common, overrides, _ = _split(kafka_config)
    consumer = Consumer(
        {
            **common,
            **overrides,
            "group.id": f"weir-preview-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    try:
        try:
            metadata = consumer.list_topics(topic, timeout=timeout)
        except KafkaException as exc:
            raise TopicSampleError(f"cannot reach Kafka to read topic {topic!r}: {exc}") from None
        info = metadata.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise TopicSampleError(f"topic {topic!r} does not exist")
        assignment = []
        ends: dict[int, int] = {}
        for partition in sorted(info.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout)
            if high > low:
                assignment.append(TopicPartition(topic, partition, max(low, high - n)))
                ends[partition] = high
        if not assignment:
            return []
        consumer.assign(assignment)
        records: list[InputRecord] = []
        deadline = time.monotonic() + timeout
        while ends and time.monotonic() < deadline:
            for message in consumer.consume(num_messages=min(n * len(ends), 1000), timeout=0.5):
                partition, offset = message.partition(), message.offset()
                # Only an error message lacks a partition or an offset.
                if message.error() is not None or partition is None or offset is None:
                    continue
                _, timestamp = message.timestamp()
                records.append(
                    InputRecord(
                        topic=topic,
                        partition=partition,
                        offset=offset,
                        timestamp=timestamp,
                        key=message.key(),
                        value=message.value(),
                        headers=message.headers(),
                    )
                )
                # Transaction markers take offsets too, so "done" is "reached the end", not "== high".
                if offset >= ends.get(partition, 0) - 1:
                    ends.pop(partition, None)
            for partition in list(ends):
                position = consumer.position([TopicPartition(topic, partition)])[0].offset
                if position >= ends[partition]:
                    ends.pop(partition)
        records.sort(key=lambda r: (r.timestamp, r.partition, r.offset))
        return records[-n:]
    finally:
        consumer.close()
