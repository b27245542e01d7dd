"""The state store interface: exactly what operators and tasks use, nothing more.

A store is a Python dict and a dirty map, exposed as attributes, not hidden behind get/put
methods. The choice is deliberate: an aggregate touches its store once per record, and on the
hot path (``AggregateNode._push_count``, the windowed aggregates, the joins) a method call per
read and per write would cost more than the rest of the operator's work; bench/RESULTS.md has
W2 (count per key) at ~134-150k events per CPU-second with direct dict access. So:

- ``data``: store key → value. Store keys are hashable (``serde.hashable_key``; windowed
  stores use ``(key, window_start)`` tuples); values are JSON-encodable and may be mutated in
  place (an accumulator list).
- ``dirty``: store key → timestamp of its latest change since the last ``take_changelog``.
  Every write to ``data`` records the key here (directly, or through ``put``/``delete``/
  ``mark_dirty``, which do exactly that); a key written twice between two takes is one entry.
  Operators hold references to both dicts: a store never replaces them, it clears them in place.
- ``take_changelog()`` returns one record per dirty key (the latest value, or a tombstone) and
  clears ``dirty``: how Kafka Streams' record cache writes a changelog per key per commit.
- ``restore(records)`` rebuilds ``data`` from changelog records, last record per key wins.

Operators are typed against ``StateStore``; only the builder's store factories name an
implementation (``memory.MemoryStore``). Another backend must keep ``data`` a mutable mapping
with dict speed for the hot path, or bring its own operators.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

ChangelogRecord = tuple[bytes, bytes | None, int]  # key, value (None = tombstone), timestamp


class StateStore(Protocol):
    name: str
    data: dict[Any, Any]
    dirty: dict[Any, int]

    def put(self, key: Any, value: Any, timestamp: int) -> None:
        """``data[key] = value`` and mark it dirty."""

    def delete(self, key: Any, timestamp: int) -> None:
        """Remove ``key``; marks it dirty when it was there."""

    def mark_dirty(self, key: Any, timestamp: int) -> None:
        """Record that the value under ``key`` changed in place."""

    def take_changelog(self) -> list[ChangelogRecord]: ...

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> int:
        """Apply changelog records in order; returns how many were applied."""


KeyCodec = tuple[Callable[[Any], bytes], Callable[[bytes], Any]]
