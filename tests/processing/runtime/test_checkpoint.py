"""The checkpoint's order, broker-free: what is called, in which order, and what is never
committed when a step fails. The kill tests (tests/integration/test_runtime_exactly_once.py)
prove the same order against a real broker."""

from __future__ import annotations

import pytest

from processing.runtime.checkpoint import Checkpoint, ProducerFailure


class Calls(list):
    def names(self):
        return [call[0] for call in self]


class FakeProducer:
    def __init__(self, calls, *, fail_at=None):
        self.calls = calls
        self.fail_at = fail_at
        self.in_transaction = False

    def _step(self, name, *args):
        self.calls.append((name, *args))
        if name == self.fail_at:
            raise ProducerFailure(f"{name} failed")

    def begin(self):
        self._step("begin")
        self.in_transaction = True

    def produce(self, records):
        records = list(records)
        self._step("produce", records)
        return len(records)

    def flush(self):
        self._step("flush")

    def send_offsets(self, offsets, group_metadata):
        self._step("send_offsets", dict(offsets), group_metadata)

    def commit_transaction(self):
        self._step("commit_transaction")
        self.in_transaction = False


class FakeCommitter:
    def __init__(self, calls, positions=None, *, fail=False):
        self.calls = calls
        self.position_of = positions or {}
        self.fail = fail

    def positions(self, partitions):
        self.calls.append(("positions", list(partitions)))
        return {tp: self.position_of.get(tp, -1) for tp in partitions}

    def commit(self, offsets):
        self.calls.append(("commit", dict(offsets)))
        if self.fail:
            raise ProducerFailure("offset commit failed: rebalance in progress")

    def group_metadata(self):
        return "group-metadata"


class FakeTask:
    def __init__(self, calls, name, outputs=(), changelog=()):
        self.calls = calls
        self.name = name
        self.outputs = list(outputs)
        self.changelog = list(changelog)

    def flush_caches(self):
        # The record cache's latest rows join the outputs: they must be produced with them.
        self.calls.append(("flush_caches", self.name))
        self.outputs.append(f"{self.name}-cached")

    def take_output(self):
        self.calls.append(("take_output", self.name))
        out, self.outputs = self.outputs, []
        return out

    def take_changelog(self):
        self.calls.append(("take_changelog", self.name))
        out, self.changelog = self.changelog, []
        return out


def checkpoint(calls, *, exactly_once, producer=None, committer=None, **kwargs):
    return Checkpoint(
        producer or FakeProducer(calls),
        committer or FakeCommitter(calls),
        exactly_once=exactly_once,
        fault_hook=lambda point: calls.append(("fault_hook", point)),
        **kwargs,
    )


def test_at_least_once_flushes_outputs_then_changelog_then_the_producer_then_commits_offsets():
    calls = Calls()
    cp = checkpoint(calls, exactly_once=False)
    cp.note("events", 0, 9)
    tasks = [FakeTask(calls, "a", ["a-out"], ["a-log"]), FakeTask(calls, "b", [], ["b-log"])]
    assert cp.commit(tasks) is True
    assert [c for c in calls if c[0] != "positions"] == [
        ("flush_caches", "a"),
        ("flush_caches", "b"),
        ("take_output", "a"),
        ("take_output", "b"),
        ("take_changelog", "a"),
        ("take_changelog", "b"),
        ("produce", ["a-out", "a-cached", "b-cached"]),
        ("produce", ["a-log", "b-log"]),
        ("flush",),
        ("fault_hook", "after_produce_before_commit"),
        ("commit", {("events", 0): 10}),
        ("fault_hook", "after_commit"),
    ]
    assert cp.committed == {("events", 0): 10} and cp.pending == {} and cp.commits == 1


def test_exactly_once_produces_and_sends_the_offsets_inside_one_transaction_then_commits_it():
    calls = Calls()
    cp = checkpoint(calls, exactly_once=True)
    cp.note("events", 1, 4)
    assert cp.commit([FakeTask(calls, "a", ["a-out"], ["a-log"])]) is True
    assert [c for c in calls if c[0] not in ("positions", "take_output", "take_changelog")] == [
        ("flush_caches", "a"),
        ("begin",),
        ("produce", ["a-out", "a-cached"]),
        ("produce", ["a-log"]),
        ("send_offsets", {("events", 1): 5}, "group-metadata"),
        ("fault_hook", "after_produce_before_commit"),
        ("commit_transaction",),
        ("fault_hook", "after_commit"),
    ]
    # The offsets travel in the transaction: the consumer commits nothing itself.
    assert "commit" not in calls.names() and "flush" not in calls.names()
    assert cp.committed == {("events", 1): 5}


def test_an_open_transaction_is_committed_even_when_the_interval_brought_nothing_new():
    calls = Calls()
    producer = FakeProducer(calls)
    producer.in_transaction = True  # the loop opened it when it produced a batch's outputs
    cp = checkpoint(calls, exactly_once=True, producer=producer)
    cp.commit([FakeTask(calls, "a")])
    assert "commit_transaction" in calls.names() and "send_offsets" not in calls.names()


