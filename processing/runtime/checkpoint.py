"""The checkpoint: the one place that decides in which order outputs and offsets become durable.

Pure: it talks to a :class:`Producer` and a :class:`Committer` (small protocols), never to a
Kafka client. The Kafka loop passes adapters over confluent_kafka (kafka/producer.py,
kafka/consume.py); the broker-free ``TopologyTestDriver`` passes in-memory ones (testing.py);
tests/processing/runtime/test_checkpoint.py records the calls and checks the order.

Order (the invariant every guarantee rests on — never commit an offset before the records it
caused are durable):

at_least_once
    1. flush sinks: ``task.flush_caches()`` (latest per key of the tables written to topics),
       then ``task.take_output()`` (sink, repartition and dead-letter records) → produce
    2. produce changelogs: ``task.take_changelog()`` (one record per dirty store key)
    3. ``producer.flush()``: every delivery report checked; a failure or a time-out raises
    4. ``committer.commit(offsets)``, synchronously

    A crash between 3 and 4 replays the interval: outputs and changelog are written twice
    (over-counting, by design of at-least-once). A failure in 1-4 raises
    :class:`ProducerFailure` and commits nothing.

exactly_once (v2)
    0. ``producer.begin()`` (a no-op when the loop already opened the transaction)
    1–2 as above, inside the open transaction
    3. ``producer.send_offsets(offsets, committer.group_metadata())``
    4. ``producer.commit_transaction()``

    Sink records, changelog records and offsets become visible together or not at all; the
    group metadata lets the broker fence a zombie that lost its partitions (EOS v2).

The settled rule: the offsets committed are the consumer's *positions* (under read_committed
they step over transaction markers, so a drained partition shows no phantom lag of one) —
but only while the checkpoint is ``settled``, i.e. every record the consumer handed out has
been processed. The loop clears ``settled`` before each ``consume()`` and sets it once the
batch is processed: librdkafka runs rebalance callbacks (and so revoke checkpoints) *inside*
``consume()``, after it may already have collected records and moved the positions past
them. Unsettled, only the offsets noted after processing (last processed + 1) count, as they
do for partitions whose records wait in an ordering buffer (``holding``).

``fault_hook(point)`` is called at the named points so tests can kill the process at exactly
that place: ``after_produce_before_commit`` and ``after_commit``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

TopicPartition = tuple[str, int]
# (topic, partition) -> next offset to consume, i.e. last processed + 1
Offsets = dict[TopicPartition, int]


class ProducerFailure(Exception):
    """A produce, transaction or commit step failed; nothing of the interval was committed.

    ``abortable``: abort the transaction, rewind to committed offsets, rebuild state.
    ``fatal``: the producer is unusable (fenced, or a fatal idempotence error): recreate it.
    Otherwise (at-least-once delivery errors) the interval must be replayed: rewind and rebuild.
    """

    def __init__(self, message: str, *, abortable: bool = False, fatal: bool = False) -> None:
        super().__init__(message)
        self.abortable = abortable
        self.fatal = fatal


class Producer(Protocol):
    """The instance's one producer, as the checkpoint uses it."""

    @property
    def in_transaction(self) -> bool: ...

    def begin(self) -> None:
        """Open a transaction if none is open (exactly-once only)."""

    def produce(self, records: Iterable[Any]) -> int:
        """Queue records (OutputRecord field order); returns how many."""
        ...

    def flush(self) -> None:
        """Wait until everything queued is delivered; raise ProducerFailure on a failed
        delivery or a time-out."""

    def send_offsets(self, offsets: Offsets, group_metadata: Any) -> None:
        """Add the consumed offsets to the open transaction."""

    def commit_transaction(self) -> None: ...


class Committer(Protocol):
    """The consumer, as the checkpoint uses it."""

    def positions(self, partitions: list[TopicPartition]) -> Mapping[TopicPartition, int]:
        """The next offset the consumer would read per partition; -1 where unknown."""
        ...

    def commit(self, offsets: Offsets) -> None:
        """Commit synchronously; raise ProducerFailure when the commit fails."""

    def group_metadata(self) -> Any:
        """What the transaction needs to fence a zombie member (exactly-once)."""


