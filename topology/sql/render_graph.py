"""Reading a graph in the translator's normal form as the clauses of one query (``render``'s first half).

``Graph(document, catalog).statement(kind, name)`` walks back from the one sink: the
``project`` map (SQL's projection), then an optional HAVING filter and aggregate, or an
EXPLODE flat_map and a PARTITION BY select_key, an optional WHERE filter, and the join tree
down to its sources (each matched to a catalog entry by topic and kind). Any node out of
that shape raises ``Refusal`` naming it. The text is not trusted: ``render`` checks it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from topology.compiler.semantic_passes import composite_key_names
from topology.sql.catalog import SourceDef
from topology.sql.render_text import (
    Refusal,
    Resolver,
    before_grouping,
    expression,
    grouped,
    identifier,
    key_item,
    listed,
    path_text,
    projection_item,
    string_literal,
    window_clause,
    within_clause,
)

_NORMAL_TYPES = ("source", "table_source", "map", "filter", "join", "aggregate", "select_key", "flat_map")
_HOW = {"inner": "JOIN", "left": "LEFT JOIN", "outer": "FULL OUTER JOIN"}


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
    kind: str = "stream"  # what the projection reads: a stream, or a table (grouped, or tables)


class Graph:
    def __init__(self, document: dict[str, Any], catalog: list[SourceDef]) -> None:
        self.catalog = catalog
        self.project = ""  # the projection map, found from the sink
        self.sink_topic = ""
        self.nodes: dict[str, dict[str, Any]] = {n["id"]: n for n in document.get("nodes", [])}
        self.inputs: dict[str, list[tuple[str, str | None]]] = {n: [] for n in self.nodes}
        self.outputs: dict[str, list[str]] = {n: [] for n in self.nodes}
        for edge in document.get("edges", []):
            if edge.get("source_port") not in (None, "out"):
                raise Refusal(
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
            raise Refusal(
                f"node {node_id} ({self.type(node_id)}) has {len(inputs)} inputs; "
                "only a join takes two in SQL (a merge of streams has no SQL form here)"
            )
        upstream = inputs[0][0]
        if self.type(upstream) not in _NORMAL_TYPES:
            raise Refusal(self._unsupported(upstream))
        if len(self.outputs[upstream]) != 1 and upstream != self.project:
            raise Refusal(
                f"node {upstream} feeds {len(self.outputs[upstream])} nodes "
                f"({', '.join(self.outputs[upstream])}); one SQL statement is one flow to one sink"
            )
        return upstream

    def _unsupported(self, node_id: str) -> str:
        return f"node {node_id}: a {self.type(node_id)} node has no SQL form in a CREATE ... AS SELECT"

    # -- the statement --

    def statement(self, kind: str | None, name: str | None, *, insert_into: str | None = None) -> str:
        """The statement's text: ``CREATE kind name ... AS SELECT``, or ``INSERT INTO insert_into
        SELECT`` (a stream of the catalog that already writes the sink's topic)."""
        for node_id in self.nodes:
            if self.type(node_id) not in (*_NORMAL_TYPES, "sink", "view"):
                raise Refusal(self._unsupported(node_id))
        sinks = [n for n in self.nodes if self.type(n) == "sink"]
        views = [n for n in self.nodes if self.type(n) == "view"]
        if len(sinks) != 1:
            listed = ", ".join(sinks) or "none"
            raise Refusal(f"the graph has {len(sinks)} sinks ({listed}); one SQL statement writes one")
        sink = sinks[0]
        if len(self.inputs[sink]) != 1:
            raise Refusal(f"node {sink} (sink) has {len(self.inputs[sink])} inputs")
        self.project = self.inputs[sink][0][0]
        if len(views) > 1 or any(self.inputs[v] and self.inputs[v][0][0] != self.project for v in views):
            raise Refusal(
                f"node {views[-1]} (view): a CREATE TABLE serves one view of what it writes, fed by "
                f"the node that feeds the sink ({self.project})"
            )
        if self.type(self.project) != "map" or self.config(self.project).get("keep") != []:
            raise Refusal(
                f"node {self.project}: the node before the sink is SQL's projection, a map that "
                "keeps only the fields it computes (keep: [])"
            )
        if len(self.outputs[self.project]) != 1 + len(views):
            raise Refusal(f"node {self.project} feeds nodes other than the sink and the view")
        sink_config = self.config(sink)
        topic = str(sink_config.get("topic", ""))
        title = self.config(views[0]).get("title") if views else None
        target = name or title or topic
        query = self.query()
        kind = kind or ("TABLE" if views or query.kind == "table" else "STREAM")
        self.sink_topic = topic
        header = f"CREATE {kind} {identifier(target)} WITH (KAFKA_TOPIC={string_literal(topic)}) AS SELECT"
        if insert_into is not None:
            header = f"INSERT INTO {identifier(insert_into)} SELECT"
        lines = [header]
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
        query.kind = "table" if aggregate is not None else side.kind
        names = side.names
        scope = before_grouping(names, node)
        if where is not None:
            query.where = expression(self.config(where)["where"], scope, where)
        if aggregate is not None:
            return self.aggregated(query, aggregate, having, scope)
        fields = dict(self.config(self.project).get("fields") or {})
        key_sql: str | None = None
        if partition is not None:
            keys = self.config(partition)["key"]
            query.partition_by = [expression(k, scope, partition) for k in listed(keys)]
            key_sql = query.partition_by[0]
        elif side.keys:
            key_sql = names[side.keys[0]]
        exploded: dict[str, str] = {}
        if explode is not None:
            config = self.config(explode)
            element = config.get("as") or config["field"].split(".")[-1]
            path = str(config["field"]).split(".")
            exploded[element] = f"EXPLODE({path_text(path, names, explode)})"
        items = []
        key_last = False
        for position, (out, text) in enumerate(fields.items()):
            match = re.fullmatch(r'"KSQL_EXPLODE_(\d+)"', text)
            if match and explode is not None:
                key_last = int(match.group(1)) == position
                sql_text = exploded.get(f"KSQL_EXPLODE_{match.group(1)}", "")
                if not sql_text:
                    raise Refusal(f"node {self.project}: field {out} reads an array no flat_map explodes")
                items.append(f"{sql_text} AS {identifier(out)}")
                continue
            items.append(projection_item(out, text, scope, self.project))
        if key_sql is not None:
            key = key_item(key_sql, fields)
            items = [*items, key] if key_last else [key, *items]
        if not items:
            raise Refusal(f"node {self.project}: the projection computes no field")
        query.items = items
        return query

    def aggregated(self, query: _Query, node: str, having: str | None, scope: Resolver) -> _Query:
        config = self.config(node)
        groups = config.get("group_by")
        if groups is None:
            raise Refusal(
                f"node {node}: it groups by the record key as it is (no group_by); SQL's GROUP BY "
                "always names the expression it groups by"
            )
        group_sql = [expression(g, scope, node) for g in listed(groups)]
        query.group_by = group_sql
        window = config.get("window")
        if window is not None:
            query.window = window_clause(window, node)
        if config.get("emit") == "final":
            query.emit_final = True
        calls = {
            name: expression(text, scope, node) for name, text in (config.get("aggregations") or {}).items()
        }
        composite = composite_key_names(list(listed(groups))) if isinstance(groups, list) else []
        windowed = window is not None

        def resolve(path: list[str], whole: bool) -> str:
            prefix = ["ROWKEY", "key"] if windowed else ["ROWKEY"]
            if path[0] == "ROWKEY":
                if windowed and path[1:] in (["window_start"], ["window_end"]):
                    return "WINDOWSTART" if path[1] == "window_start" else "WINDOWEND"
                rest = path[len(prefix) :]
                if path[: len(prefix)] == prefix:
                    if not composite and not rest:
                        return grouped(group_sql[0], whole)
                    if composite and len(rest) == 1 and rest[0] in composite:
                        return grouped(group_sql[composite.index(rest[0])], whole)
                raise Refusal(f"node {node}: {'.'.join(path)} is no part of the group key")
            if len(path) == 1 and path[0] in calls:
                return calls[path[0]]
            raise Refusal(f"node {node}: {path[0]} is neither the group key nor an aggregation of it")

        if having is not None:
            query.having = expression(self.config(having)["where"], resolve, having)
        fields = dict(self.config(self.project).get("fields") or {})
        items = [key_item(sql, fields) for sql in group_sql]
        items += [projection_item(out, text, resolve, self.project) for out, text in fields.items()]
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
                raise Refusal(
                    f"node {node_id}: a map before the clauses is a source's key-columns row "
                    f"(<alias>_row); this one reads {upstream} ({self.type(upstream)})"
                )
            return self.side(upstream, top=top, joined=joined)
        if kind not in ("source", "table_source"):
            raise Refusal(
                f"node {node_id} ({kind}): a query's clauses go WHERE, then PARTITION BY or GROUP BY, "
                "then HAVING; this node is out of that order"
            )
        config = self.config(node_id)
        topics = config.get("topics") if kind == "source" else [config.get("topic")]
        wanted = "STREAM" if kind == "source" else "TABLE"
        if not topics or len(topics) != 1:
            raise Refusal(f"node {node_id}: it reads {len(topics or [])} topics; a SQL source is one topic")
        candidates = [s for s in self.catalog if s.topic == topics[0] and s.kind == wanted]
        if not candidates:
            raise Refusal(
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
            raise Refusal(f"node {node_id} (join) needs a left and a right input")
        for upstream in ports.values():
            if len(self.outputs[upstream]) != 1:
                raise Refusal(f"node {upstream} feeds {len(self.outputs[upstream])} nodes; one flow")
        left = self.side(ports["left"], joined=True)
        right = self.side(ports["right"], joined=True)
        if right.source is None:
            raise Refusal(f"node {node_id}: its right input is a join; SQL's joins are left-deep")
        config = self.config(node_id)
        select = dict(config.get("select") or {})
        if not select:
            raise Refusal(f"node {node_id}: a join that merges both rows (no select) has no SQL form")
        names: dict[str, str] = {}
        back: dict[tuple[str, str], str] = {}
        for out, text in select.items():
            match = re.fullmatch(r'"(left|right)"\."((?:[^"]|"")+)"', text)
            physical = match.group(2).replace('""', '"') if match else None
            side = left if match and match.group(1) == "left" else right
            if match is None or physical not in side.names:
                raise Refusal(f"node {node_id}: select field {out} = {text} is not one column of a side")
            names[out] = side.names[physical]
            back[(match.group(1), physical)] = out
        foreign = config.get("foreign_key")
        left_scope, right_scope = before_grouping(left.names, node_id), before_grouping(right.names, node_id)
        if foreign is not None:
            on_left = expression(foreign, left_scope, node_id)
        elif config.get("left_key") is not None:
            on_left = expression(config["left_key"], left_scope, node_id)
        elif left.keys:
            on_left = left.names[left.keys[0]]
        else:
            raise Refusal(f"node {node_id}: its left side has no key column to join on")
        if config.get("right_key") is not None:
            on_right = expression(config["right_key"], right_scope, node_id)
        elif right.keys:
            on_right = right.names[right.keys[0]]
        else:
            raise Refusal(f"node {node_id}: its right side has no key column to join on")
        how = _HOW[config.get("how", "inner")]
        within = ""
        if config.get("window") is not None:
            within = " " + within_clause(config["window"], node_id)
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
