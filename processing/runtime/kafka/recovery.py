"""Recovery of an instance whose checkpoint failed: abort, rewind to the committed offsets,
rebuild the tasks from their changelogs; for a fatal (fenced) producer, a new producer first.

A part of ``loop.Instance`` (a mixin): the attributes below are the instance's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END
from confluent_kafka import TopicPartition as TP

from processing.runtime.checkpoint import Checkpoint, ProducerFailure
from processing.runtime.kafka.consume import committed_offsets
from processing.runtime.kafka.failures import InstanceFailed
from processing.runtime.kafka.ordering import OrderedInputs
from processing.runtime.kafka.producer import OutputProducer
from processing.runtime.kafka.reporting import Reporter
from processing.runtime.kafka.tasks import TaskId, TaskManager

log = logging.getLogger(__name__)

# Rewinds in a row without one successful checkpoint before the instance gives up: a sink
# topic deleted under us or lost permissions would otherwise replay the same interval forever.
MAX_CONSECUTIVE_RECOVERIES = 5


class Recovery:
    exactly_once: bool
    producer: OutputProducer
    checkpoint: Checkpoint
    consumer: Any
    inputs: OrderedInputs
    reporter: Reporter
    task_manager: TaskManager
    tasks: dict[TaskId, Any]
    assigned: set[tuple[str, int]]
    latest_topics: set[str]
    recoveries: int
    needs_reset: bool
    _start_offsets: dict[tuple[str, int], int]
    _new_producer: Callable[[], OutputProducer]

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
        self.task_manager.close(task_ids)
        self.reporter.drop_view_deltas()
        if not self.assigned:
            return
        tps = [TP(t, p) for t, p in sorted(self.assigned)]
        committed = committed_offsets(self.consumer, tps)
        for tp in committed:
            if tp.offset < 0:
                tp.offset = OFFSET_END if tp.topic in self.latest_topics else OFFSET_BEGINNING
            self.consumer.seek(tp)
        self.task_manager.open(task_ids)
