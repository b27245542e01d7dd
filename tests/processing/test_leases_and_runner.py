"""Slot leases and the instance runner's warden, with a broker-free loop in place of Kafka.

The warden runs in its own thread with its own database connection, so these tests commit
(``transactional_db``) and never queue Celery tasks: rows are written directly.
"""

import threading
import time

import pytest

from processing import leases
from processing.models import Deployment, DeploymentEvent, DeploymentInstance
from processing.runner import InstanceRunner

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fast_warden(settings):
    settings.WEIR_HEARTBEAT_SECONDS = 0.2
    settings.WEIR_STOP_CHECK_SECONDS = 0.1


@pytest.fixture
def deployment(version):
    return Deployment.objects.create(version=version, app_id=f"{version.topology.name}-t", instances=1)


def pending_slot(deployment, slot=0, epoch=1):
    return DeploymentInstance.objects.create(deployment=deployment, slot=slot, epoch=epoch, status="pending")


class FakeLoop:
    """Behaves like processing.runtime.kafka.loop.run: reports, runs until told to stop."""

    def __init__(self, fail_with: str | None = None):
        self.fail_with = fail_with
        self.kwargs = None

    def __call__(self, plan, *, events, should_stop, **kwargs):
        self.kwargs = kwargs
        events.emit({"type": "status", "status": "starting", "error": None})
        events.emit({"type": "status", "status": "running", "error": None})
        events.emit({"type": "metrics", "nodes": {}, "latency_ms": 0.0, "partitions": [["A", 1], ["A", 0]]})
        if self.fail_with:
            events.emit({"type": "status", "status": "failed", "error": self.fail_with})
            return
        deadline = time.monotonic() + 20
        while not should_stop() and time.monotonic() < deadline:
            time.sleep(0.02)
        events.emit({"type": "status", "status": "stopped", "error": None})


def run_in_thread(runner):
    result = {}

    def target():
        from django.db import connection

        try:
            result["outcome"] = runner.run()
        finally:
            connection.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, result


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_claim_takes_a_pending_slot_once_and_refuses_a_stale_epoch(deployment):
    pending_slot(deployment, epoch=2)
    assert not leases.claim(leases.Lease(deployment.pk, 0, 1), host="h", pid=1, task_id="old")
    assert leases.claim(leases.Lease(deployment.pk, 0, 2), host="h", pid=2, task_id="new")
    assert not leases.claim(leases.Lease(deployment.pk, 0, 2), host="h", pid=3, task_id="duplicate")
    row = DeploymentInstance.objects.get(deployment=deployment)
    assert (row.claimed, row.status, row.pid) == (True, "starting", 2)


def test_a_lost_lease_can_no_longer_write_its_heartbeat(deployment):
    pending_slot(deployment)
    lease = leases.Lease(deployment.pk, 0, 1)
    leases.claim(lease, host="h", pid=1, task_id="t")
    assert leases.beat(lease, status="running", partitions=[["A", 0]])
    DeploymentInstance.objects.filter(deployment=deployment).update(epoch=2, claimed=False, status="crashed")
    assert not leases.beat(lease, status="running", partitions=[])
    assert leases.stop_reason(lease) == "the slot was taken over"
    assert DeploymentInstance.objects.get(deployment=deployment).status == "crashed"


def test_runner_reports_status_and_partitions_then_stops_when_the_deployment_is_stopped(deployment):
    pending_slot(deployment)
    loop = FakeLoop()
    thread, result = run_in_thread(InstanceRunner(deployment.pk, 0, 1, task_id="task-1", run_loop=loop))
    wait_until(lambda: DeploymentInstance.objects.get(deployment=deployment).partitions)
    row = DeploymentInstance.objects.get(deployment=deployment)
    assert row.status == "running"
    assert row.partitions == [["A", 0], ["A", 1]] and row.task_id == "task-1"
    wait_until(lambda: Deployment.objects.get(pk=deployment.pk).status == "running")
    assert loop.kwargs["app_id"] == deployment.app_id and loop.kwargs["instance_slot"] == 0

    Deployment.objects.filter(pk=deployment.pk).update(desired_state="stopped")
    thread.join(10)
    assert result["outcome"] == "stopped"
    row.refresh_from_db()
    assert (row.claimed, row.status, row.partitions) == (False, "stopped", [])
    assert Deployment.objects.get(pk=deployment.pk).status == "stopped"
    exited = DeploymentEvent.objects.get(deployment=deployment, kind="instance_exited")
    assert exited.payload["held_lease"] is True


class TickAskingLoop(FakeLoop):
    def __call__(self, plan, *, events, should_stop, view_tick, **kwargs):
        self.tick = view_tick("counts")
        super().__call__(plan, events=events, should_stop=should_stop, **kwargs)


