"""The record shapes that cross the boundary between the runtime core and the Kafka loop.

Plain ``NamedTuple``s: cheap to build per record, unpackable, and free of any client library
type so the core stays testable without a broker.
"""

from __future__ import annotations

from typing import Any, NamedTuple

Headers = list[tuple[str, bytes]]


class InputRecord(NamedTuple):
    topic: str
    partition: int
    offset: int
    timestamp: int  # epoch ms (the Kafka record timestamp)
    key: bytes | None
    value: bytes | None
    # Headers, None, or (from the Kafka loop) the consumed message, whose headers() is called
    # only when they are needed: see headers_of.
    headers: Any = None


def headers_of(record: tuple) -> Headers:
    """A record's input headers: a list as given, or read from the consumed message now."""
    headers = record[6]
    if headers is None or isinstance(headers, list):
        return headers or []
    return headers.headers() or []


class OutputRecord(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes | None
    timestamp: int
    # None lets the producer's partitioner (murmur2, as the Java client) choose from the key,
    # so keys land on the partition Kafka Streams would pick.
    partition: int | None = None
    headers: Headers | None = None


class TopicSpec(NamedTuple):
    name: str
    partitions: int
    config: dict[str, str]


__all__ = ["Headers", "InputRecord", "OutputRecord", "TopicSpec"]
