"""Read-side queries for dashboards and the live layer: who may see which deployment and view.

A user sees a deployment when they own its topology or are staff (``processing.selectors``);
the views of a deployment are the view operators of the stored execution plan of the topology
version it runs (``Plan.views()``), the same plan its instances run.
"""

from __future__ import annotations

from typing import Any

from dashboard.models import Dashboard
from processing.models import Deployment
from processing.selectors import load_plan, visible_deployments


def deployment_for(user, deployment_id: int) -> Deployment | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return visible_deployments(user).filter(pk=deployment_id).first()


def view_nodes(deployment: Deployment) -> list[dict[str, Any]]:
    """[{id, title}] of the deployment's views, in plan order; none when the version has no plan."""
    plan = load_plan(deployment.version)
    if plan is None:
        return []
    return [{"id": view.node_id, "title": view.title or view.node_id} for view in plan.views()]


def topology_outline(deployment: Deployment) -> dict[str, Any]:
    """Nodes and edges for the read-only monitor drawing (no layout logic: the page lays it out)."""
    document = deployment.version.document or {}
    return {
        "nodes": [
            {"id": n["id"], "type": n.get("type"), "title": (n.get("config") or {}).get("title")}
            for n in document.get("nodes", [])
            if "id" in n
        ],
        "edges": [{"source": e.get("source"), "target": e.get("target")} for e in document.get("edges", [])],
    }


def check_view_access(user, deployment_id: Any, view_id: Any) -> str | None:
    """None when the user may watch the view, else the reason to give them."""
    try:
        deployment_id = int(deployment_id)
    except (TypeError, ValueError):
        return "deployment must be an integer id"
    if not isinstance(view_id, str):
        # A list or object here would be unhashable below and crash the consumer.
        return "view must be the id of a view node (a string)"
    deployment = deployment_for(user, deployment_id)
    if deployment is None:
        return f"deployment {deployment_id} does not exist or is not yours"
    if view_id not in {v["id"] for v in view_nodes(deployment)}:
        return f"deployment {deployment_id} has no view node {view_id!r}"
    return None


def check_deployment_access(user, deployment_id: Any) -> str | None:
    try:
        deployment_id = int(deployment_id)
    except (TypeError, ValueError):
        return "deployment must be an integer id"
    if deployment_for(user, deployment_id) is None:
        return f"deployment {deployment_id} does not exist or is not yours"
    return None


def visible_dashboards(user):
    queryset = Dashboard.objects.select_related("deployment__version__topology")
    if user.is_staff:
        return queryset
    return queryset.filter(deployment__version__topology__owner=user)
