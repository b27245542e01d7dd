"""The StateStore protocol is exactly what the in-memory store offers and operators use."""

from __future__ import annotations

import inspect

from processing.runtime.state.base import StateStore
from processing.runtime.state.memory import MemoryStore


def _public(cls) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}


def test_the_protocol_is_the_dict_the_dirty_map_and_the_changelog():
    members = _public(StateStore) | set(StateStore.__annotations__)
    store = MemoryStore("s")
    assert members == {"name", "data", "dirty", "put", "delete", "mark_dirty", "take_changelog", "restore"}
    assert members == _public(store)


def test_writes_through_the_methods_are_the_same_as_writes_to_the_dicts():
    store = MemoryStore("s")
    store.put("a", {"n": 1}, 5)
    store.data["b"] = {"n": 2}
    store.dirty["b"] = 6
    store.delete("missing", 7)  # nothing there, nothing dirty
    assert store.dirty == {"a": 5, "b": 6}
    records = store.take_changelog()
    assert [(key, value, ts) for key, value, ts in records] == [
        (b'"a"', b'{"n":1}', 5),
        (b'"b"', b'{"n":2}', 6),
    ]
    assert store.dirty == {}
