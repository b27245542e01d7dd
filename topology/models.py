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


# --- the SQL catalog (ksqlDB's metastore) -----------------------------------------------------


class SqlSourceKind(models.TextChoices):
    STREAM = "STREAM", "stream"
    TABLE = "TABLE", "table"


class SqlQueryQuerySet(models.QuerySet):
    def visible_to(self, user) -> "SqlQueryQuerySet":
        """A query is seen by whoever sees its topology (``TopologyQuerySet.visible_to``)."""
        return self.filter(topology__in=Topology.objects.visible_to(user))

    def active(self) -> "SqlQueryQuerySet":
        return self.filter(terminated_at__isnull=True)


class SqlSourceQuerySet(models.QuerySet):
    def visible_to(self, user) -> "SqlSourceQuerySet":
        """A source written by a query is seen as its query's topology is; any other source by
        its owner and staff (the same rule as topologies)."""
        if not user.is_authenticated:
            return self.none()
        if user.is_staff:
            return self
        return self.filter(
            models.Q(query__isnull=True, owner=user)
            | models.Q(query__topology__in=Topology.objects.visible_to(user))
        )


class SqlSource(models.Model):
    """A stream or table of the SQL catalog: ``definition`` is ``SourceDef.to_dict()``.

    Names are one namespace for everyone, as in ksqlDB (a name taken by a source you do not
    see is still taken)."""

    name = models.CharField(max_length=255, unique=True)
    kind = models.CharField(max_length=6, choices=SqlSourceKind.choices)
    definition = models.JSONField()
    statement = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sql_sources")
    # The persistent query (CREATE ... AS SELECT) that writes it; None for a declared source.
    query = models.ForeignKey("SqlQuery", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SqlSourceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name = "SQL stream or table"
        verbose_name_plural = "SQL streams and tables"

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


class SqlQuery(models.Model):
    """A persistent query: one topology (one document per query) whose deployment runs it.

    ``query_id`` is ksqlDB's (``CSAS_<SINK>_<n>``, ``CTAS_<SINK>_<n>``, ``INSERTQUERY_<n>``);
    ``reads`` the catalog names it reads, in FROM/JOIN order. A terminated query is kept for
    the record with ``terminated_at`` set, and no longer counts as reading or writing."""

    query_id = models.CharField(max_length=255, unique=True)
    statement = models.TextField()
    topology = models.OneToOneField(Topology, on_delete=models.PROTECT, related_name="sql_query")
    sink = models.ForeignKey(SqlSource, null=True, on_delete=models.SET_NULL, related_name="writers")
    sink_name = models.CharField(max_length=255)
    reads = models.JSONField(default=list)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="sql_queries")
    created_at = models.DateTimeField(auto_now_add=True)
    terminated_at = models.DateTimeField(null=True, blank=True)

    objects = SqlQueryQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "SQL persistent query"
        verbose_name_plural = "SQL persistent queries"

    def __str__(self) -> str:
        return self.query_id


class SqlCommand(models.Model):
    """A command the SQL engine ran (ksqlDB's command topic entry): its id answers
    ``GET /ksqldb/status/{commandId}``; its pk is the ``commandSequenceNumber``."""

    command_id = models.CharField(max_length=512, db_index=True)
    status = models.CharField(max_length=16, default="SUCCESS")
    message = models.TextField(blank=True, default="")
    statement = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "SQL command"

    def __str__(self) -> str:
        return self.command_id
