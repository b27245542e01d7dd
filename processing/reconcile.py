"""The supervisor: make what runs match what is wanted.

Runs on Celery beat every few seconds (``processing.tasks.reconcile``). One pass reads each
deployment and its instance rows, ``decide()`` turns that snapshot into a list of decisions
(pure, unit-tested without a database), and ``apply()`` executes them as conditional updates,
so two overlapping passes can never launch a slot twice: a launch is an update of the slot's
row from the epoch it saw to the next one, which only one pass wins.

Rules
-----
- A slot below ``instances`` with no live instance is launched (new epoch, task queued on
  commit). A slot whose last instance crashed or failed is relaunched after a backoff, and
  counts as a restart; past ``WEIR_MAX_RESTARTS`` restarts without a steady period the
  deployment fails with the last error.
- A live instance whose heartbeat is older than ``WEIR_HEARTBEAT_TIMEOUT_SECONDS``, or whose
  process is known to be gone, is marked crashed; only then may its slot get a new epoch, so
  two instances never hold one slot. (A stalled process that wakes up sees the new epoch and
  exits; under exactly-once the new instance's transactional id has fenced it already.)
- Instances at or above ``instances`` (scale down) and all instances of a stopped deployment
  stop themselves: their stop flag reads the deployment. Queued, unclaimed tasks for them are
  cancelled by moving the slot's epoch.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from processing import conf
from processing.models import (
    LIVE_INSTANCE_STATUSES,
    Deployment,
    DeploymentEvent,
    DeploymentInstance,
    DesiredState,
    InstanceStatus,
    Status,
)

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class Limits:
    heartbeat_timeout: float = 10.0
    max_restarts: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    steady_seconds: float = 60.0
    pending_timeout: float = 120.0

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(
            heartbeat_timeout=conf.get("WEIR_HEARTBEAT_TIMEOUT_SECONDS"),
            max_restarts=int(conf.get("WEIR_MAX_RESTARTS")),
            backoff_base=conf.get("WEIR_RESTART_BACKOFF_SECONDS"),
            backoff_max=conf.get("WEIR_RESTART_BACKOFF_MAX_SECONDS"),
            steady_seconds=conf.get("WEIR_STEADY_SECONDS"),
            pending_timeout=conf.get("WEIR_PENDING_TIMEOUT_SECONDS"),
        )

    def backoff(self, restart_number: int) -> float:
        if restart_number <= 0:
            return 0.0
        return min(self.backoff_base * 2 ** (restart_number - 1), self.backoff_max)


# --- decisions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Launch:
    """Give the slot a new epoch and queue a task for it."""

    slot: int
    from_epoch: int | None  # None: the slot has no row yet
    reason: str  # "missing" | "restart" | "requeue"
    counts_as_restart: bool = False


@dataclass(frozen=True)
class MarkCrashed:
    slot: int
    epoch: int
    reason: str


@dataclass(frozen=True)
class Cancel:
    """Move a queued, unclaimed slot to a new epoch without launching (its task will exit)."""

    slot: int
    epoch: int


@dataclass(frozen=True)
class Fail:
    reason: str


@dataclass(frozen=True)
class ResetRestarts:
    pass


@dataclass(frozen=True)
class SetStatus:
    status: str


@dataclass
class Decisions:
    actions: list = field(default_factory=list)

    def add(self, action) -> None:
        self.actions.append(action)

    def of(self, kind: type) -> list:
        return [a for a in self.actions if isinstance(a, kind)]


def _is_live(s: SlotSnapshot) -> bool:
    return s.claimed and s.status in LIVE_INSTANCE_STATUSES


def _is_dead(s: SlotSnapshot, limits: Limits) -> str | None:
    """Why a live-looking instance is dead, or None."""
    if not _is_live(s):
        return None
    if s.process_gone:
        return "its worker process is gone"
    if s.heartbeat_age is None or s.heartbeat_age > limits.heartbeat_timeout:
        age = "never" if s.heartbeat_age is None else f"{s.heartbeat_age:.0f} s ago"
        return f"no heartbeat for over {limits.heartbeat_timeout:.0f} s (last: {age})"
    return None


def decide(snap: DeploymentSnapshot, limits: Limits) -> Decisions:
    out = Decisions()
    # After crash detection, slots are what they will be once MarkCrashed is applied.
    slots: dict[int, SlotSnapshot] = {}
    for s in snap.slots:
        reason = _is_dead(s, limits)
        if reason:
            out.add(MarkCrashed(s.slot, s.epoch, reason))
            s = SlotSnapshot(
                s.slot,
                s.epoch,
                InstanceStatus.CRASHED,
                False,
                s.heartbeat_age,
                s.queued_age,
                error=s.error or f"instance crashed: {reason}",
            )
        slots[s.slot] = s

    def cancel_queued(s: SlotSnapshot) -> None:
        if not s.claimed and s.status == InstanceStatus.PENDING:
            out.add(Cancel(s.slot, s.epoch))

    if snap.desired_state == DesiredState.STOPPED:
        for s in slots.values():
            cancel_queued(s)
        if not any(_is_live(s) for s in slots.values()) and snap.status != Status.STOPPED:
            out.add(SetStatus(Status.STOPPED))
        return out

    if snap.status == Status.FAILED:
        # Terminal until someone starts or restarts it; surplus queued tasks still go.
        for s in slots.values():
            cancel_queued(s)
        return out

    for number, s in slots.items():
        if number >= snap.instances:
            cancel_queued(s)

    restarts = snap.restart_count
    crashed_slots = []
    for number in range(snap.instances):
        s = slots.get(number)
        if s is None:
            out.add(Launch(number, None, "missing"))
            continue
        if _is_live(s):
            continue
        if s.status == InstanceStatus.PENDING:
            if s.queued_age is not None and s.queued_age > limits.pending_timeout:
                out.add(Launch(number, s.epoch, "requeue"))
            continue
        if s.status in (InstanceStatus.CRASHED, InstanceStatus.FAILED):
            crashed_slots.append(s)
            continue
        # stopped (restart, start after stop, scale back up): launch again, no penalty
        out.add(Launch(number, s.epoch, "missing"))

    if crashed_slots:
        # One restart per pass per deployment keeps the count meaning "crash loops".
        if restarts >= limits.max_restarts:
            last = crashed_slots[0].error or "instance crashed"
            out.add(Fail(f"gave up after {restarts} restarts: {last}"))
            return out
        wait = limits.backoff(restarts + 1)
        since = snap.seconds_since_restart
        if since is None or since >= wait:
            for s in crashed_slots:
                out.add(Launch(s.slot, s.epoch, "restart", counts_as_restart=True))

    if (
        restarts
        and not crashed_slots
        and snap.seconds_since_restart is not None
        and snap.seconds_since_restart >= limits.steady_seconds
        and all(
            slots.get(n) is not None and slots[n].status == InstanceStatus.RUNNING
            for n in range(snap.instances)
        )
    ):
        out.add(ResetRestarts())

    status = aggregate_status(snap, slots)
    if status != snap.status:
        out.add(SetStatus(status))
    return out


def aggregate_status(snap: DeploymentSnapshot, slots: dict[int, SlotSnapshot] | None = None) -> str:
    """The deployment's observed status from its instances' statuses."""
    slots = slots if slots is not None else {s.slot: s for s in snap.slots}
    if snap.desired_state == DesiredState.STOPPED:
        return Status.STOPPED if not any(_is_live(s) for s in slots.values()) else snap.status
    if snap.status == Status.FAILED:
        return Status.FAILED
    wanted = [slots.get(n) for n in range(snap.instances)]
    live = [s for s in wanted if s is not None and _is_live(s)]
    surplus_live = any(_is_live(s) for n, s in slots.items() if n >= snap.instances)
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


# --- apply ----------------------------------------------------------------------------------


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


def record(deployment_id: int, kind: str, message: str, payload: dict | None = None, actor=None) -> None:
    DeploymentEvent.objects.create(
        deployment_id=deployment_id, kind=kind, message=message, payload=payload or {}, actor=actor
    )


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
        record(
            deployment_id,
            "status",
            f"{old} → {new}" + (f": {error}" if error else ""),
            {"from": old, "to": new, "error": error},
        )
        return True
    return False


def launch(deployment_id: int, slot: int, from_epoch: int | None, reason: str) -> int | None:
    """Move the slot to a new epoch and queue its task on commit. Returns the new epoch, or None
    when another pass won the race."""
    from processing.tasks import queue_instance

    now = timezone.now()
    if from_epoch is None:
        try:
            with transaction.atomic():
                instance = DeploymentInstance.objects.create(
                    deployment_id=deployment_id,
                    slot=slot,
                    epoch=1,
                    status=InstanceStatus.PENDING,
                    queued_at=now,
                )
        except IntegrityError:
            return None
        epoch = instance.epoch
    else:
        epoch = from_epoch + 1
        moved = DeploymentInstance.objects.filter(
            deployment_id=deployment_id, slot=slot, epoch=from_epoch, claimed=False
        ).update(
            epoch=epoch,
            status=InstanceStatus.PENDING,
            queued_at=now,
            heartbeat_at=None,
            pid=None,
            worker_host="",
            task_id="",
            partitions=[],
            error="",
            started_at=None,
            exited_at=None,
        )
        if moved != 1:
            return None
    record(
        deployment_id,
        "instance_launch",
        f"slot {slot} epoch {epoch} queued ({reason})",
        {"slot": slot, "epoch": epoch, "reason": reason},
    )
    queue_instance(deployment_id, slot, epoch)
    return epoch


def apply(deployment: Deployment, decisions: Decisions) -> None:
    did = deployment.pk
    now = timezone.now()
    if any(isinstance(a, Launch) and a.counts_as_restart for a in decisions.actions):
        # One increment per pass, not per slot: a pass restarting two slots is one turn of a crash loop.
        Deployment.objects.filter(pk=did).update(restart_count=F("restart_count") + 1, last_restart_at=now)
        deployment.restart_count += 1
        deployment.last_restart_at = now
    for action in decisions.actions:
        if isinstance(action, MarkCrashed):
            changed = DeploymentInstance.objects.filter(
                deployment_id=did, slot=action.slot, epoch=action.epoch, claimed=True
            ).update(
                claimed=False,
                status=InstanceStatus.CRASHED,
                exited_at=now,
                error=f"instance crashed: {action.reason}",
            )
            if changed:
                record(
                    did,
                    "instance_crashed",
                    f"slot {action.slot} epoch {action.epoch}: {action.reason}",
                    {"slot": action.slot, "epoch": action.epoch, "reason": action.reason},
                )
        elif isinstance(action, Cancel):
            changed = DeploymentInstance.objects.filter(
                deployment_id=did,
                slot=action.slot,
                epoch=action.epoch,
                claimed=False,
                status=InstanceStatus.PENDING,
            ).update(epoch=F("epoch") + 1, status=InstanceStatus.STOPPED, exited_at=now)
            if changed:
                record(
                    did,
                    "instance_cancelled",
                    f"slot {action.slot}: queued task cancelled",
                    {"slot": action.slot, "epoch": action.epoch},
                )
        elif isinstance(action, Launch):
            launch(did, action.slot, action.from_epoch, action.reason)
        elif isinstance(action, Fail):
            Deployment.objects.filter(pk=did).exclude(status=Status.FAILED).update(last_error=action.reason)
            set_status(did, deployment.status, Status.FAILED, error=action.reason)
            record(did, "failed", action.reason, {"reason": action.reason})
        elif isinstance(action, ResetRestarts):
            Deployment.objects.filter(pk=did).update(restart_count=0)
        elif isinstance(action, SetStatus):
            if set_status(did, deployment.status, action.status):
                deployment.status = action.status


def reconcile_deployment(deployment: Deployment, limits: Limits | None = None) -> Decisions:
    limits = limits or Limits.from_settings()
    decisions = decide(snapshot(deployment), limits)
    with transaction.atomic():
        apply(deployment, decisions)
    return decisions


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


def reconcile_all() -> int:
    limits = Limits.from_settings()
    count = 0
    active = Deployment.objects.exclude(desired_state=DesiredState.STOPPED, status=Status.STOPPED)
    for deployment in active.prefetch_related("instance_set"):
        try:
            reconcile_deployment(deployment, limits)
        except Exception:  # one broken deployment must not starve the others
            log.exception("reconcile of deployment %s failed", deployment.pk)
        count += 1
    return count


__all__ = [
    "Cancel",
    "DeploymentSnapshot",
    "Fail",
    "Launch",
    "Limits",
    "MarkCrashed",
    "ResetRestarts",
    "SetStatus",
    "SlotSnapshot",
    "aggregate_status",
    "decide",
    "launch",
    "reconcile_all",
    "reconcile_deployment",
    "refresh_status",
    "set_status",
    "snapshot",
]
