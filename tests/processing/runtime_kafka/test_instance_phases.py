"""The instance's phases and what run() hands to the reporter, broker-free (no client is
created before Instance.run())."""

from __future__ import annotations

import pytest

from processing.runtime.checkpoint import Checkpoint, ProducerFailure
from processing.runtime.events import ListEventSink
from processing.runtime.kafka.loop import Instance
from processing.runtime.kafka.phases import ALLOWED_PHASES, IllegalPhaseChange, Phase
from processing.runtime.kafka.tasks import TaskManager
from tests.processing.runtime_kafka.test_reporting import windowed_counts_plan, wkey


def instance(**kwargs):
    options = dict(
        app_id="app",
        kafka_config={"bootstrap.servers": "127.0.0.1:1"},
        guarantee="at_least_once",
        error_policy="fail",
        events=ListEventSink(),
        should_stop=lambda: True,
        instance_slot=0,
        commit_interval_ms=1000,
        fault_hook=None,
        view_interval_ms=50,
    )
    return Instance(windowed_counts_plan(), **{**options, **kwargs})


def test_an_instance_runs_then_shuts_down_then_stops():
    inst = instance()
    assert inst.phase is Phase.STARTING and not inst.closing
    inst.enter(Phase.RUNNING)
    inst.enter(Phase.SHUTTING_DOWN)
    assert inst.closing
    inst.enter(Phase.STOPPED)


@pytest.mark.parametrize(
    ("current", "target"),
    [(Phase.STARTING, Phase.STOPPED), (Phase.STOPPED, Phase.RUNNING), (Phase.FAILED, Phase.RUNNING)],
)
def test_an_illegal_phase_change_raises(current, target):
    inst = instance()
    inst.phase = current
    assert target not in ALLOWED_PHASES[current]
    with pytest.raises(IllegalPhaseChange, match="not allowed"):
        inst.enter(target)


def test_the_view_tick_given_to_the_loop_chooses_the_reporters_ticks():
    asked = []
    inst = instance(view_tick=lambda view: asked.append(view) or 0.3)
    inst.reporter.add_view_deltas({"live": {wkey("alice"): {"clicks": 1}}})
    inst.reporter.flush_views()
    assert asked == ["live"] and inst.reporter.intervals == {"live": 0.3}


def test_status_events_are_reported_once_per_change():
    events = ListEventSink()
    inst = instance(events=events)
    inst._set_status("running")
    inst._set_status("running")
    inst._set_status("failed", error="boom", topic="t", partition=0, offset=3)
    assert events.events == [
        {"type": "status", "status": "running", "error": None},
        {"type": "status", "status": "failed", "error": "boom", "topic": "t", "partition": 0, "offset": 3},
    ]


class Partition:
    def __init__(self, topic, partition):
        self.topic, self.partition = topic, partition


class RecordingCommitter:
    def __init__(self, fail=False):
        self.commits = []
        self.fail = fail

    def positions(self, partitions):
        return {tp: -1 for tp in partitions}

    def commit(self, offsets):
        if self.fail:
            raise ProducerFailure("offset commit failed: the group rebalanced")
        self.commits.append(dict(offsets))

    def group_metadata(self):
        return None


class NullProducer:
    in_transaction = False

    def begin(self):
        pass

    def produce(self, records):
        return len(list(records))

    def flush(self):
        pass


class OneTask:
    changelog_topics: dict = {}

    def __init__(self, sub, partition):
        self.id = (sub, partition)
        self.closed = False

    def flush_caches(self):
        pass

    def take_output(self):
        return []

    def take_changelog(self):
        return []

    def metrics(self):
        return {}

    def close(self):
        self.closed = True


def owning_one_partition(phase, *, commit_fails=False):
    """An instance in ``phase`` owning events[0], with offset 4 processed, no Kafka client."""
    events = ListEventSink()
    inst = instance(events=events)
    inst.phase = phase
    inst.task_manager = TaskManager(OneTask, lambda topic: 0, restore=lambda tasks: None)
    inst.tasks = inst.task_manager.tasks
    committer = RecordingCommitter(fail=commit_fails)
    inst.checkpoint = Checkpoint(NullProducer(), committer, exactly_once=False)
    inst.assigned = {("events", 0)}
    (task,) = inst.task_manager.open([(0, 0)])
    inst.checkpoint.note("events", 0, 4)
    return inst, events, committer, task


def test_a_revoke_while_running_checkpoints_then_closes_the_task_and_reports_the_rebalance():
    inst, events, committer, task = owning_one_partition(Phase.RUNNING)
    inst._on_revoke(None, [Partition("events", 0)])
    assert committer.commits == [{("events", 0): 5}]
    assert task.closed and inst.tasks == {} and inst.assigned == set()
    assert [e["status"] for e in events.of_type("status")] == ["rebalancing", "running"]


def test_a_revoke_while_shutting_down_checkpoints_but_reports_no_status():
    inst, events, committer, task = owning_one_partition(Phase.SHUTTING_DOWN)
    inst._on_revoke(None, [Partition("events", 0)])
    assert committer.commits == [{("events", 0): 5}] and task.closed
    assert events.of_type("status") == []


def test_a_revoke_while_failing_commits_nothing():
    inst, events, committer, task = owning_one_partition(Phase.FAILED)
    inst._on_revoke(None, [Partition("events", 0)])
    assert committer.commits == [] and task.closed
    assert events.of_type("status") == []


def test_a_failed_revoke_checkpoint_leaves_a_rewind_for_the_loop():
    inst, _events, _committer, task = owning_one_partition(Phase.RUNNING, commit_fails=True)
    inst._on_revoke(None, [Partition("events", 0)])
    assert inst.needs_reset and task.closed
