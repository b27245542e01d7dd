"""The rebalance glue: librdkafka's assign, revoke and lost callbacks, and what they leave for
the loop.

librdkafka runs these callbacks inside ``consume()`` (and ``close()``). An exception raised in
one would surface at an odd place, so it is parked (``callback_error``) and handled by the loop
at its next step, where the state is known; a rewind a callback needs (``needs_reset``) waits
there too. A part of ``loop.Instance`` (a mixin): the attributes below are the instance's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import OFFSET_END, OFFSET_INVALID
from confluent_kafka import TopicPartition as TP

from processing.runtime.checkpoint import Checkpoint, ProducerFailure
from processing.runtime.kafka.consume import committed_offsets
from processing.runtime.kafka.ordering import OrderedInputs
from processing.runtime.kafka.phases import Phase
from processing.runtime.kafka.tasks import TaskManager

log = logging.getLogger(__name__)


class RebalanceCallbacks:
    phase: Phase
    exactly_once: bool
    assignment_strategy: str
    assigned: set[tuple[str, int]]
    latest_topics: set[str]
    checkpoint: Checkpoint
    inputs: OrderedInputs
    task_manager: TaskManager
    callback_error: BaseException | None
    needs_reset: bool
    _start_offsets: dict[tuple[str, int], int]
    _commit: Callable[[], None]
    _recover: Callable[[ProducerFailure], None]
    _report_assignment: Callable[[], None]
    _set_status: Callable[..., None]

    @property
    def closing(self) -> bool:
        """Leaving the group: a revoke then reports no rebalancing status."""
        return self.phase in (Phase.SHUTTING_DOWN, Phase.FAILED)

    def subscribe(self, consumer: Any, topics: list[str]) -> None:
        consumer.subscribe(
            topics,
            on_assign=self._guard(self._on_assign),
            on_revoke=self._guard(self._on_revoke),
            on_lost=self._guard(self._on_lost),
        )

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
        self.task_manager.open(self.task_manager.missing(new))
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
            if self.phase is not Phase.FAILED:
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
        self.task_manager.close(self.task_manager.without_partitions(self.assigned))
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
        self.task_manager.close(self.task_manager.without_partitions(self.assigned))
        if self.exactly_once:
            # The open transaction holds records of the lost tasks too; it must not commit.
            self.needs_reset = True
