"""The state store interface.

A store maps a *store key* (hashable, see ``serde.hashable_key``; windowed stores use
``(key, window_start)`` tuples) to a JSON-encodable value. Every write marks the key dirty;
``take_changelog`` returns one record per dirty key since the last call (the latest value or
a tombstone), which is how Kafka Streams' record cache writes a changelog per key per commit.
``restore`` rebuilds the store from changelog records, last record per key wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

ChangelogRecord = tuple[bytes, bytes | None, int]  # key, value (None = tombstone), timestamp


class StateStore(Protocol):
    name: str

    def get(self, key: Any, default: Any = None) -> Any: ...

    def put(self, key: Any, value: Any, timestamp: int) -> None: ...

    def delete(self, key: Any, timestamp: int) -> None: ...

    def __contains__(self, key: Any) -> bool: ...

    def __len__(self) -> int: ...

    def items(self) -> Iterator[tuple[Any, Any]]: ...

    def mark_dirty(self, key: Any, timestamp: int) -> None:
        """Record that the value under ``key`` changed in place."""

    def take_changelog(self) -> list[ChangelogRecord]: ...

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> int:
        """Apply changelog records in order; returns how many were applied."""


KeyCodec = tuple[Callable[[Any], bytes], Callable[[bytes], Any]]
