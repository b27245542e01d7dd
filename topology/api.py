"""Topology API, mounted at /api/topologies (session auth + CSRF come from config.api).

Views are thin: load what the user may see, call one action, serialise. Refusals from the
actions (``TopologyError``) become 4xx answers with the compiler's located issues.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.http.request import RawPostDataException
from ninja import Router
from ninja.errors import HttpError, ValidationError

from topology import actions
from topology.compiler import catalog_schema, document_schema
from topology.models import Topology, TopologyVersion
from topology.schemas import (
    DiffOut,
    ErrorOut,
    ImportIn,
    ImportOut,
    SaveVersionIn,
    SaveVersionOut,
    TopologyCreateIn,
    TopologyDetailOut,
    TopologyOut,
    TopologyUpdateIn,
    ValidateIn,
    ValidateOut,
    VersionOut,
    VersionSummaryOut,
)

router = Router(tags=["topology"])

ERRORS = {400: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- serialisation -------------------------------------------------------------------------


def _version_summary(version: TopologyVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "plan_hash": version.plan_hash,
        "message": version.message,
        "created_by": version.created_by.get_username() if version.created_by else None,
        "created_at": version.created_at,
    }


def _version(version: TopologyVersion) -> dict[str, Any]:
    return {
        **_version_summary(version),
        "topology_id": version.topology_id,
        "document": version.document,
        "plan": version.plan,
    }


_UNKNOWN = object()


def _topology(topology: Topology, latest: Any = _UNKNOWN) -> dict[str, Any]:
    if latest is _UNKNOWN:
        latest = topology.latest_version()
    return {
        "id": topology.pk,
        "name": topology.name,
        "description": topology.description,
        "owner": topology.owner.get_username(),
        "created_at": topology.created_at,
        "updated_at": topology.updated_at,
        "latest_version": _version_summary(latest) if latest else None,
    }


def _topology_detail(topology: Topology) -> dict[str, Any]:
    latest = topology.latest_version()
    data = _topology(topology, latest)
    data["document"] = topology.draft_document or (latest.document if latest else None)
    return data


def _error(exc: actions.TopologyError) -> tuple[int, dict[str, Any]]:
    return exc.status, {"detail": exc.message, "issues": exc.issues}


def refusals_as_responses(view):
    """Turn an action's ``TopologyError`` into its 4xx answer."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except actions.TopologyError as exc:
            return _error(exc)

    return wrapper


def _load(request: HttpRequest, topology_id: int) -> Topology:
    # Someone else's topology answers 404, like a missing one: ids are not secrets, but
    # there is nothing a non-owner may do with it.
    topology = (
        Topology.objects.visible_to(request.user).select_related("owner").filter(pk=topology_id).first()
    )
    if topology is None:
        raise HttpError(404, f"Topology {topology_id} not found.")
    return topology


# --- schemas (literal paths before /{topology_id}) -----------------------------------------


@router.get("/catalog", response=dict[str, Any], summary="JSON Schema of every node type's config and ports")
def catalog(request):
    return catalog_schema()


@router.get("/schema", response=dict[str, Any], summary="JSON Schema of the topology document")
def schema(request):
    return document_schema()


@router.post("/validate", response={200: ValidateOut, **ERRORS}, summary="Compile a document without saving")
def validate(request, payload: ValidateIn):
    validation = actions.validate_document(payload.document)
    sql, sql_reason = actions.sql_of(payload.document, request.user) if validation.ok else (None, None)
    return {
        "ok": validation.ok,
        "issues": validation.issues,
        "describe": validation.describe(),
        "plan_hash": validation.plan_hash,
        "sql": sql,
        "sql_reason": sql_reason,
    }


@router.post(
    "/import", response={200: ImportOut, 201: ImportOut, **ERRORS}, summary="Import an exported document"
)
@refusals_as_responses
def import_(request, payload: ImportIn):
    topology, version, created_topology, created_version = actions.import_document(
        payload.document,
        user=request.user,
        name=payload.name,
        description=payload.description,
        message=payload.message,
    )
    status = 201 if created_topology or created_version else 200
    return status, {
        "topology": _topology(topology),
        "created_topology": created_topology,
        "created_version": created_version,
        "version": _version(version),
    }


# --- topologies ----------------------------------------------------------------------------


@router.get("/", response=list[TopologyOut])
def list_topologies(request):
    topologies = list(Topology.objects.visible_to(request.user).select_related("owner"))
    # One query for every latest version instead of one per topology; documents and plans
    # stay in the database.
    latest: dict[int, TopologyVersion] = {}
    summaries = (
        TopologyVersion.objects.filter(topology__in=topologies)
        .select_related("created_by")
        .defer("document", "plan")
        .order_by("topology_id", "number")
    )
    for version in summaries:
        latest[version.topology_id] = version
    return [_topology(topology, latest.get(topology.pk)) for topology in topologies]


