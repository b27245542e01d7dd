"""Run a plan on in-memory records, no broker: Weir's TopologyTestDriver.

Each piped record is processed at once by the task of its sub-topology and partition;
records written to repartition topics are routed in memory to the sub-topology that reads
them, on the partition the Kafka producer would pick (murmur2 of the key). Stream time
advances only by piping records, as in Kafka Streams' TopologyTestDriver.

    driver = TopologyTestDriver(plan)
    driver.pipe_input("orders", "k1", {"amount": 5}, timestamp=1000)
    driver.read_output("totals")        # [(key, value, timestamp), ...] decoded
    driver.table("by_user-store")       # store contents, or a view node's table
    driver.node_outputs("filter_big")   # what that node emitted (the editor's preview)
"""

from __future__ import annotations

from typing import Any

from processing.runtime import serde
from processing.runtime.events import ListEventSink
from processing.runtime.executor import StreamTask, TopologyRuntime
from processing.runtime.records import InputRecord, OutputRecord
from processing.runtime.serde import display_key, key_from_hashable
from topology.compiler.binding import bind
from topology.compiler.plan import Plan, Sink, Source


class TopologyTestDriver:
    def __init__(
        self,
        plan: Plan,
        app_id: str = "test",
        error_policy: str = "fail",
        partitions: int = 1,
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
        self._views: dict[str, dict[Any, Any]] = {}
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
        for record in task.take_output():
            if record.topic in self._repartition_partitions:
                self._pipe_raw(
                    record.topic, record.key, record.value, record.timestamp, record.partition, None
                )
            else:
                self._outputs.setdefault(record.topic, []).append(record)

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
        """Take the changelog records of every task (one per dirty key since the last take)."""
        return [record for task in self.tasks.values() for record in task.take_changelog()]

    def close(self) -> None:
        for task in self.tasks.values():
            task.close()
        self.tasks.clear()


__all__ = ["TopologyTestDriver"]
