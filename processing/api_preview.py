"""Preview API, mounted at /api/preview: run a draft on sample records; describe with partitions."""

from __future__ import annotations

from typing import Any

from ninja import Field, Router, Schema
from pydantic import ConfigDict

from processing import preview

router = Router(tags=["preview"])


class PreviewIn(Schema):
    model_config = ConfigDict(extra="forbid")

    document: dict[str, Any]
    source: str | None = Field(None, description="id of the source node the records enter at")
    records: list[Any] | None = Field(None, description='values, or {"key", "value", "timestamp"} objects')
    sample: int | None = Field(
        None, ge=1, le=500, description="instead of records: the last N records of the source topic"
    )


class DescribeIn(Schema):
    model_config = ConfigDict(extra="forbid")

    document: dict[str, Any]


class PreviewErrorOut(Schema):
    detail: str
    field: str


@router.post(
    "",
    response={200: dict[str, Any], 400: PreviewErrorOut},
    summary="Run a draft document on records and return each node's output",
)
def run_preview(request, payload: PreviewIn):
    try:
        return 200, preview.run_preview(
            payload.document, source=payload.source, records=payload.records, sample=payload.sample
        )
    except preview.PreviewError as exc:
        return 400, {"detail": str(exc), "field": exc.field}


@router.post("/describe", summary="describe() of a draft with source partition counts from Kafka")
def describe_draft(request, payload: DescribeIn):
    return preview.describe_with_partitions(payload.document)
