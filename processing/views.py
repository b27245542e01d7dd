"""Deployment pages: the list at /deployments/ and one deployment at /deployments/<id>/.

Thin: the login middleware authenticates, the API's visibility rule selects (owner of the
topology or staff; anything else is a 404, as in the API), the templates render. Every write
goes through the REST API from the page's script, so there is one write path with one set of
checks and refusals.
"""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from processing.api import RECENT_EVENTS, deployment_parallelism, heartbeat_age
from processing.models import LIVE_INSTANCE_STATUSES, InstanceStatus
from processing.selectors import visible_deployments


def _with_instance_counts(deployments):
    return deployments.annotate(
        running_instances=Count(
            "instance_set",
            filter=Q(instance_set__claimed=True, instance_set__status=InstanceStatus.RUNNING),
        ),
        live_instances=Count(
            "instance_set",
            filter=Q(instance_set__claimed=True, instance_set__status__in=LIVE_INSTANCE_STATUSES),
        ),
    )


def deployment_list(request: HttpRequest) -> HttpResponse:
    deployments = _with_instance_counts(visible_deployments(request.user))
    return render(request, "processing/list.html", {"deployments": deployments})


def deployment_detail(request: HttpRequest, deployment_id: int) -> HttpResponse:
    deployment = get_object_or_404(_with_instance_counts(visible_deployments(request.user)), pk=deployment_id)
    instances = list(deployment.instance_set.order_by("slot"))
    for instance in instances:
        instance.heartbeat_age_seconds = heartbeat_age(instance)
    context = {
        "deployment": deployment,
        "instances": instances,
        "parallelism": deployment_parallelism(deployment),
        "events": deployment.events.select_related("actor")[:RECENT_EVENTS],
    }
    return render(request, "processing/detail.html", context)
