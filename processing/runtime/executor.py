"""Builds tasks from an execution plan and runs records through them.

``TopologyRuntime`` runs a plan bound to an application id (``binding.bind``: every topic
name comes from there); ``create_task(subtopology, partition)`` builds a ``StreamTask``: the operators of one sub-topology for one input
partition, with their own state stores, as in Kafka Streams. The Kafka loop (runtime/kafka)
feeds ``process`` with polled batches and drains ``take_output`` / ``take_changelog`` at each
checkpoint; the test driver does the same in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from processing.runtime.builder import build_nodes
from processing.runtime.events import EventSink, NullEventSink
from processing.runtime.operators.base import Node, NodeError, TaskContext
from processing.runtime.operators.stateless import SinkNode
from processing.runtime.records import InputRecord, OutputRecord, TopicSpec, headers_of
from processing.runtime.serde import display_key
from processing.runtime.state.base import StateStore
from topology.compiler.binding import BoundPlan
from topology.compiler.plan import Repartition, SubTopology

log = logging.getLogger(__name__)
_new_output = tuple.__new__  # skips OutputRecord's generated Python-level __new__

ERROR_POLICIES = ("dlq", "skip", "fail")

# Header names on dead-letter records.
H_TOPIC = "weir.error.topic"
H_PARTITION = "weir.error.partition"
H_OFFSET = "weir.error.offset"
H_NODE = "weir.error.node_id"
H_CLASS = "weir.error.class"
H_MESSAGE = "weir.error.message"

# The changelog of every time-driven store also carries the task's stream time under this
# key (JSON keys never start with a NUL byte, so it cannot collide with a store key). On
# restore it brings stream time back, so windows closed before a restart stay closed and
# late records stay late: Kafka Streams keeps it in the commit metadata instead.
STREAM_TIME_KEY = b"\x00weir.stream_time"


class RecordFailure(Exception):
    """Raised by ``StreamTask.process`` under the ``fail`` policy at the first bad record.

    Nothing at or after ``offset`` of ``topic``/``partition`` may be committed.
    """

    def __init__(self, topic: str, partition: int, offset: int, node_id: str, error_class: str, message: str):
        super().__init__(f"{error_class} at node {node_id!r}, {topic}[{partition}]@{offset}: {message}")
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.node_id = node_id
        self.error_class = error_class
        self.message = message


class StreamTask:
    """One sub-topology over one partition number of its input topics."""

    def __init__(self, runtime: TopologyRuntime, sub: SubTopology, partition: int, capture: bool = False):
        self.id: tuple[int, int] = (sub.id, partition)
        self.runtime = runtime
        bound = runtime.bound
        self.error_policy = runtime.error_policy
        self.events = runtime.events
        self.ctx = TaskContext(partition, runtime.cache_tables)
        self.dlq_topic = bound.dlq_topic
        built = build_nodes(sub, self.ctx, bound, capture=capture)
        self.nodes: list[Node] = built.nodes
        self.stores: dict[str, StateStore] = built.stores
        self.views = built.views
        self.captured: dict[str, list[tuple[Any, Any, int]]] = built.captured
        self._receivers = built.receivers
        self._timers = tuple(n for n in self.nodes if n.timed)
        self._timed_stores = {store.name for n in self._timers for store in n.stores}
        self._logged_stream_time = -1
        self._restored: set[str] = set()
        self.changelog_topics: dict[str, str] = {name: bound.changelog_topics[name] for name in self.stores}
        self._errors: dict[str, int] = {}
        self._logged_errors = 0
        self._entry_nodes = built.entry_nodes
        self._exit_nodes = built.exit_nodes
        self._caches = tuple(n for n in self.nodes if isinstance(n, SinkNode) and n.cache is not None)

    # --- state ---------------------------------------------------------------------------

    def restore(self, store: str, records: Iterable[tuple[bytes, bytes | None]]) -> None:
        ctx = self.ctx

        def store_records() -> Iterable[tuple[bytes, bytes | None]]:
            for key, value in records:
                if key == STREAM_TIME_KEY:
                    if value is not None and int(value) > ctx.stream_time:
                        ctx.stream_time = int(value)
                else:
                    yield key, value

        self.stores[store].restore(store_records())
        self._logged_stream_time = ctx.stream_time
        # Indexes over a store (window starts, session ends, join expiry) are rebuilt once,
        # before the next record: the loop restores in many chunks.
        self._restored.add(store)

    def _rebuild_indexes(self) -> None:
        for node in self.nodes:
            rebuild = getattr(node, "after_restore", None)
            if rebuild is not None and any(s.name in self._restored for s in node.stores):
                rebuild()
        self._restored.clear()

    # --- processing ----------------------------------------------------------------------

    def process(self, records: Sequence[InputRecord]) -> None:
        if self._restored:
            self._rebuild_indexes()
        ctx = self.ctx
        receivers = self._receivers
        timers = self._timers
        if not timers:
            # Stateless and non-windowed plans: nothing waits on stream time.
            for record in records:
                ctx.offset = record[2]
                ctx.record = record
                try:
                    receivers[record[0]](record[4], record[5], record[3])
                except Exception as exc:
                    self._record_failed(record, exc)
            self._flush_full_caches()
            return
        for record in records:
            ctx.offset = record[2]
            ctx.record = record
            before = ctx.stream_time
            try:
                receivers[record[0]](record[4], record[5], record[3])
                if ctx.stream_time > before:
                    now = ctx.stream_time
                    for timer in timers:
                        if now >= timer.due:
                            timer.on_time(now)
            except Exception as exc:
                self._record_failed(record, exc)
        self._flush_full_caches()

    def _record_failed(self, record: InputRecord, exc: Exception) -> None:
        if isinstance(exc, NodeError):
            self._on_error(record, exc)
            return
        topic = record[0]
        if topic not in self._receivers:
            raise ValueError(f"task {self.id} does not read topic {topic!r}") from None
        # Operators turn bad data into NodeError; anything else is a bug, but one record must
        # still not crash the task: it goes through the error policy, and the traceback is
        # logged so the bug is seen.
        log.error(
            "unexpected error in task %s at %s[%s]@%s", self.id, topic, record[1], record[2], exc_info=exc
        )
        self._on_error(record, NodeError("", exc))

    def _on_error(self, record: InputRecord, error: NodeError) -> None:
        topic, partition, offset = record[0], record[1], record[2]
        self._errors[error.node_id] = self._errors.get(error.node_id, 0) + 1
        policy = self.error_policy
        self.events.emit(
            {
                "type": "error",
                "node_id": error.node_id,
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "error_class": error.error_class,
                "message": error.message,
                "policy": policy,
            }
        )
        if policy == "fail":
            raise RecordFailure(topic, partition, offset, error.node_id, error.error_class, error.message)
        if policy == "dlq":
            # The record's own headers first, then where and why it failed (as KIP-1034's
            # dead-letter records in Kafka Streams keep them).
            headers = [
                *headers_of(record),
                (H_TOPIC, topic.encode()),
                (H_PARTITION, str(partition).encode()),
                (H_OFFSET, str(offset).encode()),
                (H_NODE, error.node_id.encode()),
                (H_CLASS, error.error_class.encode()),
                (H_MESSAGE, error.message.encode("utf-8", "replace")[:4096]),
            ]
            self.ctx.emit_output(OutputRecord(self.dlq_topic, record[4], record[5], record[3], None, headers))
            return
        self._logged_errors += 1
        # Logged, but not every one: a topic full of bad data must not flood the log.
        if self._logged_errors <= 10 or self._logged_errors % 1000 == 0:
            log.warning(
                "skipped record %s[%s]@%s at node %s (%s: %s); %s skipped so far in task %s",
                topic,
                partition,
                offset,
                error.node_id,
                error.error_class,
                error.message,
                self._logged_errors,
                self.id,
            )

    # --- draining ------------------------------------------------------------------------

    def flush_caches(self) -> None:
        """Move what the record caches hold into the output; the checkpoint calls it first.

        Values are encoded here: one that cannot be written goes through the error policy
        as the input record that produced it (``fail`` raises RecordFailure)."""
        for node in self._caches:
            node.flush(self._record_failed)

    def _flush_full_caches(self) -> None:
        # After a batch, not inside it: an error found while flushing belongs to the cached
        # entry's record, not to the record being processed.
        for node in self._caches:
            cache = node.cache
            if cache is not None and len(cache) >= node.CACHE_MAX_KEYS:
                node.flush(self._record_failed)

    def take_output(self) -> list[OutputRecord]:
        output = self.ctx.output
        taken = output[:]
        # Cleared in place: operators hold the bound append.
        output.clear()
        return taken

    def take_changelog(self) -> list[OutputRecord]:
        partition = self.ctx.partition
        stream_time = self.ctx.stream_time
        log_time = stream_time != self._logged_stream_time
        out: list[OutputRecord] = []
        for name, store in self.stores.items():
            topic = self.changelog_topics[name]
            out += [
                _new_output(OutputRecord, (topic, key, value, ts, partition, None))
                for key, value, ts in store.take_changelog()
            ]
            if log_time and name in self._timed_stores:
                out.append(
                    OutputRecord(
                        topic, STREAM_TIME_KEY, str(stream_time).encode(), stream_time, partition, None
                    )
                )
        self._logged_stream_time = stream_time
        return out

    def take_view_deltas(self) -> dict[str, dict]:
        """view node id -> {key: latest value, None = deleted}. Composite keys (windowed keys
        included) appear as their canonical JSON text."""
        result: dict[str, dict] = {}
        for view in self.views:
            deltas = view.take()
            if deltas:
                merged = result.setdefault(view.node_id, {})
                for hkey, value in deltas.items():
                    merged[display_key(hkey)] = value
        return result

    def metrics(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        by_id = {node.id: node for node in self.nodes}
        for node in self.nodes:
            m = out.setdefault(node.node_id, {"in": 0, "out": 0, "errors": 0, "late": 0})
            if node.id in self._entry_nodes:
                inputs = node.op.inputs
                received = sum(by_id[i].n_out for i in inputs) if inputs else node.n_in
                m["in"] = max(m["in"], received)
            if node.id in self._exit_nodes:
                m["out"] += node.n_out
            m["late"] += node.n_late
        for node_id, count in self._errors.items():
            out.setdefault(node_id, {"in": 0, "out": 0, "errors": 0, "late": 0})["errors"] += count
        return out

    @property
    def stream_time(self) -> int:
        return self.ctx.stream_time

    def close(self) -> None:
        self.nodes = []
        self._receivers = {}
        self.stores = {}


class TopologyRuntime:
    def __init__(
        self,
        bound: BoundPlan,
        *,
        error_policy: str = "fail",
        events: EventSink | None = None,
        cache_tables: bool = False,
    ) -> None:
        if error_policy not in ERROR_POLICIES:
            raise ValueError(f"error_policy must be one of {ERROR_POLICIES}, got {error_policy!r}")
        self.bound = bound
        self.plan = plan = bound.plan
        self.error_policy = error_policy
        # See TaskContext.cache_tables: the Kafka loop turns it on, the test driver does not.
        self.cache_tables = cache_tables
        self.events: EventSink = events if events is not None else NullEventSink()
        self._topic_sub: dict[str, int] = {}
        for sub in plan.subtopologies:
            for topic in bound.input_topics[sub.id]:
                if topic in self._topic_sub and self._topic_sub[topic] != sub.id:
                    raise ValueError(
                        f"topic {topic!r} is read by sub-topologies {self._topic_sub[topic]} and {sub.id}"
                    )
                self._topic_sub[topic] = sub.id

    def input_topics(self) -> list[str]:
        return list(self._topic_sub)

    def subtopology_of(self, topic: str) -> int:
        return self._topic_sub[topic]

    def subtopology(self, sub_id: int) -> SubTopology:
        for sub in self.plan.subtopologies:
            if sub.id == sub_id:
                return sub
        raise KeyError(sub_id)

    def internal_topics(self, source_partitions: dict[str, int]) -> list[TopicSpec]:
        """The repartition and changelog topics of the bound plan, sized for these source
        topics (the dead-letter topic is the loop's, created only under policy dlq)."""
        counts = self.bound.topic_partitions(source_partitions)
        return [
            TopicSpec(topic.name, counts[topic.name], dict(topic.config))
            for topic in self.bound.internal_topics
            if topic.role != "dead_letter"
        ]

    def create_task(self, subtopology: int, partition: int, *, capture: bool = False) -> StreamTask:
        return StreamTask(self, self.subtopology(subtopology), partition, capture=capture)


__all__ = [
    "ERROR_POLICIES",
    "H_CLASS",
    "H_MESSAGE",
    "H_NODE",
    "H_OFFSET",
    "H_PARTITION",
    "H_TOPIC",
    "RecordFailure",
    "Repartition",
    "StreamTask",
    "TopologyRuntime",
]
