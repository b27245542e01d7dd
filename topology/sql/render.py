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

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from topology import compiler
from topology.compiler.catalog import parse_duration
from topology.compiler.expressions import PSEUDO_COLUMNS
from topology.compiler.semantic_passes import composite_key_names
from topology.sql.ast import CreateAsSelect, SetProperty
from topology.sql.catalog import DictCatalog, SourceDef
from topology.sql.cursor import RESERVED
from topology.sql.errors import SqlError
from topology.sql.expressions import EXPRESSION_KEYWORDS
from topology.sql.parser import parse
from topology.sql.tokens import TokenKind, tokenize
from topology.sql.translate import translate

_BARE = re.compile(r"[A-Z_][A-Z0-9_]*")
# Words an unquoted name may not be: the parser or the expression grammar would read them.
_KEYWORDS = (
    RESERVED
    | EXPRESSION_KEYWORDS
    | frozenset(PSEUDO_COLUMNS)
    | frozenset(("WINDOWSTART", "WINDOWEND"))
    | frozenset(("WITHIN", "GRACE", "WINDOW", "JOIN", "INNER", "LEFT", "RIGHT", "FULL", "OUTER", "ON"))
    | frozenset(("PARTITION", "GROUP", "HAVING", "EMIT", "LIMIT", "WHERE", "SELECT", "DIV"))
)
_UNITS = (("DAYS", 86_400_000), ("HOURS", 3_600_000), ("MINUTES", 60_000), ("SECONDS", 1_000))
_NORMAL_TYPES = ("source", "table_source", "map", "filter", "join", "aggregate", "select_key", "flat_map")
_HOW = {"inner": "JOIN", "left": "LEFT JOIN", "outer": "FULL OUTER JOIN"}


@dataclass(frozen=True)
class RenderResult:
    """The statement (``sql``), or why the graph has none (``reason``, naming the node)."""

    sql: str | None
    reason: str | None = None


class _Refusal(Exception):
    pass


def render(
    document: dict[str, Any],
    sources: Iterable[SourceDef],
    *,
    kind: str | None = None,
    name: str | None = None,
) -> RenderResult:
    """The ``CREATE STREAM|TABLE ... AS SELECT`` that translates into ``document``'s plan."""
    catalog = list(sources)
    compiled = compiler.compile_document(document)
    if compiled.plan is None:
        error = next((i for i in compiled.issues if i.severity == "error"), None)
        where = f" (node {error.node_id})" if error is not None and error.node_id else ""
        return RenderResult(None, f"the graph does not compile: {error.message if error else '?'}{where}")
    try:
        sql = _Graph(document, catalog).statement(kind, name)
    except _Refusal as refusal:
        return RenderResult(None, str(refusal))
    return _verified(sql, compiled.plan.hash, catalog, str(document.get("name") or "query"))


def _verified(sql: str, wanted: str, catalog: list[SourceDef], name: str) -> RenderResult:
    """``sql`` when it translates to a plan of hash ``wanted``, else the reason it does not."""
    try:
        statements = parse(sql)
        statement = statements[-1]
        assert isinstance(statement, CreateAsSelect)
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
            "the graph is outside the form SQL translates to: the closest statement translates to "
            "another plan (node ids, node configs and the order of fields must be the translator's)",
        )
    return RenderResult(sql)


# --- reading the graph ------------------------------------------------------------------------


@dataclass
class _Side:
    """What flows out of a node, in SQL terms: physical field → SQL reference, the fields that
    hold the record key, the FROM/JOIN text that makes it."""

    kind: str  # stream | table
    names: dict[str, str]  # physical field → SQL (``alias.COL`` or ``COL``)
    keys: list[str]  # physical fields holding the record key
    relations: str  # FROM ... [JOIN ...]
    alias: str | None = None  # a source's qualifier (None for a join)
    source: SourceDef | None = None
    joined: bool = False


@dataclass
class _Query:
    """The clauses found, as SQL text."""

    from_: str = ""
    where: str | None = None
    window: str | None = None
    group_by: list[str] = field(default_factory=list)
    partition_by: list[str] = field(default_factory=list)
    having: str | None = None
    emit_final: bool = False
    items: list[str] = field(default_factory=list)


