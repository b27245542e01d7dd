"""Deployments API, mounted at /api/deployments (session auth + CSRF come from config.api).

Thin views: load what the user may see (owner of the topology, or staff), validate the body
into a typed schema, call one action (processing/actions.py), serialise. Refusals are 4xx
answers ``{"code", "message", "field"}``; an upgrade that needs confirmation answers 409 with
the verdict, the reasons and what would happen.
"""

from __future__ import annotations

import copy
import threading
import time
from functools import wraps
from typing import Any, Literal

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from pydantic import ConfigDict

from processing import actions, selectors
from processing.models import Deployment, DeploymentInstance, ErrorPolicy, Guarantee
from processing.selectors import visible_deployments
from topology.models import Topology, TopologyVersion

router = Router(tags=["deployments"])

RECENT_EVENTS = 50
# The detail page polls every few seconds and each parallelism check is a Kafka metadata
# request (waiting up to selectors.PAGE_METADATA_TIMEOUT_S, 3 s, when Kafka is down). Partition
# counts change only when someone adds partitions, so a check is reused this long; a scale
# changes the key, so its warning is never stale.
PARALLELISM_TTL_S = 30.0
# The largest id the database can hold: a bigger filter value would overflow SQLite's INTEGER
# (a 500) instead of answering that nothing matches.
MAX_ID = 2**63 - 1


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


class DeploymentCreateIn(StrictSchema):
    topology_id: int = Field(description="the topology to deploy")
    version: int | None = Field(None, ge=1, description="version number; the latest when omitted")
    instances: int = Field(1, ge=1, le=32)
    guarantee: Literal["at_least_once", "exactly_once"] = Guarantee.AT_LEAST_ONCE
    error_policy: Literal["dlq", "skip", "fail"] = ErrorPolicy.FAIL
    app_id: str | None = Field(
        None, max_length=100, description="defaults to the topology name + a short suffix"
    )


class ScaleIn(StrictSchema):
    instances: int = Field(ge=1, le=32)


class UpgradeIn(StrictSchema):
    version: int = Field(ge=1, description="version number of the same topology")
    confirm: bool = Field(False, description="required when the upgrade cannot keep state and offsets")


# --- helpers --------------------------------------------------------------------------------


class Refusal(HttpError):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body.get("message", ""))
        self.body = body


