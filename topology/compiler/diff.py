"""``semantic_diff(old_doc, new_doc)``: what changed between two documents, ignoring layout.

Works on raw documents (valid or not) so the API can show a diff for any two versions.
Nodes are matched by id; a node is changed when its type or config differs (position and
label are layout). Edges are compared as (source, source_port, target, target_port).

Result: ``added``/``removed`` (node ids), ``changed`` (``{"id", "type", "fields"}`` with the
changed config keys as ``config.<key>``), ``edges_added``/``edges_removed``, ``renamed``,
``layout_changed`` (ids of moved nodes), ``layout_only`` and ``unchanged``.
"""

from __future__ import annotations

from typing import Any

_LAYOUT = ("position", "label")


def _nodes(doc: Any) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    nodes = doc.get("nodes") if isinstance(doc, dict) else None
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict) and isinstance(node.get("id"), str) and node["id"] not in found:
            found[node["id"]] = node
    return found


def _edges(doc: Any) -> set[tuple[str, str, str, str]]:
    found = set()
    edges = doc.get("edges") if isinstance(doc, dict) else None
    for edge in edges if isinstance(edges, list) else []:
        if isinstance(edge, dict):
            found.add(
                (
                    str(edge.get("source")),
                    str(edge.get("source_port") or "out"),
                    str(edge.get("target")),
                    str(edge.get("target_port") or "in"),
                )
            )
    return found


def _changed_keys(old: Any, new: Any) -> list[str]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else ["config"]
    return sorted(str(k) for k in set(old) | set(new) if old.get(k) != new.get(k))


def semantic_diff(old_doc: Any, new_doc: Any) -> dict[str, Any]:
    old_nodes, new_nodes = _nodes(old_doc), _nodes(new_doc)
    added = sorted(set(new_nodes) - set(old_nodes))
    removed = sorted(set(old_nodes) - set(new_nodes))
    changed = []
    moved = []
    for node_id in sorted(set(old_nodes) & set(new_nodes)):
        old, new = old_nodes[node_id], new_nodes[node_id]
        if old.get("type") != new.get("type"):
            changed.append(
                {"id": node_id, "type": new.get("type"), "old_type": old.get("type"), "fields": ["type"]}
            )
        elif old.get("config") != new.get("config"):
            keys = _changed_keys(old.get("config") or {}, new.get("config") or {})
            changed.append(
                {"id": node_id, "type": new.get("type"), "fields": [f"config.{key}" for key in keys]}
            )
        elif any(old.get(k) != new.get(k) for k in _LAYOUT):
            moved.append(node_id)
    old_edges, new_edges = _edges(old_doc), _edges(new_doc)

    def edge_dicts(edges: set[tuple[str, str, str, str]]) -> list[dict[str, str]]:
        return [
            {"source": s, "source_port": sp, "target": t, "target_port": tp} for s, sp, t, tp in sorted(edges)
        ]

    old_name = old_doc.get("name") if isinstance(old_doc, dict) else None
    new_name = new_doc.get("name") if isinstance(new_doc, dict) else None
    edges_added = edge_dicts(new_edges - old_edges)
    edges_removed = edge_dicts(old_edges - new_edges)
    semantic = bool(added or removed or changed or edges_added or edges_removed)
    return {
        "added": added,
        "removed": removed,
        "changed": changed,
        "edges_added": edges_added,
        "edges_removed": edges_removed,
        "renamed": old_name != new_name,
        "layout_changed": moved,
        "layout_only": not semantic and bool(moved),
        "unchanged": not semantic and not moved and old_name == new_name,
    }
