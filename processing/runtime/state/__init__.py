"""State stores: an interface (base) and the in-memory dict store with a record cache (memory)."""

from processing.runtime.state.base import StateStore
from processing.runtime.state.memory import MemoryStore

__all__ = ["MemoryStore", "StateStore"]
