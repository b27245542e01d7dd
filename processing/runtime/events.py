"""How the runtime reports outward: an injected event sink.

The runtime never knows where events go. The Django side passes a sink that writes them to
Redis and the channel layer (processing/reporter.py); the headless runner logs them; tests
collect them in a list. Every event is a plain JSON-able dict with a ``type``:

``status``       {"type": "status", "status": "starting|restoring|running|rebalancing|failed|stopped", "error": str|None}
``metrics``      {"type": "metrics", "nodes": {node_id: {"in": n, "out": n, "errors": n, "late": n}},
                  "latency_ms": float, "partitions": [[topic, partition], ...]}   counters are cumulative
``assignment``   {"type": "assignment", "partitions": [[topic, partition], ...]}   the partitions owned
                  now, at every rebalance (metrics repeat them every second)
``lag``          {"type": "lag", "partitions": [{"topic", "partition", "committed", "end", "lag"}]}
``restore``      {"type": "restore", "store": name, "partition": p, "restored": n, "total": n, "done": bool}
``table_delta``  {"type": "table_delta", "view": node_id, "seq": n, "rows": [{"key": k, "value": v|None}],
                  "windowed": bool}   coalesced per key within the interval; seq increases per view by 1
``error``        {"type": "error", "node_id": str|None, "topic": str, "partition": int, "offset": int,
                  "error_class": str, "message": str, "policy": "dlq|skip|fail"}
"""

from __future__ import annotations

from typing import Any, Protocol


class EventSink(Protocol):
    def emit(self, event: dict[str, Any]) -> None: ...


class ListEventSink:
    """Collects events in memory (tests, the preview)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def emit(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]


class NullEventSink:
    def emit(self, event: dict[str, Any]) -> None:
        pass
