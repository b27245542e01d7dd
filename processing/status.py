"""A deployment's observed status, and the one writer of its event log.

Leaf module: it imports the models and nothing else of processing, so the supervisor
(processing/reconcile.py), the user actions (processing/actions.py), the leases
(processing/leases.py) and the instances (processing/runner.py) all share it without importing
each other.

- ``snapshot()`` reads a deployment and its slots into frozen data; ``aggregate_status()``
  turns that into the deployment's status (pure).
- ``set_status()`` is the conditional status change (checked for one row, logged once);
  ``refresh_status()`` recomputes and sets it now (instances call it on their own status
  changes, so the deployment does not wait for the next reconcile pass to say "running").
- ``record_event()`` writes every ``DeploymentEvent``: users' actions, the supervisor's
  decisions and the instances' claims and exits.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from processing.models import (
    LIVE_INSTANCE_STATUSES,
    Deployment,
    DeploymentEvent,
    DeploymentInstance,
    DesiredState,
    InstanceStatus,
    Status,
)

# --- the event log ----------------------------------------------------------------------------


def record_event(
    deployment_id: int, kind: str, message: str, payload: dict | None = None, *, actor=None
) -> DeploymentEvent:
    """Append to the deployment's event log. ``actor`` is kept when it is a logged-in user;
    None (the supervisor, an instance, an anonymous caller) leaves the event without one."""
    return DeploymentEvent.objects.create(
        deployment_id=deployment_id,
        kind=kind,
        message=message,
        payload=payload or {},
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )


# --- snapshot -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlotSnapshot:
    slot: int
    epoch: int
    status: str
    claimed: bool
    heartbeat_age: float | None  # seconds; None = never
    queued_age: float | None
    process_gone: bool = False  # same host and the pid no longer exists
    error: str = ""


@dataclass(frozen=True)
class DeploymentSnapshot:
    desired_state: str
    status: str
    instances: int
    restart_count: int
    seconds_since_restart: float | None
    slots: tuple[SlotSnapshot, ...] = ()

    def slot(self, number: int) -> SlotSnapshot | None:
        for s in self.slots:
            if s.slot == number:
                return s
        return None


def is_live(s: SlotSnapshot) -> bool:
    return s.claimed and s.status in LIVE_INSTANCE_STATUSES


def _pid_gone(instance: DeploymentInstance, hostname: str) -> bool:
    if not instance.claimed or instance.pid is None or instance.worker_host != hostname:
        return False
    try:
        with open(f"/proc/{instance.pid}/stat", encoding="ascii") as fh:
            # A zombie is dead too: its parent has not reaped it yet.
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def snapshot(deployment: Deployment, now: datetime | None = None) -> DeploymentSnapshot:
    now = now or timezone.now()
    hostname = socket.gethostname()
    return DeploymentSnapshot(
        desired_state=deployment.desired_state,
        status=deployment.status,
        instances=deployment.instances,
        restart_count=deployment.restart_count,
        seconds_since_restart=_age(now, deployment.last_restart_at),
        slots=tuple(
            SlotSnapshot(
                slot=i.slot,
                epoch=i.epoch,
                status=i.status,
                claimed=i.claimed,
                heartbeat_age=_age(now, i.heartbeat_at),
                queued_age=_age(now, i.queued_at),
                process_gone=_pid_gone(i, hostname),
                error=i.error,
            )
            for i in deployment.instance_set.all()
        ),
    )


# --- status -----------------------------------------------------------------------------------


def aggregate_status(snap: DeploymentSnapshot, slots: dict[int, SlotSnapshot] | None = None) -> str:
    """The deployment's observed status from its instances' statuses."""
    slots = slots if slots is not None else {s.slot: s for s in snap.slots}
    if snap.desired_state == DesiredState.STOPPED:
        return Status.STOPPED if not any(is_live(s) for s in slots.values()) else snap.status
    if snap.status == Status.FAILED:
        return Status.FAILED
    wanted = [slots.get(n) for n in range(snap.instances)]
    live = [s for s in wanted if s is not None and is_live(s)]
    surplus_live = any(is_live(s) for n, s in slots.items() if n >= snap.instances)
    statuses = {s.status for s in live}
    if len(live) == snap.instances and statuses == {InstanceStatus.RUNNING} and not surplus_live:
        return Status.RUNNING
    if InstanceStatus.REBALANCING in statuses or (InstanceStatus.RUNNING in statuses) or surplus_live:
        # Some run while others join or leave: partitions are moving.
        return Status.REBALANCING
    if InstanceStatus.RESTORING in statuses:
        return Status.RESTORING
    if not any(s is not None and (s.claimed or s.status != InstanceStatus.PENDING) for s in slots.values()):
        return Status.PENDING
    return Status.STARTING


def set_status(deployment_id: int, old: str, new: str, error: str | None = None) -> bool:
    """Conditional status change, logged once; False when someone else changed it first."""
    if old == new:
        return False
    fields: dict = {"status": new}
    if error is not None:
        fields["last_error"] = error
    changed = Deployment.objects.filter(pk=deployment_id, status=old).update(
        **fields, updated_at=timezone.now()
    )
    if changed == 1:
        record_event(
            deployment_id,
            "status",
            f"{old} → {new}" + (f": {error}" if error else ""),
            {"from": old, "to": new, "error": error},
        )
        return True
    return False


def refresh_status(deployment_id: int) -> str | None:
    """Recompute the observed status now (instances call this on their own status changes, so
    the deployment does not wait for the next reconcile pass to say "running")."""
    deployment = Deployment.objects.filter(pk=deployment_id).first()
    if deployment is None:
        return None
    snap = snapshot(deployment)
    status = aggregate_status(snap)
    set_status(deployment_id, snap.status, status)
    return status
