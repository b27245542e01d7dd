"""``compare_plans(old, new)``: can a running deployment move from one plan to the other?

The application id is the identity of state (stores and their changelogs) and of progress
(committed offsets and internal topics), as in Kafka Streams. The verdict is the worst of:

``compatible``
    Identical plans, or only stateless operators changed that feed no state (sinks, views,
    filters and maps after the last stateful node), or stateful nodes were removed (their
    changelogs are simply no longer read). Upgrade in place; state and offsets are kept.
``reprocess``
    A store's meaning changed: its operator's definition (aggregations, window, emit, join
    type) or anything upstream of it (a filter, a map, a group-by key) differs, or a stateful
    node is new and starts empty. Its state must be rebuilt from the source topics.
``new_identity``
    Existing internal topics or committed offsets would be wrong to reuse: the external
    source topics changed, a repartition topic changed its partition count, or a store
    changed kind (e.g. key-value ↔ windowed, whose changelogs are configured differently).
    Deploy under a new application id: new consumer group and new internal topics.

A change of a store's retention or changelog topic config (both are in the plan and its hash)
is a ``reprocess`` with its own reason: a changelog topic that exists keeps the config it was
created with, so the new one comes with the new application id of a confirmed upgrade.

Reasons name the nodes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from topology.compiler.plan import (
    ForeignKeyLookup,
    Operator,
    Plan,
    Repartition,
    Source,
    _encode,
    compute_plan_hash,
)

Verdict = Literal["compatible", "reprocess", "new_identity"]
_RANK = {"compatible": 0, "reprocess": 1, "new_identity": 2}


@dataclass(frozen=True)
class Compatibility:
    verdict: Verdict
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "reasons": list(self.reasons)}


def _signature(op: Operator) -> dict[str, Any]:
    data = _encode(op)
    data.pop("inputs", None)
    return data


class _Lineage:
    """A fingerprint of each operator and everything upstream of it (across repartitions)."""

    def __init__(self, plan: Plan) -> None:
        self.ops = {op.id: op for op in plan.operators()}
        self.writer = {op.name: op.id for op in plan.operators() if isinstance(op, Repartition)}
        # A foreign-key join's responses come back from its own subscriptions: the only cycle
        # in a plan. The left rows' store does not depend on them (the lookup's lineage has
        # both sides), so that edge is left out and the walk ends.
        self.responses = {
            op.name
            for op in plan.operators()
            if isinstance(op, Repartition)
            and any(isinstance(self.ops.get(i), ForeignKeyLookup) for i in op.inputs)
        }
        self.memo: dict[str, str] = {}

    def of(self, op_id: str) -> str:
        # Iterative post-order: plans can be thousands of operators deep.
        stack = [op_id]
        while stack:
            current = stack[-1]
            if current in self.memo:
                stack.pop()
                continue
            upstream = self._upstream(current)
            pending = [u for u in upstream if u not in self.memo]
            if pending:
                stack.extend(pending)
                continue
            payload = orjson.dumps(
                [_signature(self.ops[current]), [self.memo[u] for u in upstream]], option=orjson.OPT_SORT_KEYS
            )
            self.memo[current] = hashlib.sha256(payload).hexdigest()
            stack.pop()
        return self.memo[op_id]

    def _upstream(self, op_id: str) -> list[str]:
        op = self.ops[op_id]
        found = [i for i in op.inputs if i in self.ops]
        if (
            isinstance(op, Source)
            and op.repartition
            and op.repartition in self.writer
            and op.repartition not in self.responses
        ):
            found.append(self.writer[op.repartition])
        return found


def _store_owners(plan: Plan) -> dict[str, tuple[str, str]]:
    """store name → (operator id, store kind)."""
    kinds = {store.name: store.kind for store in plan.stores}
    owners: dict[str, tuple[str, str]] = {}
    for op in plan.operators():
        for attribute in ("store", "left_store", "right_store", "subscription_store"):
            name = getattr(op, attribute, "")
            if name:
                owners[name] = (op.id, kinds[name])
    return owners


def _retention_change(old: Plan, new: Plan, name: str) -> str:
    """How the retention or changelog config of store ``name`` changes, or ""."""
    try:
        before, after = old.store(name), new.store(name)
    except KeyError:
        return ""
    changes = []
    if before.retention_ms != after.retention_ms:
        changes.append(f"retention ({before.retention_ms} → {after.retention_ms} ms)")
    if before.changelog != after.changelog:
        was = ", ".join(f"{k}={v}" for k, v in before.changelog)
        now = ", ".join(f"{k}={v}" for k, v in after.changelog)
        changes.append(f"changelog config ({was} → {now}); an existing changelog topic keeps its config")
    return "changes " + " and ".join(changes) if changes else ""


def compare_plans(old: Plan, new: Plan) -> Compatibility:
    if (old.hash or compute_plan_hash(old)) == (new.hash or compute_plan_hash(new)):
        return Compatibility("compatible", ["the plans are identical (only names or layout may differ)"])
    reasons: list[tuple[str, str]] = []

    old_topics, new_topics = set(old.source_topics()), set(new.source_topics())
    if old_topics != new_topics:
        added = ", ".join(sorted(new_topics - old_topics)) or "none"
        removed = ", ".join(sorted(old_topics - new_topics)) or "none"
        reasons.append(("new_identity", f"source topics changed (added: {added}; removed: {removed})"))

    old_repartitions = {r.name: r for r in old.repartitions()}
    for r in new.repartitions():
        before = old_repartitions.get(r.name)
        if before is not None and before.partitions != r.partitions:
            reasons.append(
                (
                    "new_identity",
                    f"node {r.node_id}: repartition topic {r.name} changes partitions "
                    f"({before.partitions or 'default'} → {r.partitions or 'default'})",
                )
            )

    old_lineage, new_lineage = _Lineage(old), _Lineage(new)
    old_stores, new_stores = _store_owners(old), _store_owners(new)
    for name in sorted(set(old_stores) | set(new_stores)):
        if name not in new_stores:
            op_id = old_stores[name][0]
            reasons.append(
                ("compatible", f"node {old.operator(op_id).node_id}: store {name} is no longer used")
            )
            continue
        op_id, kind = new_stores[name]
        node_id = new.operator(op_id).node_id
        if name not in old_stores:
            reasons.append(
                ("reprocess", f"node {node_id}: new store {name} starts empty; reprocess to include history")
            )
            continue
        old_op_id, old_kind = old_stores[name]
        if old_kind != kind:
            reasons.append(
                ("new_identity", f"node {node_id}: store {name} changes kind ({old_kind} → {kind})")
            )
            continue
        retention = _retention_change(old, new, name)
        if retention:
            reasons.append(("reprocess", f"node {node_id}: store {name} {retention}"))
        if old_lineage.of(old_op_id) != new_lineage.of(op_id):
            what = (
                "its definition"
                if _signature(old.operator(old_op_id)) != _signature(new.operator(op_id))
                else "its input"
            )
            reasons.append(("reprocess", f"node {node_id}: {what} changed, so store {name} must be rebuilt"))

    old_ops = {op.id: op for op in old.operators()}
    new_ops = {op.id: op for op in new.operators()}
    stateless: list[str] = []
    for op_id in sorted(set(old_ops) | set(new_ops)):
        old_op, new_op = old_ops.get(op_id), new_ops.get(op_id)
        if (
            old_op is None
            or new_op is None
            or _signature(old_op) != _signature(new_op)
            or old_op.inputs != new_op.inputs
        ):
            node = (new_op or old_op).node_id  # type: ignore[union-attr]
            change = "added" if old_op is None else "removed" if new_op is None else "changed"
            stateless.append(f"node {node}: operator {op_id} {change}")
    if not any(rank != "compatible" for rank, _ in reasons):
        reasons += [("compatible", text) for text in stateless[:50]]

    verdict: Verdict = max((rank for rank, _ in reasons), key=_RANK.__getitem__, default="compatible")  # type: ignore[assignment,misc]
    ordered = sorted(reasons, key=lambda item: -_RANK[item[0]])
    return Compatibility(verdict, [f"{rank}: {text}" for rank, text in ordered])
