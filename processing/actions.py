"""Every write a user can make to a deployment. Each function writes, then notifies.

Status changes are conditional updates checked for one row (processing/status.py, which also
writes the event log); tasks are queued on commit, by name (processing/queue.py). Views (API,
admin) authenticate, validate input into arguments, call one of these and serialise the
result; they hold no logic of their own. An action does no broker I/O: what it needs from Kafka
(source partition counts for a scale's warning) the caller reads first, through
processing/selectors.py, and passes in.

Bad input raises ``ActionError`` with the field it concerns; callers turn it into a 400/409.
"""

from __future__ import annotations

import hashlib
import logging

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from processing.models import (
    LIVE_INSTANCE_STATUSES,
    MAX_INSTANCES,
    Deployment,
    DeploymentInstance,
    DesiredState,
    ErrorPolicy,
    Guarantee,
    InstanceStatus,
    Status,
    derive_app_id,
)
from processing.queue import queue_reconcile
from processing.selectors import idle_instances_warning, load_plan
from processing.status import record_event, set_status
from topology.compiler import naming
from topology.compiler.binding import bind

log = logging.getLogger(__name__)


class ActionError(Exception):
    """A request that cannot be carried out, with the field it concerns."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid", status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code
        self.status = status

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "field": self.field}


class UpgradeNeedsConfirmation(ActionError):
    """The new version cannot keep the deployment's state and offsets; says what would happen."""

    def __init__(self, *, verdict: str, reasons: list[str], consequences: dict) -> None:
        self.verdict = verdict
        self.reasons = reasons
        self.consequences = consequences
        message = (
            f"This upgrade is '{verdict}': "
            + "; ".join(reasons or ["the new plan's state is not compatible with the old one"])
            + ". "
            + consequences.get("summary", "")
            + " Repeat with confirm=true to go ahead."
        )
        super().__init__(message, field="confirm", code="confirmation_required", status=409)

    def to_dict(self) -> dict:
        return {
            **super().to_dict(),
            "verdict": self.verdict,
            "reasons": self.reasons,
            "consequences": self.consequences,
        }


def _event(deployment: Deployment, kind: str, message: str, actor=None, **payload) -> None:
    record_event(deployment.pk, kind, message, payload, actor=actor)


def _check_choice(value: str, choices, name: str) -> None:
    allowed = [c.value for c in choices]
    if value not in allowed:
        raise ActionError(f"{name} must be one of {', '.join(allowed)}, not {value!r}", field=name)


def _check_instances(instances) -> int:
    if isinstance(instances, bool) or not isinstance(instances, int) or not 1 <= instances <= MAX_INSTANCES:
        raise ActionError(f"instances must be a whole number from 1 to {MAX_INSTANCES}", field="instances")
    return instances


def internal_topics(plan, app_id: str) -> list[str]:
    """Topics that belong to one application id: changelogs, repartitions, the dead-letter topic."""
    return sorted(topic.name for topic in bind(plan, app_id).internal_topics)


# --- deploy ---------------------------------------------------------------------------------


