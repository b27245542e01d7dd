"""Request and response models of the topology API.

Request models forbid unknown fields, so a typo in a field name is a 422 naming the field
instead of being silently ignored. Documents themselves are typed as plain objects here: the
compiler's schema pass checks them strictly and reports issues located at node and field,
which is richer than a generic validation error.
"""

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict

from topology.models import TOPOLOGY_NAME_PATTERN


class StrictSchema(Schema):
    model_config = ConfigDict(extra="forbid")


# --- errors --------------------------------------------------------------------------------


class IssueOut(Schema):
    code: str
    message: str
    node_id: str | None = None
    edge_id: str | None = None
    field: str | None = None
    position: int | None = None
    severity: str = "error"


class FieldErrorOut(Schema):
    loc: list[str | int]
    path: str = Field(description="loc joined with dots, e.g. body.payload.document.nodes.0.id")
    msg: str
    type: str


class ErrorOut(Schema):
    detail: str | list[FieldErrorOut]
    issues: list[IssueOut] = []


# --- topologies ----------------------------------------------------------------------------

TopologyName = Field(pattern=TOPOLOGY_NAME_PATTERN, max_length=100)


class TopologyCreateIn(StrictSchema):
    name: str = TopologyName
    description: str = Field("", max_length=10_000)
    document: dict[str, Any] | None = Field(None, description="Optional first version.")
    message: str = Field("", max_length=10_000)


class TopologyUpdateIn(StrictSchema):
    name: str | None = Field(None, pattern=TOPOLOGY_NAME_PATTERN, max_length=100)
    description: str | None = Field(None, max_length=10_000)


class VersionSummaryOut(Schema):
    number: int
    plan_hash: str
    message: str
    created_by: str | None
    created_at: datetime


class VersionOut(VersionSummaryOut):
    topology_id: int
    document: dict[str, Any]
    plan: dict[str, Any]


class TopologyOut(Schema):
    id: int
    name: str
    description: str
    owner: str
    created_at: datetime
    updated_at: datetime
    latest_version: VersionSummaryOut | None


class TopologyDetailOut(TopologyOut):
    document: dict[str, Any] | None = Field(
        description="The document to open in the editor: the latest save, layout included."
    )


class SaveVersionIn(StrictSchema):
    document: dict[str, Any]
    message: str = Field("", max_length=10_000)


class SaveVersionOut(Schema):
    created: bool = Field(description="False when the save changed only layout (same plan hash).")
    version: VersionOut


# --- validate, diff, import ----------------------------------------------------------------


class ValidateIn(StrictSchema):
    document: dict[str, Any]


class ValidateOut(Schema):
    ok: bool
    issues: list[IssueOut]
    describe: str | None
    plan_hash: str | None
    sql: str | None = None  # the statement that translates into this plan (topology/sql/render.py)
    sql_reason: str | None = None  # why the graph has no SQL form


class CompatibilityOut(Schema):
    verdict: Literal["compatible", "reprocess", "new_identity"]
    reasons: list[str]


class DiffOut(Schema):
    topology_id: int
    from_version: int
    to_version: int
    nodes: dict[str, Any] = Field(description="compiler.semantic_diff: nodes added, removed, changed")
    compatibility: CompatibilityOut


class ImportIn(StrictSchema):
    document: dict[str, Any]
    name: str | None = Field(
        None,
        pattern=TOPOLOGY_NAME_PATTERN,
        max_length=100,
        description="Defaults to the document's name. An existing topology gets a new version.",
    )
    description: str = Field("", max_length=10_000)
    message: str = Field("", max_length=10_000)


class ImportOut(Schema):
    topology: TopologyOut
    created_topology: bool
    created_version: bool
    version: VersionOut