class _Graph:
    def __init__(self, document: dict[str, Any], catalog: list[SourceDef]) -> None:
        self.catalog = catalog
        self.nodes: dict[str, dict[str, Any]] = {n["id"]: n for n in document.get("nodes", [])}
        self.inputs: dict[str, list[tuple[str, str | None]]] = {n: [] for n in self.nodes}
        self.outputs: dict[str, list[str]] = {n: [] for n in self.nodes}
        for edge in document.get("edges", []):
            if edge.get("source_port") not in (None, "out"):
                raise _Refusal(
                    f"node {edge['source']}: its output port {edge['source_port']!r} is a branch; "
                    "one SQL statement has one flow"
                )
            self.inputs[edge["target"]].append((edge["source"], edge.get("target_port")))
            self.outputs[edge["source"]].append(edge["target"])

    # -- helpers --

    def config(self, node_id: str) -> dict[str, Any]:
        return dict(self.nodes[node_id].get("config") or {})

    def type(self, node_id: str) -> str:
        return str(self.nodes[node_id]["type"])

    def input(self, node_id: str) -> str:
        inputs = self.inputs[node_id]
        if len(inputs) != 1:
            raise _Refusal(
                f"node {node_id} ({self.type(node_id)}) has {len(inputs)} inputs; "
                "only a join takes two in SQL (a merge of streams has no SQL form here)"
            )
        upstream = inputs[0][0]
        if self.type(upstream) not in _NORMAL_TYPES:
            raise _Refusal(self._unsupported(upstream))
        if len(self.outputs[upstream]) != 1 and upstream != self.project:
            raise _Refusal(
                f"node {upstream} feeds {len(self.outputs[upstream])} nodes "
                f"({', '.join(self.outputs[upstream])}); one SQL statement is one flow to one sink"
            )
        return upstream

    def _unsupported(self, node_id: str) -> str:
        return f"node {node_id}: a {self.type(node_id)} node has no SQL form in a CREATE ... AS SELECT"

    # -- the statement --

    def statement(self, kind: str | None, name: str | None) -> str:
        for node_id in self.nodes:
            if self.type(node_id) not in (*_NORMAL_TYPES, "sink", "view"):
                raise _Refusal(self._unsupported(node_id))
        sinks = [n for n in self.nodes if self.type(n) == "sink"]
        views = [n for n in self.nodes if self.type(n) == "view"]
        if len(sinks) != 1:
            listed = ", ".join(sinks) or "none"
            raise _Refusal(f"the graph has {len(sinks)} sinks ({listed}); one SQL statement writes one")
        sink = sinks[0]
        if len(self.inputs[sink]) != 1:
            raise _Refusal(f"node {sink} (sink) has {len(self.inputs[sink])} inputs")
        self.project = self.inputs[sink][0][0]
        if len(views) > 1 or any(self.inputs[v] and self.inputs[v][0][0] != self.project for v in views):
            raise _Refusal(
                f"node {views[-1]} (view): a CREATE TABLE serves one view of what it writes, fed by "
                f"the node that feeds the sink ({self.project})"
            )
        if self.type(self.project) != "map" or self.config(self.project).get("keep") != []:
            raise _Refusal(
                f"node {self.project}: the node before the sink is SQL's projection, a map that "
                "keeps only the fields it computes (keep: [])"
            )
        if len(self.outputs[self.project]) != 1 + len(views):
            raise _Refusal(f"node {self.project} feeds nodes other than the sink and the view")
        kind = kind or ("TABLE" if views else "STREAM")
        sink_config = self.config(sink)
        topic = str(sink_config.get("topic", ""))
        title = self.config(views[0]).get("title") if views else None
        target = name or title or topic
        query = self.query()
        lines = [f"CREATE {kind} {identifier(target)} WITH (KAFKA_TOPIC={_string(topic)}) AS SELECT"]
        lines.append("  " + ",\n  ".join(query.items))
        lines.append(f"FROM {query.from_}")
        if query.where is not None:
            lines.append(f"WHERE {query.where}")
        if query.window is not None:
            lines.append(query.window)
        if query.group_by:
            lines.append("GROUP BY " + ", ".join(query.group_by))
        if query.partition_by:
            lines.append("PARTITION BY " + ", ".join(query.partition_by))
        if query.having is not None:
            lines.append(f"HAVING {query.having}")
        if query.emit_final:
            lines.append("EMIT FINAL")
        sql = "\n".join(lines) + ";"
        resets = {
            self.config(n).get("offset_reset", "earliest")
            for n in self.nodes
            if self.type(n) in ("source", "table_source")
        }
        if resets == {"latest"}:
            sql = "SET 'auto.offset.reset' = 'latest';\n" + sql
        return sql

    def query(self) -> _Query:
        query = _Query()
        node = self.input(self.project)
        aggregate = having = partition = explode = where = None
        if self.type(node) == "filter" and self.type(self.input(node)) == "aggregate":
            having, node = node, self.input(node)
        if self.type(node) == "aggregate":
            aggregate, node = node, self.input(node)
        else:
            if self.type(node) == "flat_map":
                explode, node = node, self.input(node)
            if self.type(node) == "select_key":
                partition, node = node, self.input(node)
        if self.type(node) == "filter":
            where, node = node, self.input(node)
        side = self.side(node, top=True)
        query.from_ = side.relations
        names = side.names
        scope = _scope(names, node)
        if where is not None:
            query.where = expression(self.config(where)["where"], scope, where)
        if aggregate is not None:
            return self.aggregated(query, aggregate, having, scope)
        fields = dict(self.config(self.project).get("fields") or {})
        key_item: str | None = None
        if partition is not None:
            keys = self.config(partition)["key"]
            query.partition_by = [expression(k, scope, partition) for k in _listed(keys)]
            key_item = query.partition_by[0]
        elif side.keys:
            key_item = names[side.keys[0]]
        exploded: dict[str, str] = {}
        if explode is not None:
            config = self.config(explode)
            element = config.get("as") or config["field"].split(".")[-1]
            path = [part for part in str(config["field"]).split(".")]
            exploded[element] = f"EXPLODE({_path(path, names, explode)})"
        items = []
        key_last = False
        for position, (out, text) in enumerate(fields.items()):
            match = re.fullmatch(r'"KSQL_EXPLODE_(\d+)"', text)
            if match and match.group(1) and explode is not None:
                key_last = int(match.group(1)) == position
                sql_text = exploded.get(f"KSQL_EXPLODE_{match.group(1)}", "")
                if not sql_text:
                    raise _Refusal(f"node {self.project}: field {out} reads an array no flat_map explodes")
                items.append(f"{sql_text} AS {identifier(out)}")
                continue
            items.append(_item(out, text, scope, self.project))
        if key_item is not None:
            key = _key_item(key_item, fields)
            items = [*items, key] if key_last else [key, *items]
        if not items:
            raise _Refusal(f"node {self.project}: the projection computes no field")
        query.items = items
        return query

    def aggregated(self, query: _Query, node: str, having: str | None, scope: _Resolver) -> _Query:
        config = self.config(node)
        groups = config.get("group_by")
        if groups is None:
            raise _Refusal(
                f"node {node}: it groups by the record key as it is (no group_by); SQL's GROUP BY "
                "always names the expression it groups by"
            )
        group_sql = [expression(g, scope, node) for g in _listed(groups)]
        query.group_by = group_sql
        window = config.get("window")
        if window is not None:
            query.window = _window(window, node)
        if config.get("emit") == "final":
            query.emit_final = True
        calls = {
            name: expression(text, scope, node) for name, text in (config.get("aggregations") or {}).items()
        }
        composite = composite_key_names(list(_listed(groups))) if isinstance(groups, list) else []
        windowed = window is not None

        def resolve(path: list[str], whole: bool) -> str:
            prefix = ["ROWKEY", "key"] if windowed else ["ROWKEY"]
            if path[0] == "ROWKEY":
                if windowed and path[1:] in (["window_start"], ["window_end"]):
                    return "WINDOWSTART" if path[1] == "window_start" else "WINDOWEND"
                rest = path[len(prefix) :]
                if path[: len(prefix)] == prefix:
                    if not composite and not rest:
                        return _grouped(group_sql[0], whole)
                    if composite and len(rest) == 1 and rest[0] in composite:
                        return _grouped(group_sql[composite.index(rest[0])], whole)
                raise _Refusal(f"node {node}: {'.'.join(path)} is no part of the group key")
            if len(path) == 1 and path[0] in calls:
                return calls[path[0]]
            raise _Refusal(f"node {node}: {path[0]} is neither the group key nor an aggregation of it")

        if having is not None:
            query.having = expression(self.config(having)["where"], resolve, having)
        fields = dict(self.config(self.project).get("fields") or {})
        items = [_key_item(sql, fields) for sql in group_sql]
        items += [_item(out, text, resolve, self.project) for out, text in fields.items()]
        query.items = items
        return query

    # -- sources and joins --

    def side(self, node_id: str, *, top: bool = False, joined: bool = False) -> _Side:
        kind = self.type(node_id)
        if kind == "join":
            return self.join(node_id)
        if kind == "map":
            upstream = self.input(node_id)
            if self.type(upstream) not in ("source", "table_source"):
                raise _Refusal(
                    f"node {node_id}: a map before the clauses is a source's key-columns row "
                    f"(<alias>_row); this one reads {upstream} ({self.type(upstream)})"
                )
            return self.side(upstream, top=top, joined=joined)
        if kind not in ("source", "table_source"):
            raise _Refusal(
                f"node {node_id} ({kind}): a query's clauses go WHERE, then PARTITION BY or GROUP BY, "
                "then HAVING; this node is out of that order"
            )
        config = self.config(node_id)
        topics = config.get("topics") if kind == "source" else [config.get("topic")]
        wanted = "STREAM" if kind == "source" else "TABLE"
        if not topics or len(topics) != 1:
            raise _Refusal(f"node {node_id}: it reads {len(topics or [])} topics; a SQL source is one topic")
        candidates = [s for s in self.catalog if s.topic == topics[0] and s.kind == wanted]
        if not candidates:
            raise _Refusal(
                f"node {node_id}: no {wanted.lower()} of the catalog reads topic {topics[0]!r} "
                "(declare it with CREATE " + wanted + ")"
            )
        source = next((s for s in candidates if s.name.lower() == node_id), candidates[0])
        named = re.sub(r"[^A-Za-z0-9_]", "_", source.name.lower())[:56] == node_id
        alias = source.name if named else node_id.upper()
        relation = identifier(source.name) + ("" if named else f" {identifier(alias)}")
        qualifier = identifier(alias)
        names: dict[str, str] = {}
        columns = [c.name for c in source.columns]
        if source.window is not None:
            columns += ["WINDOWSTART", "WINDOWEND"]
        for column in columns:
            names[column] = identifier(column) if top else f"{qualifier}.{identifier(column)}"
        if joined:
            names["ROWTIME"] = f"{qualifier}.ROWTIME"
        keys = [c.name for c in source.key_columns] if len(source.key_columns) == 1 else []
        side_kind = "stream" if wanted == "STREAM" else "table"
        return _Side(side_kind, names, keys, relation, alias=alias, source=source)

    def join(self, node_id: str) -> _Side:
        ports = {port: source for source, port in self.inputs[node_id]}
        if set(ports) != {"left", "right"}:
            raise _Refusal(f"node {node_id} (join) needs a left and a right input")
        for upstream in ports.values():
            if len(self.outputs[upstream]) != 1:
                raise _Refusal(f"node {upstream} feeds {len(self.outputs[upstream])} nodes; one flow")
        left = self.side(ports["left"], joined=True)
        right = self.side(ports["right"], joined=True)
        if right.source is None:
            raise _Refusal(f"node {node_id}: its right input is a join; SQL's joins are left-deep")
        config = self.config(node_id)
        select = dict(config.get("select") or {})
        if not select:
            raise _Refusal(f"node {node_id}: a join that merges both rows (no select) has no SQL form")
        names: dict[str, str] = {}
        back: dict[tuple[str, str], str] = {}
        for out, text in select.items():
            match = re.fullmatch(r'"(left|right)"\."((?:[^"]|"")+)"', text)
            physical = match.group(2).replace('""', '"') if match else None
            side = left if match and match.group(1) == "left" else right
            if match is None or physical not in side.names:
                raise _Refusal(f"node {node_id}: select field {out} = {text} is not one column of a side")
            names[out] = side.names[physical]
            back[(match.group(1), physical)] = out
        foreign = config.get("foreign_key")
        left_scope, right_scope = _scope(left.names, node_id), _scope(right.names, node_id)
        if foreign is not None:
            on_left = expression(foreign, left_scope, node_id)
        elif config.get("left_key") is not None:
            on_left = expression(config["left_key"], left_scope, node_id)
        elif left.keys:
            on_left = left.names[left.keys[0]]
        else:
            raise _Refusal(f"node {node_id}: its left side has no key column to join on")
        if config.get("right_key") is not None:
            on_right = expression(config["right_key"], right_scope, node_id)
        elif right.keys:
            on_right = right.names[right.keys[0]]
        else:
            raise _Refusal(f"node {node_id}: its right side has no key column to join on")
        how = _HOW[config.get("how", "inner")]
        within = ""
        if config.get("window") is not None:
            within = " " + _within(config["window"], node_id)
        relations = f"{left.relations}\n{how} {right.relations}{within} ON {on_left} = {on_right}"
        keys: list[str] = []

        def add(side_name: str, physical: str | None) -> None:
            out = back.get((side_name, physical or ""))
            if out is not None and out not in keys:
                keys.append(out)

        # The fields that hold the joined record's key (the translator's rule), the left side's first.
        if foreign is not None:
            for k in left.keys:
                add("left", k)
        else:
            if config.get("left_key") is None:
                for k in left.keys:
                    add("left", k)
            for side_name, key_text in (("left", config.get("left_key")), ("right", config.get("right_key"))):
                plain = re.fullmatch(r'"((?:[^"]|"")+)"', key_text or "")
                if plain:
                    add(side_name, plain.group(1).replace('""', '"'))
            if config.get("right_key") is None:
                for k in right.keys:
                    add("right", k)
        kind = "table" if left.kind == right.kind == "table" else "stream"
        return _Side(kind, names, keys, relations, joined=True)


