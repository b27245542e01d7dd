"""The checkpoint: the one place that decides in which order outputs and offsets become durable.

Order (the invariant every guarantee rests on — never commit an offset before the records it
caused are durable):

at_least_once
    1. flush sinks: ``task.flush_caches()`` (latest per key of the tables written to topics),
       then ``task.take_output()`` (sink, repartition and dead-letter records) → produce
    2. produce changelogs: ``task.take_changelog()`` (one record per dirty store key)
    3. flush the producer and check every delivery report
    4. commit the consumed offsets, synchronously

    A crash between 3 and 4 replays the interval: outputs and changelog are written twice
    (over-counting, by design of at-least-once).

exactly_once (v2)
    1–2 as above, inside the open transaction
    3. ``send_offsets_to_transaction(offsets, consumer.consumer_group_metadata())``
    4. ``commit_transaction()``

    Sink records, changelog records and offsets become visible together or not at all; the
    group metadata lets the broker fence a zombie that lost its partitions (EOS v2).

``fault_hook(point)`` is called at the named points so tests can kill the process at exactly
that place: ``after_produce_before_commit`` and ``after_commit``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

# Producer.flush and transactional calls block; 30 s is well above a healthy broker's latency
# and short enough to surface an unreachable cluster as an error instead of hanging forever.
FLUSH_TIMEOUT_S = 30.0
TXN_TIMEOUT_S = 30.0


class ProducerFailure(Exception):
    """A produce or transaction step failed.

    ``abortable``: abort the transaction, rewind to committed offsets, rebuild state.
    ``fatal``: the producer is unusable (fenced, or a fatal idempotence error): recreate it.
    Otherwise (at-least-once delivery errors) the interval must be replayed: rewind and rebuild.
    """

    def __init__(self, message: str, *, abortable: bool = False, fatal: bool = False) -> None:
        super().__init__(message)
        self.abortable = abortable
        self.fatal = fatal

    @classmethod
    def from_kafka(cls, exc: KafkaException) -> ProducerFailure:
        error = exc.args[0] if exc.args else None
        if not isinstance(error, KafkaError):
            return cls(str(exc))
        fenced = error.code() in (
            KafkaError._FENCED,
            KafkaError.PRODUCER_FENCED,
            KafkaError.INVALID_PRODUCER_EPOCH,
        )
        return cls(
            f"{error.name()}: {error.str()}",
            abortable=error.txn_requires_abort(),
            fatal=error.fatal() or fenced,
        )


class OutputProducer:
    """The instance's one producer: plain idempotent (at-least-once) or transactional."""

    def __init__(self, config: dict[str, Any], *, transactional: bool) -> None:
        self.transactional = transactional
        # Delivery reports only for failures: a Python callback per delivered record would
        # cost as much as processing it.
        self._producer = Producer(
            {**config, "delivery.report.only.error": True, "on_delivery": self._on_delivery}
        )
        self._delivery_error: KafkaError | None = None
        self.in_transaction = False
        self.produced = 0
        if transactional:
            # Fences any previous producer with the same transactional.id and aborts its
            # open transaction, so read_committed restores see a settled log.
            try:
                self._producer.init_transactions(TXN_TIMEOUT_S)
            except KafkaException as exc:
                raise ProducerFailure.from_kafka(exc) from exc

    def _on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None and self._delivery_error is None:
            self._delivery_error = err

    def begin(self) -> None:
        if self.transactional and not self.in_transaction:
            try:
                self._producer.begin_transaction()
            except KafkaException as exc:
                raise ProducerFailure.from_kafka(exc) from exc
            self.in_transaction = True

    def produce(self, records: Iterable[Any]) -> int:
        count = 0
        produce = self._producer.produce
        for record in records:
            topic, key, value, timestamp, partition, headers = record
            # timestamp 0 lets librdkafka stamp the current time.
            if timestamp is None or timestamp < 0:
                timestamp = 0
            try:
                if partition is None and not headers:
                    # The common case (sink and changelog records), one C call and no retry loop.
                    produce(topic, value, key, timestamp=timestamp)
                else:
                    self._produce_one(topic, key, value, timestamp, partition, headers)
            except BufferError:
                self._produce_when_queue_drains(topic, key, value, timestamp, partition, headers)
            except KafkaException as exc:
                raise ProducerFailure.from_kafka(exc) from exc
            count += 1
        self.produced += count
        self._producer.poll(0)
        return count

    def _produce_one(
        self, topic: str, key: Any, value: Any, timestamp: int, partition: Any, headers: Any
    ) -> None:
        if partition is None:
            self._producer.produce(topic, value, key, timestamp=timestamp, headers=headers)
        else:
            self._producer.produce(topic, value, key, partition, timestamp=timestamp, headers=headers or None)

    def _produce_when_queue_drains(
        self, topic: str, key: Any, value: Any, timestamp: int, partition: Any, headers: Any
    ) -> None:
        while True:
            # Local queue full: let librdkafka drain it, then retry the same record.
            self._producer.poll(0.05)
            try:
                self._produce_one(topic, key, value, timestamp, partition, headers)
                return
            except BufferError:
                continue
            except KafkaException as exc:
                raise ProducerFailure.from_kafka(exc) from exc

    def flush(self) -> None:
        remaining = self._producer.flush(FLUSH_TIMEOUT_S)
        if remaining:
            raise ProducerFailure(f"{remaining} records not delivered within {FLUSH_TIMEOUT_S:.0f}s")
        self._raise_delivery_error()

    def _raise_delivery_error(self) -> None:
        if self._delivery_error is not None:
            err, self._delivery_error = self._delivery_error, None
            raise ProducerFailure.from_kafka(KafkaException(err))

    def send_offsets(self, offsets: list[TopicPartition], group_metadata: Any) -> None:
        try:
            self._producer.send_offsets_to_transaction(offsets, group_metadata, TXN_TIMEOUT_S)
        except KafkaException as exc:
            raise ProducerFailure.from_kafka(exc) from exc

    def commit_transaction(self) -> None:
        while True:
            try:
                self._producer.commit_transaction(TXN_TIMEOUT_S)
                break
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if isinstance(error, KafkaError) and error.retriable():
                    continue
                raise ProducerFailure.from_kafka(exc) from exc
        self.in_transaction = False
        self._raise_delivery_error()

    def abort_transaction(self) -> None:
        if not self.transactional or not self.in_transaction:
            return
        try:
            self._producer.abort_transaction(TXN_TIMEOUT_S)
        except KafkaException as exc:
            raise ProducerFailure.from_kafka(exc) from exc
        finally:
            self._delivery_error = None
        self.in_transaction = False

    def poll(self) -> None:
        self._producer.poll(0)

    def close(self) -> None:
        # Best effort: a clean close flushes what is queued; an aborted transaction is gone.
        try:
            if self.in_transaction:
                self.abort_transaction()
            self._producer.flush(5.0)
        except Exception:  # noqa: BLE001 - closing must not mask the reason we are closing
            pass


