"""Validation passes, in order. Each pass reads and extends the ``TopologyGraph`` and records
located issues; all issues are collected, not only the first. A pass that needs a sound graph
(acyclic, kinds known) skips what earlier passes already reported as broken, so one mistake
is reported once, where it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import networkx as nx
from pydantic import ValidationError

from topology.compiler.catalog import (
    NODE_TYPES,
    BranchConfig,
    MapConfig,
    output_kind,
    output_ports,
)
from topology.compiler.document import MAX_EDGES, MAX_NODES, NAME_PATTERN, Edge, Node, edge_id
from topology.compiler.graph import ConnectedEdge, TopologyGraph

_ENVELOPE_FIELDS = ("name", "description", "nodes", "edges")
_SOURCE_TYPES = ("source", "table_source")
_TERMINAL_TYPES = ("sink", "view")


def _loc(loc: tuple[Any, ...], prefix: str = "") -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _schema_issues(
    graph: TopologyGraph,
    error: ValidationError,
    *,
    prefix: str,
    node_id: str | None = None,
    edge: str | None = None,
) -> None:
    for detail in error.errors(include_url=False):
        kind = detail.get("type", "")
        loc = tuple(p for p in detail.get("loc", ()) if not (isinstance(p, str) and p in _UNION_TAGS))
        where = _loc(loc, prefix)
        if kind == "extra_forbidden":
            code, message = "schema.unknown_field", f"unknown field {where!r}"
        elif kind == "missing":
            code, message = "schema.missing_field", f"missing required field {where!r}"
        elif kind.endswith("_type") or kind in ("model_attributes_type", "dataclass_type"):
            code, message = "schema.wrong_type", f"{where}: {detail.get('msg', 'wrong type')}"
        elif kind in ("union_tag_not_found", "union_tag_invalid"):
            expected = (detail.get("ctx") or {}).get(
                "expected_tags"
            ) or "'tumbling', 'hopping', 'sliding', 'session'"
            code, message = "schema.invalid_value", f"{where}: 'type' must be one of {expected}"
        else:
            code, message = "schema.invalid_value", f"{where}: {detail.get('msg', 'invalid value')}"
        message = message[:500]
        graph.add(code, message, node_id=node_id, edge_id=edge, field=where)


# Discriminated-union tags show up in pydantic locations ("window.tumbling.size"); drop them.
_UNION_TAGS = {"tumbling", "hopping", "sliding", "session", "function-before[parse_duration(), int]"}


# --- 1. document envelope, nodes and edges ---------------------------------------------------


def check_document(graph: TopologyGraph) -> None:
    raw = graph.raw
    if not isinstance(raw, dict):
        graph.add("document.not_object", f"a topology document is a JSON object, got {type(raw).__name__}")
        graph.stopped = True
        return
    for key in raw:
        if key not in _ENVELOPE_FIELDS:
            graph.add("schema.unknown_field", f"unknown field {str(key)[:64]!r}", field=str(key)[:64])
    name = raw.get("name")
    if name is None:
        graph.add("schema.missing_field", "missing required field 'name'", field="name")
    elif not isinstance(name, str):
        graph.add("schema.wrong_type", "name must be a string", field="name")
    else:
        if not re.match(NAME_PATTERN, name):
            graph.add(
                "schema.invalid_value",
                "name must be 1-100 letters, digits, spaces, '.', '_' or '-'",
                field="name",
            )
        graph.name = name
    description = raw.get("description")
    if description is not None and (not isinstance(description, str) or len(description) > 10_000):
        graph.add(
            "schema.invalid_value",
            "description must be a string of at most 10000 characters",
            field="description",
        )

    nodes = raw.get("nodes")
    if nodes is None:
        graph.add("schema.missing_field", "missing required field 'nodes'", field="nodes")
        nodes = []
    elif not isinstance(nodes, list):
        graph.add("schema.wrong_type", "nodes must be a list", field="nodes")
        nodes = []
    edges = raw.get("edges", [])
    if not isinstance(edges, list):
        graph.add("schema.wrong_type", "edges must be a list", field="edges")
        edges = []
    if len(nodes) > MAX_NODES or len(edges) > MAX_EDGES:
        graph.add(
            "document.too_many_nodes",
            f"at most {MAX_NODES} nodes and {MAX_EDGES} edges; got {len(nodes)} and {len(edges)}",
            field="nodes" if len(nodes) > MAX_NODES else "edges",
        )
        graph.stopped = True
        return

    for index, item in enumerate(nodes):
        prefix = f"nodes[{index}]"
        node_id = item.get("id") if isinstance(item, dict) and isinstance(item.get("id"), str) else None
        try:
            node = Node.model_validate(item)
        except ValidationError as error:
            _schema_issues(graph, error, prefix=prefix, node_id=node_id)
            if node_id is not None:
                graph.invalid_node_ids.add(node_id)
            continue
        if node.id in graph.nodes:
            graph.add(
                "node.duplicate_id",
                f"node id {node.id!r} is used twice",
                node_id=node.id,
                field=f"{prefix}.id",
            )
            continue
        graph.nodes[node.id] = node

    graph.raw_edge_count = len(edges)
    seen: set[tuple[str, str | None, str, str | None]] = set()
    for index, item in enumerate(edges):
        prefix = f"edges[{index}]"
        identity = edge_id(item) if isinstance(item, dict) else prefix
        try:
            edge = Edge.model_validate(item)
        except ValidationError as error:
            _schema_issues(graph, error, prefix=prefix, edge=identity)
            continue
        key = (edge.source, edge.source_port, edge.target, edge.target_port)
        if key in seen:
            graph.add("edge.duplicate", f"edge {identity} appears twice", edge_id=identity, field=prefix)
            continue
        seen.add(key)
        graph.edges.append(ConnectedEdge(edge, identity, edge.source_port or "out", edge.target_port or "in"))


# --- 2. node types and configs ---------------------------------------------------------------


def check_types(graph: TopologyGraph) -> None:
    known = ", ".join(sorted(NODE_TYPES))
    for node_id in sorted(graph.nodes):
        node = graph.nodes[node_id]
        node_type = NODE_TYPES.get(node.type)
        if node_type is None:
            graph.add(
                "node.unknown_type",
                f"unknown node type {node.type[:64]!r}; known: {known}",
                node_id=node_id,
                field="type",
            )
            continue
        graph.types[node_id] = node_type


def check_configs(graph: TopologyGraph) -> None:
    for node_id, node_type in sorted(graph.types.items()):
        try:
            graph.configs[node_id] = node_type.config.model_validate(graph.nodes[node_id].config)
        except ValidationError as error:
            _schema_issues(graph, error, prefix="config", node_id=node_id)
    for node_id, config in sorted(graph.configs.items()):
        if isinstance(config, BranchConfig):
            names = [case.name for case in config.branches]
            for index, name in enumerate(names):
                if name in names[:index] or name == "default":
                    graph.add(
                        "branch.duplicate_name",
                        f"branch name {name!r} is used twice (or is the reserved 'default')",
                        node_id=node_id,
                        field=f"config.branches[{index}].name",
                    )
        if isinstance(config, MapConfig):
            computed_or_kept = set(config.fields) | (
                set(config.keep) if isinstance(config.keep, list) else set()
            )
            for name in config.drop:
                if name in computed_or_kept:
                    graph.add(
                        "map.conflict",
                        f"field {name!r} is both kept or computed and dropped",
                        node_id=node_id,
                        field="config.drop",
                    )


# --- 3. edges and ports ---------------------------------------------------------------------


def check_edges(graph: TopologyGraph) -> None:
    kept: list[ConnectedEdge] = []
    for connected in graph.edges:
        edge = connected.edge
        ok = True
        for end, node_id in (("source", edge.source), ("target", edge.target)):
            if node_id not in graph.nodes and node_id not in graph.invalid_node_ids:
                graph.add(
                    "edge.unknown_node",
                    f"edge {end} {node_id!r} is not a node",
                    edge_id=connected.id,
                    field=end,
                )
                ok = False
            elif node_id not in graph.types:
                ok = False  # the node itself is already reported
        if not ok:
            continue
        source_type = graph.types[edge.source]
        ports = output_ports(source_type, graph.configs.get(edge.source))
        if source_type.dynamic_outputs and edge.source not in graph.configs:
            continue  # branch config broken: ports unknown, already reported
        if connected.source_port not in ports:
            graph.add(
                "edge.unknown_port",
                f"{edge.source!r} ({source_type.name}) has "
                + (f"outputs {', '.join(ports)}" if ports else "no outputs")
                + f"; edge uses {connected.source_port!r}",
                edge_id=connected.id,
                node_id=edge.source,
                field="source_port",
            )
            continue
        target_type = graph.types[edge.target]
        inputs = [port.name for port in target_type.inputs]
        if connected.target_port not in inputs:
            graph.add(
                "edge.unknown_port",
                f"{edge.target!r} ({target_type.name}) has "
                + (f"inputs {', '.join(inputs)}" if inputs else "no inputs")
                + f"; edge uses {connected.target_port!r}",
                edge_id=connected.id,
                node_id=edge.target,
                field="target_port",
            )
            continue
        kept.append(connected)
    graph.edges = kept
    graph.index_edges()
    graph.graph.add_nodes_from(sorted(graph.types))
    for connected in kept:
        graph.graph.add_edge(connected.edge.source, connected.edge.target, key=connected.id)


def check_cycles(graph: TopologyGraph) -> None:
    cyclic = [
        sorted(component) for component in nx.strongly_connected_components(graph.graph) if len(component) > 1
    ]
    cyclic += [[n] for n in graph.graph.nodes if graph.graph.has_edge(n, n)]
    for component in sorted(cyclic):
        graph.add(
            "graph.cycle",
            f"nodes {', '.join(component[:20])} form a cycle; topologies must be acyclic",
            node_id=component[0],
        )
    graph.acyclic = not cyclic
    if graph.acyclic:
        graph.order = list(nx.lexicographical_topological_sort(graph.graph))


def check_inputs(graph: TopologyGraph) -> None:
    for node_id, node_type in sorted(graph.types.items()):
        incoming = graph.inputs(node_id)
        for port in node_type.inputs:
            edges = [e for e in incoming if e.target_port == port.name]
            if not edges:
                graph.add(
                    "port.missing_input",
                    f"{node_id!r} ({node_type.name}) needs an input on port {port.name!r}",
                    node_id=node_id,
                    field=port.name,
                )
            elif len(edges) > 1 and not port.multiple:
                graph.add(
                    "port.too_many_inputs",
                    f"port {port.name!r} of {node_id!r} takes one edge, got {len(edges)}; use a merge node",
                    node_id=node_id,
                    edge_id=edges[1].id,
                    field=port.name,
                )


def _closure(step: Callable[[str], Any], start: Any) -> set[str]:
    """Every node reachable from any of ``start`` (one walk, not one per start node)."""
    seen = set(start)
    frontier = list(seen)
    while frontier:
        for neighbour in step(frontier.pop()):
            if neighbour not in seen:
                seen.add(neighbour)
                frontier.append(neighbour)
    return seen


def check_reachability(graph: TopologyGraph) -> None:
    if not graph.nodes and not graph.invalid_node_ids:
        graph.add("graph.empty", "the topology has no nodes", field="nodes")
        return
    sources = sorted(n for n, t in graph.types.items() if t.name in _SOURCE_TYPES)
    if not sources:
        if graph.types:
            graph.add(
                "graph.no_source",
                "the topology needs at least one source or table_source node",
                field="nodes",
            )
        return
    reached = _closure(graph.graph.successors, sources)
    for node_id in sorted(graph.types):
        if node_id not in reached and graph.inputs(node_id):
            graph.add("graph.unreachable", f"{node_id!r} is not fed by any source", node_id=node_id)
    terminals = {n for n, t in graph.types.items() if t.name in _TERMINAL_TYPES}
    ending = _closure(graph.graph.predecessors, terminals)
    for node_id in sorted(graph.types):
        node_type = graph.types[node_id]
        if node_id in ending or node_type.name in _TERMINAL_TYPES:
            continue
        graph.add(
            "graph.dead_end",
            f"the output of {node_id!r} reaches no sink or view",
            node_id=node_id,
        )
    for node_id in sorted(graph.types):
        node_type = graph.types[node_id]
        if not node_type.dynamic_outputs or node_id not in graph.configs:
            continue
        used = {e.source_port for e in graph.outputs(node_id)}
        if not used:
            continue
        for port in output_ports(node_type, graph.configs[node_id]):
            if port not in used and port != "default":
                graph.add(
                    "port.unconnected",
                    f"branch {port!r} of {node_id!r} has no edge: its records are dropped",
                    node_id=node_id,
                    field=port,
                    severity="warning",
                )


def check_kinds(graph: TopologyGraph) -> None:
    if not graph.acyclic:
        return
    for node_id in graph.order:
        node_type = graph.types.get(node_id)
        if node_type is None:
            continue
        input_kinds: dict[str, Any] = {}
        broken = False
        for edge in graph.inputs(node_id):
            kind = graph.kinds.get(edge.edge.source)
            if kind is None:
                broken = True
                continue
            port = next(p for p in node_type.inputs if p.name == edge.target_port)
            if kind not in port.kinds:
                hint = (
                    " (insert a to_table node)"
                    if kind == "stream"
                    else " (insert a to_stream node)"
                    if kind == "table"
                    else ""
                )
                graph.add(
                    "port.kind_mismatch",
                    f"port {port.name!r} of {node_id!r} ({node_type.name}) takes a {' or '.join(port.kinds)}, "
                    f"but {edge.edge.source!r} produces a {kind}{hint}",
                    node_id=node_id,
                    edge_id=edge.id,
                    field=port.name,
                )
                broken = True
            input_kinds[port.name] = kind
        if broken:
            continue
        kind = output_kind(node_type, input_kinds)
        if kind is not None:
            graph.kinds[node_id] = kind


from topology.compiler.semantic_passes import (  # noqa: E402  (listed here to keep the order in one place)
    check_expressions,
    check_joins,
    check_names,
    check_windows,
)

PASSES: tuple[Callable[[TopologyGraph], None], ...] = (
    check_document,
    check_types,
    check_configs,
    check_edges,
    check_cycles,
    check_inputs,
    check_reachability,
    check_kinds,
    check_expressions,
    check_windows,
    check_joins,
    check_names,
)


def run_passes(graph: TopologyGraph) -> TopologyGraph:
    for validate in PASSES:
        if graph.stopped:
            break
        validate(graph)
    return graph
