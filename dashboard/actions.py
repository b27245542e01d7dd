"""Writes to dashboards (see ../shared/CONVENTIONS.md: one function per observable write)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from dashboard import selectors
from dashboard.models import Dashboard, Widget, WidgetKind


def ensure_default_dashboard(deployment) -> Dashboard:
    """The deployment's default dashboard, with a table widget for every view it lacks."""
    dashboard = Dashboard.objects.filter(deployment=deployment, is_default=True).first()
    if dashboard is None:
        try:
            with transaction.atomic():
                dashboard = Dashboard.objects.create(
                    deployment=deployment,
                    title=f"{deployment.app_id} — live views",
                    is_default=True,
                    created_by=deployment.created_by,
                )
        except IntegrityError:  # created concurrently by the signal or another request
            dashboard = Dashboard.objects.get(deployment=deployment, is_default=True)
    present = set(dashboard.widgets.values_list("view", flat=True))
    position = dashboard.widgets.count()
    for view in selectors.view_nodes(deployment):
        if view["id"] not in present:
            Widget.objects.create(
                dashboard=dashboard,
                kind=WidgetKind.TABLE,
                view=view["id"],
                title=view["title"],
                position=position,
            )
            position += 1
    return dashboard


def create_dashboard(deployment, title: str, user, widgets: list[dict[str, Any]]) -> Dashboard:
    with transaction.atomic():
        dashboard = Dashboard.objects.create(deployment=deployment, title=title, created_by=user)
        replace_widgets(dashboard, widgets)
    return dashboard


def update_dashboard(
    dashboard: Dashboard, title: str | None, widgets: list[dict[str, Any]] | None
) -> Dashboard:
    with transaction.atomic():
        if title is not None:
            dashboard.title = title
            dashboard.save(update_fields=["title", "updated_at"])
        if widgets is not None:
            replace_widgets(dashboard, widgets)
    return dashboard


def replace_widgets(dashboard: Dashboard, widgets: list[dict[str, Any]]) -> None:
    dashboard.widgets.all().delete()
    Widget.objects.bulk_create(
        Widget(
            dashboard=dashboard,
            kind=w["kind"],
            view=w["view"],
            title=w.get("title") or "",
            options=w.get("options") or {},
            position=index,
        )
        for index, w in enumerate(widgets)
    )


def delete_dashboard(dashboard: Dashboard) -> None:
    dashboard.delete()