# --- expressions ------------------------------------------------------------------------------

_Resolver = Callable[[list[str], bool], str]


def _scope(names: dict[str, str], node_id: str) -> _Resolver:
    """Physical paths before any GROUP BY: a field and its struct parts (``A->B``)."""

    def resolve(path: list[str], whole: bool) -> str:
        if path[0] == "ROWKEY":
            return "->".join(["ROWKEY", *(identifier(p) for p in path[1:])])
        return _path(path, names, node_id)

    return resolve


def _path(path: list[str], names: dict[str, str], node_id: str) -> str:
    head = names.get(path[0])
    if head is None:
        raise _Refusal(f"node {node_id}: field {path[0]} is no column of the query's sources")
    return "->".join([head, *(identifier(p) for p in path[1:])])


def _grouped(sql: str, whole: bool) -> str:
    return sql if whole or _BARE_PATH.fullmatch(sql) or re.fullmatch(r"\w+\(.*\)", sql) else f"({sql})"


_NAME = r"(?:[A-Z_][A-Z0-9_]*|`(?:[^`]|``)+`)"
_BARE_PATH = re.compile(rf"{_NAME}(?:\.{_NAME})?(?:->{_NAME})*")


def expression(text: str, resolve: _Resolver, node_id: str) -> str:
    """Compiler text → ksqlDB text: paths through ``resolve``, ``DIV`` as ``/``, ``->`` as ``=>``."""
    try:
        tokens = [t for t in tokenize(str(text)) if t.kind is not TokenKind.END]
    except SqlError as error:
        raise _Refusal(f"node {node_id}: cannot read {text!r} ({error.message})") from None
    out: list[str] = []
    position = 0
    index = 0
    while index < len(tokens):
        token = tokens[index]
        previous = tokens[index - 1] if index else None
        starts_path = (token.kind is TokenKind.QUOTED or token.is_word("ROWKEY")) and not (
            previous is not None and previous.is_symbol(".")
        )
        replacement: str | None = None
        end = index + 1
        if starts_path:
            path = [token.value]
            while (
                end + 1 < len(tokens)
                and tokens[end].is_symbol(".")
                and tokens[end + 1].kind is TokenKind.QUOTED
            ):
                path.append(tokens[end + 1].value)
                end += 2
            if not (end < len(tokens) and tokens[end].is_symbol("(")):
                # Delimited (the whole text, a call's argument, inside brackets): an expression
                # put there needs no brackets of its own.
                before = tokens[index - 1] if index else None
                after = tokens[end] if end < len(tokens) else None
                whole = (before is None or before.is_symbol("(", ",")) and (
                    after is None or after.is_symbol(")", ",")
                )
                replacement = resolve(path, whole)
        elif token.is_word("DIV"):
            replacement = "/"
        elif token.is_symbol("->"):
            raise _Refusal(f"node {node_id}: lambdas ({text[:40]}) are not rendered back to SQL yet")
        if replacement is not None:
            out.append(text[position : token.offset])
            out.append(replacement)
            position = tokens[end - 1].end
        index = end if replacement is not None else index + 1
    out.append(text[position:])
    return "".join(out)


