"""Run a plan on in-memory records, no broker: Weir's TopologyTestDriver.

Each piped record is processed at once by the task of its sub-topology and partition, and
then, as Kafka Streams' driver runs process + commit, the checkpoint runs: the same
processing/runtime/checkpoint.py as the Kafka loop (flush caches → outputs → changelog →
producer flush → commit), against an in-memory producer and committer. Records written to
repartition topics are routed in memory to the sub-topology that reads them, on the partition
the Kafka producer would pick (murmur2 of the key). Stream time advances only by piping
records, as in Kafka Streams' TopologyTestDriver.

    driver = TopologyTestDriver(plan)
    driver.pipe_input("orders", "k1", {"amount": 5}, timestamp=1000)
    driver.read_output("totals")        # [(key, value, timestamp), ...] decoded
    driver.table("by_user-store")       # store contents, or a view node's table
    driver.node_outputs("filter_big")   # what that node emitted (the editor's preview)
    driver.changelog()                  # changelog records the checkpoints wrote

``commit_every_record=False`` holds the interval open until ``commit()`` (or ``changelog()``),
to see what one checkpoint of several records writes, as the loop's commit interval does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from processing.runtime import serde
from processing.runtime.checkpoint import Checkpoint, Offsets
from processing.runtime.events import ListEventSink
from processing.runtime.executor import StreamTask, TopologyRuntime
from processing.runtime.records import InputRecord, OutputRecord
from processing.runtime.serde import display_key, key_from_hashable
from topology.compiler.binding import bind
from topology.compiler.plan import Plan, Sink, Source


class InMemoryProducer:
    """The checkpoint's Producer: keeps what it is given until the driver routes it."""

    in_transaction = False

    def __init__(self) -> None:
        self.queued: list[OutputRecord] = []
        self.flushes = 0

    def begin(self) -> None:
        pass

    def produce(self, records: Iterable[Any]) -> int:
        before = len(self.queued)
        self.queued.extend(records)
        return len(self.queued) - before

    def flush(self) -> None:
        self.flushes += 1

    def send_offsets(self, offsets: Offsets, group_metadata: Any) -> None:
        raise AssertionError("the test driver runs at-least-once")

    def commit_transaction(self) -> None:
        raise AssertionError("the test driver runs at-least-once")

    def take(self) -> list[OutputRecord]:
        taken, self.queued = self.queued, []
        return taken


class InMemoryCommitter:
    """The checkpoint's Committer: the committed offsets in a dict; no positions beyond them."""

    def __init__(self) -> None:
        self.offsets: Offsets = {}

    def positions(self, partitions: list[tuple[str, int]]) -> Mapping[tuple[str, int], int]:
        return {tp: -1 for tp in partitions}

    def commit(self, offsets: Offsets) -> None:
        self.offsets.update(offsets)

    def group_metadata(self) -> Any:
        return None