@router.post("/", response={201: TopologyDetailOut, **ERRORS})
@refusals_as_responses
def create_topology(request, payload: TopologyCreateIn):
    topology, _ = actions.create_topology(
        name=payload.name,
        owner=request.user,
        description=payload.description,
        document=payload.document,
        message=payload.message,
    )
    return 201, _topology_detail(topology)


@router.get("/{int:topology_id}", response={200: TopologyDetailOut, **ERRORS})
def get_topology(request, topology_id: int):
    return _topology_detail(_load(request, topology_id))


@router.patch("/{int:topology_id}", response={200: TopologyDetailOut, **ERRORS})
@refusals_as_responses
def update_topology(request, topology_id: int, payload: TopologyUpdateIn):
    topology = actions.update_topology(
        _load(request, topology_id), name=payload.name, description=payload.description
    )
    return 200, _topology_detail(topology)


@router.delete("/{int:topology_id}", response={204: None, **ERRORS})
@refusals_as_responses
def delete_topology(request, topology_id: int):
    actions.delete_topology(_load(request, topology_id))
    return 204, None


# --- versions ------------------------------------------------------------------------------


@router.get("/{int:topology_id}/versions", response={200: list[VersionSummaryOut], **ERRORS})
def list_versions(request, topology_id: int):
    topology = _load(request, topology_id)
    return [_version_summary(v) for v in topology.versions.select_related("created_by").order_by("number")]


@router.post(
    "/{int:topology_id}/versions",
    response={200: SaveVersionOut, 201: SaveVersionOut, **ERRORS},
    summary="Save a document; layout-only changes make no new version (200, created=false)",
)
@refusals_as_responses
def save_version(request, topology_id: int, payload: SaveVersionIn):
    topology = _load(request, topology_id)
    version, created = actions.save_version(topology, payload.document, payload.message, request.user)
    return (201 if created else 200), {"created": created, "version": _version(version)}


@router.get("/{int:topology_id}/versions/{int:number}", response={200: VersionOut, **ERRORS})
@refusals_as_responses
def get_version(request, topology_id: int, number: int):
    return 200, _version(actions.get_version(_load(request, topology_id), number))


@router.get("/{int:topology_id}/versions/{int:old}/diff/{int:new}", response={200: DiffOut, **ERRORS})
@refusals_as_responses
def diff_versions(request, topology_id: int, old: int, new: int):
    topology = _load(request, topology_id)
    diff = actions.diff_versions(actions.get_version(topology, old), actions.get_version(topology, new))
    return 200, {"topology_id": topology.pk, "from_version": old, "to_version": new, **diff}


@router.get(
    "/{int:topology_id}/export",
    response={200: dict[str, Any], **ERRORS},
    summary="The document of a version (default: the latest), as import takes it",
)
@refusals_as_responses
def export(request, topology_id: int, version: int | None = None):
    return 200, actions.export_document(_load(request, topology_id), version)


# --- errors for the whole API --------------------------------------------------------------


def _field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # Ninja's raw errors carry the offending input (a whole document, echoed back) and a ctx
    # that may hold exception objects json cannot encode; keep only what locates the error.
    cleaned = []
    for error in errors:
        loc = [part if isinstance(part, int) else str(part) for part in error.get("loc", ())]
        cleaned.append(
            {
                "loc": loc,
                "path": ".".join(str(part) for part in loc),
                "msg": str(error.get("msg", "invalid value")),
                "type": str(error.get("type", "value_error")),
            }
        )
    return cleaned


def install_exception_handlers(api) -> None:
    """Make every malformed request a 4xx that says where the problem is."""

    @api.exception_handler(ValidationError)
    def validation_error(request, exc: ValidationError):
        return api.create_response(request, {"detail": _field_errors(exc.errors)}, status=422)

    @api.exception_handler(HttpError)
    def http_error(request, exc: HttpError):
        cause = exc.__cause__
        if isinstance(cause, json.JSONDecodeError):
            detail = f"Malformed JSON body: {cause.msg} at line {cause.lineno}, column {cause.colno} (char {cause.pos})."
            return api.create_response(request, {"detail": detail}, status=400)
        if isinstance(cause, UnicodeDecodeError):
            detail = f"The body is not UTF-8: invalid byte at position {cause.start}."
            return api.create_response(request, {"detail": detail}, status=400)
        return api.create_response(request, {"detail": exc.message}, status=exc.status_code)

    @api.exception_handler(RawPostDataException)
    def form_body(request, exc: RawPostDataException):
        # A form-encoded or multipart body was already consumed by the CSRF check reading
        # request.POST, so the JSON body parser cannot read it: the API only takes JSON.
        kind = request.content_type or "no content type"
        detail = f"The body must be JSON (Content-Type: application/json), not {kind}."
        return api.create_response(request, {"detail": detail}, status=415)

    @api.exception_handler(RequestDataTooBig)
    def body_too_big(request, exc: RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        detail = f"The request body is larger than the limit of {limit} bytes ({limit // (1024 * 1024)} MB)."
        return api.create_response(request, {"detail": detail}, status=413)
