"""How the runtime reports outward: an injected event sink, and the events it emits.

The runtime never knows where events go. The Django side passes a sink that writes them to
Redis and the channel layer (dashboard/publisher.py, named in WEIR_EVENT_SINKS); the headless
runner logs them; tests collect them in a list. Every event is a plain JSON-able dict with a ``type``; the TypedDicts
below are their contract (the emitters build them, a type checker holds them to it):

``status``       an instance's :data:`Status`; ``failed`` carries ``error`` and, for a bad record
                  under policy ``fail``, where it was (``topic``, ``partition``, ``offset``, ...)
``metrics``      counters per node, cumulative; ``latency_ms`` = mean batch processing time;
                  the partitions owned (every second, and once more on a clean stop)
``assignment``   the partitions owned now, at every rebalance
``lag``          per owned partition: committed offset, end offset, lag
``restore``      progress of rebuilding one store partition from its changelog
``table_delta``  the changed rows of one view, coalesced per key within the view's tick; ``seq``
                  increases per view by 1 (a gap means: resync from a snapshot)
``error``        a record that failed at a node, and the policy applied to it
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NotRequired, Protocol, TypedDict

Status = Literal["starting", "restoring", "running", "rebalancing", "failed", "stopped"]
STATUSES: tuple[Status, ...] = ("starting", "restoring", "running", "rebalancing", "failed", "stopped")
ErrorPolicy = Literal["dlq", "skip", "fail"]


class StatusEvent(TypedDict):
    type: Literal["status"]
    status: Status
    error: str | None
    # A bad record under policy fail (failures.InstanceFailed.of_record) or missing topics:
    topic: NotRequired[str]
    partition: NotRequired[int]
    offset: NotRequired[int]
    node_id: NotRequired[str | None]
    error_class: NotRequired[str]
    missing_topics: NotRequired[list[str]]


class MetricsEvent(TypedDict):
    type: Literal["metrics"]
    nodes: dict[str, dict[str, int]]  # node id -> {"in", "out", "errors", "late"}
    latency_ms: float
    partitions: list[list[Any]]  # [[topic, partition], ...]


class AssignmentEvent(TypedDict):
    type: Literal["assignment"]
    partitions: list[list[Any]]  # [[topic, partition], ...]


class LagRow(TypedDict):
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int | None


class LagEvent(TypedDict):
    type: Literal["lag"]
    partitions: list[LagRow]


class RestoreEvent(TypedDict):
    type: Literal["restore"]
    store: str
    partition: int
    restored: int
    total: int
    done: bool


class DeltaRow(TypedDict):
    # windowed views: key is {"key", "window_start", "window_end"}
    key: Any
    value: Any  # None: the row was deleted


class TableDeltaEvent(TypedDict):
    type: Literal["table_delta"]
    view: str
    seq: int
    rows: list[DeltaRow]
    windowed: bool


class ErrorEvent(TypedDict):
    type: Literal["error"]
    node_id: str | None
    topic: str
    partition: int
    offset: int
    error_class: str
    message: str
    policy: ErrorPolicy


Event = StatusEvent | MetricsEvent | AssignmentEvent | LagEvent | RestoreEvent | TableDeltaEvent | ErrorEvent
EVENT_TYPES = ("status", "metrics", "assignment", "lag", "restore", "table_delta", "error")


class EventSink(Protocol):
    # A Mapping, so that every TypedDict above fits (a TypedDict is no dict[str, Any] to a
    # type checker); the events are the TypedDicts.
    def emit(self, event: Mapping[str, Any]) -> None:
        """Take one event (one of :data:`Event`)."""


class ListEventSink:
    """Collects events in memory (tests, the preview)."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def emit(self, event: Mapping[str, Any]) -> None:
        self.events.append(event)

    def of_type(self, kind: str) -> list[Any]:
        return [e for e in self.events if e["type"] == kind]


class NullEventSink:
    def emit(self, event: Mapping[str, Any]) -> None:
        pass
