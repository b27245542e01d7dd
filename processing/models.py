"""Deployments: a topology version running on Celery workers against Kafka.

A ``Deployment`` says what should run (version, application id, instances, guarantee, error
policy, desired state) and what is observed (status, last error). Each instance slot has one
``DeploymentInstance`` row holding the slot's *lease*: the ``epoch`` grows every time the
reconciler launches a task for the slot, and a task only runs while the epoch it was started
with is still the slot's epoch (see processing/leases.py). ``DeploymentEvent`` is the audit log.

Writes go through four modules, and no other writes these tables:

- processing/actions.py: what users ask for (deploy, start, stop, restart, scale, upgrade);
- processing/reconcile.py: the supervisor (launch and cancel slots, mark crashes, fail);
- processing/leases.py: an instance's own slot row (claim, heartbeat, release);
- processing/status.py: the deployment's observed status and every ``DeploymentEvent``.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from topology.compiler import naming

# Instances beyond the partitions of the source topics sit idle; beyond this they are a mistake.
MAX_INSTANCES = 32


def validate_app_id(value: str) -> None:
    if not naming.is_valid_app_id(value):
        raise ValidationError(
            "application id must be 1-100 characters of letters, digits, '.', '_' or '-' "
            "(it names the consumer group and every internal topic)",
            code="invalid_app_id",
        )


def derive_app_id(topology_name: str) -> str:
    """``<slug of the topology name>-<6 hex>``: readable, and unique enough that two
    deployments of one topology never share state or offsets by accident."""
    base = slugify(topology_name)[:80].strip("-_.") or "topology"
    return f"{base}-{secrets.token_hex(3)}"


class Guarantee(models.TextChoices):
    AT_LEAST_ONCE = "at_least_once", "at least once"
    EXACTLY_ONCE = "exactly_once", "exactly once"


class ErrorPolicy(models.TextChoices):
    DLQ = "dlq", "dead-letter topic"
    SKIP = "skip", "skip and count"
    FAIL = "fail", "fail"


class DesiredState(models.TextChoices):
    RUNNING = "running", "running"
    STOPPED = "stopped", "stopped"


class Status(models.TextChoices):
    PENDING = "pending", "pending"
    STARTING = "starting", "starting"
    RESTORING = "restoring", "restoring"
    RUNNING = "running", "running"
    REBALANCING = "rebalancing", "rebalancing"
    FAILED = "failed", "failed"
    STOPPED = "stopped", "stopped"


class Deployment(models.Model):
    version = models.ForeignKey(
        "topology.TopologyVersion", on_delete=models.PROTECT, related_name="deployments"
    )
    app_id = models.CharField(
        "application id",
        max_length=100,
        unique=True,
        validators=[validate_app_id],
        help_text="Identity of state and offsets: the consumer group and the prefix of every internal topic.",
    )
    instances = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(MAX_INSTANCES)]
    )
    guarantee = models.CharField(max_length=16, choices=Guarantee.choices, default=Guarantee.AT_LEAST_ONCE)
    error_policy = models.CharField(max_length=8, choices=ErrorPolicy.choices, default=ErrorPolicy.FAIL)
    desired_state = models.CharField(max_length=8, choices=DesiredState.choices, default=DesiredState.RUNNING)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True)
    last_error = models.TextField(blank=True, default="")
    # Crashes since the deployment last ran steadily; past settings.WEIR_MAX_RESTARTS it fails.
    restart_count = models.PositiveIntegerField(default=0)
    last_restart_at = models.DateTimeField(null=True, blank=True)
    # Internal topics of application ids this deployment left behind on a new-identity upgrade.
    retired_topics = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.app_id

    @property
    def topology(self):
        return self.version.topology


class InstanceStatus(models.TextChoices):
    PENDING = "pending", "pending"  # task queued, not yet claimed by a worker
    STARTING = "starting", "starting"
    RESTORING = "restoring", "restoring"
    RUNNING = "running", "running"
    REBALANCING = "rebalancing", "rebalancing"
    STOPPING = "stopping", "stopping"
    STOPPED = "stopped", "stopped"
    FAILED = "failed", "failed"
    CRASHED = "crashed", "crashed"  # stopped heartbeating or its process is gone


LIVE_INSTANCE_STATUSES = (
    InstanceStatus.STARTING,
    InstanceStatus.RESTORING,
    InstanceStatus.RUNNING,
    InstanceStatus.REBALANCING,
    InstanceStatus.STOPPING,
)


class DeploymentInstance(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="instance_set")
    slot = models.PositiveSmallIntegerField()
    epoch = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=12, choices=InstanceStatus.choices, default=InstanceStatus.PENDING)
    # Set when a task claims the lease; cleared when the slot is handed to a new epoch.
    claimed = models.BooleanField(default=False)
    worker_host = models.CharField(max_length=255, blank=True, default="")
    pid = models.PositiveIntegerField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True, default="")
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    exited_at = models.DateTimeField(null=True, blank=True)
    partitions = models.JSONField(default=list, blank=True)  # [[topic, partition], ...]
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["deployment_id", "slot"]
        constraints = [
            models.UniqueConstraint(fields=["deployment", "slot"], name="one_instance_row_per_slot")
        ]

    def __str__(self) -> str:
        return f"{self.deployment.app_id}#{self.slot}@{self.epoch}"

    @property
    def is_live(self) -> bool:
        return self.claimed and self.status in LIVE_INSTANCE_STATUSES


class DeploymentEvent(models.Model):
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "deploy", "start", "stop", "scale", "upgrade", "status", "instance_claimed", "instance_exited",
    # "instance_restart", "failed", ... ; the actor is null for the supervisor.
    kind = models.CharField(max_length=32)
    message = models.TextField(blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.kind}: {self.message}"
