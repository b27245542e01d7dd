"""The default store: a Python dict plus a dirty-key map (the record cache).

It is ``state.base.StateStore`` exactly (see there why operators use ``data`` and ``dirty``
directly), plus the changelog encoding: key bytes cached for hot keys, windowed stores
tombstoning only what reached the changelog.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from processing.runtime.serde import dumps as serde_dumps
from processing.runtime.serde import hashable_from_bytes, hashable_to_bytes
from processing.runtime.state.base import ChangelogRecord

_MISSING = object()
# Hot keys are the ones worth caching; past this many the cache starts over rather than
# holding the bytes of every key of a large store.
KEY_BYTES_CACHE_LIMIT = 100_000


class MemoryStore:
    def __init__(
        self,
        name: str,
        *,
        encode_key: Callable[[Any], bytes] = hashable_to_bytes,
        decode_key: Callable[[bytes], Any] = hashable_from_bytes,
    ) -> None:
        self.name = name
        self.data: dict[Any, Any] = {}
        # key -> timestamp of its latest change; a dict keeps first-change order, which makes
        # the changelog deterministic.
        self.dirty: dict[Any, int] = {}
        self._encode_key = encode_key
        self._decode_key = decode_key
        # Changelog bytes of each live key: a hot key is written at every commit, and its
        # bytes never change. Only for the default codec; a windowed store's keys include the
        # window start, so they are new at every window (its codec caches the key part).
        self._key_bytes: dict[Any, bytes] | None = {} if encode_key is hashable_to_bytes else None
        # Windowed stores: the keys that have a value in the changelog. A window opened and
        # closed between two takes never reached the changelog, so its tombstone would delete
        # nothing and is left out (restore ends the same; Kafka Streams writes no tombstones for
        # expired windows at all). Bounded by the open windows, so only for windowed stores.
        self._windowed = encode_key is not hashable_to_bytes
        self._logged: set[Any] = set()

    def put(self, key: Any, value: Any, timestamp: int) -> None:
        self.data[key] = value
        self.dirty[key] = timestamp

    def delete(self, key: Any, timestamp: int) -> None:
        if self.data.pop(key, _MISSING) is not _MISSING:
            self.dirty[key] = timestamp

    def mark_dirty(self, key: Any, timestamp: int) -> None:
        self.dirty[key] = timestamp

    def take_changelog(self) -> list[ChangelogRecord]:
        if not self.dirty:
            return []
        data = self.data
        encode = self._encode_key
        dumps = serde_dumps
        key_bytes = self._key_bytes
        out: list[ChangelogRecord] = []
        append = out.append
        raw_key: bytes | None
        if key_bytes is None:
            logged = self._logged
            for key, ts in self.dirty.items():
                value = data.get(key, _MISSING)
                if value is _MISSING:
                    if key in logged:
                        logged.discard(key)
                        append((encode(key), None, ts))
                else:
                    logged.add(key)
                    append((encode(key), dumps(value), ts))
        else:
            for key, ts in self.dirty.items():
                value = data.get(key, _MISSING)
                if value is _MISSING:
                    raw_key = key_bytes.pop(key, None) or encode(key)
                    append((raw_key, None, ts))
                    continue
                raw_key = key_bytes.get(key)
                if raw_key is None:
                    if len(key_bytes) >= KEY_BYTES_CACHE_LIMIT:
                        key_bytes.clear()  # bounded memory for stores of many keys
                    raw_key = key_bytes[key] = encode(key)
                append((raw_key, dumps(value), ts))
        # Cleared in place: operators hold a reference to this dict on their hot path.
        self.dirty.clear()
        return out

    def restore(self, records: Iterable[tuple[bytes, bytes | None]]) -> int:
        data = self.data
        decode = self._decode_key
        loads = orjson.loads
        n = 0
        logged = self._logged
        windowed = self._windowed
        for raw_key, raw_value in records:
            n += 1
            key = decode(raw_key)
            if raw_value is None:
                data.pop(key, None)
                if windowed:
                    logged.discard(key)
            else:
                data[key] = loads(raw_value)
                if windowed:
                    logged.add(key)
        return n
