"""The instance's one producer over confluent_kafka: plain idempotent or transactional.

It is the Kafka side of the checkpoint's ``Producer`` protocol (processing/runtime/checkpoint.py,
which owns the order of flush → outputs → changelog → producer flush → commit). Errors come out
as the checkpoint's ``ProducerFailure``, classified by ``failure_from_kafka``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from processing.runtime.checkpoint import Offsets, ProducerFailure

# Producer.flush and transactional calls block; 30 s is well above a healthy broker's latency
# and short enough to surface an unreachable cluster as an error instead of hanging forever.
FLUSH_TIMEOUT_S = 30.0
TXN_TIMEOUT_S = 30.0


def failure_from_kafka(exc: KafkaException) -> ProducerFailure:
    """A librdkafka error as the checkpoint's failure: abortable, fatal (fenced) or neither."""
    error = exc.args[0] if exc.args else None
    if not isinstance(error, KafkaError):
        return ProducerFailure(str(exc))
    fenced = error.code() in (
        KafkaError._FENCED,
        KafkaError.PRODUCER_FENCED,
        KafkaError.INVALID_PRODUCER_EPOCH,
    )
    return ProducerFailure(
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
                raise failure_from_kafka(exc) from exc

    def _on_delivery(self, err: KafkaError | None, _msg: Any) -> None:
        if err is not None and self._delivery_error is None:
            self._delivery_error = err

    def begin(self) -> None:
        if self.transactional and not self.in_transaction:
            try:
                self._producer.begin_transaction()
            except KafkaException as exc:
                raise failure_from_kafka(exc) from exc
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
                raise failure_from_kafka(exc) from exc
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
                raise failure_from_kafka(exc) from exc

    def flush(self) -> None:
        remaining = self._producer.flush(FLUSH_TIMEOUT_S)
        if remaining:
            raise ProducerFailure(f"{remaining} records not delivered within {FLUSH_TIMEOUT_S:.0f}s")
        self._raise_delivery_error()

    def _raise_delivery_error(self) -> None:
        if self._delivery_error is not None:
            err, self._delivery_error = self._delivery_error, None
            raise failure_from_kafka(KafkaException(err))

    def send_offsets(self, offsets: Offsets, group_metadata: Any) -> None:
        partitions = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        try:
            self._producer.send_offsets_to_transaction(partitions, group_metadata, TXN_TIMEOUT_S)
        except KafkaException as exc:
            raise failure_from_kafka(exc) from exc

    def commit_transaction(self) -> None:
        while True:
            try:
                self._producer.commit_transaction(TXN_TIMEOUT_S)
                break
            except KafkaException as exc:
                error = exc.args[0] if exc.args else None
                if isinstance(error, KafkaError) and error.retriable():
                    continue
                raise failure_from_kafka(exc) from exc
        self.in_transaction = False
        self._raise_delivery_error()

    def abort_transaction(self) -> None:
        if not self.transactional or not self.in_transaction:
            return
        try:
            self._producer.abort_transaction(TXN_TIMEOUT_S)
        except KafkaException as exc:
            raise failure_from_kafka(exc) from exc
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
