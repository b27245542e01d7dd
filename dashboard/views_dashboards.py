"""Dashboard and monitor pages. Thin: load what the user may see, render; the page's script
does the rest over the live websocket (static/dashboard/)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from dashboard import actions, selectors


def _deployment_or_404(request: HttpRequest, deployment_id: int):
    deployment = selectors.deployment_for(request.user, deployment_id)
    if deployment is None:
        raise Http404(f"deployment {deployment_id} does not exist or is not yours")
    return deployment


def dashboard_list(request: HttpRequest) -> HttpResponse:
    dashboards: dict[int, list] = {}
    for dashboard in selectors.visible_dashboards(request.user):
        dashboards.setdefault(dashboard.deployment_id, []).append(dashboard)
    rows = [
        {"deployment": d, "dashboards": dashboards.get(d.pk, []), "views": selectors.view_nodes(d)}
        for d in selectors.visible_deployments(request.user)
    ]
    return render(request, "dashboard/list.html", {"deployments": rows})


def deployment_dashboard(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = _deployment_or_404(request, deployment_id)
    return redirect("dashboard-detail", dashboard_id=actions.ensure_default_dashboard(deployment).pk)


def dashboard_detail(request: HttpRequest, dashboard_id: int) -> HttpResponse:
    dashboard = selectors.visible_dashboards(request.user).filter(pk=dashboard_id).first()
    if dashboard is None:
        raise Http404(f"dashboard {dashboard_id} does not exist or is not yours")
    deployment = dashboard.deployment
    config = {
        "dashboard": dashboard.pk,
        "title": dashboard.title,
        "deployment": deployment.pk,
        "app_id": deployment.app_id,
        "views": selectors.view_nodes(deployment),
        "widgets": [
            {"id": w.pk, "kind": w.kind, "view": w.view, "title": w.title or w.view, "options": w.options}
            for w in dashboard.widgets.all()
        ],
        "others": [
            {"id": d.pk, "title": d.title}
            for d in selectors.visible_dashboards(request.user).filter(deployment=deployment)
        ],
    }
    return render(request, "dashboard/dashboard.html", {"dashboard": dashboard, "config": config})


def deployment_monitor(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = _deployment_or_404(request, deployment_id)
    config = {
        "deployment": deployment.pk,
        "app_id": deployment.app_id,
        "instances_wanted": deployment.instances,
        "topology": selectors.topology_outline(deployment),
        "instances": [
            {
                "slot": i.slot,
                "status": i.status,
                "worker_host": i.worker_host,
                "pid": i.pid,
                "partitions": i.partitions,
                "heartbeat_at": i.heartbeat_at.timestamp() if i.heartbeat_at else None,
            }
            for i in deployment.instance_set.all()
        ],
    }
    return render(request, "dashboard/monitor.html", {"deployment": deployment, "config": config})
