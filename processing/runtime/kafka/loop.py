"""The poll loop: one consumer, one producer, the tasks of the assigned partitions.

``run()`` is the whole lifecycle of one instance of an application:

1. check the source topics exist (a missing one is a ``failed`` status with the reason — the
   caller must not restart us in a loop) and create the internal topics;
2. create the producer (under exactly-once ``init_transactions`` fences our previous
   incarnation and aborts its open transaction before anything is read);
3. subscribe; on assignment create one task per (sub-topology, partition) and restore its
   stores from their changelogs with a read_committed restore consumer before it processes;
4. loop: ``consume`` a batch → ``task.process`` → produce outputs → every commit interval the
   checkpoint (see checkpoint.py for the order); emit metrics, lag and view deltas;
5. on revoke: checkpoint, then close the revoked tasks; on lost: drop them without committing;
6. ``should_stop()`` → final checkpoint, close the consumer (leaves the group), ``stopped``.

Partition assignment is cooperative-sticky, except when a sub-topology reads several topics
(co-partitioned inputs such as ``A`` and ``B`` of one count): librdkafka's sticky assignor does
not keep partition *p* of both topics on one member, which would split one task's state across
two instances. Range assignment does (same partition count, same members), at the price of
eager rebalances for those applications. Kafka Streams solves this with its own assignor,
which librdkafka cannot load.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable
from itertools import groupby
from operator import itemgetter
from typing import Any

from confluent_kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    Consumer,
)
from confluent_kafka import TopicPartition as TP

from processing.runtime.events import EventSink
from processing.runtime.kafka import admin, clients
from processing.runtime.kafka.checkpoint import (
    Checkpoint,
    OutputProducer,
    ProducerFailure,
)
from processing.runtime.kafka.consume import batch_records, committed_offsets, next_batch, read_position
from processing.runtime.kafka.failures import InstanceFailed, fatal_consume_error
from processing.runtime.kafka.ordering import OrderedInputs
from processing.runtime.kafka.reporting import Reporter
from processing.runtime.kafka.restore import RestoreInterrupted, restore_tasks
from topology.compiler.binding import bind
from topology.compiler.plan import Plan, Source

log = logging.getLogger(__name__)

# A batch bounds the work between two looks at should_stop() and the commit timer. Large, so
# the per-call costs (consume, grouping, one produce poll per task) vanish per record: 10,000
# records of ~100 bytes is ~1 MB of fetch data and ~10-30 ms of processing.
BATCH_SIZE = 10_000
# How long the loop waits for a first record (consume.next_batch). Short, so an idle instance still commits,
# reports metrics and notices should_stop() promptly.
POLL_TIMEOUT_S = 0.2
# Rewinds in a row without one successful checkpoint before the instance gives up: a sink
# topic deleted under us or lost permissions would otherwise replay the same interval forever.
MAX_CONSECUTIVE_RECOVERIES = 5
# Allocations between two gen-0 collections while an instance runs (default 700), see run().
GC_GEN0_THRESHOLD = 50_000
# How long a task reading several topics waits for a partition that has records to come
# before it processes the others without it (Kafka Streams' max.task.idle.ms), see ordering.py.
MAX_TASK_IDLE_MS = 500

TaskId = tuple[int, int]
_TOPIC_PARTITION = itemgetter(0, 1)


def run(
    plan: Plan,
    *,
    app_id: str,
    kafka_config: dict[str, Any],
    guarantee: str = "at_least_once",
    error_policy: str = "fail",
    events: EventSink,
    should_stop: Callable[[], bool],
    instance_slot: int = 0,
    commit_interval_ms: int = 1000,
    fault_hook: Callable[[str], None] | None = None,
    view_interval_ms: int = 50,
) -> None:
    """Run one instance of ``plan`` under ``app_id`` until ``should_stop()`` is true.

    Never raises for user or data errors: they end in a ``failed`` status event carrying the
    reason (and topic/partition/offset for a bad record under policy ``fail``).
    """
    if guarantee not in clients.GUARANTEES:
        raise ValueError(f"guarantee must be one of {clients.GUARANTEES}, not {guarantee!r}")
    instance = Instance(
        plan,
        app_id=app_id,
        kafka_config=kafka_config,
        guarantee=guarantee,
        error_policy=error_policy,
        events=events,
        should_stop=should_stop,
        instance_slot=instance_slot,
        commit_interval_ms=commit_interval_ms,
        fault_hook=fault_hook,
        view_interval_ms=view_interval_ms,
    )
    instance.run()


class Instance:
    def __init__(
        self,
        plan: Plan,
        *,
        app_id: str,
        kafka_config: dict[str, Any],
        guarantee: str,
        error_policy: str,
        events: EventSink,
        should_stop: Callable[[], bool],
        instance_slot: int,
        commit_interval_ms: int,
        fault_hook: Callable[[str], None] | None,
        view_interval_ms: int,
    ) -> None:
        self.plan = plan
        self.app_id = app_id
        self.bound = bind(plan, app_id)  # every topic, group and transactional id of the instance
        self.kafka_config = kafka_config
        self.exactly_once = guarantee == "exactly_once"
        self.guarantee = guarantee
        self.error_policy = error_policy
        self.events = events
        self.should_stop = should_stop
        self.slot = instance_slot
        self.commit_interval_ms = commit_interval_ms
        self.fault_hook = fault_hook

        self.runtime: Any = None
        self.consumer: Any = None
        self.restore_consumer: Any = None
        # Created in _start(), inside run(): librdkafka handles must not cross a fork.
        self.producer: OutputProducer = None  # type: ignore[assignment]
        self.checkpoint: Checkpoint = None  # type: ignore[assignment]
        self.tasks: dict[TaskId, Any] = {}
        self.assigned: set[tuple[str, int]] = set()
        self.status = ""
        self.callback_error: BaseException | None = None
        self.needs_reset = False
        self.assignment_strategy = "cooperative-sticky"
        self.closing = False
        self.failed = False
        self.recoveries = 0
        self.only_topic: str | None = None
        # Sub-topologies reading several topics: their records go through self.inputs, in
        # timestamp order across the task's partitions.
        self.ordered_subs: set[int] = set()
        self.inputs = OrderedInputs(
            self._task_partitions,
            self._read_position,
            max_idle_ms=MAX_TASK_IDLE_MS,
            pause=lambda tp: self.consumer.pause([TP(*tp)]),
            resume=lambda tp: self.consumer.resume([TP(*tp)]),
        )
        self._start_offsets: dict[tuple[str, int], int] = {}

        self.reporter = Reporter(plan, events, view_interval_ms / 1000)
        self.latest_topics = {
            t
            for op in plan.operators()
            if isinstance(op, Source) and op.offset_reset == "latest"
            for t in op.topics
        }

    # --- lifecycle -------------------------------------------------------------------------

    def run(self) -> None:
        self._set_status("starting")
        # The loop allocates a few container objects per record (record tuples, decoded rows)
        # and frees them a batch later. With the default gen-0 threshold (700) that is a
        # collection every ~100 records, and every tenth-of-a-tenth one walks the whole state
        # store: 15-25% of a W2 run. There are no reference cycles in the hot path, so collect
        # rarely while the instance runs, and give the process its setting back afterwards.
        thresholds = gc.get_threshold()
        gc.set_threshold(GC_GEN0_THRESHOLD, *thresholds[1:])
        try:
            self._start()
            self._loop()
            self._shutdown()
            self._set_status("stopped")
        except InstanceFailed as failure:
            self._fail(str(failure), **failure.details)
        except Exception as exc:
            log.exception("instance %s-%s crashed", self.app_id, self.slot)
            self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            gc.set_threshold(*thresholds)

    def _start(self) -> None:
        from processing.runtime.executor import TopologyRuntime

        self.runtime = TopologyRuntime(
            self.bound, error_policy=self.error_policy, events=self.events, cache_tables=True
        )
        self._prepare_topics()
        self.producer = self._new_producer()
        self.consumer = Consumer(
            {
                **clients.consumer_config(self.kafka_config, self.bound, instance_slot=self.slot),
                "partition.assignment.strategy": self.assignment_strategy,
            }
        )
        self.restore_consumer = Consumer(
            clients.restore_consumer_config(self.kafka_config, self.bound, instance_slot=self.slot)
        )
        self.checkpoint = Checkpoint(
            self.producer,
            self.consumer,
            exactly_once=self.exactly_once,
            fault_hook=self.fault_hook,
            owned=lambda: self.assigned,
            holding=self.inputs.holding,
        )
        input_topics = list(self.runtime.input_topics())
        self.only_topic = input_topics[0] if len(input_topics) == 1 else None
        self.consumer.subscribe(
            input_topics,
            on_assign=self._guard(self._on_assign),
            on_revoke=self._guard(self._on_revoke),
            on_lost=self._guard(self._on_lost),
        )
        self._set_status("running")

    def _new_producer(self) -> OutputProducer:
        config = clients.producer_config(
            self.kafka_config,
            self.bound,
            guarantee=self.guarantee,
            instance_slot=self.slot,
            commit_interval_ms=self.commit_interval_ms,
        )
        try:
            return OutputProducer(config, transactional=self.exactly_once)
        except ProducerFailure as exc:
            raise InstanceFailed(f"could not initialise the producer: {exc}") from exc

    def _prepare_topics(self) -> None:
        from processing.runtime.records import TopicSpec

        sources = list(self.plan.source_topics())
        found = admin.topic_partitions(self.kafka_config, sources + list(self.plan.sink_topics()))
        missing = [t for t in sources if t not in found]
        if missing:
            raise InstanceFailed(
                "; ".join(f"source topic {t!r} does not exist" for t in missing)
                + " (create it, then start the topology again)",
                missing_topics=missing,
            )
        for sub in self.plan.subtopologies:
            counts = {t: found[t] for t in sub.source_topics}
            if len(set(counts.values())) > 1:
                raise InstanceFailed(
                    f"sub-topology {sub.id} reads topics with different partition counts {counts}: "
                    "inputs of one task must be co-partitioned"
                )
            if len(sub.source_topics) + len(sub.repartition_inputs) > 1:
                self.assignment_strategy = "range"
                self.ordered_subs.add(sub.id)
        source_partitions = {t: found[t] for t in sources}
        specs = list(self.runtime.internal_topics(source_partitions))
        widest = max(source_partitions.values(), default=1)
        specs += [TopicSpec(t, widest, {}) for t in self.plan.sink_topics() if t not in found]
        if self.error_policy == "dlq":
            dlq = self.bound.dlq_topic
            if not admin.topic_partitions(self.kafka_config, [dlq]):
                specs.append(TopicSpec(dlq, 1, {}))
        try:
            admin.ensure_topics(self.kafka_config, specs)
        except admin.TopicMismatch as exc:
            raise InstanceFailed(str(exc)) from exc

    def _loop(self) -> None:
        while not self.should_stop():
            # Until this batch is processed, positions may be ahead of the processed records
            # (see Checkpoint.settled): a revoke checkpoint inside consume() must not use them.
            self.checkpoint.settled = False
            # Never sleep on an empty topic past the next view tick while view changes wait.
            timeout = self.reporter.poll_timeout(POLL_TIMEOUT_S)
            messages = next_batch(self.consumer, BATCH_SIZE, timeout)
            self._raise_callback_error()
            if self.needs_reset:
                self._reset()
                continue
            try:
                if messages or self.ordered_subs and self.inputs.has_data():
                    self._process(messages)
                self.checkpoint.settled = True
                if self.checkpoint.is_due(self.commit_interval_ms):
                    self._commit()
            except ProducerFailure as failure:
                self._recover(failure)
                continue
            self.reporter.tick(list(self.tasks.values()), self.assigned, self.consumer, self.checkpoint)

    def _shutdown(self) -> None:
        try:
            self._commit()
        except ProducerFailure as failure:
            log.warning(
                "final checkpoint failed (%s); the next owner replays the interval",
                failure,
            )
            self._abort_quietly()
        self.reporter.flush_views()
        self.closing = True
        # close() leaves the group; its revoke callback closes the remaining tasks.
        self.consumer.close()
        self._close_tasks(list(self.tasks))
        self.reporter.emit_metrics([], set())
        self.restore_consumer.close()
        self.producer.close()

    def _fail(self, message: str, **details: Any) -> None:
        # close() below runs the revoke callback; it must not checkpoint a half-processed batch.
        self.failed = True
        self.closing = True
        self._abort_quietly()
        for client in (self.consumer, self.restore_consumer):
            if client is not None:
                try:
                    # Leaves the group without committing: offsets stay before the failure.
                    client.close()
                except Exception:  # noqa: BLE001
                    pass
        if self.producer is not None:
            self.producer.close()
        for task in self.tasks.values():
            try:
                task.close()
            except Exception:  # noqa: BLE001
                pass
        self.tasks.clear()
        self._set_status("failed", error=message, **details)

    # --- processing ------------------------------------------------------------------------

    def _process(self, messages: list[Any]) -> None:
        from processing.runtime.executor import RecordFailure

        started = time.monotonic()
        errors = [msg for msg in messages if msg.error() is not None]
        if errors:
            for msg in errors:
                reason = fatal_consume_error(msg)
                if reason:
                    raise InstanceFailed(reason)
            messages = [msg for msg in messages if msg.error() is None]
        records = batch_records(messages, self.only_topic)
        # librdkafka hands out runs of one partition (one fetch response each): group the runs
        # (groupby with a C key function), not the records.
        batches: dict[TaskId, list[Any]] = {}
        last_offsets: dict[tuple[str, int], int] = {}
        assigned = self.assigned
        subtopology_of = self.runtime.subtopology_of
        ordered = self.ordered_subs
        for tp, run in groupby(records, _TOPIC_PARTITION):
            if tp not in assigned:
                continue  # revoked between fetch and now: not ours any more
            run = list(run)
            task_id = (subtopology_of(tp[0]), tp[1])
            if task_id[0] in ordered:
                self.inputs.add(task_id, tp, run)
            elif task_id in batches:
                batches[task_id] += run
                last_offsets[tp] = run[-1][2]
            else:
                batches[task_id] = run
                last_offsets[tp] = run[-1][2]
        if ordered:
            for task_id in list(self.inputs.buffers):
                taken, last = self.inputs.take(task_id)
                if taken:
                    batches[task_id] = taken
                    last_offsets.update(last)
        if not batches:
            return
        if self.exactly_once:
            self.producer.begin()
        produce = self.producer.produce
        for task_id, task_records in batches.items():
            task = self.tasks.get(task_id)
            if task is None:
                continue
            try:
                task.process(task_records)
            except RecordFailure as failure:
                raise InstanceFailed.of_record(failure) from failure
            produce(task.take_output())
            deltas = task.take_view_deltas()
            if deltas:
                self.reporter.add_view_deltas(deltas)
        note = self.checkpoint.note
        tasks = self.tasks
        for (topic, partition), offset in last_offsets.items():
            if (subtopology_of(topic), partition) in tasks:
                note(topic, partition, offset)
        self.reporter.batch_processed(time.monotonic() - started)

    def _task_partitions(self, task_id: TaskId) -> list[tuple[str, int]]:
        subtopology_of = self.runtime.subtopology_of
        return [tp for tp in self.assigned if tp[1] == task_id[1] and subtopology_of(tp[0]) == task_id[0]]

    def _read_position(self, tp: tuple[str, int]) -> tuple[int, int] | None:
        return read_position(self.consumer, tp, self._start_offsets, self.latest_topics)

    def _commit(self) -> None:
        from processing.runtime.executor import RecordFailure

        # Views first: what waits for a tick need not also wait for the producer's flush.
        self.reporter.flush_views()
        try:
            committed = self.checkpoint.commit(self.tasks.values())
        except RecordFailure as failure:
            # A record cache found a value it cannot write (policy fail): nothing of the
            # interval is committed, so the record is read again after a restart.
            raise InstanceFailed.of_record(failure) from failure
        if committed:
            self.recoveries = 0

    # --- recovery --------------------------------------------------------------------------

    def _recover(self, failure: ProducerFailure) -> None:
        """Abortable: abort + rewind + rebuild. Fatal/fenced: new producer, then the same."""
        self.recoveries += 1
        if self.recoveries > MAX_CONSECUTIVE_RECOVERIES:
            raise InstanceFailed(f"checkpoint failed {self.recoveries} times in a row; last error: {failure}")
        log.warning("checkpoint failed (%s); rewinding to the committed offsets", failure)
        if failure.fatal:
            self.producer.close()
            self.producer = self._new_producer()
            self.checkpoint.producer = self.producer
        self._reset()

    def _abort_quietly(self) -> None:
        if self.producer is not None and self.exactly_once:
            try:
                self.producer.abort_transaction()
            except ProducerFailure:
                pass

    def _reset(self) -> None:
        """Forget everything since the last commit and resume from the committed offsets.

        Under exactly-once the aborted transaction took the interval's outputs and changelog
        records with it, so in-memory state is ahead of the log: rebuild it from the changelog.
        """
        self.needs_reset = False
        try:
            self.producer.abort_transaction()
        except ProducerFailure as exc:
            if not exc.fatal:
                raise
            self.producer.close()
            self.producer = self._new_producer()
            self.checkpoint.producer = self.producer
        self.checkpoint.discard()
        resume = self.inputs.clear()
        if resume:
            self.consumer.resume([TP(*tp) for tp in resume])
        self._start_offsets.clear()
        task_ids = list(self.tasks)
        self._close_tasks(task_ids)
        self.reporter.drop_view_deltas()
        if not self.assigned:
            return
        tps = [TP(t, p) for t, p in sorted(self.assigned)]
        committed = committed_offsets(self.consumer, tps)
        for tp in committed:
            if tp.offset < 0:
                tp.offset = OFFSET_END if tp.topic in self.latest_topics else OFFSET_BEGINNING
            self.consumer.seek(tp)
        self._open_tasks(task_ids)

    # --- rebalance callbacks ---------------------------------------------------------------

    def _guard(self, callback: Callable[[Any, list[Any]], None]) -> Callable[[Any, list[Any]], None]:
        # Exceptions raised inside librdkafka callbacks surface at odd places; park them and
        # let the main loop handle them where the state is known.
        def guarded(consumer: Any, partitions: list[Any]) -> None:
            try:
                callback(consumer, partitions)
            except BaseException as exc:  # noqa: BLE001
                self.callback_error = exc

        return guarded

    def _raise_callback_error(self) -> None:
        if self.callback_error is not None:
            error, self.callback_error = self.callback_error, None
            if isinstance(error, ProducerFailure):
                self._recover(error)
                return
            raise error

    def _on_assign(self, consumer: Any, partitions: list[Any]) -> None:
        new = [(tp.topic, tp.partition) for tp in partitions if (tp.topic, tp.partition) not in self.assigned]
        if not new:
            return
        self._set_status("rebalancing")
        self.assigned.update(new)
        self._report_assignment()
        latest = [TP(t, p) for t, p in new if t in self.latest_topics]
        if latest:
            self._assign_with_latest_reset(consumer, partitions)
        task_ids = sorted({(self.runtime.subtopology_of(t), p) for t, p in new} - set(self.tasks))
        self._open_tasks(task_ids)
        self._set_status("running")

    def _assign_with_latest_reset(self, consumer: Any, partitions: list[Any]) -> None:
        committed = committed_offsets(consumer, [TP(tp.topic, tp.partition) for tp in partitions])
        for tp in committed:
            if tp.offset == OFFSET_INVALID and tp.topic in self.latest_topics:
                tp.offset = OFFSET_END
        if self.assignment_strategy == "cooperative-sticky":
            consumer.incremental_assign(committed)
        else:
            consumer.assign(committed)

    def _on_revoke(self, consumer: Any, partitions: list[Any]) -> None:
        revoked = {(tp.topic, tp.partition) for tp in partitions} & self.assigned
        if not revoked:
            return
        if not self.closing:
            self._set_status("rebalancing")
        try:
            if not self.failed:
                self._commit()
        except ProducerFailure as failure:
            # The partitions are leaving anyway; their next owner replays from the last commit.
            log.warning("checkpoint on revoke failed (%s)", failure)
            self.needs_reset = True
        self.assigned -= revoked
        self._report_assignment()
        self.checkpoint.forget(revoked)
        self.inputs.drop(revoked)
        for tp in revoked:
            self._start_offsets.pop(tp, None)
        self._close_tasks(self._tasks_without_partitions())
        if not self.closing:
            self._set_status("running")

    def _on_lost(self, consumer: Any, partitions: list[Any]) -> None:
        lost = {(tp.topic, tp.partition) for tp in partitions} & self.assigned
        self._set_status("rebalancing")
        self.assigned -= lost
        self._report_assignment()
        self.checkpoint.forget(lost)
        self.inputs.drop(lost)
        for tp in lost:
            self._start_offsets.pop(tp, None)
        self._close_tasks(self._tasks_without_partitions())
        if self.exactly_once:
            # The open transaction holds records of the lost tasks too; it must not commit.
            self.needs_reset = True

    def _tasks_without_partitions(self) -> list[TaskId]:
        owned = {(self.runtime.subtopology_of(t), p) for t, p in self.assigned}
        return [task_id for task_id in self.tasks if task_id not in owned]

    # --- tasks and restore -----------------------------------------------------------------

    def _open_tasks(self, task_ids: list[TaskId]) -> None:
        created = []
        for sub, partition in task_ids:
            task = self.runtime.create_task(sub, partition)
            self.tasks[(sub, partition)] = task
            created.append(task)
        if any(task.changelog_topics for task in created):
            self._set_status("restoring")
            try:
                restore_tasks(self.restore_consumer, created, self.events, self.should_stop)
            except RestoreInterrupted:
                # Nothing of these partitions was consumed, so nothing of them gets committed.
                for task in created:
                    self.tasks.pop(task.id, None)
                    task.close()

    def _close_tasks(self, task_ids: list[TaskId]) -> None:
        for task_id in task_ids:
            task = self.tasks.pop(task_id, None)
            if task is None:
                continue
            self.reporter.task_closed(task)
            task.close()

    # --- events ----------------------------------------------------------------------------

    def _report_assignment(self) -> None:
        # At once, not with the next metrics (up to a second later): the deployment's instances
        # must never look as if two of them owned the same partition after a rebalance.
        self.events.emit({"type": "assignment", "partitions": [[t, p] for t, p in sorted(self.assigned)]})

    def _set_status(self, status: str, error: str | None = None, **details: Any) -> None:
        if status == self.status and error is None:
            return
        self.status = status
        self.events.emit({"type": "status", "status": status, "error": error, **details})
