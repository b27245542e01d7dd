"""The topology document: the JSON the editor saves and the API and CLI take.

Strict pydantic models (unknown fields are errors). A node's ``config`` is validated
separately against its type's model from the catalog, so that errors name the node.
``position`` is layout only and never reaches the plan.

Edge ports: an edge leaves ``source_port`` (default: the node's single output, ``out``; for a
branch, the branch name or ``default``) and enters ``target_port`` (default: ``in``; for a
join, ``left`` or ``right``). An edge's id, used in issues, is its ``id`` when given, else
``"<source>[.<source_port>]-><target>[.<target_port>]"``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from topology.compiler.naming import ID_PATTERN

MAX_NODES = 10_000
MAX_EDGES = 20_000
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,99}$"
PORT_PATTERN = ID_PATTERN


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Position(Strict):
    x: float
    y: float

    model_config = ConfigDict(extra="forbid", frozen=True)  # ints are fine for coordinates


class Node(Strict):
    id: str = Field(pattern=ID_PATTERN, description="Unique id; names state and topics, so keep it stable.")
    type: str = Field(min_length=1, max_length=64, description="A node type from the catalog.")
    config: dict[str, Any] = Field(default_factory=dict, description="Validated by the node type's model.")
    position: Position | None = Field(default=None, description="Layout only; ignored by the compiler.")
    label: str | None = Field(
        default=None, max_length=200, description="Display name; ignored by the compiler."
    )


class Edge(Strict):
    source: str = Field(pattern=ID_PATTERN)
    target: str = Field(pattern=ID_PATTERN)
    source_port: str | None = Field(default=None, pattern=PORT_PATTERN)
    target_port: str | None = Field(default=None, pattern=PORT_PATTERN)
    id: str | None = Field(default=None, max_length=200, description="Optional; used to locate issues.")


class Document(Strict):
    name: str = Field(pattern=NAME_PATTERN, description="Topology name (1-100 characters).")
    description: str | None = Field(default=None, max_length=10_000)
    nodes: list[Node] = Field(max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_EDGES)


def edge_id(edge: Edge | dict[str, Any]) -> str:
    get = edge.get if isinstance(edge, dict) else (lambda name: getattr(edge, name, None))
    explicit = get("id")
    if isinstance(explicit, str) and explicit:
        return explicit
    source = f"{get('source')}" + (f".{get('source_port')}" if get("source_port") else "")
    target = f"{get('target')}" + (f".{get('target_port')}" if get("target_port") else "")
    return f"{source}->{target}"


def document_schema() -> dict[str, Any]:
    """JSON Schema of the document envelope; node configs are in ``catalog_schema()``."""
    schema = Document.model_json_schema()
    schema["$comment"] = (
        "Each node's config is validated against catalog_schema()['node_types'][type]['config']."
    )
    return schema