class CheckpointTask(Protocol):
    """What the checkpoint takes from a task (executor.StreamTask)."""

    def flush_caches(self) -> None: ...

    def take_output(self) -> list[Any]: ...

    def take_changelog(self) -> list[Any]: ...


class Checkpoint:
    """Collects the consumed offsets of one commit interval and commits them in order."""

    def __init__(
        self,
        producer: Producer,
        committer: Committer,
        *,
        exactly_once: bool,
        fault_hook: Callable[[str], None] | None = None,
        owned: Callable[[], Iterable[TopicPartition]] = lambda: (),
        holding: Callable[[], set[TopicPartition]] = set,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.producer = producer
        self.committer = committer
        self.exactly_once = exactly_once
        self.fault_hook = fault_hook or (lambda point: None)
        # The partitions owned now: a drained partition's position may move (over transaction
        # markers) without any record being noted.
        self.owned = owned
        # Partitions with consumed records still waiting in a buffer (ordering.py): their
        # positions are ahead of what was processed, so only noted offsets count for them.
        self.holding = holding
        self.clock = clock
        self.pending: Offsets = {}
        self.committed: Offsets = {}
        # See the settled rule in the module docstring.
        self.settled = True
        self.started = clock()
        self.commits = 0

    def note(self, topic: str, partition: int, offset: int) -> None:
        """``offset`` of ``topic[partition]`` has been processed."""
        self.pending[(topic, partition)] = offset + 1

    def is_due(self, interval_ms: int) -> bool:
        return (self.clock() - self.started) * 1000 >= interval_ms

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        for tp in partitions:
            self.pending.pop(tp, None)
            self.committed.pop(tp, None)

    def discard(self) -> None:
        """Drop the interval (after an abort): its offsets must be consumed again."""
        self.pending.clear()
        self.started = self.clock()

    def advanced_offsets(self) -> Offsets:
        """Next offset per partition that moved since the last commit (see the settled rule)."""
        if not self.settled:
            return {
                key: offset for key, offset in self.pending.items() if offset > self.committed.get(key, -1)
            }
        partitions = set(self.pending) | set(self.owned())
        if not partitions:
            return {}
        held = self.holding()
        positions = self.committer.positions(sorted(partitions))
        advanced: Offsets = {}
        for key, position in positions.items():
            if key in held:
                position = -1
            offset = max(self.pending.get(key, -1), position)
            if offset >= 0 and offset > self.committed.get(key, -1):
                advanced[key] = offset
        return advanced

    def commit(self, tasks: Iterable[CheckpointTask]) -> bool:
        """Make the interval durable in the documented order. Returns True if offsets were committed."""
        tasks = list(tasks)
        for task in tasks:
            task.flush_caches()
        outputs = [record for task in tasks for record in task.take_output()]
        changelog = [record for task in tasks for record in task.take_changelog()]
        advanced = self.advanced_offsets()
        offsets = dict(sorted(advanced.items()))
        producer = self.producer
        if not (outputs or changelog or offsets or producer.in_transaction):
            self.started = self.clock()
            return False
        if self.exactly_once:
            producer.begin()
        producer.produce(outputs)
        producer.produce(changelog)
        if self.exactly_once:
            if offsets:
                producer.send_offsets(offsets, self.committer.group_metadata())
            self.fault_hook("after_produce_before_commit")
            producer.commit_transaction()
        else:
            producer.flush()
            self.fault_hook("after_produce_before_commit")
            if offsets:
                # Typically fails when the group rebalanced under us: the interval is replayed
                # by whoever owns the partitions now (at-least-once).
                self.committer.commit(offsets)
        self.fault_hook("after_commit")
        self.committed.update(advanced)
        self.pending.clear()
        self.started = self.clock()
        self.commits += 1
        return bool(offsets)
