"""Every write to topologies goes through here; the API, the CLI and the admin stay thin.

Documents are checked by the pure compiler. A document that does not compile is refused with
all its located issues (``InvalidDocument``); nothing is written.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError

from topology.compiler import compare_plans, compile_document, describe, semantic_diff
from topology.compiler.document import MAX_NODES
from topology.compiler.plan import Plan, compute_plan_hash, plan_from_dict, plan_to_dict
from topology.models import TOPOLOGY_NAME_PATTERN, Topology, TopologyVersion

logger = logging.getLogger(__name__)


class TopologyError(Exception):
    """A user-facing refusal. ``status`` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, issues: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.message = message
        self.issues = issues or []


class InvalidDocument(TopologyError):
    status = 422


class NameTaken(TopologyError):
    status = 409


class TopologyInUse(TopologyError):
    status = 409


class VersionNotFound(TopologyError):
    status = 404


@dataclass
class Validation:
    ok: bool
    issues: list[dict[str, Any]] = field(default_factory=list)
    plan: Plan | None = None
    plan_hash: str | None = None

    def describe(self) -> str | None:
        return describe(self.plan) if self.plan is not None else None


INTERNAL_ERROR_MESSAGE = "The compiler failed on this document; the server log has the details."


def _document_issue(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "node_id": None,
        "edge_id": None,
        "field": field,
        "position": None,
        "severity": "error",
    }


def _limit_issues(document: Any) -> list[dict[str, Any]]:
    # The compiler enforces the same cap; checking it first makes a huge document cost a len()
    # instead of a full schema validation.
    nodes = document.get("nodes") if isinstance(document, dict) else None
    if isinstance(nodes, list) and len(nodes) > MAX_NODES:
        message = f"The document has {len(nodes)} nodes; the limit is {MAX_NODES}."
        return [_document_issue("document.too_many_nodes", message, "nodes")]
    return []


def validate_document(document: Any) -> Validation:
    """Compile ``document`` without storing anything."""
    too_big = _limit_issues(document)
    if too_big:
        return Validation(ok=False, issues=too_big)
    try:
        result = compile_document(document)
    except Exception:
        # The compiler promises issues, never exceptions; if it breaks that promise the user
        # still gets a located answer instead of a 500, and the log keeps the traceback.
        logger.exception("compile_document raised instead of returning issues")
        return Validation(
            ok=False, issues=[_document_issue("compiler.internal_error", INTERNAL_ERROR_MESSAGE)]
        )
    issues = [issue.to_dict() for issue in result.issues]
    if not result.ok or result.plan is None:
        return Validation(ok=False, issues=issues)
    plan = result.plan
    return Validation(ok=True, issues=issues, plan=plan, plan_hash=plan.hash or compute_plan_hash(plan))


def _compile_or_refuse(document: Any) -> Validation:
    validation = validate_document(document)
    if not validation.ok:
        count = sum(1 for issue in validation.issues if issue.get("severity", "error") == "error")
        raise InvalidDocument(f"The document has {count} error(s).", validation.issues)
    return validation


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not re.match(TOPOLOGY_NAME_PATTERN, name):
        raise TopologyError(
            f"Invalid topology name {name!r}: use 1-100 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit."
        )
    return name


def create_topology(
    *, name: str, owner, description: str = "", document: dict | None = None, message: str = ""
) -> tuple[Topology, TopologyVersion | None]:
    """Create a topology, with a first version when ``document`` is given (all or nothing)."""
    _check_name(name)
    validation = _compile_or_refuse(document) if document is not None else None
    try:
        with transaction.atomic():
            topology = Topology.objects.create(name=name, owner=owner, description=description)
            version = None
            if validation is not None:
                version = _append_version(topology, document, validation, message, owner)
    except IntegrityError as exc:
        if Topology.objects.filter(name=name).exists():
            raise NameTaken(f"A topology named {name!r} already exists.") from exc
        raise
    return topology, version


def update_topology(
    topology: Topology, *, name: str | None = None, description: str | None = None
) -> Topology:
    if name is not None and name != topology.name:
        _check_name(name)
        if Topology.objects.filter(name=name).exclude(pk=topology.pk).exists():
            raise NameTaken(f"A topology named {name!r} already exists.")
        topology.name = name
    if description is not None:
        topology.description = description
    try:
        with transaction.atomic():
            topology.save()
    except IntegrityError as exc:
        raise NameTaken(f"A topology named {name!r} already exists.") from exc
    return topology