def _item(out: str, text: str, resolve: _Resolver, node_id: str) -> str:
    sql = expression(text, resolve, node_id)
    natural = sql.split("->")[-1].split(".")[-1]
    if _BARE_PATH.fullmatch(sql) and natural in (identifier(out), f"`{out}`"):
        return sql
    return f"{sql} AS {identifier(out)}"


def _key_item(sql: str, fields: dict[str, str]) -> str:
    natural = sql.split("->")[-1].split(".")[-1].strip("`")
    if _BARE_PATH.fullmatch(sql) and natural not in fields:
        return sql
    name, counter = "KEY", 0
    while name in fields:
        counter += 1
        name = f"KEY_{counter}"
    return f"{sql} AS {name}"


def _listed(keys: Any) -> list[str]:
    return [str(k) for k in keys] if isinstance(keys, list) else [str(keys)]


def identifier(name: str) -> str:
    """A name as ksqlDB reads it back: bare when it is one upper-case word, else in backticks."""
    if _BARE.fullmatch(name) and name not in _KEYWORDS:
        return name
    return "`" + name.replace("`", "``") + "`"


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def duration(milliseconds: int) -> str:
    """ksqlDB's duration: the largest unit that divides it (``90 SECONDS``, ``500 MILLISECONDS``)."""
    for unit, size in _UNITS:
        if milliseconds and milliseconds % size == 0:
            return f"{milliseconds // size} {unit}"
    return f"{milliseconds} MILLISECONDS"