def deploy(
    version,
    *,
    actor=None,
    instances: int = 1,
    guarantee: str = Guarantee.AT_LEAST_ONCE,
    error_policy: str = ErrorPolicy.FAIL,
    app_id: str | None = None,
) -> Deployment:
    _check_instances(instances)
    _check_choice(guarantee, Guarantee, "guarantee")
    _check_choice(error_policy, ErrorPolicy, "error_policy")
    if load_plan(version) is None:
        raise ActionError("this topology version has no execution plan (it did not compile)", field="version")
    if app_id is not None and not naming.is_valid_app_id(app_id):
        raise ActionError(
            "application id must be 1-100 characters of letters, digits, '.', '_' or '-'", field="app_id"
        )
    app_id = app_id or derive_app_id(version.topology.name)
    try:
        with transaction.atomic():
            deployment = Deployment.objects.create(
                version=version,
                app_id=app_id,
                instances=instances,
                guarantee=guarantee,
                error_policy=error_policy,
                desired_state=DesiredState.RUNNING,
                status=Status.PENDING,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        raise ActionError(
            f"application id {app_id!r} is already used by another deployment",
            field="app_id",
            code="app_id_taken",
        ) from None
    _event(
        deployment,
        "deploy",
        f"deployed version {version.pk} as {app_id} with {instances} instance(s), "
        f"{guarantee}, error policy {error_policy}",
        actor,
        version=version.pk,
        app_id=app_id,
        instances=instances,
        guarantee=guarantee,
        error_policy=error_policy,
    )
    queue_reconcile()
    return deployment


# --- start / stop / restart -------------------------------------------------------------------


def start(deployment: Deployment, *, actor=None) -> Deployment:
    """Run a stopped deployment, or retry a failed one from a clean crash count."""
    changed = (
        Deployment.objects.filter(pk=deployment.pk)
        .exclude(
            desired_state=DesiredState.RUNNING, status__in=[s for s in Status.values if s != Status.FAILED]
        )
        .update(
            desired_state=DesiredState.RUNNING,
            restart_count=0,
            last_restart_at=None,
            updated_at=timezone.now(),
        )
    )
    if changed != 1:
        raise ActionError(
            "the deployment is already running", field="desired_state", code="already_running", status=409
        )
    deployment.refresh_from_db()
    _forgive_crashed_slots(deployment)
    if deployment.status in (Status.FAILED, Status.STOPPED):
        set_status(deployment.pk, deployment.status, Status.STARTING, error="")
    _event(deployment, "start", "start requested", actor)
    queue_reconcile()
    deployment.refresh_from_db()
    return deployment


def stop(deployment: Deployment, *, actor=None) -> Deployment:
    changed = Deployment.objects.filter(pk=deployment.pk, desired_state=DesiredState.RUNNING).update(
        desired_state=DesiredState.STOPPED, updated_at=timezone.now()
    )
    if changed != 1:
        raise ActionError(
            "the deployment is already stopped", field="desired_state", code="already_stopped", status=409
        )
    _event(deployment, "stop", "stop requested: instances finish their checkpoint and leave the group", actor)
    queue_reconcile()
    deployment.refresh_from_db()
    return deployment


def _forgive_crashed_slots(deployment: Deployment) -> None:
    """A user's start/restart relaunches crashed slots at once, without counting a restart."""
    DeploymentInstance.objects.filter(
        deployment=deployment, claimed=False, status__in=[InstanceStatus.FAILED, InstanceStatus.CRASHED]
    ).update(status=InstanceStatus.STOPPED)


def _stop_live_instances(deployment: Deployment) -> int:
    """Ask each live instance to stop; the reconciler relaunches the slots when they have
    exited, so a slot never has two instances."""
    return (
        DeploymentInstance.objects.filter(
            deployment=deployment, claimed=True, status__in=LIVE_INSTANCE_STATUSES
        )
        .exclude(status=InstanceStatus.STOPPING)
        .update(status=InstanceStatus.STOPPING)
    )


def restart(deployment: Deployment, *, actor=None) -> Deployment:
    Deployment.objects.filter(pk=deployment.pk).update(
        desired_state=DesiredState.RUNNING, restart_count=0, last_restart_at=None, updated_at=timezone.now()
    )
    deployment.refresh_from_db()
    _forgive_crashed_slots(deployment)
    if deployment.status in (Status.FAILED, Status.STOPPED):
        set_status(deployment.pk, deployment.status, Status.STARTING, error="")
    stopping = _stop_live_instances(deployment)
    _event(deployment, "restart", f"restart requested ({stopping} live instance(s) asked to stop)", actor)
    queue_reconcile()
    deployment.refresh_from_db()
    return deployment


# --- scale ------------------------------------------------------------------------------------


def scale(
    deployment: Deployment, instances, *, actor=None, source_partitions: dict[str, int] | None = None
) -> Deployment:
    """Change the wanted instances. ``source_partitions`` (topic -> partitions, as
    ``selectors.parallelism`` reads them) lets the event warn about instances that will sit
    idle; the action itself asks Kafka nothing."""
    _check_instances(instances)
    old = deployment.instances
    changed = Deployment.objects.filter(pk=deployment.pk, instances=old).update(
        instances=instances, updated_at=timezone.now()
    )
    if changed != 1:
        raise ActionError(
            "the deployment changed meanwhile; reload and retry",
            field="instances",
            code="conflict",
            status=409,
        )
    deployment.refresh_from_db()
    warning = idle_instances_warning(instances, source_partitions or {})
    _event(
        deployment,
        "scale",
        f"scaled from {old} to {instances} instance(s)" + (f". Warning: {warning}" if warning else ""),
        actor,
        old=old,
        new=instances,
        warning=warning,
    )
    queue_reconcile()
    return deployment


# --- upgrade ----------------------------------------------------------------------------------


def upgrade(deployment: Deployment, new_version, *, actor=None, confirm: bool = False) -> Deployment:
    if new_version.topology_id != deployment.version.topology_id:
        raise ActionError("the new version belongs to another topology", field="version")
    if new_version.pk == deployment.version_id:
        raise ActionError("the deployment already runs this version", field="version", code="same_version")
    old_plan, new_plan = load_plan(deployment.version), load_plan(new_version)
    if new_plan is None:
        raise ActionError("the new version has no execution plan (it did not compile)", field="version")
    from topology.compiler import compare_plans

    compatibility = compare_plans(old_plan, new_plan)
    verdict = compatibility.verdict
    reasons = list(compatibility.reasons)
    old_app_id = deployment.app_id
    if verdict == "compatible":
        changed = Deployment.objects.filter(pk=deployment.pk, version_id=deployment.version_id).update(
            version=new_version, updated_at=timezone.now()
        )
        if changed != 1:
            raise ActionError(
                "the deployment changed meanwhile; reload and retry",
                field="version",
                code="conflict",
                status=409,
            )
        deployment.refresh_from_db()
        _stop_live_instances(deployment)
        _event(
            deployment,
            "upgrade",
            f"upgraded in place to version {new_version.pk}: application id, state and offsets kept",
            actor,
            verdict=verdict,
            reasons=reasons,
            version=new_version.pk,
            app_id=old_app_id,
        )
        queue_reconcile()
        return deployment

    # Deterministic, so the id the refusal announces is the one a confirmed upgrade uses.
    digest = hashlib.sha256(f"{old_app_id}:{new_version.pk}".encode()).hexdigest()[:6]
    new_app_id = f"{slugify(new_version.topology.name)[:80] or 'topology'}-v{new_version.number}-{digest}"
    old_topics = internal_topics(old_plan, old_app_id)
    resets = sorted(
        {
            f"{t}: {op.offset_reset}"
            for op in new_plan.operators()
            if getattr(op, "kind", "") == "source"
            for t in getattr(op, "topics", ())
        }
    )
    consequences = {
        "new_app_id": new_app_id,
        "old_app_id": old_app_id,
        "new_consumer_group": bind(new_plan, new_app_id).consumer_group,
        "offset_reset": resets,
        "old_internal_topics": old_topics,
        "summary": (
            f"It runs under a new application id ({new_app_id}): a new consumer group and new internal topics, "
            f"so processing restarts from the configured offset reset ({', '.join(resets) or 'earliest'}) and "
            f"all state is rebuilt from there. The old internal topics ({', '.join(old_topics)}) are no longer "
            "used and are listed for cleanup."
        ),
    }
    if not confirm:
        raise UpgradeNeedsConfirmation(verdict=verdict, reasons=reasons, consequences=consequences)
    changed = Deployment.objects.filter(
        pk=deployment.pk, version_id=deployment.version_id, app_id=old_app_id
    ).update(
        version=new_version,
        app_id=new_app_id,
        retired_topics=sorted(set(deployment.retired_topics) | set(old_topics)),
        restart_count=0,
        last_restart_at=None,
        updated_at=timezone.now(),
    )
    if changed != 1:
        raise ActionError(
            "the deployment changed meanwhile; reload and retry", field="version", code="conflict", status=409
        )
    deployment.refresh_from_db()
    _stop_live_instances(deployment)
    _event(
        deployment,
        "upgrade",
        f"upgraded to version {new_version.pk} under a new identity: " + consequences["summary"],
        actor,
        verdict=verdict,
        reasons=reasons,
        version=new_version.pk,
        **consequences,
    )
    queue_reconcile()
    return deployment
