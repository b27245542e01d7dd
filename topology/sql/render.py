"""Topology documents → the ksqlDB statement that makes them (pure): the translator's inverse.

``render(document, sources, kind=None, name=None)`` reads a graph in the translator's normal
form (``topology.sql.translate``): sources [+ ``<alias>_row`` map] [+ joins] [+ WHERE filter]
[+ EXPLODE flat_map] [+ PARTITION BY select_key | aggregate [+ HAVING filter]] + the
``project`` map + the ``sink`` [+ the ``table`` view], and writes the
``CREATE STREAM|TABLE ... WITH (KAFKA_TOPIC='...') AS SELECT ...;`` that translates back into
it. Sources are the catalog entries whose topic (and kind) a source node reads.

Physical names go back to SQL: a joined row's ``ALIAS_COL`` to ``alias.col`` (the join node's
``select`` says which side and column), ``KSQL_AGG_n`` to the aggregate call, ``ROWKEY`` and
its fields to the GROUP BY expression or WINDOWSTART / WINDOWEND, ``DIV`` to ``/``, ``"A"."B"``
to ``A->B``, quoted names to ksqlDB identifiers (bare when upper-case and not a keyword, else
in backticks).

The answer is checked, never trusted: the SQL is parsed, translated against the same sources,
and both documents are compiled; only equal plan hashes let the SQL out. Anything else
(a branch, a merge, two sinks, a node SQL has no clause for, a graph that only looks like the
normal form) comes back as ``sql=None`` and a ``reason`` naming the node.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from topology import compiler
from topology.compiler.catalog import NODE_TYPES
from topology.sql.ast import CreateAsSelect, InsertIntoSelect, SetProperty
from topology.sql.catalog import DictCatalog, SourceDef
from topology.sql.errors import SqlError
from topology.sql.parser import parse
from topology.sql.render_graph import Graph
from topology.sql.render_text import Refusal, duration, identifier
from topology.sql.translate import translate


@dataclass(frozen=True)
class RenderResult:
    """The statement (``sql``), or why the graph has none (``reason``, naming the node)."""

    sql: str | None
    reason: str | None = None


def render(
    document: dict[str, Any],
    sources: Iterable[SourceDef],
    *,
    kind: str | None = None,
    name: str | None = None,
) -> RenderResult:
    """The ``CREATE STREAM|TABLE ... AS SELECT`` (or ``INSERT INTO ... SELECT``) that translates
    into ``document``'s plan, or the reason there is none."""
    catalog = list(sources)
    if kind not in (None, "STREAM", "TABLE"):
        return RenderResult(None, f"kind is STREAM, TABLE or None (from the graph), not {kind!r}")
    compiled = compiler.compile_document(document)
    if compiled.plan is None:
        error = next((i for i in compiled.issues if i.severity == "error"), None)
        where = f" (node {error.node_id})" if error is not None and error.node_id else ""
        return RenderResult(None, f"the graph does not compile: {error.message if error else '?'}{where}")
    try:
        graph = Graph(document, catalog)
        attempts = [graph.statement(kind, name)]
        # A stream of the catalog already writes the sink's topic: INSERT INTO it, as ksqlDB
        # would refuse to create a second stream over the topic (the CREATE form is the fallback).
        target = next(
            (s for s in catalog if s.kind == "STREAM" and not s.source and s.topic == graph.sink_topic),
            None,
        )
        if target is not None and kind != "TABLE" and name is None:
            attempts.insert(0, graph.statement(kind, name, insert_into=target.name))
    except Refusal as refusal:
        return RenderResult(None, str(refusal))
    document_name = str(document.get("name") or "query")
    for sql in attempts:
        result = _verified(sql, document, compiled.plan.hash, catalog, document_name)
        if result.sql is not None:
            return result
    return result


