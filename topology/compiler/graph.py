"""The topology graph: what the validation passes know about a document so far.

``TopologyGraph`` starts from the raw document and is filled in by the passes in
``passes.py``: the nodes and edges that parsed, their catalog types and configs, a networkx
``MultiDiGraph`` of the valid edges, the stream/table kind of every output port, partition
counts where known, and the compiled expressions. Lowering reads it once all passes are clean.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from topology.compiler.catalog import Config, NodeType, StreamKind
from topology.compiler.document import Edge, Node
from topology.compiler.issues import Issue, Severity


@dataclass
class ConnectedEdge:
    edge: Edge
    id: str
    source_port: str  # resolved: "out" when the edge did not name one
    target_port: str  # resolved: "in" when the edge did not name one


@dataclass
class TopologyGraph:
    raw: Any
    partitions: dict[str, int]  # topic → partition count, from the caller
    name: str = ""
    nodes: dict[str, Node] = field(default_factory=dict)  # valid nodes, first of each id
    invalid_node_ids: set[str] = field(default_factory=set)  # nodes that failed the schema
    edges: list[ConnectedEdge] = field(default_factory=list)
    raw_edge_count: int = 0
    types: dict[str, NodeType] = field(default_factory=dict)
    configs: dict[str, Config] = field(default_factory=dict)
    graph: nx.MultiDiGraph = field(default_factory=nx.MultiDiGraph)
    acyclic: bool = False
    order: list[str] = field(default_factory=list)  # deterministic topological order of node ids
    kinds: dict[str, StreamKind] = field(default_factory=dict)  # node id → output kind
    # Canonical SQL of every expression, keyed by (node id, field path).
    expressions: dict[tuple[str, str], str] = field(default_factory=dict)
    # node id → (output name, function, argument SQL or None, ignore nulls)
    aggregations: dict[str, list[tuple[str, str, str | None, bool]]] = field(default_factory=dict)
    # node id -> {aggregation name: k} for TOPK(x, k) / TOPKDISTINCT(x, k)
    topk_sizes: dict[str, dict[str, int]] = field(default_factory=dict)
    partition_counts: dict[str, int] = field(default_factory=dict)  # node id → output partitions
    issues: list[Issue] = field(default_factory=list)
    stopped: bool = False  # the document is too broken for later passes
    _incoming: dict[str, list[ConnectedEdge]] = field(default_factory=dict)
    _outgoing: dict[str, list[ConnectedEdge]] = field(default_factory=dict)

    def add(
        self,
        code: str,
        message: str,
        *,
        node_id: str | None = None,
        edge_id: str | None = None,
        field: str | None = None,
        position: int | None = None,
        severity: Severity = "error",
    ) -> None:
        self.issues.append(Issue(code, message, node_id, edge_id, field, position, severity))

    def has_errors(self) -> bool:
        return any(issue.severity == "error" for issue in self.issues)

    def inputs(self, node_id: str) -> list[ConnectedEdge]:
        """Edges into a node, in a deterministic order (by port, then source)."""
        return list(self._incoming.get(node_id, ()))

    def outputs(self, node_id: str) -> list[ConnectedEdge]:
        return list(self._outgoing.get(node_id, ()))

    def index_edges(self) -> None:
        self._incoming = {}
        self._outgoing = {}
        ordered = sorted(
            self.edges, key=lambda e: (e.edge.target, e.target_port, e.edge.source, e.source_port, e.id)
        )
        for edge in ordered:
            self._incoming.setdefault(edge.edge.target, []).append(edge)
            self._outgoing.setdefault(edge.edge.source, []).append(edge)
