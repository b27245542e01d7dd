"""Dashboards: pages of widgets bound to a deployment's view nodes, saved in Django.

Each deployment gets a default dashboard (one table widget per view) when it is created
(dashboard/signals.py); the first visit of a deployment created before this app existed makes
it too.
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