class Checkpoint:
    """Collects the consumed offsets of one commit interval and commits them in order."""

    def __init__(
        self,
        producer: OutputProducer,
        consumer: Any,
        *,
        exactly_once: bool,
        fault_hook: Callable[[str], None] | None = None,
        owned: Callable[[], Iterable[tuple[str, int]]] = lambda: (),
        holding: Callable[[], set[tuple[str, int]]] = set,
    ) -> None:
        self.producer = producer
        self.owned = owned
        # Partitions with consumed records still waiting in a buffer (ordering.py): their
        # positions are ahead of what was processed, so only noted offsets count for them.
        self.holding = holding
        self.consumer = consumer
        self.exactly_once = exactly_once
        self.fault_hook = fault_hook or (lambda point: None)
        # (topic, partition) -> next offset to consume (last processed + 1)
        self.pending: dict[tuple[str, int], int] = {}
        self.committed: dict[tuple[str, int], int] = {}
        # False from the moment consume() may hand out records until the loop has processed
        # them. librdkafka runs rebalance callbacks (and so revoke checkpoints) *inside*
        # consume(), after it may already have collected records of this batch and moved the
        # positions past them: such a checkpoint must commit processed offsets only, or a
        # record never processed (a bad one under policy ``fail`` included) is skipped.
        self.settled = True
        self.started = time.monotonic()
        self.commits = 0

    def note(self, topic: str, partition: int, offset: int) -> None:
        self.pending[(topic, partition)] = offset + 1

    def is_due(self, interval_ms: int) -> bool:
        return (time.monotonic() - self.started) * 1000 >= interval_ms

    def forget(self, partitions: Iterable[tuple[str, int]]) -> None:
        for tp in partitions:
            self.pending.pop(tp, None)
            self.committed.pop(tp, None)

    def discard(self) -> None:
        """Drop the interval (after an abort): its offsets must be consumed again."""
        self.pending.clear()
        self.started = time.monotonic()

    def _advanced_offsets(self) -> dict[tuple[str, int], int]:
        """Next offset per partition that moved since the last commit.

        When settled, the consumer's position, not last offset + 1: under read_committed the
        position also steps over transaction markers, so a drained partition commits its end
        offset and shows no phantom lag of one. That is safe only when every record the
        consumer handed out has been processed; otherwise (a revoke inside consume()) only
        the offsets noted after processing count.
        """
        if not self.settled:
            return {
                key: offset for key, offset in self.pending.items() if offset > self.committed.get(key, -1)
            }
        partitions = set(self.pending) | set(self.owned())
        if not partitions:
            return {}
        held = self.holding()
        positions = self.consumer.position([TopicPartition(t, p) for t, p in sorted(partitions)])
        advanced: dict[tuple[str, int], int] = {}
        for tp in positions:
            key = (tp.topic, tp.partition)
            position = tp.offset if tp.error is None and key not in held else -1
            offset = max(self.pending.get(key, -1), position)
            if offset >= 0 and offset > self.committed.get(key, -1):
                advanced[key] = offset
        return advanced

    def commit(self, tasks: Iterable[Any]) -> bool:
        """Make the interval durable in the documented order. Returns True if anything was committed."""
        tasks = list(tasks)
        for task in tasks:
            task.flush_caches()
        outputs = [record for task in tasks for record in task.take_output()]
        changelog = [record for task in tasks for record in task.take_changelog()]
        advanced = self._advanced_offsets()
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(advanced.items())]
        if not (outputs or changelog or offsets or self.producer.in_transaction):
            self.started = time.monotonic()
            return False
        if self.exactly_once:
            self.producer.begin()
        self.producer.produce(outputs)
        self.producer.produce(changelog)
        if self.exactly_once:
            if offsets:
                self.producer.send_offsets(offsets, self.consumer.consumer_group_metadata())
            self.fault_hook("after_produce_before_commit")
            self.producer.commit_transaction()
        else:
            self.producer.flush()
            self.fault_hook("after_produce_before_commit")
            if offsets:
                try:
                    self.consumer.commit(offsets=offsets, asynchronous=False)
                except KafkaException as exc:
                    # Typically the group rebalanced under us: the interval is replayed by
                    # whoever owns the partitions now (at-least-once).
                    raise ProducerFailure(f"offset commit failed: {exc}") from exc
        self.fault_hook("after_commit")
        self.committed.update(advanced)
        self.pending.clear()
        self.started = time.monotonic()
        self.commits += 1
        return bool(offsets)
