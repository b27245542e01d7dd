"""Timestamp order across the partitions of one task (processing/runtime/kafka/ordering.py)."""

from __future__ import annotations

from processing.runtime.kafka import ordering
from processing.runtime.kafka.ordering import OrderedInputs

TASK = (0, 1)
EVENTS, USERS = ("events", 1), ("users", 1)


def rec(tp: tuple[str, int], offset: int, ts: int) -> tuple:
    return (tp[0], tp[1], offset, ts, b"k", b"{}", None)


class Partitions:
    """What the loop would answer: positions and high watermarks of the task's partitions."""

    def __init__(self) -> None:
        self.state: dict[tuple[str, int], tuple[int, int] | None] = {EVENTS: (0, 0), USERS: (0, 0)}
        self.now = 0.0
        self.paused: list = []
        self.resumed: list = []

    def inputs(self, max_idle_ms: int = 500) -> OrderedInputs:
        return OrderedInputs(
            lambda task: [EVENTS, USERS],
            self.state.get,
            max_idle_ms=max_idle_ms,
            pause=self.paused.append,
            resume=self.resumed.append,
            clock=lambda: self.now,
        )


def offsets(taken: tuple[list[tuple], dict]) -> list[tuple[str, int]]:
    records, last = taken
    # What the checkpoint may note: the last record taken of each partition.
    assert last == {(r[0], r[1]): r[2] for r in records}
    return [(r[0], r[2]) for r in records]


def test_records_of_two_partitions_come_out_in_timestamp_order():
    parts = Partitions()
    inputs = parts.inputs()
    inputs.add(TASK, EVENTS, [rec(EVENTS, 0, 10), rec(EVENTS, 1, 30), rec(EVENTS, 2, 50)])
    inputs.add(TASK, USERS, [rec(USERS, 0, 5), rec(USERS, 1, 30), rec(USERS, 2, 40)])
    # Both caught up after these records: nothing to wait for once one side is drained.
    assert offsets(inputs.take(TASK)) == [
        ("users", 0),
        ("events", 0),
        ("events", 1),  # equal timestamps: the partition chosen first goes first
        ("users", 1),
        ("users", 2),
        ("events", 2),
    ]
    assert inputs.holding() == set()


def test_a_task_waits_for_a_partition_with_records_still_to_read():
    parts = Partitions()
    parts.state[USERS] = (0, 100)  # 100 table rows not fetched yet
    inputs = parts.inputs(max_idle_ms=500)
    inputs.add(TASK, EVENTS, [rec(EVENTS, 0, 10)])
    assert inputs.take(TASK) == ([], {})
    assert inputs.holding() == {EVENTS}  # consumed, not processed: must not be committed
    inputs.add(TASK, USERS, [rec(USERS, 0, 1), rec(USERS, 1, 2)])
    parts.state[USERS] = (2, 100)
    # The table rows (older) go first; then the task waits again for the rest of the table.
    assert offsets(inputs.take(TASK)) == [("users", 0), ("users", 1)]
    assert inputs.take(TASK) == ([], {})
    parts.state[USERS] = (100, 100)
    assert offsets(inputs.take(TASK)) == [("events", 0)]


def test_after_max_idle_the_task_goes_on_without_the_partition_and_stops_waiting_for_it():
    parts = Partitions()
    parts.state[USERS] = None  # never fetched: unknown
    inputs = parts.inputs(max_idle_ms=500)
    inputs.add(TASK, EVENTS, [rec(EVENTS, 0, 10)])
    assert inputs.take(TASK) == ([], {})
    parts.now = 0.4
    assert inputs.take(TASK) == ([], {})
    parts.now = 0.6
    assert offsets(inputs.take(TASK)) == [("events", 0)]
    assert inputs.enforced == 1
    # Stuck at the same place (say, behind an open transaction): no new wait per batch...
    inputs.add(TASK, EVENTS, [rec(EVENTS, 1, 11)])
    assert offsets(inputs.take(TASK)) == [("events", 1)]
    # ...until it delivers again, then it is waited for like any partition.
    inputs.add(TASK, USERS, [rec(USERS, 0, 1)])
    parts.state[USERS] = (1, 5)
    inputs.add(TASK, EVENTS, [rec(EVENTS, 2, 12)])
    assert offsets(inputs.take(TASK)) == [("users", 0)]
    assert inputs.take(TASK) == ([], {})


def test_a_full_buffer_pauses_its_partition_until_it_drains(monkeypatch):
    monkeypatch.setattr(ordering, "MAX_BUFFERED", 3)
    parts = Partitions()
    parts.state[USERS] = (0, 10)
    inputs = parts.inputs()
    inputs.add(TASK, EVENTS, [rec(EVENTS, i, 10 + i) for i in range(3)])
    assert parts.paused == [EVENTS]
    inputs.add(TASK, USERS, [rec(USERS, 0, 1)])
    parts.state[USERS] = (10, 10)
    assert len(inputs.take(TASK)[0]) == 4
    assert parts.resumed == [EVENTS]


def test_revoked_partitions_and_a_rewind_forget_their_buffered_records(monkeypatch):
    monkeypatch.setattr(ordering, "MAX_BUFFERED", 1)
    parts = Partitions()
    parts.state[USERS] = (0, 10)
    inputs = parts.inputs()
    inputs.add(TASK, EVENTS, [rec(EVENTS, 0, 10)])
    inputs.add(TASK, USERS, [rec(USERS, 0, 50)])
    inputs.drop({USERS})
    assert inputs.holding() == {EVENTS}
    assert inputs.clear() == [EVENTS]  # paused: the loop resumes it after the rewind
    assert inputs.holding() == set() and not inputs.has_data()
