"""Read-side queries shared by the deployment pages, their API and the dashboards."""

from __future__ import annotations

from processing.models import Deployment


def visible_deployments(user):
    """The deployments ``user`` may see: those of the topologies they own; staff see all."""
    deployments = Deployment.objects.select_related("version__topology")
    if user.is_staff:
        return deployments
    return deployments.filter(version__topology__owner=user)
