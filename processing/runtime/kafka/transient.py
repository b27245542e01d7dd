"""Kafka clients of transient SQL: the tail a push query reads, the producer INSERT VALUES uses.

``TopicTail`` reads every partition of some topics with ``assign()`` only: it never
subscribes, never commits (``enable.auto.commit`` false, no offset store), so no consumer
group is created on the broker and a closed push query leaves nothing behind. It starts at
the end offsets, looked up before ``open_tail`` returns (so a record produced after that is
seen, whatever the timing of librdkafka's own offset look-up), or at the beginning.

Records of several partitions and topics come out interleaved by timestamp, as Kafka
Streams' partition group picks them: of the records fetched, the one whose partition head
has the lowest timestamp goes first, and each partition keeps its own order.

``produce_now`` writes records and waits for their acknowledgement (flush with a timeout).
"""

from __future__ import annotations

import heapq
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition

from processing.runtime.kafka.config import client_config
from processing.runtime.kafka.consume import batch_records, next_batch

# Metadata and watermark look-ups while a query starts: the client is waiting for its header.
LOOKUP_TIMEOUT_S = 10.0
# One batch of a push query: enough to keep up with a busy topic, small enough that the
# query's thread comes back to check for close() between batches.
MAX_BATCH = 500
# INSERT VALUES answers only once the broker has the record.
PRODUCE_TIMEOUT_S = 15.0
OFFSET_RESETS = ("earliest", "latest")


class TailError(RuntimeError):
    """A topic cannot be read (missing, unreachable broker); the message names it."""


class TopicTail:
    """An assign()-only consumer of every partition of ``topics`` (see the module docstring)."""

    def __init__(self, consumer: Any, assignment: list[Any]) -> None:
        self._consumer = consumer
        self.assignment = [(tp.topic, tp.partition) for tp in assignment]
        self.closed = False

    def poll(self, timeout: float) -> list[tuple]:
        """What has arrived (waiting up to ``timeout`` for the first record), as tuples in
        InputRecord's field order, interleaved by timestamp across partitions."""
        messages = next_batch(self._consumer, MAX_BATCH, timeout)
        good = [m for m in messages if m.error() is None]
        for message in messages:
            error = message.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF and error.fatal():
                raise TailError(f"reading {message.topic()}: {error.str()}")
        return interleave(batch_records(good, None))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._consumer.close()


def interleave(records: Sequence[tuple]) -> list[tuple]:
    """Records of several partitions, the lowest-timestamped partition head first each time;
    each partition's own order is kept (a record with an older timestamp behind a newer one
    in its partition waits its turn)."""
    by_partition: dict[tuple[str, int], list[tuple]] = {}
    for record in records:
        by_partition.setdefault((record[0], record[1]), []).append(record)
    if len(by_partition) <= 1:
        return list(records)
    heads = [(run[0][3], index, 0, run) for index, run in enumerate(by_partition.values())]
    heapq.heapify(heads)
    merged: list[tuple] = []
    while heads:
        _, index, position, run = heapq.heappop(heads)
        merged.append(run[position])
        if position + 1 < len(run):
            heapq.heappush(heads, (run[position + 1][3], index, position + 1, run))
    return merged


def tail_config(kafka_config: dict[str, Any], client_id: str) -> dict[str, Any]:
    return client_config(
        kafka_config,
        "consumer",
        {
            # librdkafka wants a group id even for assign(); this one is never joined and never
            # committed to, so the broker never learns of it.
            "group.id": f"weir-transient-{uuid.uuid4().hex}",
            "client.id": client_id,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "isolation.level": "read_committed",
            "auto.offset.reset": "latest",
        },
    )


def open_tail(
    kafka_config: dict[str, Any], topics: Iterable[str], *, offset_reset: str, client_id: str
) -> TopicTail:
    """A TopicTail of every partition of ``topics``, at their ends (``latest``) or beginnings."""
    if offset_reset not in OFFSET_RESETS:
        raise ValueError(f"offset reset {offset_reset!r}: expected earliest or latest")
    consumer = Consumer(tail_config(kafka_config, client_id))
    try:
        assignment = []
        for topic in dict.fromkeys(topics):
            try:
                metadata = consumer.list_topics(topic, timeout=LOOKUP_TIMEOUT_S)
            except KafkaException as exc:
                raise TailError(f"cannot reach Kafka to read topic {topic!r}: {exc}") from None
            info = metadata.topics.get(topic)
            if info is None or info.error is not None or not info.partitions:
                raise TailError(f"topic {topic!r} does not exist")
            for partition in sorted(info.partitions):
                if offset_reset == "earliest":
                    assignment.append(TopicPartition(topic, partition, OFFSET_BEGINNING))
                else:
                    _, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, partition), timeout=LOOKUP_TIMEOUT_S
                    )
                    assignment.append(TopicPartition(topic, partition, high))
        consumer.assign(assignment)
    except BaseException:
        consumer.close()
        raise
    return TopicTail(consumer, assignment)


def produce_now(
    kafka_config: dict[str, Any],
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None, int | None]],
    *,
    timeout: float = PRODUCE_TIMEOUT_S,
) -> int:
    """Write ``(key, value, timestamp ms or None)`` records and wait until the broker has them;
    raises TailError naming the topic on any failure. Returns how many were written."""
    failures: list[str] = []

    def delivered(error: Any, _message: Any) -> None:
        if error is not None:
            failures.append(error.str())

    producer = Producer(
        client_config(
            kafka_config,
            "producer",
            {
                # Same hash as the Java client's default partitioner (and the runtime's sinks),
                # so an inserted key lands where ksqlDB and Kafka Streams would put it.
                "partitioner": "murmur2_random",
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 0,
                "message.timeout.ms": int(timeout * 1000),
            },
        )
    )
    count = 0
    try:
        for key, value, timestamp in records:
            kwargs: dict[str, Any] = {"key": key, "value": value, "on_delivery": delivered}
            if timestamp is not None:
                kwargs["timestamp"] = timestamp
            producer.produce(topic, **kwargs)
            count += 1
    except (KafkaException, BufferError) as exc:
        raise TailError(f"cannot write to topic {topic!r}: {exc}") from None
    remaining = producer.flush(timeout)
    if remaining:
        raise TailError(f"topic {topic!r} did not acknowledge {remaining} record(s) within {timeout:g} s")
    if failures:
        raise TailError(f"writing to topic {topic!r} failed: {failures[0]}")
    return count
