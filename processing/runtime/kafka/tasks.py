"""The tasks of one instance: one per (sub-topology, partition) it owns, and their states.

States and transitions follow Kafka Streams' ``Task.State``:

```
CREATED ──► RESTORING ──► RUNNING
   │            │            │
   └────────────┴────► SUSPENDED ──► CLOSED
                          │
                          └──► RESTORING
```

A task is CREATED when its partition is assigned, RESTORING while its stores are rebuilt from
their changelogs (a task without stores passes through at once), RUNNING once it may process.
Revoked, lost, interrupted while restoring or rewound after an abort, it is SUSPENDED and then
CLOSED (its counters go to the reporter first). Unlike Kafka Streams, a closed task is never
recycled (CLOSED → CREATED): a new assignment creates a new task object, so CLOSED is final.
Any other transition is a bug and raises ``IllegalTaskTransition``.

The processing hot path reads ``tasks`` (a plain dict of the open tasks) directly; the states
are kept beside it, so checking them costs nothing per record.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import Any

from processing.runtime.kafka.restore import RestoreInterrupted

TaskId = tuple[int, int]


class TaskState(enum.Enum):
    CREATED = "created"
    RESTORING = "restoring"
    RUNNING = "running"
    SUSPENDED = "suspended"
    CLOSED = "closed"


ALLOWED_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    TaskState.CREATED: frozenset({TaskState.RESTORING, TaskState.SUSPENDED}),
    TaskState.RESTORING: frozenset({TaskState.RUNNING, TaskState.SUSPENDED}),
    TaskState.RUNNING: frozenset({TaskState.SUSPENDED}),
    TaskState.SUSPENDED: frozenset({TaskState.RESTORING, TaskState.CLOSED}),
    TaskState.CLOSED: frozenset(),
}


class IllegalTaskTransition(RuntimeError):
    pass


def check_transition(task_id: TaskId, current: TaskState, target: TaskState) -> TaskState:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTaskTransition(f"task {task_id}: {current.name} → {target.name} is not allowed")
    return target


class TaskManager:
    """Creates, restores and closes the instance's tasks, and knows each one's state.

    ``create(sub, partition)`` builds a task (executor.TopologyRuntime.create_task);
    ``restore(tasks)`` rebuilds the stores of the tasks that have changelogs and may raise
    ``RestoreInterrupted``; ``on_close(task)`` is told before a task that ran is closed.
    """

    def __init__(
        self,
        create: Callable[[int, int], Any],
        subtopology_of: Callable[[str], int],
        *,
        restore: Callable[[list[Any]], None],
        on_close: Callable[[Any], None] = lambda task: None,
    ) -> None:
        self._create = create
        self.subtopology_of = subtopology_of
        self._restore = restore
        self._on_close = on_close
        self.tasks: dict[TaskId, Any] = {}
        self.states: dict[TaskId, TaskState] = {}

    def state(self, task_id: TaskId) -> TaskState:
        """The state of a task; CLOSED for one this manager does not hold (any more)."""
        return self.states.get(task_id, TaskState.CLOSED)

    def _move(self, task_id: TaskId, target: TaskState) -> None:
        self.states[task_id] = check_transition(task_id, self.state(task_id), target)

    def task_id_of(self, topic: str, partition: int) -> TaskId:
        return (self.subtopology_of(topic), partition)

    def open(self, task_ids: Iterable[TaskId]) -> list[Any]:
        """Create the tasks, restore their stores, and let them run. Returns the running ones
        (none if the restore was interrupted: then nothing of them was consumed, and they are
        closed again)."""
        created = []
        for task_id in task_ids:
            if task_id in self.states:
                raise IllegalTaskTransition(f"task {task_id} is open already ({self.states[task_id].name})")
            task = self._create(*task_id)
            self.tasks[task_id] = task
            self.states[task_id] = TaskState.CREATED
            created.append((task_id, task))
        for task_id, _task in created:
            self._move(task_id, TaskState.RESTORING)
        restoring = [task for _task_id, task in created if task.changelog_topics]
        if restoring:
            try:
                self._restore(restoring)
            except RestoreInterrupted:
                for task_id, task in created:
                    self._move(task_id, TaskState.SUSPENDED)
                    self._move(task_id, TaskState.CLOSED)
                    del self.states[task_id]
                    self.tasks.pop(task_id, None)
                    task.close()
                return []
        for task_id, _task in created:
            self._move(task_id, TaskState.RUNNING)
        return [task for _task_id, task in created]

    def close(self, task_ids: Iterable[TaskId]) -> None:
        """Suspend and close the tasks (the reporter keeps their counters)."""
        for task_id in task_ids:
            task = self.tasks.get(task_id)
            if task is None:
                continue
            self._move(task_id, TaskState.SUSPENDED)
            self._on_close(task)
            task.close()
            self._move(task_id, TaskState.CLOSED)
            del self.tasks[task_id]
            del self.states[task_id]

    def close_all(self) -> None:
        self.close(list(self.tasks))

    def abandon_all(self) -> None:
        """Close every task without reporting it and without letting a failing close stop us:
        the instance is failing, and its reason matters more."""
        for task_id, task in list(self.tasks.items()):
            try:
                task.close()
            except Exception:  # noqa: BLE001
                pass
            self.states[task_id] = TaskState.CLOSED
        self.tasks.clear()
        self.states.clear()

    def partitions_of(self, task_id: TaskId, assigned: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
        """The assigned partitions that feed ``task_id``."""
        subtopology_of = self.subtopology_of
        return [tp for tp in assigned if tp[1] == task_id[1] and subtopology_of(tp[0]) == task_id[0]]

    def without_partitions(self, assigned: Iterable[tuple[str, int]]) -> list[TaskId]:
        """Open tasks none of whose partitions is assigned any more."""
        owned = {(self.subtopology_of(t), p) for t, p in assigned}
        return [task_id for task_id in self.tasks if task_id not in owned]

    def missing(self, partitions: Iterable[tuple[str, int]]) -> list[TaskId]:
        """Task ids of ``partitions`` that have no open task, sorted."""
        return sorted({(self.subtopology_of(t), p) for t, p in partitions} - set(self.tasks))
