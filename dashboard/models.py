"""Dashboards: pages of widgets bound to a deployment's view nodes, saved in Django.

Each deployment gets a default dashboard (one table widget per view) when it is created; the
first visit of a deployment created before this app existed makes it too.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Dashboard(models.Model):
    deployment = models.ForeignKey(
        "processing.Deployment", on_delete=models.CASCADE, related_name="dashboards"
    )
    title = models.CharField(max_length=200)
    is_default = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["deployment_id", "-is_default", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["deployment"],
                condition=Q(is_default=True),
                name="one_default_dashboard_per_deployment",
            )
        ]

    def __str__(self) -> str:
        return self.title


class WidgetKind(models.TextChoices):
    TABLE = "table", "live table"
    LINE = "line", "line per key over windows"
    BAR = "bar", "top-N bar"
    NUMBER = "number", "single number"


class Widget(models.Model):
    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="widgets")
    kind = models.CharField(max_length=8, choices=WidgetKind.choices, default=WidgetKind.TABLE)
    # The view node id in the deployment's topology version.
    view = models.CharField(max_length=100)
    title = models.CharField(max_length=200, blank=True, default="")
    # Kind-specific settings: {"field": "count", "top_n": 10, "aggregate": "sum", "width": 1|2}.
    options = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["dashboard_id", "position", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of {self.view}"


def _create_default_dashboard(sender, instance, created, raw=False, **kwargs):
    # Fixtures (raw) load dashboards themselves.
    if created and not raw:
        from dashboard.actions import ensure_default_dashboard

        ensure_default_dashboard(instance)


models.signals.post_save.connect(
    _create_default_dashboard, sender="processing.Deployment", dispatch_uid="weir-default-dashboard"
)


def _forget_live_state(sender, instance, **kwargs):
    from dashboard.serving import clear_deployment

    try:
        clear_deployment(instance.pk)
    except Exception:  # Redis down: the keys are only a cache of the runtime's state
        import logging

        logging.getLogger(__name__).warning("could not clear live state of deployment %s", instance.pk)


models.signals.post_delete.connect(
    _forget_live_state, sender="processing.Deployment", dispatch_uid="weir-forget-live-state"
)
