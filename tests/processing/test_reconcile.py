"""Reconcile passes against the database (tasks are queued on commit; these tests never commit)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from processing import actions
from processing.models import Deployment, DeploymentInstance
from processing.reconcile import Limits, reconcile_all, reconcile_deployment

pytestmark = pytest.mark.django_db

LIMITS = Limits(
    heartbeat_timeout=10,
    max_restarts=2,
    backoff_base=0,
    backoff_max=0,
    steady_seconds=60,
    pending_timeout=120,
)


def rows(deployment):
    return list(
        DeploymentInstance.objects.filter(deployment=deployment)
        .order_by("slot")
        .values_list("slot", "epoch", "status", "claimed")
    )


def fresh(deployment):
    return Deployment.objects.prefetch_related("instance_set").get(pk=deployment.pk)


def claim_all(deployment, status="running"):
    DeploymentInstance.objects.filter(deployment=deployment).update(
        claimed=True, status=status, heartbeat_at=timezone.now(), worker_host="elsewhere", pid=1
    )


def test_first_pass_queues_one_epoch_per_wanted_slot_and_a_second_pass_adds_nothing(version):
    deployment = actions.deploy(version, instances=2)
    reconcile_deployment(fresh(deployment), LIMITS)
    reconcile_deployment(fresh(deployment), LIMITS)
    assert rows(deployment) == [(0, 1, "pending", False), (1, 1, "pending", False)]
    assert deployment.events.filter(kind="instance_launch").count() == 2


def test_dead_instance_is_crashed_and_relaunched_with_a_new_epoch(version):
    deployment = actions.deploy(version, instances=2)
    reconcile_deployment(fresh(deployment), LIMITS)
    claim_all(deployment)
    DeploymentInstance.objects.filter(deployment=deployment, slot=1).update(
        heartbeat_at=timezone.now() - timedelta(seconds=30)
    )
    reconcile_deployment(fresh(deployment), LIMITS)
    assert rows(deployment) == [(0, 1, "running", True), (1, 2, "pending", False)]
    deployment.refresh_from_db()
    assert deployment.restart_count == 1
    assert deployment.events.filter(kind="instance_crashed").get().payload["slot"] == 1


def test_crash_loop_ends_failed_with_the_instance_error(version):
    deployment = actions.deploy(version, instances=1)
    for _ in range(5):
        reconcile_deployment(fresh(deployment), LIMITS)
        DeploymentInstance.objects.filter(deployment=deployment).update(
            status="failed", claimed=False, error="source topic 'A' does not exist"
        )
    deployment.refresh_from_db()
    assert deployment.status == "failed"
    assert "gave up after 2 restarts" in deployment.last_error
    assert "source topic 'A' does not exist" in deployment.last_error
    assert DeploymentInstance.objects.get(deployment=deployment).epoch == 3  # first run + 2 restarts


def test_stop_cancels_queued_tasks_and_ends_stopped(version):
    deployment = actions.deploy(version, instances=2)
    reconcile_deployment(fresh(deployment), LIMITS)
    actions.stop(deployment)
    reconcile_deployment(fresh(deployment), LIMITS)
    assert [(s, e, st) for s, e, st, _ in rows(deployment)] == [(0, 2, "stopped"), (1, 2, "stopped")]
    assert fresh(deployment).status == "stopped"


def test_all_running_instances_make_the_deployment_running(version):
    deployment = actions.deploy(version, instances=2)
    reconcile_deployment(fresh(deployment), LIMITS)
    claim_all(deployment, status="restoring")
    reconcile_deployment(fresh(deployment), LIMITS)
    assert fresh(deployment).status == "restoring"
    claim_all(deployment)
    reconcile_all()
    assert fresh(deployment).status == "running"
    assert [e.payload["to"] for e in deployment.events.filter(kind="status").order_by("id")] == [
        "restoring",
        "running",
    ]


def test_starting_a_failed_deployment_relaunches_its_slots_without_counting_a_restart(version):
    deployment = actions.deploy(version, instances=1)
    reconcile_deployment(fresh(deployment), LIMITS)
    DeploymentInstance.objects.filter(deployment=deployment).update(status="failed", error="boom")
    Deployment.objects.filter(pk=deployment.pk).update(status="failed", restart_count=2, last_error="gave up")
    actions.start(fresh(deployment))
    reconcile_deployment(fresh(deployment), LIMITS)
    assert rows(deployment) == [(0, 2, "pending", False)]
    assert fresh(deployment).restart_count == 0
