"""Dashboards API, mounted at /api/dashboards (session auth + CSRF come from config.api).

Thin views: load what the user may see, validate into a typed model, call one action,
serialise. A widget bound to a view the deployment does not have is a 422 naming the widget.
"""

from __future__ import annotations

from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict

from dashboard import actions, selectors, serving
from dashboard.models import Dashboard

router = Router(tags=["dashboards"])

# The largest id the database can hold: a bigger filter value would overflow SQLite's INTEGER
# (a 500) instead of answering that nothing matches.
MAX_ID = 2**63 - 1


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


class WidgetIn(StrictSchema):
    kind: Literal["table", "line", "bar", "number"]
    view: str = Field(min_length=1, max_length=100)
    title: str = Field("", max_length=200)
    options: dict[str, Any] = Field(default_factory=dict)


class DashboardCreateIn(StrictSchema):
    deployment: int
    title: str = Field(min_length=1, max_length=200)
    widgets: list[WidgetIn] = Field(default_factory=list, max_length=50)


class DashboardUpdateIn(StrictSchema):
    title: str | None = Field(None, min_length=1, max_length=200)
    widgets: list[WidgetIn] | None = Field(None, max_length=50)


class WidgetOut(Schema):
    id: int
    kind: str
    view: str
    title: str
    options: dict[str, Any]
    position: int


class DashboardOut(Schema):
    id: int
    deployment: int
    title: str
    is_default: bool
    widgets: list[WidgetOut]


class ErrorOut(Schema):
    detail: str


def _out(dashboard: Dashboard) -> dict[str, Any]:
    return {
        "id": dashboard.pk,
        "deployment": dashboard.deployment_id,
        "title": dashboard.title,
        "is_default": dashboard.is_default,
        "widgets": [
            {
                "id": w.pk,
                "kind": w.kind,
                "view": w.view,
                "title": w.title,
                "options": w.options,
                "position": w.position,
            }
            for w in dashboard.widgets.all()
        ],
    }


def _check_widgets(deployment, widgets: list[WidgetIn]) -> list[dict[str, Any]]:
    known = {v["id"] for v in selectors.view_nodes(deployment)}
    for index, widget in enumerate(widgets):
        if widget.view not in known:
            raise HttpError(
                422,
                f"widgets[{index}].view: deployment {deployment.pk} has no view node {widget.view!r} "
                f"(views: {', '.join(sorted(known)) or 'none'})",
            )
    return [w.dict() for w in widgets]


def _dashboard_or_404(request: HttpRequest, dashboard_id: int) -> Dashboard:
    dashboard = selectors.visible_dashboards(request.user).filter(pk=dashboard_id).first()
    if dashboard is None:
        raise HttpError(404, f"dashboard {dashboard_id} does not exist or is not yours")
    return dashboard


@router.get("", response=list[DashboardOut])
def list_dashboards(request: HttpRequest, deployment: int | None = Query(None, ge=1, le=MAX_ID)):
    queryset = selectors.visible_dashboards(request.user).prefetch_related("widgets")
    if deployment is not None:
        queryset = queryset.filter(deployment_id=deployment)
    return [_out(d) for d in queryset]


@router.post("", response={201: DashboardOut, 404: ErrorOut, 422: ErrorOut})
def create_dashboard(request: HttpRequest, payload: DashboardCreateIn):
    deployment = selectors.deployment_for(request.user, payload.deployment)
    if deployment is None:
        raise HttpError(404, f"deployment {payload.deployment} does not exist or is not yours")
    widgets = _check_widgets(deployment, payload.widgets)
    return 201, _out(actions.create_dashboard(deployment, payload.title, request.user, widgets))


@router.get("/{dashboard_id}", response={200: DashboardOut, 404: ErrorOut})
def get_dashboard(request: HttpRequest, dashboard_id: int):
    return _out(_dashboard_or_404(request, dashboard_id))


@router.put("/{dashboard_id}", response={200: DashboardOut, 404: ErrorOut, 422: ErrorOut})
def update_dashboard(request: HttpRequest, dashboard_id: int, payload: DashboardUpdateIn):
    dashboard = _dashboard_or_404(request, dashboard_id)
    widgets = None if payload.widgets is None else _check_widgets(dashboard.deployment, payload.widgets)
    return _out(actions.update_dashboard(dashboard, payload.title, widgets))


@router.delete("/{dashboard_id}", response={204: None, 404: ErrorOut, 409: ErrorOut})
def delete_dashboard(request: HttpRequest, dashboard_id: int):
    dashboard = _dashboard_or_404(request, dashboard_id)
    if dashboard.is_default:
        raise HttpError(409, "the default dashboard of a deployment cannot be deleted")
    actions.delete_dashboard(dashboard)
    return 204, None


@router.get("/snapshot/{deployment_id}/{view_id}", response={404: ErrorOut})
def view_snapshot(request: HttpRequest, deployment_id: int, view_id: str):
    """The view's serving copy with its seq: the same frame the websocket sends."""
    reason = selectors.check_view_access(request.user, deployment_id, view_id)
    if reason is not None:
        raise HttpError(404, reason)
    return HttpResponse(serving.snapshot_frame_sync(deployment_id, view_id), content_type="application/json")
