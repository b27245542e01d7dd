"""Timestamp order across the partitions of one task (Kafka Streams' PartitionGroup).

A task that reads several co-partitioned topics (a stream–table join, a merge of two topics)
must see their records in event-time order, or a stream record can be joined before the table
row it should find: consume() hands out whatever the fetches returned first, and on a backlog
that is often all of one topic before the other. So records of such tasks are buffered per
partition and released in timestamp order:

- the partition whose first buffered record has the smallest timestamp goes next, up to the
  next partition's first timestamp (a run, so a whole batch goes in one ``process`` call);
- while a partition of the task has nothing buffered but is known to have more to read (its
  position is behind the high watermark, or not fetched yet), the task waits for it — at
  most ``max_idle_ms``, after which it processes what it has (Kafka Streams'
  ``max.task.idle.ms`` with "enforced processing");
- a partition that has caught up (nothing to read) does not hold the task back.

Records stay in the buffer until processed, so the checkpoint must not commit positions past
them (see ``holding``); a partition whose buffer is large is paused until it drains.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

TaskId = tuple[int, int]
TopicPartition = tuple[str, int]

# Records buffered per partition before it is paused (Kafka Streams' buffered.records.per.partition
# is 1,000 records; ours are consumed in batches of 10,000, so the bound is wider).
MAX_BUFFERED = 50_000


_UNKNOWN = object()


class OrderedInputs:
    def __init__(
        self,
        partitions_of: Callable[[TaskId], list[TopicPartition]],
        read_position: Callable[[TopicPartition], tuple[int, int] | None],
        *,
        max_idle_ms: int,
        pause: Callable[[TopicPartition], None],
        resume: Callable[[TopicPartition], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``partitions_of(task)``: the input partitions of a task that are assigned to us.
        ``read_position(tp)``: (next offset to read, high watermark), None while unknown."""
        self.partitions_of = partitions_of
        self.read_position = read_position
        self.max_idle_ms = max_idle_ms
        self.pause = pause
        self.resume = resume
        self.clock = clock
        self.buffers: dict[TaskId, dict[TopicPartition, deque[Any]]] = {}
        self.waiting_since: dict[TaskId, float] = {}
        self.paused: set[TopicPartition] = set()
        # Partition -> the position at which a task stopped waiting for it. It does not hold a
        # task back again until it moves: a partition stuck behind an open transaction would
        # otherwise cost max_idle_ms per batch.
        self.stalled: dict[TopicPartition, Any] = {}
        # Times a task gave up waiting (Kafka Streams' enforced processing), for the metrics.
        self.enforced = 0

    def add(self, task_id: TaskId, tp: TopicPartition, records: list[Any]) -> None:
        buffers = self.buffers.setdefault(task_id, {})
        buffer = buffers.get(tp)
        if buffer is None:
            buffer = buffers[tp] = deque()
        buffer.extend(records)
        self.stalled.pop(tp, None)
        if len(buffer) >= MAX_BUFFERED and tp not in self.paused:
            self.paused.add(tp)
            self.pause(tp)

    def has_data(self) -> bool:
        return any(any(b for b in buffers.values()) for buffers in self.buffers.values())

    def holding(self) -> set[TopicPartition]:
        """Partitions with buffered records not processed yet: their positions must not be committed."""
        return {tp for buffers in self.buffers.values() for tp, b in buffers.items() if b}

    def take(self, task_id: TaskId) -> tuple[list[Any], dict[TopicPartition, int]]:
        """The records ``task_id`` may process now, in timestamp order (none: keep waiting),
        and the last offset taken per partition (what the checkpoint may note)."""
        buffers = self.buffers.get(task_id)
        out: list[Any] = []
        last: dict[TopicPartition, int] = {}
        if not buffers:
            return out, last
        while True:
            heads = sorted((b[0][3], n, tp) for n, (tp, b) in enumerate(buffers.items()) if b)
            if not heads:
                break
            empty = [tp for tp in self.partitions_of(task_id) if not buffers.get(tp)]
            if empty and self._must_wait(task_id, empty):
                break
            tp = heads[0][2]
            buffer = buffers[tp]
            if len(heads) == 1:
                # Nobody else to wait for: the whole buffer goes.
                out.extend(buffer)
                buffer.clear()
            else:
                # Up to the next partition's first timestamp (equal ones first from this
                # partition, so every run makes progress).
                limit = heads[1][0]
                popleft = buffer.popleft
                out.append(popleft())
                while buffer and buffer[0][3] <= limit:
                    out.append(popleft())
            last[tp] = out[-1][2]
            if not buffer and tp in self.paused:
                self.paused.discard(tp)
                self.resume(tp)
        return out, last

    def _must_wait(self, task_id: TaskId, empty: list[TopicPartition]) -> bool:
        behind = []
        for tp in empty:
            state = self.read_position(tp)
            position = _UNKNOWN if state is None else state[0]
            if state is not None and state[0] >= state[1]:
                continue  # caught up: nothing to wait for
            if self.stalled.get(tp, None) == position and tp in self.stalled:
                continue
            behind.append((tp, position))
        if not behind:
            self.waiting_since.pop(task_id, None)
            return False
        now = self.clock()
        since = self.waiting_since.setdefault(task_id, now)
        if (now - since) * 1000 < self.max_idle_ms:
            return True
        self.enforced += 1
        self.waiting_since.pop(task_id, None)
        for tp, position in behind:
            self.stalled[tp] = position
        return False

    def drop(self, partitions: set[TopicPartition]) -> None:
        """Forget buffered records of partitions we no longer own (revoked, lost)."""
        for buffers in self.buffers.values():
            for tp in partitions & set(buffers):
                del buffers[tp]
        self.paused -= partitions
        for tp in partitions:
            self.stalled.pop(tp, None)
        for task_id in [t for t, b in self.buffers.items() if not b]:
            del self.buffers[task_id]
            self.waiting_since.pop(task_id, None)

    def clear(self) -> list[TopicPartition]:
        """Forget everything (a rewind to the committed offsets); returns the partitions to resume."""
        paused = sorted(self.paused)
        self.buffers.clear()
        self.waiting_since.clear()
        self.paused.clear()
        self.stalled.clear()
        return paused
