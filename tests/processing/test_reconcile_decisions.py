"""The supervisor's decisions, from snapshots alone (no database, no Celery)."""

from processing.reconcile import (
    Cancel,
    DeploymentSnapshot,
    Fail,
    Launch,
    Limits,
    MarkCrashed,
    ResetRestarts,
    SetStatus,
    SlotSnapshot,
    aggregate_status,
    decide,
)

LIMITS = Limits(
    heartbeat_timeout=10,
    max_restarts=3,
    backoff_base=1,
    backoff_max=30,
    steady_seconds=60,
    pending_timeout=120,
)


def slot(n, status="running", *, epoch=1, claimed=None, heartbeat=1.0, queued=5.0, gone=False, error=""):
    if claimed is None:
        claimed = status in ("starting", "restoring", "running", "rebalancing", "stopping")
    return SlotSnapshot(n, epoch, status, claimed, heartbeat, queued, gone, error)


def deployment(*slots, instances=2, desired="running", status="running", restarts=0, since_restart=None):
    return DeploymentSnapshot(desired, status, instances, restarts, since_restart, tuple(slots))


def test_missing_slots_are_launched_with_a_first_epoch():
    decisions = decide(deployment(instances=2, status="pending"), LIMITS)
    assert decisions.of(Launch) == [Launch(0, None, "missing"), Launch(1, None, "missing")]


def test_healthy_running_deployment_needs_nothing():
    decisions = decide(deployment(slot(0), slot(1)), LIMITS)
    assert decisions.actions == []


def test_instance_without_heartbeat_is_marked_crashed_and_restarted_in_the_same_pass():
    decisions = decide(deployment(slot(0), slot(1, heartbeat=25.0, epoch=4)), LIMITS)
    crashed = decisions.of(MarkCrashed)
    assert [(c.slot, c.epoch) for c in crashed] == [(1, 4)]
    assert "no heartbeat" in crashed[0].reason
    assert decisions.of(Launch) == [Launch(1, 4, "restart", counts_as_restart=True)]


def test_instance_whose_process_is_gone_is_crashed_before_its_heartbeat_times_out():
    decisions = decide(deployment(slot(0), slot(1, heartbeat=0.5, gone=True)), LIMITS)
    assert [c.slot for c in decisions.of(MarkCrashed)] == [1]
    assert "process is gone" in decisions.of(MarkCrashed)[0].reason


def test_live_instance_is_never_given_a_second_epoch():
    # A slot is relaunched only from a row that is not live: launching while it runs would put
    # two instances on one slot.
    decisions = decide(deployment(slot(0, "restoring"), slot(1, "rebalancing"), status="rebalancing"), LIMITS)
    assert decisions.of(Launch) == []


def test_crashed_slot_waits_for_the_backoff():
    snap = deployment(slot(0), slot(1, "crashed", claimed=False), restarts=2, since_restart=1.0)
    assert decide(snap, LIMITS).of(Launch) == []  # third restart waits 4 s
    snap = deployment(slot(0), slot(1, "crashed", claimed=False), restarts=2, since_restart=4.5)
    assert decide(snap, LIMITS).of(Launch) == [Launch(1, 1, "restart", counts_as_restart=True)]


def test_backoff_doubles_and_is_capped():
    assert [LIMITS.backoff(n) for n in (1, 2, 3, 4, 6, 9)] == [1, 2, 4, 8, 30, 30]


def test_repeated_crashes_fail_the_deployment_with_the_last_error():
    snap = deployment(
        slot(0, "failed", claimed=False, error="source topic 'A' does not exist"),
        instances=1,
        restarts=3,
        since_restart=100.0,
        status="starting",
    )
    decisions = decide(snap, LIMITS)
    assert decisions.of(Launch) == []
    [fail] = decisions.of(Fail)
    assert "gave up after 3 restarts" in fail.reason and "source topic 'A' does not exist" in fail.reason


def test_failed_deployment_is_left_alone_until_someone_starts_it():
    snap = deployment(slot(0, "failed", claimed=False), instances=1, status="failed", restarts=3)
    assert decide(snap, LIMITS).actions == []


def test_steady_running_resets_the_crash_counter():
    snap = deployment(slot(0), slot(1), restarts=2, since_restart=61.0)
    assert decide(snap, LIMITS).of(ResetRestarts) == [ResetRestarts()]
    snap = deployment(slot(0), slot(1), restarts=2, since_restart=30.0)
    assert decide(snap, LIMITS).of(ResetRestarts) == []


def test_stopped_slot_below_the_wanted_count_is_launched_again_without_penalty():
    decisions = decide(deployment(slot(0), slot(1, "stopped", claimed=False, epoch=3)), LIMITS)
    assert decisions.of(Launch) == [Launch(1, 3, "missing")]


def test_scale_down_cancels_queued_surplus_and_leaves_live_surplus_to_stop_itself():
    snap = deployment(slot(0), slot(1, "pending", claimed=False, epoch=2), slot(2), instances=1)
    decisions = decide(snap, LIMITS)
    assert decisions.of(Cancel) == [Cancel(1, 2)]
    assert decisions.of(Launch) == [] and decisions.of(MarkCrashed) == []
    assert decisions.of(SetStatus) == [SetStatus("rebalancing")]  # slot 2 is still leaving


def test_stopping_deployment_becomes_stopped_once_no_instance_is_live():
    snap = deployment(slot(0, "stopped", claimed=False), slot(1), desired="stopped")
    assert decide(snap, LIMITS).of(SetStatus) == []
    snap = deployment(slot(0, "stopped", claimed=False), slot(1, "stopped", claimed=False), desired="stopped")
    assert decide(snap, LIMITS).of(SetStatus) == [SetStatus("stopped")]


def test_pending_task_nobody_claimed_is_requeued_after_the_timeout():
    snap = deployment(slot(0, "pending", claimed=False, queued=200.0, epoch=5), instances=1, status="pending")
    assert decide(snap, LIMITS).of(Launch) == [Launch(0, 5, "requeue")]
    snap = deployment(slot(0, "pending", claimed=False, queued=20.0, epoch=5), instances=1, status="pending")
    assert decide(snap, LIMITS).of(Launch) == []


def test_status_is_running_only_when_every_wanted_slot_runs():
    assert aggregate_status(deployment(slot(0), slot(1))) == "running"
    assert aggregate_status(deployment(slot(0), slot(1, "starting"))) == "rebalancing"
    assert (
        aggregate_status(deployment(slot(0, "restoring"), slot(1, "starting"), status="starting"))
        == "restoring"
    )
    assert (
        aggregate_status(deployment(slot(0, "pending", claimed=False), status="pending", instances=1))
        == "pending"
    )
    assert aggregate_status(deployment(slot(0, "starting"), status="pending", instances=1)) == "starting"
