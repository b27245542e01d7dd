"""librdkafka configuration for the runtime's consumer, producer and restore consumer.

``kafka_config`` is the installation's client configuration (``config.connection_config``):
every unscoped setting reaches every client, under the defaults below; keys prefixed
``consumer.`` or ``producer.`` override the defaults for that client only, so an operator can
tune e.g. ``consumer.session.timeout.ms`` without code changes (see config.py).
"""

from __future__ import annotations

from typing import Any

from processing.runtime.kafka.config import scoped, unscoped
from topology.compiler.binding import BoundPlan

GUARANTEES = ("at_least_once", "exactly_once")

# A killed instance keeps its partitions until the broker notices it is gone. Six seconds is
# the broker's default minimum session timeout: short enough that a restarted runner gets its
# partitions back quickly, long enough for a busy 2-core machine not to drop live members.
SESSION_TIMEOUT_MS = 6000
HEARTBEAT_INTERVAL_MS = 1500
# Restores of large stores run inside the assignment callback; five minutes between polls is
# the Java default and leaves room for a multi-million key changelog.
MAX_POLL_INTERVAL_MS = 300_000
# An instance that dies mid-transaction blocks read_committed readers of its partitions until
# the broker aborts the transaction. A restart of the same slot aborts it at once (fencing);
# for a slot that never comes back, ten seconds bounds the stall (the commit interval is 1 s).
TRANSACTION_TIMEOUT_MS = 10_000


def _split(kafka_config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(settings for every client, the consumers' own, the producer's own)."""
    return unscoped(kafka_config), scoped(kafka_config, "consumer"), scoped(kafka_config, "producer")


def consumer_config(
    kafka_config: dict[str, Any], bound: BoundPlan, *, instance_slot: int = 0
) -> dict[str, Any]:
    common, overrides, _ = _split(kafka_config)
    return {
        **common,
        "group.id": bound.consumer_group,
        "client.id": bound.client_id(instance_slot, "consumer"),
        "partition.assignment.strategy": "cooperative-sticky",
        # Offsets are committed only by the checkpoint, after the outputs they cover.
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # Never see records of aborted or still-open transactions (ours or upstream's).
        "isolation.level": "read_committed",
        "auto.offset.reset": "earliest",
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": HEARTBEAT_INTERVAL_MS,
        "max.poll.interval.ms": MAX_POLL_INTERVAL_MS,
        **overrides,
    }


def restore_consumer_config(
    kafka_config: dict[str, Any], bound: BoundPlan, *, instance_slot: int = 0
) -> dict[str, Any]:
    common, overrides, _ = _split(kafka_config)
    return {
        **common,
        # Used with assign() only: it never joins or commits to this group.
        "group.id": bound.restore_consumer_group,
        "client.id": bound.client_id(instance_slot, "restore"),
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        **{k: v for k, v in overrides.items() if k.startswith(("fetch.", "queued."))},
    }


def producer_config(
    kafka_config: dict[str, Any],
    bound: BoundPlan,
    *,
    guarantee: str,
    instance_slot: int = 0,
    commit_interval_ms: int = 1000,
) -> dict[str, Any]:
    common, _, overrides = _split(kafka_config)
    config: dict[str, Any] = {
        **common,
        "client.id": bound.client_id(instance_slot, "producer"),
        # Same hash as the Java client's default partitioner, so keyed records land on the
        # partition Kafka Streams (and any Java consumer joining on the key) expects.
        "partitioner": "murmur2_random",
        "enable.idempotence": True,
        "acks": "all",
        # Outputs come in bursts of a whole consumed batch; 20 ms lets librdkafka fill large
        # message sets (fewer requests, less CPU on the shared core). The checkpoint flushes
        # anyway, so this never delays a commit.
        "linger.ms": 20,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1_048_576,
    }
    if guarantee == "exactly_once":
        config["transactional.id"] = bound.transactional_id(instance_slot)
        # A transaction spans one commit interval; it must not time out under a long one.
        config["transaction.timeout.ms"] = max(TRANSACTION_TIMEOUT_MS, 3 * commit_interval_ms + 5_000)
    config.update(overrides)
    return config