def _verified(
    sql: str, document: dict[str, Any], wanted: str, catalog: list[SourceDef], name: str
) -> RenderResult:
    """``sql`` when it translates to a plan of hash ``wanted``, else the reason it does not."""
    try:
        statements = parse(sql)
        statement = statements[-1]
        if not isinstance(statement, CreateAsSelect | InsertIntoSelect):  # a renderer bug otherwise
            return RenderResult(None, "the SQL written for this graph is not a CREATE ... AS SELECT")
        offset_reset = next(
            (s.value for s in statements if isinstance(s, SetProperty) and s.name == "auto.offset.reset"),
            "earliest",
        )
        translation = translate(
            statement, DictCatalog({s.name: s for s in catalog}), name=name, offset_reset=offset_reset
        )
    except SqlError as error:
        return RenderResult(None, f"the SQL written for this graph does not translate back ({error.message})")
    result = compiler.compile_document(translation.document)
    if result.plan is None or result.plan.hash != wanted:
        return RenderResult(
            None,
            "the graph is outside the form SQL translates to: " + _difference(document, translation.document),
        )
    return RenderResult(sql)


def _difference(drawn: dict[str, Any], made: dict[str, Any]) -> str:
    """Where the drawn graph and the SQL's graph first part, walking both back from the sink."""
    mine, theirs = _Edges(drawn), _Edges(made)
    pairs: dict[str, str] = {}
    stack = [(mine.sink, theirs.sink)]
    while stack:
        node, counterpart = stack.pop()
        if node in pairs:
            continue
        pairs[node] = counterpart
        if mine.types[node] != theirs.types[counterpart]:
            return (
                f"node {node} ({mine.types[node]}) stands where the SQL's graph has "
                f"{counterpart} ({theirs.types[counterpart]})"
            )
        inputs, other = mine.inputs[node], theirs.inputs[counterpart]
        if [port for port, _ in inputs] != [port for port, _ in other]:
            return f"node {node} has {len(inputs)} input(s) where the SQL's {counterpart} has {len(other)}"
        stack.extend((a, b) for (_, a), (_, b) in zip(inputs, other, strict=True))
    for node, counterpart in reversed(pairs.items()):  # sources first: the cause, not its echo
        mine_config, their_config = mine.configs[node], theirs.configs[counterpart]
        for key in sorted(set(mine_config) | set(their_config)):
            if mine_config.get(key) != their_config.get(key):
                return (
                    f"node {node}: its {key} is {mine_config.get(key)!r} where SQL makes "
                    f"{their_config.get(key)!r}"
                )
    views = (
        [n for n, t in mine.types.items() if t == "view"],
        [n for n, t in theirs.types.items() if t == "view"],
    )
    if len(views[0]) != len(views[1]):
        return (
            "a CREATE TABLE also serves what it writes (a view node beside the sink)"
            if views[1]
            else f"node {views[0][0]} (view): only a CREATE TABLE has a view, and this graph writes a stream"
        )
    renamed = {node: other for node, other in pairs.items() if node != other}
    if renamed:
        listed = ", ".join(f"{node} → {other}" for node, other in sorted(renamed.items()))
        return (
            f"it is the SQL's graph but for node ids ({listed}); node ids name state and topics, "
            "so they are part of the plan: rename the nodes to get SQL"
        )
    return "the SQL's graph compiles to another plan"


class _Edges:
    """A compiled (so well-formed) document as types, configs and inputs by port, per node."""

    def __init__(self, document: dict[str, Any]) -> None:
        nodes = document["nodes"]
        self.types = {n["id"]: n["type"] for n in nodes}
        self.configs = {n["id"]: _normal(n["type"], n.get("config") or {}) for n in nodes}
        self.inputs: dict[str, list[tuple[str, str]]] = {n["id"]: [] for n in nodes}
        for edge in document.get("edges", []):
            self.inputs[edge["target"]].append((edge.get("target_port") or "in", edge["source"]))
        for inputs in self.inputs.values():
            inputs.sort()
        self.sink = next(n["id"] for n in nodes if n["type"] == "sink")


def _normal(node_type: str, config: dict[str, Any]) -> dict[str, Any]:
    """A config with its defaults filled in (``"json"`` given or left out is one config)."""
    model = NODE_TYPES[node_type].config
    return model.model_validate(config).model_dump(mode="json", by_alias=True)


__all__ = ["RenderResult", "duration", "identifier", "render"]
