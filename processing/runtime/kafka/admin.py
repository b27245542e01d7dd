"""Topic administration with the AdminClient: look up partition counts, create internal topics.

Auto topic creation is off on the brokers we target, so the runtime creates its repartition and
changelog topics itself, before the consumer subscribes. Source topics are never created here:
a missing source topic is a user error reported as a failed status, not something to paper over.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

from processing.runtime.kafka.config import client_config

# Metadata and CreateTopics are single round trips to the controller; ten seconds covers a
# loaded single-node broker while still failing fast when the cluster is unreachable.
ADMIN_TIMEOUT_S = 10.0


class TopicMismatch(RuntimeError):
    """An existing internal topic has a different partition count than the plan needs."""


def admin_client(kafka_config: dict[str, Any]) -> AdminClient:
    return AdminClient(admin_config(kafka_config))


def admin_config(kafka_config: dict[str, Any]) -> dict[str, Any]:
    """The AdminClient's settings: the unscoped ones (consumer./producer. keys are not its own)."""
    return client_config(kafka_config)


def topic_partitions(
    kafka_config: dict[str, Any], topics: Iterable[str], timeout: float = ADMIN_TIMEOUT_S
) -> dict[str, int]:
    """Partition count per existing topic; topics that do not exist are absent from the result."""
    wanted = set(topics)
    metadata = admin_client(kafka_config).list_topics(timeout=timeout)
    found: dict[str, int] = {}
    for name in wanted:
        topic = metadata.topics.get(name)
        if topic is None or topic.error is not None or not topic.partitions:
            continue
        found[name] = len(topic.partitions)
    return found


def topic_replicas(kafka_config: dict[str, Any], timeout: float = ADMIN_TIMEOUT_S) -> dict[str, list[int]]:
    """Every topic of the cluster → the replica count of each of its partitions (SHOW TOPICS)."""
    metadata = admin_client(kafka_config).list_topics(timeout=timeout)
    return {
        name: [len(partition.replicas) for _, partition in sorted(topic.partitions.items())]
        for name, topic in metadata.topics.items()
        if topic.error is None
    }


def ensure_topics(
    kafka_config: dict[str, Any],
    specs: Iterable[Any],
    *,
    replication_factor: int = -1,
    timeout: float = ADMIN_TIMEOUT_S,
) -> list[str]:
    """Create the topics in ``specs`` (``TopicSpec``-like: name, partitions, config) that are missing.

    Existing topics are checked, not altered: a changelog or repartition topic whose partition
    count differs from the plan's would silently misroute state, so that raises TopicMismatch.
    ``replication_factor=-1`` lets the broker apply its default. Returns the names created.
    """
    specs = list(specs)
    if not specs:
        return []
    admin = admin_client(kafka_config)
    existing = topic_partitions(kafka_config, [s.name for s in specs], timeout=timeout)
    for spec in specs:
        have = existing.get(spec.name)
        if have is not None and have != spec.partitions:
            raise TopicMismatch(
                f"topic {spec.name!r} has {have} partitions but the plan needs {spec.partitions}; "
                "delete it or deploy under a new application id"
            )
    missing = [s for s in specs if s.name not in existing]
    if not missing:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=replication_factor,
                config=dict(s.config or {}),
            )
            for s in missing
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            # Another instance of the same application may have created it a moment ago.
            if exc.args and exc.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS:
                continue
            raise
    _wait_for_metadata(kafka_config, [s.name for s in missing], timeout)
    return sorted(created)


def _wait_for_metadata(kafka_config: dict[str, Any], names: list[str], timeout: float) -> None:
    # CreateTopics returns once the controller accepted the topic; producers and consumers
    # that look it up a moment later can still see UNKNOWN_TOPIC_OR_PART until metadata
    # propagates, so poll metadata briefly.
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(topic_partitions(kafka_config, names, timeout=timeout)) == len(set(names)):
            return
        time.sleep(0.1)


def delete_topics(
    kafka_config: dict[str, Any], names: Iterable[str], timeout: float = ADMIN_TIMEOUT_S
) -> None:
    """Delete topics (used by tests and teardown of applications Weir created)."""
    names = list(names)
    if not names:
        return
    # Keep the client referenced until the futures resolve: a collected client cancels them.
    client = admin_client(kafka_config)
    futures = client.delete_topics(names, operation_timeout=timeout, request_timeout=timeout)
    for future in futures.values():
        try:
            future.result()
        except KafkaException as exc:
            if exc.args and exc.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
                continue
            raise


def cluster_health(kafka_config: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Delegates to ``health.cluster_health`` (owned with the deployment checks) when present."""
    try:
        from processing.runtime.kafka.health import cluster_health as health_check
    except ImportError:
        pass
    else:
        return health_check(kafka_config, timeout)
    try:
        metadata = admin_client(kafka_config).list_topics(timeout=timeout)
    except KafkaException as exc:
        return {"ok": False, "error": str(exc), "brokers": 0}
    return {"ok": bool(metadata.brokers), "error": None, "brokers": len(metadata.brokers)}


class ClusterUnavailable(RuntimeError):
    """The cluster did not answer (or has no id): the message names the bootstrap servers and why."""


# Callers are request handlers (ksqlDB's GET /info): a client waits on this, so it fails fast.
CLUSTER_ID_TIMEOUT_S = 3.0


def cluster_id(kafka_config: dict[str, Any], timeout: float = CLUSTER_ID_TIMEOUT_S) -> str:
    """The cluster's id (DescribeCluster). Raises ClusterUnavailable when the cluster does not answer."""
    report = cluster_health(kafka_config, timeout)
    if report.get("cluster_id"):
        return str(report["cluster_id"])
    raise ClusterUnavailable(report.get("error") or "the Kafka cluster reported no cluster id")