def answers_refusals(view):
    """Turn a Refusal into its JSON answer (ninja's own HttpError answer has only "detail")."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except Refusal as exc:
            return JsonResponse(exc.body, status=exc.status_code)

    return wrapper


def _get(request: HttpRequest, deployment_id: int) -> Deployment:
    deployment = visible_deployments(request.user).filter(pk=deployment_id).first()
    if deployment is None:
        raise Refusal(404, {"code": "not_found", "message": f"no deployment {deployment_id}", "field": None})
    return deployment


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except actions.ActionError as exc:
        raise Refusal(exc.status, exc.to_dict()) from None


def heartbeat_age(instance: DeploymentInstance) -> float | None:
    if instance.heartbeat_at is None:
        return None
    return round((timezone.now() - instance.heartbeat_at).total_seconds(), 1)


_parallelism_cache: dict[tuple[frozenset[str], int], tuple[float, dict[str, Any]]] = {}
_parallelism_lock = threading.Lock()


def deployment_parallelism(deployment: Deployment) -> dict[str, Any]:
    """``selectors.parallelism``, reused for PARALLELISM_TTL_S per source-topic set and instance count."""
    plan = selectors.load_plan(deployment.version)
    key = (frozenset(plan.source_topics()) if plan else frozenset(), deployment.instances)
    now = time.monotonic()
    with _parallelism_lock:
        cached = _parallelism_cache.get(key)
    if cached is not None and now - cached[0] < PARALLELISM_TTL_S:
        return copy.deepcopy(cached[1])
    info = selectors.parallelism(deployment, timeout=selectors.PAGE_METADATA_TIMEOUT_S)
    with _parallelism_lock:
        for stale in [k for k, (at, _) in _parallelism_cache.items() if now - at >= PARALLELISM_TTL_S]:
            del _parallelism_cache[stale]
        _parallelism_cache[key] = (now, info)
    return copy.deepcopy(info)


def _instance(instance: DeploymentInstance) -> dict[str, Any]:
    return {
        "slot": instance.slot,
        "epoch": instance.epoch,
        "status": instance.status,
        "live": instance.is_live,
        "worker_host": instance.worker_host,
        "pid": instance.pid,
        "task_id": instance.task_id,
        "heartbeat_at": instance.heartbeat_at,
        "heartbeat_age_seconds": heartbeat_age(instance),
        "started_at": instance.started_at,
        "partitions": instance.partitions,
        "error": instance.error,
    }


def _summary(deployment: Deployment) -> dict[str, Any]:
    return {
        "id": deployment.pk,
        "topology_id": deployment.version.topology_id,
        "topology": deployment.version.topology.name,
        "version": deployment.version.number,
        "app_id": deployment.app_id,
        "instances": deployment.instances,
        "guarantee": deployment.guarantee,
        "error_policy": deployment.error_policy,
        "desired_state": deployment.desired_state,
        "status": deployment.status,
        "last_error": deployment.last_error,
        "restart_count": deployment.restart_count,
        "created_at": deployment.created_at,
        "updated_at": deployment.updated_at,
    }


def _detail(deployment: Deployment) -> dict[str, Any]:
    deployment.refresh_from_db()
    return {
        **_summary(deployment),
        "retired_topics": deployment.retired_topics,
        "instance_list": [_instance(i) for i in deployment.instance_set.order_by("slot")],
        "parallelism": deployment_parallelism(deployment),
        "events": [
            {
                "at": e.created_at,
                "kind": e.kind,
                "message": e.message,
                "actor": e.actor.get_username() if e.actor else None,
                "payload": e.payload,
            }
            for e in deployment.events.select_related("actor")[:RECENT_EVENTS]
        ],
    }


# --- endpoints ------------------------------------------------------------------------------


@router.get("", summary="List deployments you may see")
@answers_refusals
def list_deployments(
    request: HttpRequest,
    status: str | None = None,
    topology_id: int | None = Query(None, ge=1, le=MAX_ID),
):
    deployments = visible_deployments(request.user)
    if status:
        deployments = deployments.filter(status=status)
    if topology_id:
        deployments = deployments.filter(version__topology_id=topology_id)
    return [_summary(d) for d in deployments]


@router.post("", summary="Deploy a topology version", response={201: dict})
@answers_refusals
def create_deployment(request: HttpRequest, payload: DeploymentCreateIn):
    topologies = Topology.objects.visible_to(request.user)
    topology = topologies.filter(pk=payload.topology_id).first()
    if topology is None:
        raise Refusal(
            404,
            {"code": "not_found", "message": f"no topology {payload.topology_id}", "field": "topology_id"},
        )
    versions = TopologyVersion.objects.filter(topology=topology)
    version = (
        versions.filter(number=payload.version).first()
        if payload.version
        else versions.order_by("-number").first()
    )
    if version is None:
        raise Refusal(
            404,
            {
                "code": "not_found",
                "field": "version",
                "message": f"topology {topology.name} has no version {payload.version or ''}".strip(),
            },
        )
    deployment = _call(
        actions.deploy,
        version,
        actor=request.user,
        instances=payload.instances,
        guarantee=payload.guarantee,
        error_policy=payload.error_policy,
        app_id=payload.app_id,
    )
    return 201, _detail(deployment)


@router.get("/{int:deployment_id}", summary="One deployment with its instances and recent events")
@answers_refusals
def get_deployment(request: HttpRequest, deployment_id: int):
    return _detail(_get(request, deployment_id))


@router.post("/{int:deployment_id}/start")
@answers_refusals
def start_deployment(request: HttpRequest, deployment_id: int):
    return _detail(_call(actions.start, _get(request, deployment_id), actor=request.user))


@router.post("/{int:deployment_id}/stop")
@answers_refusals
def stop_deployment(request: HttpRequest, deployment_id: int):
    return _detail(_call(actions.stop, _get(request, deployment_id), actor=request.user))


@router.post("/{int:deployment_id}/restart")
@answers_refusals
def restart_deployment(request: HttpRequest, deployment_id: int):
    return _detail(_call(actions.restart, _get(request, deployment_id), actor=request.user))


@router.post("/{int:deployment_id}/scale")
@answers_refusals
def scale_deployment(request: HttpRequest, deployment_id: int, payload: ScaleIn):
    deployment = _get(request, deployment_id)
    # Read afresh, not from the poll cache: the scale event's warning is written once.
    partitions = selectors.parallelism(deployment, timeout=selectors.PAGE_METADATA_TIMEOUT_S)[
        "source_partitions"
    ]
    return _detail(
        _call(actions.scale, deployment, payload.instances, actor=request.user, source_partitions=partitions)
    )


@router.post("/{int:deployment_id}/upgrade", summary="Run another version of the same topology")
@answers_refusals
def upgrade_deployment(request: HttpRequest, deployment_id: int, payload: UpgradeIn):
    deployment = _get(request, deployment_id)
    version = TopologyVersion.objects.filter(
        topology_id=deployment.version.topology_id, number=payload.version
    ).first()
    if version is None:
        raise Refusal(
            404,
            {
                "code": "not_found",
                "field": "version",
                "message": f"topology {deployment.topology.name} has no version {payload.version}",
            },
        )
    return _detail(_call(actions.upgrade, deployment, version, actor=request.user, confirm=payload.confirm))


__all__ = ["Refusal", "router"]