def _ms(config: dict[str, Any], key: str, node_id: str) -> int:
    try:
        return parse_duration(config.get(key, 0))
    except ValueError as error:
        raise _Refusal(f"node {node_id}: window {key}: {error}") from None


def _window(window: dict[str, Any], node_id: str) -> str:
    grace = f"GRACE PERIOD {duration(_ms(window, 'grace', node_id))}"
    kind = window.get("type")
    if kind == "tumbling":
        return f"WINDOW TUMBLING (SIZE {duration(_ms(window, 'size', node_id))}, {grace})"
    if kind == "hopping":
        size, advance = duration(_ms(window, "size", node_id)), duration(_ms(window, "advance", node_id))
        return f"WINDOW HOPPING (SIZE {size}, ADVANCE BY {advance}, {grace})"
    if kind == "session":
        return f"WINDOW SESSION ({duration(_ms(window, 'gap', node_id))}, {grace})"
    return f"WINDOW SLIDING (SIZE {duration(_ms(window, 'difference', node_id))}, {grace})"


def _within(window: dict[str, Any], node_id: str) -> str:
    grace = f"GRACE PERIOD {duration(_ms(window, 'grace', node_id))}"
    if window.get("size") is not None:
        return f"WITHIN {duration(_ms(window, 'size', node_id))} {grace}"
    before, after = duration(_ms(window, "before", node_id)), duration(_ms(window, "after", node_id))
    return f"WITHIN ({before}, {after}) {grace}"


__all__ = ["RenderResult", "duration", "identifier", "render"]
