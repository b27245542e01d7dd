"""The engine's view of Kafka topics: a small protocol, the real admin client behind it.

Statements need four things from the cluster (partition counts, the topic list, create,
delete). ``KafkaTopics`` does them with processing/runtime/kafka/admin.py; tests pass an
in-memory ``Topics`` so the engine's decisions are tested without a broker. Any failure of
the cluster becomes ``TopicsUnavailable``, which the engine turns into a statement error.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from django.conf import settings

from processing.runtime.kafka import admin


class TopicsUnavailable(RuntimeError):
    """The cluster did not do what was asked; the message says what and why."""


class Topics(Protocol):
    def partitions(self, names: Iterable[str]) -> dict[str, int]: ...

    def replicas(self) -> dict[str, list[int]]: ...

    def create(self, name: str, partitions: int, replicas: int | None) -> None: ...

    def delete(self, name: str) -> None: ...


@dataclass(frozen=True)
class _Spec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


class KafkaTopics:
    def __init__(self, kafka_config: dict[str, Any] | None = None) -> None:
        self.config = kafka_config if kafka_config is not None else settings.KAFKA_CLIENT_CONFIG

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(self.config, *args, **kwargs)
        except Exception as exc:  # confluent_kafka's errors stay inside processing/runtime/kafka
            servers = self.config.get("bootstrap.servers", "?")
            raise TopicsUnavailable(f"Kafka at {servers} could not {what}: {exc}") from exc

    def partitions(self, names: Iterable[str]) -> dict[str, int]:
        return self._call("list topics", admin.topic_partitions, list(names))

    def replicas(self) -> dict[str, list[int]]:
        return self._call("list topics", admin.topic_replicas)

    def create(self, name: str, partitions: int, replicas: int | None) -> None:
        self._call(
            f"create topic {name!r}",
            admin.ensure_topics,
            [_Spec(name, partitions)],
            replication_factor=replicas or -1,
        )

    def delete(self, name: str) -> None:
        self._call(f"delete topic {name!r}", admin.delete_topics, [name])


class MemoryTopics:
    """Topics in a dict (tests, and anything that must not touch a cluster)."""

    def __init__(self, topics: dict[str, int] | None = None) -> None:
        self.topics: dict[str, int] = dict(topics or {})
        self.created: list[str] = []
        self.deleted: list[str] = []

    def partitions(self, names: Iterable[str]) -> dict[str, int]:
        return {name: self.topics[name] for name in names if name in self.topics}

    def replicas(self) -> dict[str, list[int]]:
        return {name: [1] * count for name, count in self.topics.items()}

    def create(self, name: str, partitions: int, replicas: int | None) -> None:
        self.topics[name] = partitions
        self.created.append(name)

    def delete(self, name: str) -> None:
        self.topics.pop(name, None)
        self.deleted.append(name)
