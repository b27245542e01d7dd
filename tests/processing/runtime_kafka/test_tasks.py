"""Task states and their transitions (Kafka Streams' Task.State), broker-free."""

from __future__ import annotations

import pytest

from processing.runtime.kafka.restore import RestoreInterrupted
from processing.runtime.kafka.tasks import (
    ALLOWED_TRANSITIONS,
    IllegalTaskTransition,
    TaskManager,
    TaskState,
    check_transition,
)


class FakeTask:
    def __init__(self, sub, partition, changelogs):
        self.id = (sub, partition)
        self.changelog_topics = {"store": "app-store-changelog"} if changelogs else {}
        self.closed = False

    def close(self):
        assert not self.closed, "closed twice"
        self.closed = True


def manager(*, changelogs=True, interrupt=False, log=None):
    log = [] if log is None else log

    def restore(tasks):
        log.append(("restore", [t.id for t in tasks], [manager_.state(t.id) for t in tasks]))
        if interrupt:
            raise RestoreInterrupted()

    manager_ = TaskManager(
        lambda sub, partition: FakeTask(sub, partition, changelogs),
        {"events": 0, "app-repartition": 1}.__getitem__,
        restore=restore,
        on_close=lambda task: log.append(("closed", task.id, manager_.state(task.id))),
    )
    return manager_, log


def test_an_assigned_task_is_created_restored_then_running():
    tasks, log = manager()
    opened = tasks.open([(0, 0), (0, 1)])
    assert [t.id for t in opened] == [(0, 0), (0, 1)]
    # The restore sees the tasks RESTORING, before any of them may process.
    assert log == [("restore", [(0, 0), (0, 1)], [TaskState.RESTORING, TaskState.RESTORING])]
    assert tasks.state((0, 0)) is TaskState.RUNNING
    assert set(tasks.tasks) == {(0, 0), (0, 1)}


def test_a_task_without_stores_skips_the_restore_but_passes_through_restoring():
    tasks, log = manager(changelogs=False)
    tasks.open([(0, 0)])
    assert log == [] and tasks.state((0, 0)) is TaskState.RUNNING


def test_a_revoked_task_is_suspended_before_it_is_closed_and_then_forgotten():
    tasks, log = manager()
    (task,) = tasks.open([(0, 0)])
    tasks.close([(0, 0)])
    # The reporter takes its counters while it is suspended, before it closes.
    assert log[-1] == ("closed", (0, 0), TaskState.SUSPENDED)
    assert task.closed and tasks.tasks == {} and tasks.state((0, 0)) is TaskState.CLOSED


def test_an_interrupted_restore_closes_the_new_tasks_without_reporting_them():
    tasks, log = manager(interrupt=True)
    assert tasks.open([(0, 0)]) == []
    assert tasks.tasks == {} and [entry[0] for entry in log] == ["restore"]


def test_a_task_cannot_be_opened_twice():
    tasks, _ = manager()
    tasks.open([(0, 0)])
    with pytest.raises(IllegalTaskTransition, match="open already"):
        tasks.open([(0, 0)])


def test_a_rewind_closes_and_reopens_the_same_task_ids_as_new_tasks():
    tasks, _ = manager()
    (first,) = tasks.open([(0, 0)])
    tasks.close([(0, 0)])
    (second,) = tasks.open([(0, 0)])
    assert first is not second and first.closed and not second.closed


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (TaskState.CREATED, TaskState.RUNNING),  # never process before the restore
        (TaskState.RUNNING, TaskState.CLOSED),  # always suspended first
        (TaskState.RUNNING, TaskState.RESTORING),
        (TaskState.CLOSED, TaskState.RUNNING),
        (TaskState.CLOSED, TaskState.CREATED),  # closed tasks are not recycled
        (TaskState.SUSPENDED, TaskState.RUNNING),
    ],
)
def test_an_illegal_transition_raises(current, target):
    with pytest.raises(IllegalTaskTransition):
        check_transition((0, 0), current, target)


def test_the_transitions_are_those_of_kafka_streams_task_state_except_recycling():
    assert ALLOWED_TRANSITIONS == {
        TaskState.CREATED: {TaskState.RESTORING, TaskState.SUSPENDED},
        TaskState.RESTORING: {TaskState.RUNNING, TaskState.SUSPENDED},
        TaskState.RUNNING: {TaskState.SUSPENDED},
        TaskState.SUSPENDED: {TaskState.RESTORING, TaskState.CLOSED},
        TaskState.CLOSED: set(),
    }


def test_tasks_are_found_from_their_partitions():
    tasks, _ = manager(changelogs=False)
    tasks.open([(0, 0), (1, 0), (0, 1)])
    assigned = {("events", 0), ("app-repartition", 0)}
    assert tasks.partitions_of((1, 0), assigned) == [("app-repartition", 0)]
    assert tasks.without_partitions(assigned) == [(0, 1)]
    assert tasks.missing([("events", 0), ("events", 2)]) == [(0, 2)]


def test_abandoning_closes_every_task_even_when_one_close_fails():
    tasks, log = manager(changelogs=False)
    broken, fine = tasks.open([(0, 0), (0, 1)])

    def fail():
        raise RuntimeError("close failed")

    broken.close = fail
    tasks.abandon_all()
    assert fine.closed and tasks.tasks == {} and not [e for e in log if e[0] == "closed"]