class TopologyTestDriver:
    def __init__(
        self,
        plan: Plan,
        app_id: str = "test",
        error_policy: str = "fail",
        partitions: int = 1,
        *,
        commit_every_record: bool = True,
    ) -> None:
        self.plan = plan
        self.app_id = app_id
        self.partitions = partitions
        self.events = ListEventSink()
        self.bound = bound = bind(plan, app_id)
        self.runtime = TopologyRuntime(bound, error_policy=error_policy, events=self.events)
        self.tasks: dict[tuple[int, int], StreamTask] = {}
        self._offsets: dict[tuple[str, int], int] = {}
        self._outputs: dict[str, list[OutputRecord]] = {}
        self._changelog: list[OutputRecord] = []
        self._views: dict[str, dict[Any, Any]] = {}
        self.commit_every_record = commit_every_record
        self.producer = InMemoryProducer()
        self.committer = InMemoryCommitter()
        self.checkpoint = Checkpoint(self.producer, self.committer, exactly_once=False)
        self._clock = 0
        self._sources: dict[str, Source] = {}
        self._repartition_partitions: dict[str, int] = {}
        for op in plan.operators():
            if isinstance(op, Source):
                if op.repartition is None:
                    for topic in op.topics:
                        self._sources.setdefault(topic, op)
        for op in plan.repartitions():
            self._repartition_partitions[bound.repartition_topics[op.name]] = op.partitions or partitions
        self._sinks = {op.topic: op for op in plan.operators() if isinstance(op, Sink)}
        self.dlq_topic = bound.dlq_topic

    # --- input ---------------------------------------------------------------------------

    def pipe_input(
        self,
        topic: str,
        key: Any,
        value: Any,
        timestamp: int | None = None,
        partition: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """Encode ``key``/``value`` with the reading source's formats (bytes pass through
        unchanged, so a malformed payload can be piped) and process the record."""
        source = self._sources.get(topic)
        if source is None:
            raise KeyError(f"no source of the plan reads topic {topic!r}")
        raw_key = key if key is None or key.__class__ is bytes else serde.key_encoder(source.key_format)(key)
        raw_value = (
            value
            if value is None or value.__class__ is bytes
            else serde.value_encoder(source.value_format)(value)
        )
        if timestamp is None:
            timestamp = self._clock
        self._clock = max(self._clock, timestamp)
        self._pipe_raw(topic, raw_key, raw_value, timestamp, partition, headers)

    def _partition_of(self, raw_key: bytes | None, partitions: int) -> int:
        if partitions == 1 or raw_key is None:
            return 0
        return serde.partition_for(raw_key, partitions)

    def _pipe_raw(
        self,
        topic: str,
        raw_key: bytes | None,
        raw_value: bytes | None,
        timestamp: int,
        partition: int | None,
        headers: list[tuple[str, bytes]] | None,
    ) -> None:
        if partition is None:
            partitions = self._repartition_partitions.get(topic, self.partitions)
            partition = self._partition_of(raw_key, partitions)
        offset = self._offsets.get((topic, partition), 0)
        self._offsets[(topic, partition)] = offset + 1
        task = self._task(self.runtime.subtopology_of(topic), partition)
        task.process([InputRecord(topic, partition, offset, timestamp, raw_key, raw_value, headers)])
        self.checkpoint.note(topic, partition, offset)
        self._drain(task)

    def _task(self, sub: int, partition: int) -> StreamTask:
        task = self.tasks.get((sub, partition))
        if task is None:
            task = self.tasks[(sub, partition)] = self.runtime.create_task(sub, partition, capture=True)
        return task

    def _drain(self, task: StreamTask) -> None:
        for view_id, rows in task.take_view_deltas().items():
            table = self._views.setdefault(view_id, {})
            for key, value in rows.items():
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
        if self.commit_every_record:
            self.checkpoint.commit(self.tasks.values())
        else:
            # As the loop does after each batch: outputs go out at once, the rest waits.
            self.producer.produce(task.take_output())
        self._route()

    def _route(self) -> None:
        """What the producer got, in order: repartition records are processed at once (depth
        first, as before any later record), changelog records kept, the rest is output."""
        changelogs = {t for task in self.tasks.values() for t in task.changelog_topics.values()}
        for record in self.producer.take():
            if record.topic in self._repartition_partitions:
                self._pipe_raw(
                    record.topic, record.key, record.value, record.timestamp, record.partition, None
                )
            elif record.topic in changelogs:
                self._changelog.append(record)
            else:
                self._outputs.setdefault(record.topic, []).append(record)

    def commit(self) -> None:
        """Run the checkpoint now (every record does, unless ``commit_every_record=False``)."""
        self.checkpoint.commit(self.tasks.values())
        self._route()

    def committed_offsets(self) -> Offsets:
        """(topic, partition) -> next offset to read, as the checkpoints committed them."""
        return dict(self.committer.offsets)

    # --- output --------------------------------------------------------------------------

    def read_output(self, topic: str) -> list[tuple[Any, Any, int]]:
        """Decoded (key, value, timestamp) records written to ``topic`` since the last read."""
        records = self._outputs.pop(topic, [])
        sink = self._sinks.get(topic)
        decode_key = serde.decoder(sink.key_format if sink else "bytes")
        decode_value = serde.decoder(sink.value_format if sink else "bytes")
        return [(decode_key(r.key), decode_value(r.value), r.timestamp) for r in records]

    def read_records(self, topic: str) -> list[OutputRecord]:
        """Raw output records (bytes, headers) written to ``topic`` since the last read."""
        return self._outputs.pop(topic, [])

    def dlq(self) -> list[OutputRecord]:
        return self.read_records(self.dlq_topic)

    def table(self, name: str) -> dict[Any, Any]:
        """A view node's table, or a store's contents across tasks. Composite keys appear as
        canonical JSON text; windowed store keys as ``(key, window_start)``."""
        if any(v.node_id == name for v in self.plan.views()):
            return dict(self._views.get(name, {}))
        if not self._declares_store(name):
            raise KeyError(f"no view or store named {name!r}")
        result: dict[Any, Any] = {}
        for task in self.tasks.values():
            store = task.stores.get(name)
            if store is None:
                continue
            for hkey, value in store.data.items():
                if hkey.__class__ is tuple and hkey[0] not in ("j", "b"):
                    result[(key_from_hashable(hkey[0]), hkey[1])] = value
                else:
                    result[display_key(hkey)] = value
        return result

    def _declares_store(self, name: str) -> bool:
        return any(store.name == name for store in self.plan.stores)

    def node_outputs(self, node_id: str) -> list[tuple[Any, Any, int]]:
        """Every record the operators of ``node_id`` (a node id or an operator id) emitted."""
        out: list[tuple[Any, Any, int]] = []
        for task in self.tasks.values():
            exits = task._exit_nodes
            for op_id, records in task.captured.items():
                op = self.plan.operator(op_id)
                if op_id == node_id or (op.node_id == node_id and op_id in exits):
                    out.extend(records)
        return out

    def metrics(self) -> dict[str, dict[str, int]]:
        total: dict[str, dict[str, int]] = {}
        for task in self.tasks.values():
            for node_id, counters in task.metrics().items():
                into = total.setdefault(node_id, {"in": 0, "out": 0, "errors": 0, "late": 0})
                for name, value in counters.items():
                    into[name] += value
        return total

    def changelog(self) -> list[OutputRecord]:
        """Take the changelog records the checkpoints wrote since the last call (a checkpoint
        writes one per key changed in its interval). Runs a checkpoint first when records
        wait for one (``commit_every_record=False``)."""
        if not self.commit_every_record:
            self.commit()
        taken, self._changelog = self._changelog, []
        return taken

    def close(self) -> None:
        for task in self.tasks.values():
            task.close()
        self.tasks.clear()


__all__ = ["TopologyTestDriver"]
