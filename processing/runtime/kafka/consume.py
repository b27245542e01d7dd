"""What the loop asks the consumer: a batch as records, committed offsets, read positions, and
the checkpoint's ``Committer`` (processing/runtime/checkpoint.py) over the consumer."""

from __future__ import annotations

import logging
import time
from operator import itemgetter
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka import TopicPartition as TP

from processing.runtime.checkpoint import Offsets, ProducerFailure

log = logging.getLogger(__name__)

# librdkafka metadata/offset look-ups; generous because they share 2 cores with everything else.
LOOKUP_TIMEOUT_S = 10.0
LOOKUP_ATTEMPTS = 3

_TIMESTAMP = itemgetter(3)


def next_batch(consumer: Any, max_messages: int, timeout: float) -> list[Any]:
    """What has arrived, up to ``max_messages``; if nothing has, wait up to ``timeout`` for the
    first message only.

    ``consume(n, timeout)`` returns only when it has ``n`` messages or the whole timeout has
    passed (measured: one message waiting, ``consume(10000, 2.0)`` returned after 2.0 s), so a
    plain call would hold every record of a trickle for the full timeout. Like Kafka Streams'
    ``poll()``, this returns as soon as anything is there; under load the queue librdkafka
    prefetches into is full and batches stay large.
    """
    messages = consumer.consume(num_messages=max_messages, timeout=0)
    if messages or timeout <= 0:
        return messages
    messages = consumer.consume(num_messages=1, timeout=timeout)
    if messages and max_messages > 1:
        # What came in the same fetch is queued already.
        messages += consumer.consume(num_messages=max_messages - 1, timeout=0)
    return messages


def batch_records(messages: list[Any], only_topic: str | None) -> list[tuple]:
    """The consumed messages (without errors) as tuples in InputRecord's field order."""
    # One C-speed pass turns the batch into records. Plain tuples in InputRecord's field
    # order: the core only indexes them, and a NamedTuple costs three times as much to build.
    # The headers slot holds the message itself: no operator reads headers, and headers()
    # builds a list per message, so they are read only for a record that becomes a dead
    # letter (records.headers_of), which keeps them.
    topic = only_topic
    if topic is not None:
        # One input topic: skip topic(), which builds a new str per message.
        records = [
            (topic, m.partition(), m.offset(), m.timestamp()[1], m.key(), m.value(), m) for m in messages
        ]
    else:
        records = [
            (m.topic(), m.partition(), m.offset(), m.timestamp()[1], m.key(), m.value(), m) for m in messages
        ]
    if records and min(map(_TIMESTAMP, records)) < 0:
        # No timestamp on some records (old producers): processing time, as Kafka Streams'
        # wall-clock extractor fallback would. Rare, so the slow path is fine.
        now_ms = int(time.time() * 1000)
        records = [r if r[3] >= 0 else (*r[:3], now_ms, *r[4:]) for r in records]
    return records


def committed_offsets(consumer: Any, tps: list[Any]) -> list[Any]:
    """The group's committed offsets; a time-out on a loaded machine or during a coordinator
    move is retried rather than failing the instance (the caller cannot go on without them)."""
    for attempt in range(LOOKUP_ATTEMPTS):
        try:
            return consumer.committed(tps, timeout=LOOKUP_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            transient = isinstance(error, KafkaError) and (
                error.retriable()
                or error.code()
                in (
                    KafkaError._TIMED_OUT,
                    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
                    KafkaError.NOT_COORDINATOR,
                )
            )
            if not transient or attempt == LOOKUP_ATTEMPTS - 1:
                raise
            log.warning("committed-offset look-up failed (%s); retrying", error)
            time.sleep(0.5)
    raise AssertionError("unreachable")


def read_position(
    consumer: Any, tp: tuple[str, int], start_offsets: dict[tuple[str, int], int], latest_topics: set[str]
) -> tuple[int, int] | None:
    """(next offset to read, high watermark) of ``tp`` from librdkafka's cache; None while unknown.

    ``start_offsets`` caches where a partition nothing was consumed from yet starts (its
    committed offset, or the reset position): librdkafka reports no position for it.
    """
    partition = TP(*tp)
    high = consumer.get_watermark_offsets(partition, cached=True)[1]
    if high < 0:
        return None  # not fetched yet
    position = consumer.position([partition])[0].offset
    if position < 0:
        position = start_offsets.get(tp, -1)
        if position < 0:
            committed = committed_offsets(consumer, [partition])[0].offset
            if committed < 0:
                low = consumer.get_watermark_offsets(partition, cached=True)[0]
                committed = high if tp[0] in latest_topics else low
            position = start_offsets[tp] = committed
    return position, high


class ConsumerCommitter:
    """The checkpoint's Committer: positions, the synchronous offset commit, group metadata."""

    def __init__(self, consumer: Any) -> None:
        self.consumer = consumer

    def positions(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        found = self.consumer.position([TP(t, p) for t, p in partitions])
        return {(tp.topic, tp.partition): tp.offset if tp.error is None else -1 for tp in found}

    def commit(self, offsets: Offsets) -> None:
        try:
            self.consumer.commit(offsets=[TP(t, p, o) for (t, p), o in offsets.items()], asynchronous=False)
        except KafkaException as exc:
            raise ProducerFailure(f"offset commit failed: {exc}") from exc

    def group_metadata(self) -> Any:
        return self.consumer.consumer_group_metadata()
