"""The lease of an instance slot: (deployment, slot, epoch).

The reconciler gives a slot a new epoch each time it queues a task for it
(processing/reconcile.py). A task holds the slot only while the row still carries the epoch it
was started with and ``claimed`` is set. Every write an instance makes is conditional on its
epoch, so an instance that lost its slot (presumed dead, then taken over) can no longer change
the row; its next stop-flag read tells it to exit. Under exactly-once the new instance's
transactional id (``<app id>-<slot>``) fences the old producer on the broker as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from processing.models import Deployment, DeploymentInstance, DesiredState, InstanceStatus, Status
from processing.status import record_event


@dataclass(frozen=True)
class Lease:
    deployment_id: int
    slot: int
    epoch: int


def claim(lease: Lease, *, host: str, pid: int, task_id: str) -> bool:
    """Take the slot. False when the epoch is stale or the slot was claimed already (a duplicate
    delivery), or the deployment no longer wants this slot."""
    now = timezone.now()
    claimed = DeploymentInstance.objects.filter(
        deployment_id=lease.deployment_id,
        slot=lease.slot,
        epoch=lease.epoch,
        claimed=False,
        status=InstanceStatus.PENDING,
    ).update(
        claimed=True,
        status=InstanceStatus.STARTING,
        worker_host=host,
        pid=pid,
        task_id=task_id,
        started_at=now,
        heartbeat_at=now,
        exited_at=None,
        partitions=[],
        error="",
    )
    if claimed != 1:
        return False
    record_event(
        lease.deployment_id,
        "instance_claimed",
        f"slot {lease.slot} epoch {lease.epoch} started on {host} pid {pid}",
        {"slot": lease.slot, "epoch": lease.epoch, "host": host, "pid": pid, "task_id": task_id},
    )
    return True


def stop_reason(lease: Lease) -> str | None:
    """Why this instance should stop now, or None to keep running."""
    row = (
        DeploymentInstance.objects.filter(deployment_id=lease.deployment_id, slot=lease.slot)
        .values("epoch", "claimed", "status")
        .first()
    )
    if row is None:
        return "the slot was removed"
    if row["epoch"] != lease.epoch or not row["claimed"]:
        return "the slot was taken over"
    if row["status"] == InstanceStatus.STOPPING:
        return "a stop was requested"
    deployment = (
        Deployment.objects.filter(pk=lease.deployment_id)
        .values("desired_state", "instances", "status")
        .first()
    )
    if deployment is None:
        return "the deployment was deleted"
    if deployment["desired_state"] == DesiredState.STOPPED:
        return "the deployment was stopped"
    if deployment["status"] == Status.FAILED:
        return "the deployment failed"
    if lease.slot >= deployment["instances"]:
        return "the deployment was scaled down"
    return None


def beat(lease: Lease, *, status: str | None, partitions: list | None, now: datetime | None = None) -> bool:
    """Write the heartbeat (and the latest status and partitions). False when the lease is lost."""
    fields: dict = {"heartbeat_at": now or timezone.now()}
    if partitions is not None:
        fields["partitions"] = partitions
    if status is not None:
        fields["status"] = status
    query = DeploymentInstance.objects.filter(
        deployment_id=lease.deployment_id, slot=lease.slot, epoch=lease.epoch, claimed=True
    )
    if status is not None:
        # A requested stop must not be overwritten by the runtime's "running".
        query = query.exclude(status=InstanceStatus.STOPPING)
        if query.update(**fields) == 1:
            return True
        fields.pop("status")
        query = DeploymentInstance.objects.filter(
            deployment_id=lease.deployment_id, slot=lease.slot, epoch=lease.epoch, claimed=True
        )
    return query.update(**fields) == 1


def release(lease: Lease, *, status: str, error: str = "") -> bool:
    """Give the slot back: stopped (clean) or failed (with the error)."""
    released = DeploymentInstance.objects.filter(
        deployment_id=lease.deployment_id, slot=lease.slot, epoch=lease.epoch, claimed=True
    ).update(claimed=False, status=status, error=error, exited_at=timezone.now(), partitions=[])
    record_event(
        lease.deployment_id,
        "instance_exited",
        f"slot {lease.slot} epoch {lease.epoch} {status}" + (f": {error}" if error else ""),
        {
            "slot": lease.slot,
            "epoch": lease.epoch,
            "status": status,
            "error": error,
            "held_lease": released == 1,
        },
    )
    return released == 1
