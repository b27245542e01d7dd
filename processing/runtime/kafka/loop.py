"""The poll loop: one consumer, one producer, the tasks of the assigned partitions.

``run()`` is the whole lifecycle of one instance of an application:

1. check the source topics exist (a missing one is a ``failed`` status with the reason — the
   caller must not restart us in a loop) and create the internal topics;
2. create the producer (under exactly-once ``init_transactions`` fences our previous
   incarnation and aborts its open transaction before anything is read);
3. subscribe; on assignment create one task per (sub-topology, partition) and restore its
   stores from their changelogs with a read_committed restore consumer before it processes;
4. loop: ``consume`` a batch → ``task.process`` → produce outputs → every commit interval the
   checkpoint (processing/runtime/checkpoint.py owns the order); emit metrics, lag and view deltas;
5. on revoke: checkpoint, then close the revoked tasks; on lost: drop them without committing;
6. ``should_stop()`` → final checkpoint, close the consumer (leaves the group), ``stopped``.

The instance moves through phases.Phase (STARTING → RUNNING → SHUTTING_DOWN → STOPPED, or
FAILED from any of them); what a rebalance callback may do depends on it. The parts of an
instance, one module each: the lifecycle and the processing (here), the rebalance glue
(rebalance.py), the recovery after a failed checkpoint (recovery.py), the tasks and their
states, Kafka Streams' ``Task.State`` (tasks.py).

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

from confluent_kafka import Consumer
from confluent_kafka import TopicPartition as TP

from processing.runtime.checkpoint import Checkpoint, ProducerFailure
from processing.runtime.events import AssignmentEvent, EventSink, Status, StatusEvent
from processing.runtime.kafka import admin, clients
from processing.runtime.kafka.consume import (
    ConsumerCommitter,
    batch_records,
    next_batch,
    read_position,
)
from processing.runtime.kafka.failures import InstanceFailed, fatal_consume_error
from processing.runtime.kafka.ordering import OrderedInputs
from processing.runtime.kafka.phases import Phase, check_phase
from processing.runtime.kafka.producer import OutputProducer
from processing.runtime.kafka.rebalance import RebalanceCallbacks
from processing.runtime.kafka.recovery import Recovery
from processing.runtime.kafka.reporting import Reporter
from processing.runtime.kafka.restore import restore_tasks
from processing.runtime.kafka.tasks import TaskId, TaskManager
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
# Allocations between two gen-0 collections while an instance runs (default 700), see run().
GC_GEN0_THRESHOLD = 50_000
# How long a task reading several topics waits for a partition that has records to come
# before it processes the others without it (Kafka Streams' max.task.idle.ms), see ordering.py.
MAX_TASK_IDLE_MS = 500

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
    view_tick: Callable[[str], float | None] | None = None,
) -> None:
    """Run one instance of ``plan`` under ``app_id`` until ``should_stop()`` is true.

    Never raises for user or data errors: they end in a ``failed`` status event carrying the
    reason (and topic/partition/offset for a bad record under policy ``fail``).

    ``view_tick(view)`` chooses a view's tick in seconds at each of its flushes (the dashboards
    choose by how many sockets watch it); without it, or when it returns None, every view
    ticks at ``view_interval_ms``.
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
        view_tick=view_tick,
    )
    instance.run()


class Instance(RebalanceCallbacks, Recovery):
    """One instance: lifecycle and processing here; the rebalance callbacks (rebalance.py) and
    the recovery after a failed checkpoint (recovery.py) are parts of it; its tasks are kept
    by a TaskManager (tasks.py)."""

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
        view_tick: Callable[[str], float | None] | None = None,
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
        self.task_manager: TaskManager = None  # type: ignore[assignment]
        # The open tasks (task_manager.tasks, the same dict): the hot path reads it directly.
        self.tasks: dict[TaskId, Any] = {}
        self.assigned: set[tuple[str, int]] = set()
        self.phase = Phase.STARTING
        self.status: Status | None = None  # the last status reported
        # Rebalance glue: what a callback leaves for the loop, which handles it where the
        # state is known: an exception it raised, or a rewind it requires.
        self.callback_error: BaseException | None = None
        self.needs_reset = False
        self.assignment_strategy = "cooperative-sticky"
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

        self.reporter = Reporter(plan, events, view_interval_ms / 1000, view_tick=view_tick)
        self.latest_topics = {
            t
            for op in plan.operators()
            if isinstance(op, Source) and op.offset_reset == "latest"
            for t in op.topics
        }

    # --- lifecycle -------------------------------------------------------------------------

    def enter(self, phase: Phase) -> None:
        self.phase = check_phase(self.phase, phase)

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
            self.enter(Phase.STOPPED)
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
        self.task_manager = TaskManager(
            self.runtime.create_task,
            self.runtime.subtopology_of,
            restore=self._restore,
            on_close=self.reporter.task_closed,
        )
        self.tasks = self.task_manager.tasks
        self.checkpoint = Checkpoint(
            self.producer,
            ConsumerCommitter(self.consumer),
            exactly_once=self.exactly_once,
            fault_hook=self.fault_hook,
            owned=lambda: self.assigned,
            holding=self.inputs.holding,
        )
        input_topics = list(self.runtime.input_topics())
        self.only_topic = input_topics[0] if len(input_topics) == 1 else None
        self.subscribe(self.consumer, input_topics)
        self.enter(Phase.RUNNING)
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
        self.enter(Phase.SHUTTING_DOWN)
        # close() leaves the group; its revoke callback closes the remaining tasks.
        self.consumer.close()
        self.task_manager.close_all()
        self.reporter.emit_metrics([], set())
        self.restore_consumer.close()
        self.producer.close()

    def _fail(self, message: str, **details: Any) -> None:
        # close() below runs the revoke callback; it must not checkpoint a half-processed batch.
        self.phase = Phase.FAILED  # from any phase, even a failed shutdown
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
        if self.task_manager is not None:
            self.task_manager.abandon_all()
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
        for tp, group in groupby(records, _TOPIC_PARTITION):
            if tp not in assigned:
                continue  # revoked between fetch and now: not ours any more
            run = list(group)
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
        return self.task_manager.partitions_of(task_id, self.assigned)

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

    # --- restore -------------------------------------------------------------------------

    def _restore(self, tasks: list[Any]) -> None:
        """The task manager's restore: tasks with changelogs, before they process anything.
        Raises RestoreInterrupted when should_stop() turns true meanwhile (nothing of those
        partitions was consumed, so nothing of them gets committed)."""
        self._set_status("restoring")
        restore_tasks(self.restore_consumer, tasks, self.events, self.should_stop)

    # --- events ----------------------------------------------------------------------------

    def _report_assignment(self) -> None:
        # At once, not with the next metrics (up to a second later): the deployment's instances
        # must never look as if two of them owned the same partition after a rebalance.
        self.events.emit(
            AssignmentEvent(type="assignment", partitions=[[t, p] for t, p in sorted(self.assigned)])
        )

    def _set_status(self, status: Status, error: str | None = None, **details: Any) -> None:
        if status == self.status and error is None:
            return
        self.status = status
        event = StatusEvent(type="status", status=status, error=error)
        if details:
            event.update(details)  # type: ignore[typeddict-item]
        self.events.emit(event)