def test_runner_lets_the_dashboards_choose_view_ticks_and_reports_through_them(deployment, redis_url):
    import orjson
    import redis

    from dashboard import groups
    from dashboard.publisher import UNWATCHED_VIEW_TICK_S

    pending_slot(deployment)
    loop = TickAskingLoop()
    thread, result = run_in_thread(InstanceRunner(deployment.pk, 0, 1, run_loop=loop))
    wait_until(lambda: Deployment.objects.get(pk=deployment.pk).status == "running")
    Deployment.objects.filter(pk=deployment.pk).update(desired_state="stopped")
    thread.join(10)
    assert result["outcome"] == "stopped"
    assert loop.tick == UNWATCHED_VIEW_TICK_S  # the dashboards' sink answered: nobody watches
    client = redis.Redis.from_url(redis_url)  # the fixture marks this test integration
    try:
        slot = orjson.loads(client.hget(groups.monitor_slots_key(deployment.pk), "0"))
    finally:
        client.close()
    assert slot["status"] == "stopped"


def test_runner_exits_when_its_slot_is_taken_over(deployment):
    pending_slot(deployment)
    thread, result = run_in_thread(InstanceRunner(deployment.pk, 0, 1, run_loop=FakeLoop()))
    wait_until(lambda: DeploymentInstance.objects.get(deployment=deployment).status == "running")
    DeploymentInstance.objects.filter(deployment=deployment).update(epoch=2, claimed=False, status="pending")
    thread.join(10)
    assert result["outcome"] == "stopped"
    row = DeploymentInstance.objects.get(deployment=deployment)
    # The new epoch's row is untouched by the old instance's exit.
    assert (row.epoch, row.status) == (2, "pending")
    assert (
        DeploymentEvent.objects.get(deployment=deployment, kind="instance_exited").payload["held_lease"]
        is False
    )


def test_runner_exits_when_scaled_below_its_slot(deployment):
    Deployment.objects.filter(pk=deployment.pk).update(instances=2)
    pending_slot(deployment, slot=1)
    thread, result = run_in_thread(InstanceRunner(deployment.pk, 1, 1, run_loop=FakeLoop()))
    wait_until(lambda: DeploymentInstance.objects.get(deployment=deployment, slot=1).status == "running")
    Deployment.objects.filter(pk=deployment.pk).update(instances=1)
    thread.join(10)
    assert result["outcome"] == "stopped"


def test_runtime_failure_releases_the_slot_as_failed_with_the_reason(deployment):
    pending_slot(deployment)
    outcome = InstanceRunner(
        deployment.pk, 0, 1, run_loop=FakeLoop(fail_with="source topic 'A' does not exist")
    ).run()
    assert outcome == "failed"
    row = DeploymentInstance.objects.get(deployment=deployment)
    assert (row.claimed, row.status, row.error) == (False, "failed", "source topic 'A' does not exist")


def test_stale_task_exits_without_touching_the_slot(deployment):
    pending_slot(deployment, epoch=5)
    loop = FakeLoop()
    assert InstanceRunner(deployment.pk, 0, 4, run_loop=loop).run() == "stale"
    assert loop.kwargs is None
    assert DeploymentInstance.objects.get(deployment=deployment).status == "pending"


class RecordingSink:
    """An event sink named by dotted path in settings.WEIR_EVENT_SINKS."""

    created: list = []

    def __init__(self, deployment_id, slot):
        self.args = (deployment_id, slot)
        self.events: list = []
        self.closed = False
        RecordingSink.created.append(self)

    def emit(self, event):
        self.events.append(event["type"] == "status" and event["status"])

    def close(self):
        self.closed = True


def test_runner_creates_the_sinks_the_settings_name_and_runs_without_one_it_cannot_import(
    deployment, settings, caplog
):
    settings.WEIR_EVENT_SINKS = [
        "tests.processing.test_leases_and_runner.RecordingSink",
        "tests.processing.no_such_module.Sink",
    ]
    RecordingSink.created = []
    pending_slot(deployment)
    thread, result = run_in_thread(InstanceRunner(deployment.pk, 0, 1, run_loop=FakeLoop()))
    wait_until(lambda: Deployment.objects.get(pk=deployment.pk).status == "running")
    Deployment.objects.filter(pk=deployment.pk).update(desired_state="stopped")
    thread.join(10)
    assert result["outcome"] == "stopped"
    [sink] = RecordingSink.created
    assert sink.args == (deployment.pk, 0)
    assert [e for e in sink.events if e] == ["starting", "running", "stopped"]
    assert sink.closed
    assert "could not create the event sink tests.processing.no_such_module.Sink" in caplog.text