def delete_topology(topology: Topology) -> None:
    try:
        topology.delete()
    except ProtectedError as exc:
        raise TopologyInUse(
            f"Topology {topology.name!r} has versions that deployments still use; delete those deployments first."
        ) from exc


def _append_version(
    topology: Topology, document: dict, validation: Validation, message: str, user
) -> TopologyVersion:
    latest = topology.versions.order_by("-number").values_list("number", flat=True).first() or 0
    version = TopologyVersion.objects.create(
        topology=topology,
        number=latest + 1,
        document=document,
        plan=plan_to_dict(validation.plan),
        plan_hash=validation.plan_hash,
        message=message,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    topology.draft_document = document
    topology.save(update_fields=["draft_document", "updated_at"])
    return version


def save_version(topology: Topology, document: dict, message: str, user) -> tuple[TopologyVersion, bool]:
    """Store ``document`` as the next version of ``topology``.

    A save whose plan hash equals the latest version's changed only layout (or the name):
    it makes no new version, keeps the document as the topology's draft so the editor reopens
    with the moved nodes, and returns ``(latest, False)``.
    """
    validation = _compile_or_refuse(document)
    with transaction.atomic():
        # Lock the topology row so two concurrent saves cannot take the same number.
        locked = Topology.objects.select_for_update().get(pk=topology.pk)
        latest = locked.versions.order_by("-number").first()
        if latest is not None and latest.plan_hash == validation.plan_hash:
            locked.draft_document = document
            locked.save(update_fields=["draft_document", "updated_at"])
            created = False
            version = latest
        else:
            version = _append_version(locked, document, validation, message, user)
            created = True
    topology.refresh_from_db()
    return version, created


def import_document(
    document: Any, *, user, name: str | None = None, description: str = "", message: str = ""
) -> tuple[Topology, TopologyVersion, bool, bool]:
    """Store an exported document: a new topology, or a new version of the one named ``name``.

    Returns ``(topology, version, created_topology, created_version)``. ``user`` must be
    allowed to edit an existing topology of that name (owner or staff).
    """
    if not isinstance(document, dict):
        message = "The document must be a JSON object."
        raise InvalidDocument(message, [_document_issue("document.not_object", message)])
    name = _check_name(name if name is not None else document.get("name"))
    existing = Topology.objects.filter(name=name).first()
    if existing is not None:
        if not existing.can_be_edited_by(user):
            raise NameTaken(f"A topology named {name!r} already exists and belongs to someone else.")
        version, created = save_version(existing, document, message or "Imported", user)
        return existing, version, False, created
    topology, version = create_topology(
        name=name, owner=user, description=description, document=document, message=message or "Imported"
    )
    assert version is not None
    return topology, version, True, True


def get_version(topology: Topology, number: int) -> TopologyVersion:
    version = topology.versions.filter(number=number).first()
    if version is None:
        raise VersionNotFound(f"Topology {topology.name!r} has no version {number}.")
    return version


def export_document(topology: Topology, number: int | None = None) -> dict:
    """The document of version ``number`` (default: the latest), ready for ``import_document``."""
    if number is None:
        version = topology.latest_version()
        if version is None:
            raise VersionNotFound(f"Topology {topology.name!r} has no versions yet.")
    else:
        version = get_version(topology, number)
    return version.document


def diff_versions(old: TopologyVersion, new: TopologyVersion) -> dict[str, Any]:
    """What changed between two versions, and what upgrading a deployment would cost."""
    try:
        old_plan = plan_from_dict(old.plan)
        new_plan = plan_from_dict(new.plan)
    except (ValueError, KeyError, TypeError) as exc:
        raise TopologyError(f"A stored plan cannot be read by this version of Weir: {exc}") from exc
    compatibility = compare_plans(old_plan, new_plan).to_dict()
    return {
        "nodes": semantic_diff(old.document, new.document),
        "compatibility": {
            "verdict": compatibility["verdict"],
            "reasons": [str(reason) for reason in compatibility.get("reasons", [])],
        },
    }


def sql_of(document: dict, user) -> tuple[str | None, str | None]:
    """The SQL statement a graph is (``topology.sql.render``: verified by translating it back to
    the same plan) over the streams and tables ``user`` sees, or None and the reason."""
    from topology.models import SqlSource
    from topology.sql.catalog import SourceDef
    from topology.sql.render import render

    sources = [SourceDef.from_dict(entry.definition) for entry in SqlSource.objects.visible_to(user)]
    result = render(document, sources)
    return result.sql, result.reason
