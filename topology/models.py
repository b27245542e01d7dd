"""Stored topologies and their immutable versions.

A ``Topology`` is the editable thing users see in the list; each save that changes the plan
adds a ``TopologyVersion``, which deployments point at. Versions never change after they are
written, so a running deployment always knows exactly which document and plan it runs.
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

TOPOLOGY_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,99}$"

# Topology names become part of application ids (consumer groups, internal topic names),
# so they stay within characters Kafka accepts in topic names and that read well in URLs.
validate_topology_name = RegexValidator(
    TOPOLOGY_NAME_PATTERN,
    "Use 1-100 lowercase letters, digits, '-' or '_', starting with a letter or digit.",
)


class TopologyQuerySet(models.QuerySet):
    def visible_to(self, user) -> "TopologyQuerySet":
        """Owners see their own topologies; staff see every topology."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(owner=user)


class Topology(models.Model):
    name = models.CharField(max_length=100, unique=True, validators=[validate_topology_name])
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="topologies")
    description = models.TextField(blank=True, default="")
    # The latest document as the editor last saved it, layout included. Layout-only saves
    # land here without making a new version, so the editor reopens with moved nodes.
    draft_document = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = TopologyQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "topologies"

    def __str__(self) -> str:
        return self.name

    def can_be_edited_by(self, user) -> bool:
        return bool(user.is_authenticated and (user.is_staff or self.owner_id == user.pk))

    def latest_version(self) -> "TopologyVersion | None":
        return self.versions.order_by("-number").first()


class ImmutableVersionError(Exception):
    """Raised when code tries to change a stored TopologyVersion."""


class TopologyVersion(models.Model):
    topology = models.ForeignKey(Topology, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    plan = models.JSONField()
    plan_hash = models.CharField(max_length=64, db_index=True)
    message = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["topology", "number"]
        constraints = [
            models.UniqueConstraint(fields=["topology", "number"], name="topology_version_number_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.topology.name} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableVersionError(f"TopologyVersion {self} is immutable; save a new version instead.")
        super().save(*args, **kwargs)


class ApiKeyQuerySet(models.QuerySet):
    def active(self) -> "ApiKeyQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A key for scripts and ksqlDB clients: HTTP Basic with ``key_id`` as user, the secret as password.

    Only a SHA-256 digest of the secret is stored (topology/apikeys.py says why that is enough
    for a random secret); the secret itself is shown once, when the key is made. Revoking sets
    ``revoked_at``; a revoked key never authenticates again and is kept for the record.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, default="")
    key_id = models.CharField(max_length=32, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.key_id} ({self.name})" if self.name else self.key_id

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
