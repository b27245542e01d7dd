"""The supervisor: make what runs match what is wanted.

Runs on Celery beat every few seconds (``processing.tasks.reconcile``). One pass reads each
deployment and its instance rows, ``decide()`` turns that snapshot into a list of decisions
(pure, unit-tested without a database), and ``apply()`` executes them as conditional updates,
so two overlapping passes can never launch a slot twice: a launch is an update of the slot's
row from the epoch it saw to the next one, which only one pass wins.

The snapshot, the derived status and the event log live in processing/status.py (instances
refresh their deployment's status from there without importing the supervisor); launched
tasks are queued on commit through processing/queue.py. The names are re-exported here.

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
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from processing import conf
from processing.models import Deployment, DeploymentInstance, DesiredState, InstanceStatus, Status
from processing.queue import queue_instance
from processing.status import (
    DeploymentSnapshot,
    SlotSnapshot,
    aggregate_status,
    is_live,
    record_event,
    refresh_status,
    set_status,
    snapshot,
)

log = logging.getLogger(__name__)


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


def _is_dead(s: SlotSnapshot, limits: Limits) -> str | None:
    """Why a live-looking instance is dead, or None."""
    if not is_live(s):
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
        if not any(is_live(s) for s in slots.values()) and snap.status != Status.STOPPED:
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
        if is_live(s):
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


# --- apply ----------------------------------------------------------------------------------


def launch(deployment_id: int, slot: int, from_epoch: int | None, reason: str) -> int | None:
    """Move the slot to a new epoch and queue its task on commit. Returns the new epoch, or None
    when another pass won the race."""
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
    record_event(
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
                record_event(
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
                record_event(
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
            record_event(did, "failed", action.reason, {"reason": action.reason})
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
