"""Located issues and the compile result.

Every issue has a stable ``code`` (``area.what``: the editor and tests key on it), a message
for people, and where it is: ``node_id``, ``edge_id``, ``field`` (a dotted path such as
``config.branches[1].where``) and ``position`` (a character offset into an expression).
``severity`` is ``error`` (the document does not compile) or ``warning``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from topology.compiler.plan import Plan

Severity = Literal["error", "warning"]

# Every code the compiler emits; tests check each is triggered by some document.
ISSUE_CODES: dict[str, str] = {
    "document.not_object": "The document is not a JSON object.",
    "document.too_many_nodes": "More nodes or edges than the limit.",
    "schema.unknown_field": "A field the format does not define.",
    "schema.missing_field": "A required field is absent.",
    "schema.wrong_type": "A field has the wrong JSON type.",
    "schema.invalid_value": "A field's value is not allowed (pattern, range, choice).",
    "node.duplicate_id": "Two nodes share an id.",
    "node.unknown_type": "A node type the catalog does not define.",
    "edge.unknown_node": "An edge names a node that does not exist.",
    "edge.unknown_port": "An edge names a port the node does not have.",
    "edge.duplicate": "The same edge appears twice.",
    "graph.empty": "The document has no nodes.",
    "graph.no_source": "No source or table_source node.",
    "graph.cycle": "The nodes form a cycle.",
    "graph.unreachable": "A node no source feeds.",
    "graph.dead_end": "A node whose output reaches no sink or view.",
    "port.missing_input": "A required input has no edge.",
    "port.too_many_inputs": "More edges into a port than it takes.",
    "port.kind_mismatch": "A stream where a table is expected, or the reverse.",
    "port.unconnected": "A branch output with no edge: its records are dropped.",
    "expression.syntax": "The expression does not parse.",
    "expression.unknown_field": "The expression names an undeclared field.",
    "expression.unknown_function": "The expression calls a function that does not exist.",
    "expression.type": "Operand types do not fit the operator.",
    "expression.unsupported": "SQL syntax outside the supported subset.",
    "expression.forbidden_name": "A reserved name (such as a dunder) in an expression.",
    "expression.limit": "The expression is too long, deep or large.",
    "expression.bound": "A constant part of the expression exceeds a runtime bound.",
    "expression.aggregate": "Not an aggregation call.",
    "window.invalid": "A window's sizes do not fit together.",
    "window.emit_final_requires_window": "emit: final without a window.",
    "window.required": "A stream-stream join needs a window.",
    "window.not_allowed": "A window on a join that is not stream-stream.",
    "aggregate.table_group_by": "An aggregate of a table without group_by.",
    "aggregate.table_window": "An aggregate of a table with a window.",
    "aggregate.table_function": "An aggregate of a table with a function that cannot be undone.",
    "join.sides": "A stream-table join with the table on the left.",
    "join.how": "A join type the input kinds do not support.",
    "join.table_rekey": "A key expression on a table side of a join.",
    "join.foreign_key_sides": "A foreign-key join whose inputs are not two tables.",
    "join.copartition": "The two sides of a join have different partition counts.",
    "branch.duplicate_name": "Two branches share a name.",
    "map.conflict": "A field both kept/computed and dropped.",
    "name.collision": "Two derived store or topic names coincide.",
    "compiler.internal": "A compiler bug; please report it with the document.",
}


@dataclass(frozen=True)
class Issue:
    code: str
    message: str
    node_id: str | None = None
    edge_id: str | None = None
    field: str | None = None
    position: int | None = None
    severity: Severity = "error"

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "node_id": self.node_id,
            "edge_id": self.edge_id,
            "field": self.field,
            "position": self.position,
            "severity": self.severity,
        }

    def __str__(self) -> str:
        where = " ".join(
            part
            for part in (
                f"node {self.node_id}" if self.node_id else "",
                f"edge {self.edge_id}" if self.edge_id else "",
                f"field {self.field}" if self.field else "",
                f"at {self.position}" if self.position is not None else "",
            )
            if part
        )
        return f"{self.severity} {self.code}{' (' + where + ')' if where else ''}: {self.message}"


@dataclass(frozen=True)
class CompileResult:
    plan: Plan | None
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.plan is not None and not any(issue.severity == "error" for issue in self.issues)

    @property
    def errors(self) -> list[Issue]:
        return [issue for issue in self.issues if issue.severity == "error"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "issues": [issue.to_dict() for issue in self.issues],
            "hash": self.plan.hash if self.plan else None,
        }
