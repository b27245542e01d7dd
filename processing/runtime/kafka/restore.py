"""Rebuilding task state from changelog topics before the tasks process anything.

A separate consumer (``read_committed``, assign-only, never joins the group) replays each
store's changelog partition from the beginning to its end. The end is detected with
partition-EOF events, which under read_committed fire at the last stable offset: records of a
transaction that is still open (a crashed instance's) are not state yet and are not read.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException
from confluent_kafka import TopicPartition as TP

from processing.runtime.events import EventSink, RestoreEvent
from processing.runtime.kafka.consume import next_batch

log = logging.getLogger(__name__)

# Records per consume() call while restoring: large, because restore is a tight bulk load.
RESTORE_BATCH = 10_000
POLL_TIMEOUT_S = 0.2
PROGRESS_INTERVAL_S = 1.0
# Watermark look-up per changelog partition; generous on a loaded 2-core machine.
LOOKUP_TIMEOUT_S = 10.0


_UNRECOVERABLE = (
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_TOPIC,
    KafkaError._UNKNOWN_PARTITION,
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
)
# Just-created changelog topics answer NOT_LEADER / LEADER_NOT_AVAILABLE for a moment, and a
# loaded broker times out: retry those briefly instead of failing the instance.
LOOKUP_ATTEMPTS = 10
LOOKUP_BACKOFF_S = 0.5
_TRANSIENT_LOOKUP = (
    KafkaError._TIMED_OUT,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._TRANSPORT,
)


def _watermarks(restore_consumer: Any, tp: Any) -> tuple[int, int]:
    for attempt in range(LOOKUP_ATTEMPTS):
        try:
            return restore_consumer.get_watermark_offsets(tp, timeout=LOOKUP_TIMEOUT_S)
        except KafkaException as exc:
            error = exc.args[0] if exc.args else None
            transient = isinstance(error, KafkaError) and (
                error.retriable() or error.code() in _TRANSIENT_LOOKUP
            )
            if not transient or attempt == LOOKUP_ATTEMPTS - 1:
                raise
            log.warning("watermark look-up of %s[%s] failed (%s); retrying", tp.topic, tp.partition, error)
            time.sleep(LOOKUP_BACKOFF_S)
    raise AssertionError("unreachable")


class RestoreInterrupted(Exception):
    """should_stop() became true while restoring: drop the half-restored tasks, stop cleanly."""


def restore_tasks(
    restore_consumer: Any,
    tasks: list[Any],
    events: EventSink,
    should_stop: Callable[[], bool],
) -> None:
    """Replay every changelog partition of ``tasks`` into their stores, with progress events."""
    targets: dict[tuple[str, int], tuple[Any, str]] = {}
    totals: dict[tuple[str, int], tuple[int, int]] = {}
    for task in tasks:
        partition = task.id[1]
        for store, topic in task.changelog_topics.items():
            low, high = _watermarks(restore_consumer, TP(topic, partition))
            totals[(topic, partition)] = (low, high)
            if high <= low:
                _progress(events, store, partition, 0, 0, True)
                continue
            targets[(topic, partition)] = (task, store)
    if not targets:
        return
    restore_consumer.assign([TP(t, p, OFFSET_BEGINNING) for t, p in targets])
    remaining = set(targets)
    restored: dict[tuple[str, int], int] = defaultdict(int)
    last_progress = time.monotonic()
    try:
        while remaining:
            if should_stop():
                raise RestoreInterrupted()
            messages = next_batch(restore_consumer, RESTORE_BATCH, POLL_TIMEOUT_S)
            chunks: dict[tuple[str, int], list[tuple[bytes, bytes | None]]] = defaultdict(list)
            ended = []
            for msg in messages:
                error = msg.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        ended.append((msg.topic(), msg.partition()))
                        continue
                    if error.fatal() or error.code() in _UNRECOVERABLE:
                        raise KafkaException(error)
                    # Transport hiccups and timeouts on a loaded machine are reported here as
                    # non-retriable client errors although librdkafka retries them itself;
                    # failing the instance for them would turn a slow broker into an outage.
                    log.warning("restore consumer error (retried by librdkafka): %s", error.str())
                    continue
                chunks[(msg.topic(), msg.partition())].append((msg.key(), msg.value()))
                restored[(msg.topic(), msg.partition())] = msg.offset() + 1
            for tp, records in chunks.items():
                task, store = targets[tp]
                task.restore(store, records)
            for tp in ended:
                if tp in remaining:
                    remaining.discard(tp)
                    low, high = totals[tp]
                    _progress(events, targets[tp][1], tp[1], high - low, high - low, True)
            if time.monotonic() - last_progress >= PROGRESS_INTERVAL_S:
                last_progress = time.monotonic()
                for tp in remaining:
                    low, high = totals[tp]
                    _progress(events, targets[tp][1], tp[1], max(0, restored[tp] - low), high - low, False)
    finally:
        restore_consumer.unassign()


def _progress(events: EventSink, store: str, partition: int, restored: int, total: int, done: bool) -> None:
    events.emit(
        RestoreEvent(
            type="restore", store=store, partition=partition, restored=restored, total=total, done=done
        )
    )
