"""What an instance tells the outside world: metrics, lag and view deltas.

Counters are cumulative per node across every task this instance ran (closed tasks keep
counting toward the totals). View deltas are coalesced per key between two flushes, and each
flush of a view carries the next sequence number of that view, so a subscriber can detect a gap
and resync from a snapshot.

Each view has its own tick. ``view_tick(view)``, passed in by whoever runs the loop, chooses it
at every flush of that view (the dashboards: from how many sockets watch it); without it, or
when it returns None, every view ticks at the instance's ``view_interval_s``.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import orjson
from confluent_kafka import KafkaException
from confluent_kafka import TopicPartition as TP

from processing.runtime.events import DeltaRow, EventSink, LagEvent, LagRow, MetricsEvent, TableDeltaEvent
from topology.compiler.plan import Plan, View

METRICS_INTERVAL_S = 1.0


class Reporter:
    def __init__(
        self,
        plan: Plan,
        events: EventSink,
        view_interval_s: float,
        view_tick: Callable[[str], float | None] | None = None,
    ) -> None:
        self.events = events
        self.view_interval_s = view_interval_s
        self.windowed = {view.node_id for view in plan.views() if view.windowed}
        self.view_ids = {op.node_id for op in plan.operators() if isinstance(op, View)}
        self.closed_metrics: dict[str, dict[str, int]] = {}
        self.pending_views: dict[str, dict[Any, Any]] = defaultdict(dict)
        self.view_seq: dict[str, int] = defaultdict(int)
        self.latency_total = 0.0
        self.latency_batches = 0
        self.last_metrics = time.monotonic()
        # view id -> when its pending changes are due: one tick after the view's last flush, so
        # a change to a quiet view goes out at once and a busy view sends one delta per tick.
        self.due: dict[str, float] = {}
        self.last_flush: dict[str, float] = {}
        # view id -> its tick, as view_tick last chose it
        self.intervals: dict[str, float] = {}
        self._view_tick = view_tick

    def batch_processed(self, seconds: float) -> None:
        self.latency_total += seconds
        self.latency_batches += 1

    def task_closed(self, task: Any) -> None:
        for node, counters in task.metrics().items():
            into = self.closed_metrics.setdefault(node, {})
            for name, value in counters.items():
                into[name] = into.get(name, 0) + value

    def add_view_deltas(self, deltas: dict[str, dict]) -> None:
        pending = self.pending_views
        for view, rows in deltas.items():
            if view not in self.due:
                self.due[view] = self.last_flush.get(view, 0.0) + self.intervals.get(
                    view, self.view_interval_s
                )
            pending[view].update(rows)

    def drop_view_deltas(self) -> None:
        """After an abort: those changes were never committed and will be recomputed."""
        self.pending_views.clear()
        self.due.clear()

    def poll_timeout(self, default_s: float) -> float:
        """How long the loop may wait for records: until the next view tick if changes wait."""
        if not self.due:
            return default_s
        return min(default_s, max(0.0, min(self.due.values()) - time.monotonic()))

    def tick(self, tasks: list[Any], assigned: set[tuple[str, int]], consumer: Any, checkpoint: Any) -> None:
        now = time.monotonic()
        if self.due and min(self.due.values()) <= now:
            self.flush_views([view for view, due in self.due.items() if due <= now])
        if now - self.last_metrics < METRICS_INTERVAL_S:
            return
        self.last_metrics = now
        self.emit_metrics(tasks, assigned)
        self.events.emit(LagEvent(type="lag", partitions=lag_rows(assigned, consumer, checkpoint)))

    def emit_metrics(self, tasks: list[Any], assigned: set[tuple[str, int]]) -> None:
        """Cumulative counters of this instance: the closed tasks' plus the open ones'.

        Also called once on a clean stop, so the last metrics event holds the final counts
        even when the whole run fitted between two periodic reports.
        """
        nodes: dict[str, dict[str, int]] = {n: dict(c) for n, c in self.closed_metrics.items()}
        for task in tasks:
            for node, counters in task.metrics().items():
                into = nodes.setdefault(node, {})
                for name, value in counters.items():
                    into[name] = into.get(name, 0) + value
        latency = (self.latency_total / self.latency_batches * 1000) if self.latency_batches else 0.0
        self.latency_total, self.latency_batches = 0.0, 0
        self.events.emit(
            MetricsEvent(
                type="metrics",
                nodes=nodes,
                latency_ms=round(latency, 3),
                partitions=[[t, p] for t, p in sorted(assigned)],
            )
        )

    def flush_views(self, views: list[str] | None = None) -> None:
        """Send the pending changes of ``views`` (all by default) as one delta per view."""
        if views is None:
            views = list(self.pending_views)
        now = time.monotonic()
        for view in views:
            self.last_flush[view] = now
            rows = self.pending_views.pop(view, None)
            self.due.pop(view, None)
            if self._view_tick is not None:
                self.intervals[view] = self._view_tick(view) or self.view_interval_s
            if not rows:
                continue
            self.view_seq[view] += 1
            windowed = view in self.windowed
            keyed: list[DeltaRow]
            if windowed:
                # The core hands composite keys over as canonical JSON text (a dict cannot be a
                # dict key); the event contract promises {"key", "window_start", "window_end"}.
                keyed = [
                    {"key": orjson.loads(k) if isinstance(k, str) else k, "value": v} for k, v in rows.items()
                ]
            else:
                keyed = [{"key": k, "value": v} for k, v in rows.items()]
            self.events.emit(
                TableDeltaEvent(
                    type="table_delta", view=view, seq=self.view_seq[view], rows=keyed, windowed=windowed
                )
            )


def lag_rows(assigned: set[tuple[str, int]], consumer: Any, checkpoint: Any) -> list[LagRow]:
    """Per owned partition: committed offset, end offset (cached from fetches: no round trip), lag."""
    rows = []
    for topic, partition in sorted(assigned):
        try:
            _low, high = consumer.get_watermark_offsets(TP(topic, partition), cached=True)
        except KafkaException:
            continue
        if high is None or high < 0:
            continue
        committed = checkpoint.committed.get((topic, partition))
        position = checkpoint.pending.get((topic, partition), committed)
        rows.append(
            LagRow(
                topic=topic,
                partition=partition,
                committed=committed,
                end=high,
                lag=high - position if position is not None else None,
            )
        )
    return rows