def test_an_interval_with_nothing_to_write_or_commit_calls_neither_producer_nor_consumer():
    calls = Calls()
    cp = checkpoint(calls, exactly_once=False)

    class Quiet(FakeTask):
        def flush_caches(self):
            self.calls.append(("flush_caches", self.name))

    assert cp.commit([Quiet(calls, "a")]) is False
    assert calls.names() == ["flush_caches", "take_output", "take_changelog"]


@pytest.mark.parametrize("failing", ["flush", "produce"])
def test_a_failed_or_timed_out_flush_commits_nothing(failing):
    # OutputProducer.flush raises ProducerFailure both for a failed delivery and for records
    # still undelivered at its timeout (tests/processing/runtime_kafka/test_producer.py).
    calls = Calls()
    cp = checkpoint(calls, exactly_once=False, producer=FakeProducer(calls, fail_at=failing))
    cp.note("events", 0, 9)
    cp.committed[("events", 0)] = 3
    with pytest.raises(ProducerFailure):
        cp.commit([FakeTask(calls, "a", ["a-out"], ["a-log"])])
    assert "commit" not in calls.names()
    assert ("fault_hook", "after_produce_before_commit") not in calls
    assert cp.committed == {("events", 0): 3} and cp.commits == 0
    # The interval stays to be discarded by the loop's rewind, not silently dropped.
    assert cp.pending == {("events", 0): 10}


def test_a_failed_offset_commit_leaves_the_committed_offsets_where_they_were():
    calls = Calls()
    cp = checkpoint(calls, exactly_once=False, committer=FakeCommitter(calls, fail=True))
    cp.note("events", 0, 9)
    with pytest.raises(ProducerFailure, match="offset commit failed"):
        cp.commit([FakeTask(calls, "a", ["a-out"])])
    assert calls.names().index("flush") < calls.names().index("commit")
    assert ("fault_hook", "after_commit") not in calls
    assert cp.committed == {}


@pytest.mark.parametrize("failing", ["send_offsets", "commit_transaction", "produce"])
def test_a_failed_transaction_step_commits_nothing(failing):
    calls = Calls()
    cp = checkpoint(calls, exactly_once=True, producer=FakeProducer(calls, fail_at=failing))
    cp.note("events", 0, 9)
    with pytest.raises(ProducerFailure):
        cp.commit([FakeTask(calls, "a", ["a-out"])])
    assert ("fault_hook", "after_commit") not in calls
    assert cp.committed == {} and cp.commits == 0


def test_settled_commits_the_consumers_position_which_steps_over_transaction_markers():
    calls = Calls()
    # Last processed offset 9, but the position is 11: a commit marker took offset 10.
    cp = checkpoint(calls, exactly_once=False, committer=FakeCommitter(calls, {("events", 0): 11}))
    cp.note("events", 0, 9)
    cp.commit([])
    assert cp.committed == {("events", 0): 11}


def test_settled_also_commits_an_owned_partition_whose_position_moved_without_records():
    calls = Calls()
    committer = FakeCommitter(calls, {("events", 0): 11, ("events", 1): 4})
    cp = checkpoint(
        calls, exactly_once=False, committer=committer, owned=lambda: {("events", 0), ("events", 1)}
    )
    cp.committed[("events", 0)] = 11
    cp.commit([])
    # Partition 0 did not move since its last commit and is left alone.
    assert ("commit", {("events", 1): 4}) in calls


def test_unsettled_commits_only_offsets_noted_after_processing_never_positions():
    """A revoke inside consume(): positions may be past records never processed."""
    calls = Calls()
    committer = FakeCommitter(calls, {("events", 0): 50, ("events", 1): 30})
    cp = checkpoint(
        calls, exactly_once=False, committer=committer, owned=lambda: {("events", 0), ("events", 1)}
    )
    cp.note("events", 0, 9)
    cp.settled = False
    cp.commit([])
    assert "positions" not in calls.names()
    assert ("commit", {("events", 0): 10}) in calls
    assert cp.committed == {("events", 0): 10}


def test_a_partition_with_records_waiting_in_an_ordering_buffer_commits_its_noted_offset_only():
    calls = Calls()
    committer = FakeCommitter(calls, {("a", 0): 50, ("b", 0): 30})
    cp = checkpoint(calls, exactly_once=False, committer=committer, holding=lambda: {("a", 0)})
    cp.note("a", 0, 9)
    cp.note("b", 0, 20)
    cp.commit([])
    assert cp.committed == {("a", 0): 10, ("b", 0): 30}


def test_forget_and_discard_drop_what_must_not_be_committed():
    calls = Calls()
    cp = checkpoint(calls, exactly_once=False)
    cp.note("events", 0, 9)
    cp.note("events", 1, 9)
    cp.committed[("events", 1)] = 5
    cp.forget([("events", 1)])  # revoked or lost: its next owner commits it
    assert cp.pending == {("events", 0): 10} and cp.committed == {}
    cp.discard()  # after an abort: the interval is consumed again
    assert cp.pending == {}
    assert cp.commit([]) is False


def test_the_commit_interval_is_measured_from_the_last_checkpoint():
    now = [100.0]
    calls = Calls()
    cp = checkpoint(calls, exactly_once=False, clock=lambda: now[0])
    now[0] += 0.5
    assert not cp.is_due(1000)
    now[0] += 0.5
    assert cp.is_due(1000)
    cp.commit([])
    assert not cp.is_due(1000)
