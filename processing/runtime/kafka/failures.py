"""Why an instance stops in the ``failed`` state: a bad record under policy ``fail``, or a
consumer error that retrying cannot fix."""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError

log = logging.getLogger(__name__)


class InstanceFailed(Exception):
    """Stops the instance in the ``failed`` state; the message is the user-facing reason."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details

    @classmethod
    def of_record(cls, failure: Any) -> InstanceFailed:
        """A bad record under policy ``fail`` (executor.RecordFailure)."""
        return cls(
            f"record {failure.topic}[{failure.partition}]@{failure.offset} failed at node "
            f"{failure.node_id!r}: {failure.error_class}: {failure.message}",
            topic=failure.topic,
            partition=failure.partition,
            offset=failure.offset,
            node_id=failure.node_id,
            error_class=failure.error_class,
        )


def fatal_consume_error(msg: Any) -> str | None:
    """Why the instance must stop for this consume error; None when librdkafka retries it."""
    error = msg.error()
    code = error.code()
    if code == KafkaError._PARTITION_EOF:
        return None
    if code in (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError._UNKNOWN_TOPIC, KafkaError._UNKNOWN_PARTITION):
        return f"input topic {msg.topic()!r} does not exist (any more): {error.str()}"
    if code == KafkaError.TOPIC_AUTHORIZATION_FAILED or error.fatal():
        return f"consumer error on {msg.topic()!r}: {error.str()}"
    log.warning("consumer error (retried by librdkafka): %s", error.str())
    return None
