"""Queries → topology documents (pure): one document per persistent query, never a second runtime.

``translate(statement, catalog, name=...)`` turns ``CREATE STREAM|TABLE ... AS SELECT`` and
``INSERT INTO ... SELECT`` into a topology document (the same JSON the editor saves) and the
``SourceDef`` of what it writes; ``translate_push(select, catalog, topic=...)`` turns a push
query into a document whose one sink writes ``topic`` (the push-query runner reads that
sink's output in memory; the topic is never created).

How a query becomes nodes (docs/sql.md, "How SQL becomes a topology"):

- each FROM/JOIN source is a ``source`` (stream) or ``table_source`` (table) node; when it
  has key columns a ``map`` node ``<alias>_row`` copies them from the record key into the
  row (ksqlDB's key columns are not in the value), so every clause reads one flat row;
- joins are ``join`` nodes (re-keying a stream with ``left_key``/``right_key`` when ON is not
  on its key); a joined row names its columns ``ALIAS_COL``, as ksqlDB does;
- WHERE is a ``filter``; PARTITION BY a ``select_key``; GROUP BY an ``aggregate`` whose
  aggregations are named ``KSQL_AGG_n``, HAVING a ``filter`` on its table, and the projection
  a ``map`` named ``project`` that computes the value columns;
- the result is written by the ``sink`` node; a table also feeds a ``view`` node ``table``:
  the serving copy that pull queries read.

Every refusal is a SqlError at the offending token's line and column; a document that the
topology compiler refuses anyway comes back as a SqlError at the clause that made the node.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from topology import compiler
from topology.compiler.expressions import canonical
from topology.compiler.semantic_passes import composite_key_names
from topology.sql.ast import (
    CreateAsSelect,
    Emit,
    Expression,
    Identifier,
    InsertIntoSelect,
    Join,
    JoinType,
    Relation,
    Select,
    SelectItemKind,
    Span,
    WindowType,
    property_value,
)
from topology.sql.catalog import KAFKA_NUMERIC, Catalog, Column, DictCatalog, SourceDef, WindowInfo, error_at
from topology.sql.errors import SqlError
from topology.sql.resolve import GroupScope, Scope, error_in, field_ref, is_aggregate, parse

SINK_NODE = "sink"
VIEW_NODE = "table"
PROJECT_NODE = "project"
# ksqlDB's default grace when a windowed aggregation or a join window gives none (0.29).
DEFAULT_GRACE_MS = 24 * 3600 * 1000
_NODE_ID = re.compile(r"[^A-Za-z0-9_]")


@dataclass(frozen=True)
class Translation:
    """A query as a topology document, what it writes, and which catalog sources it reads."""

    document: dict[str, Any]
    output: SourceDef  # the stream or table the query writes (for a push query: its rows)
    reads: tuple[str, ...]  # catalog names of the sources it reads, in FROM/JOIN order
    sink_node: str = SINK_NODE
    view_node: str | None = None  # set for tables: the view node pull queries read
    offset_reset: str = "earliest"


def translate(
    statement: CreateAsSelect | InsertIntoSelect,
    catalog: Catalog,
    *,
    name: str,
    offset_reset: str = "earliest",
) -> Translation:
    """The document of a persistent query named ``name`` (its topology's name)."""
    query = statement.query
    if query.limit is not None:
        raise error_at(query.span, "a persistent query has no LIMIT (LIMIT is for push queries)", "LIMIT")
    if isinstance(statement, InsertIntoSelect):
        target = catalog.source(statement.target.value)
        if target is None:
            raise error_at(
                statement.target.span,
                f"INSERT INTO {statement.target.value}: no such stream",
                statement.target.text,
            )
        if target.kind != "STREAM":
            raise error_at(
                statement.target.span,
                f"INSERT INTO {target.name}: only streams take INSERT INTO ... SELECT; it is a table",
                statement.target.text,
            )
        built = _Query(query, catalog, offset_reset=offset_reset, persistent=True).build()
        output = _insert_target(statement, built.output_columns(target.name, "STREAM"), target)
        return built.finish(name, output, table=False)
    kind = statement.kind.value
    built = _Query(query, catalog, offset_reset=offset_reset, persistent=True).build()
    if kind == "TABLE" and built.kind != "table":
        raise error_at(
            statement.name.span,
            f"CREATE TABLE {statement.name.value} AS SELECT needs a table: add GROUP BY, or read a table",
            statement.name.text,
        )
    if kind == "STREAM" and built.kind != "stream":
        raise error_at(
            statement.name.span,
            f"CREATE STREAM {statement.name.value} AS SELECT reads a table; use CREATE TABLE",
            statement.name.text,
        )
    topic = property_value(statement.properties, "KAFKA_TOPIC") or statement.name.value
    partitions = property_value(statement.properties, "PARTITIONS")
    output = SourceDef(
        name=statement.name.value,
        kind=kind,
        topic=str(topic),
        columns=built.output_columns(statement.name.value, kind),
        key_format="JSON" if len(built.key_names) > 1 else "KAFKA",
        value_format="JSON",
        partitions=partitions if isinstance(partitions, int) else built.partitions,
        window=built.window,
    )
    return built.finish(name, output, table=kind == "TABLE")


def translate_push(
    select: Select, catalog: Catalog, *, topic: str, offset_reset: str = "latest"
) -> Translation:
    """The document of a transient push query whose rows are what its sink writes to ``topic``.

    Every projected column is in the value, so ``row_columns`` reads a row from it; key
    columns are marked as in a persistent query (a deleted row keeps them from the key).
    """
    if select.emit is None:
        raise error_at(
            select.span,
            "a query over a stream or table needs EMIT CHANGES (a push query); pull queries read "
            "materialized tables",
            "SELECT",
        )
    built = _Query(select, catalog, offset_reset=offset_reset, persistent=False).build()
    columns = tuple(Column(c.name, c.type, c.key) for c in built.columns)
    output = SourceDef(
        name="QUERY", kind=built.kind.upper(), topic=topic, columns=columns, window=built.window
    )
    return built.finish("push query", output, table=False)


def translate_materialize(source: SourceDef, *, name: str) -> Translation:
    """``CREATE SOURCE TABLE``: the table read into a view, the serving copy pull queries read
    (ksqlDB materializes a source table for pull queries). Nothing is written to Kafka."""
    query = _Query(
        _select_all(source), DictCatalog({source.name: source}), offset_reset="earliest", persistent=True
    )
    side = query.relation(_select_all(source).from_)
    columns = [Column(c.name, c.type, c.key) for c in source.columns]
    fields = {c.name: canonical(field_ref(c.name)) for c in source.value_columns}
    node = query.node(PROJECT_NODE, "map", {"fields": fields, "keep": []}, (side.node, None))
    query.node(VIEW_NODE, "view", {"title": source.name}, (node, None))
    document = {"name": _document_name(name), "description": None, "nodes": query.nodes, "edges": query.edges}
    _check(document, {}, _select_all(source))
    output = SourceDef(
        name=source.name, kind="TABLE", topic=source.topic, columns=tuple(columns), source=True
    )
    return Translation(
        document=document, output=output, reads=(source.name,), sink_node="", view_node=VIEW_NODE
    )


def _select_all(source: SourceDef) -> Select:
    span = Span(1, 1, 0, 0)
    name = Identifier(source.name, source.name, True, span)
    return Select(text=f"SELECT * FROM {source.name}", span=span, items=(), from_=Relation(name, None, span))


def row_columns(output: SourceDef, key: Any, value: Any) -> list[Any]:
    """One output record as the row of ksqlDB's REST answers, in the output's column order.

    A column is read from the value object when it is there (a push query's rows hold every
    column in the value); a key column otherwise comes from the record key: the key itself
    for one key column, the field of a composite key ``{name: value}`` for several (of a
    windowed key ``{"key", "window_start", "window_end"}``: of its ``key``). A deleted row
    (value None) keeps its key columns and has None elsewhere."""
    if isinstance(key, dict) and "window_start" in key and "key" in key:
        key = key["key"]
    values = value if isinstance(value, dict) else {}
    several = len(output.key_columns) > 1
    row = []
    for column in output.columns:
        if column.name in values:
            row.append(values[column.name])
        elif column.key:
            row.append(
                key.get(column.name) if several and isinstance(key, dict) else (None if several else key)
            )
        else:
            row.append(None)
    return row


# --- building -------------------------------------------------------------------------------


@dataclass
class _Side:
    """What flows out of a node: its kind, the scope of its columns, the fields that hold the
    record key (a key column copied into the row), and its source partitions when known."""

    node: str
    kind: str
    scope: Scope
    key_fields: set[str]
    partitions: int | None
    window: WindowInfo | None = None  # a windowed table read as it is: its key stays windowed


@dataclass
class _OutColumn:
    name: str
    type: str
    sql: str  # the expression computing it (physical names)
    key: bool = False
    clause: Expression | None = None  # the projection item it comes from


@dataclass
class _Built:
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    where: dict[str, Expression]  # node id → the clause it came from (for locating issues)
    kind: str
    columns: list[_OutColumn]
    key_names: list[str]
    window: WindowInfo | None
    partitions: int | None
    reads: tuple[str, ...]
    offset_reset: str
    select: Select

    def output_columns(self, name: str, kind: str) -> tuple[Column, ...]:
        """Key columns first, then the value columns in projection order (ksqlDB's order)."""
        ordered = [c for c in self.columns if c.key] + [c for c in self.columns if not c.key]
        return tuple(Column(c.name, c.type, c.key) for c in ordered)

    def finish(self, name: str, output: SourceDef, *, table: bool) -> Translation:
        sink_config: dict[str, Any] = {"topic": output.topic, "value_format": "json"}
        sink_config["key_format"] = _key_serde(output)
        nodes = [*self.nodes, {"id": SINK_NODE, "type": "sink", "config": sink_config}]
        edges = [*self.edges, {"source": self.nodes[-1]["id"], "target": SINK_NODE}]
        if table:
            nodes.append({"id": VIEW_NODE, "type": "view", "config": {"title": output.name}})
            edges.append({"source": self.nodes[-1]["id"], "target": VIEW_NODE})
        document = {
            "name": _document_name(name),
            "description": self.select.text if len(self.select.text) <= 10_000 else None,
            "nodes": nodes,
            "edges": edges,
        }
        _check(document, self.where, self.select)
        return Translation(
            document=document,
            output=output,
            reads=self.reads,
            view_node=VIEW_NODE if table else None,
            offset_reset=self.offset_reset,
        )


def _document_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9 ._-]", "_", name).lstrip(" ._-") or "query"
    return cleaned[:100]


def _key_serde(output: SourceDef) -> str:
    keys = output.key_columns
    if output.window is not None:
        return "json"  # the windowed key {"key", "window_start", "window_end"}
    if len(keys) == 1 and output.key_format == "KAFKA":
        return KAFKA_NUMERIC.get(keys[0].type, "string")
    return "json" if len(keys) > 1 else "string"


def _check(document: dict[str, Any], where: dict[str, Expression], select: Select) -> None:
    """Compile the document; the first error becomes a SqlError at the clause behind its node
    (the projection item or aggregate call behind the field, when known), at the offending
    word when the clause holds it."""
    result = compiler.compile_document(document)
    errors = [issue for issue in result.issues if issue.severity == "error"]
    if not errors:
        return
    issue = errors[0]
    clause = where.get(f"{issue.node_id}|{issue.field}") or where.get(issue.node_id or "")
    where_text = f" (node {issue.node_id}{', ' + issue.field if issue.field else ''})"
    if clause is None:
        raise error_at(select.span, issue.message + where_text, "SELECT")
    line, column, offset = clause.span.line, clause.span.column, clause.span.offset
    token = _issue_word(document, issue) or clause.text[:40]
    found = clause.text.upper().find(token.upper()) if token else -1
    if found >= 0:
        before = clause.text[:found]
        line += before.count("\n")
        column = found - before.rfind("\n") if "\n" in before else column + found
        offset += found
    else:
        token = clause.text[:40]
    raise SqlError(
        issue.message + where_text, line=line, column=column, offset=offset, token=token, code="sql.semantic"
    )


def _issue_word(document: dict[str, Any], issue: Any) -> str:
    """The word at the issue's position in the expression it names (unquoted), or ""."""
    if issue.position is None or not issue.field or not issue.field.startswith("config."):
        return ""
    node = next((n for n in document["nodes"] if n["id"] == issue.node_id), None)
    value: Any = node.get("config") if node else None
    for part in issue.field.split(".")[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str) or not 0 <= issue.position < len(value):
        return ""
    match = re.match(r'"?([A-Za-z_][A-Za-z0-9_]*|[^\s"(),]+)', value[issue.position :])
    return match.group(1) if match else ""


class _Query:
    def __init__(self, select: Select, catalog: Catalog, *, offset_reset: str, persistent: bool) -> None:
        self.select = select
        self.catalog = catalog
        self.offset_reset = offset_reset
        self.persistent = persistent
        self.nodes: list[dict[str, Any]] = []
        self.edges: list[dict[str, Any]] = []
        self.where: dict[str, Expression] = {}
        self.ids: set[str] = set()
        self.reads: list[str] = []
        self.partition_keys: list[str] | None = None  # PARTITION BY, as the select_key has it
        self.exploded: dict[int, str] = {}  # projection item index → its EXPLODE element field

    # -- nodes --

    def node(
        self,
        base: str,
        type_: str,
        config: dict[str, Any],
        *inputs: tuple[str, str | None],
        clause: Expression | None = None,
    ) -> str:
        node_id = _NODE_ID.sub("_", base.lower())[:56] or "node"
        candidate, counter = node_id, 1
        while candidate in self.ids:
            counter += 1
            candidate = f"{node_id}_{counter}"
        self.ids.add(candidate)
        self.nodes.append({"id": candidate, "type": type_, "config": config})
        for source, port in inputs:
            edge: dict[str, Any] = {"source": source, "target": candidate}
            if port:
                edge["target_port"] = port
            self.edges.append(edge)
        if clause is not None:
            self.where[candidate] = clause
        return candidate

    # -- the query --

    def build(self) -> _Built:
        select = self.select
        side = self.relation(select.from_, joined=bool(select.joins))
        for join in select.joins:
            side = self.join(side, join)
        if select.where is not None:
            condition = canonical(side.scope.rewrite(select.where))
            node = self.node("where", "filter", {"where": condition}, (side.node, None), clause=select.where)
            side = _Side(node, side.kind, side.scope, side.key_fields, side.partitions)
        if select.partition_by and select.group_by:
            raise error_at(
                select.partition_by[0].span, "PARTITION BY and GROUP BY cannot be combined", "PARTITION"
            )
        window: WindowInfo | None = None
        if select.group_by:
            side, columns, key_names, window = self.aggregate(side)
        else:
            if select.window is not None:
                raise error_at(select.window.span, "WINDOW needs GROUP BY", "WINDOW")
            if select.having is not None:
                raise error_at(select.having.span, "HAVING needs GROUP BY", "HAVING")
            if select.partition_by:
                side = self.partition(side)
            side = self.explode(side)
            columns, key_names = self.project_plain(side)
            window = side.window
        value_columns = [c for c in columns if not c.key or not self.persistent]
        fields = {c.name: c.sql for c in value_columns}
        project = self.node(PROJECT_NODE, "map", {"fields": fields, "keep": []}, (side.node, None))
        for column in value_columns:
            if column.clause is not None:
                self.where[f"{project}|config.fields.{column.name}"] = column.clause
        return _Built(
            nodes=self.nodes,
            edges=self.edges,
            where=self.where,
            kind=side.kind,
            columns=columns,
            key_names=key_names,
            window=window,
            partitions=side.partitions,
            reads=tuple(self.reads),
            offset_reset=self.offset_reset,
            select=select,
        )

    def relation(self, relation: Relation, *, joined: bool = False) -> _Side:
        source = self.catalog.source(relation.name.value)
        if source is None:
            raise error_at(
                relation.name.span,
                f"{relation.name.value} does not exist: no stream or table by that name (SHOW STREAMS; SHOW TABLES)",
                relation.name.text,
            )
        self.reads.append(source.name)
        alias = relation.alias.value if relation.alias is not None else source.name
        config: dict[str, Any] = {
            "key_format": _source_key_serde(source, relation.name.span),
            "value_format": "json",
            "offset_reset": self.offset_reset,
        }
        if source.partitions:
            config["partitions"] = source.partitions
        if source.timestamp:
            column = source.column(source.timestamp)
            ref = _json_read(column) if column is not None else f'"{source.timestamp}"'
            if source.timestamp_format:
                fmt = source.timestamp_format.replace("'", "''")
                config["timestamp"] = f"STRINGTOTIMESTAMP({ref}, '{fmt}')"
            elif column is not None and column.key:
                config["timestamp"] = "ROWKEY"
            else:
                config["timestamp"] = ref
        declared = _declared_fields(source)
        if declared is not None:
            config["fields"] = declared
        if source.kind == "STREAM":
            node = self.node(alias, "source", {"topics": [source.topic], **config})
        else:
            node = self.node(alias, "table_source", {"topic": source.topic, **config})
        keys = source.key_columns
        # A windowed table's key is {"key", "window_start", "window_end"}: its key columns
        # are inside "key", and WINDOWSTART / WINDOWEND are columns of its rows.
        key_path = ["ROWKEY", "key"] if source.window is not None else ["ROWKEY"]
        fields: dict[str, str] = {}
        if len(keys) == 1:
            fields[keys[0].name] = canonical(field_ref(*key_path))
        else:
            fields.update({c.name: canonical(field_ref(*key_path, c.name)) for c in keys})
        # JSON field names match columns ignoring case, as in ksqlDB (see Column.json_names).
        for column in source.value_columns:
            if len(column.json_names()) > 1:
                fields[column.name] = _json_read(column)
        window_columns = []
        if source.window is not None:
            fields["WINDOWSTART"] = canonical(field_ref("ROWKEY", "window_start"))
            fields["WINDOWEND"] = canonical(field_ref("ROWKEY", "window_end"))
            window_columns = [Column("WINDOWSTART", "BIGINT"), Column("WINDOWEND", "BIGINT")]
        if joined:
            # alias.ROWTIME names one side's timestamp in a join (the joined record's is the later).
            fields["ROWTIME"] = "ROWTIME"
        if fields:
            node = self.node(f"{alias}_row", "map", {"fields": fields}, (node, None))
        # (of a windowed table: the key inside its windowed key, which row_columns unwraps)
        key_fields = {keys[0].name} if len(keys) == 1 else set()
        scope = Scope(alias=alias, window=source.window is not None)
        qualifiers = tuple(dict.fromkeys((alias, source.name)))
        columns = [*source.key_columns, *window_columns, *source.value_columns]
        for column in columns:
            scope.add(qualifiers, column, column.name)
        if joined:
            scope.add(qualifiers, Column("ROWTIME", "BIGINT"), "ROWTIME", hidden=True)
        kind = "stream" if source.kind == "STREAM" else "table"
        return _Side(node, kind, scope, key_fields, source.partitions, source.window)

    def join(self, left: _Side, join: Join) -> _Side:
        right = self.relation(join.relation, joined=True)
        on = parse(join.on)
        if not isinstance(on, exp.EQ):
            raise error_in(join.on, on, "a join's ON is one equality, a = b", join.on.text[:40])
        left_tree, right_tree = on.this, on.expression
        if not self._resolves(join.on, left.scope, left_tree):
            left_tree, right_tree = right_tree, left_tree
        if not self._resolves(join.on, left.scope, left_tree) or not self._resolves(
            join.on, right.scope, right_tree
        ):
            raise error_in(
                join.on, on, "ON must compare a column of each side of the join", join.on.text[:40]
            )
        left_key = canonical(left.scope.rewrite(join.on, left_tree.copy()))
        right_key = canonical(right.scope.rewrite(join.on, right_tree.copy()))
        config: dict[str, Any] = {}
        foreign = False
        if not _is_key(left_key, left.key_fields):
            if left.kind == "table" and right.kind == "table":
                # A foreign-key join (KIP-213): keyed by the left table's key.
                if join.type not in (JoinType.INNER, JoinType.LEFT):
                    raise error_at(
                        join.span, "a foreign-key table join is INNER or LEFT, as in ksqlDB", join.type.value
                    )
                config["foreign_key"] = left_key
                foreign = True
            elif left.kind == "table":
                raise error_at(join.on.span, "a table joins on its PRIMARY KEY", join.on.text[:40])
            else:
                config["left_key"] = left_key
        if not _is_key(right_key, right.key_fields):
            if right.kind == "table":
                raise error_at(
                    join.on.span,
                    f"{join.relation.name.value} is a table: the join must be on its PRIMARY KEY",
                    join.on.text[:40],
                )
            config["right_key"] = right_key
        how = {
            JoinType.INNER: "inner",
            JoinType.LEFT: "left",
            JoinType.FULL: "outer",
            JoinType.RIGHT: "left",
        }[join.type]
        if left.kind == "stream" and right.kind == "stream":
            if join.within is None:
                raise error_at(join.span, "a stream-stream join needs WITHIN (e.g. WITHIN 1 HOUR)", "JOIN")
            window: dict[str, Any] = {
                "grace": join.within.grace.milliseconds if join.within.grace else DEFAULT_GRACE_MS
            }
            if join.within.before.milliseconds == join.within.after.milliseconds:
                window["size"] = join.within.before.milliseconds
            else:
                window["before"] = join.within.before.milliseconds
                window["after"] = join.within.after.milliseconds
            config["window"] = window
        elif join.within is not None:
            raise error_at(join.within.span, "WITHIN is only for stream-stream joins", "WITHIN")
        if left.kind == "table" and right.kind == "stream":
            raise error_at(join.span, "a table cannot be joined to a stream: put the stream first", "JOIN")
        if how == "outer" and left.kind != right.kind:
            raise error_at(join.span, "FULL OUTER joins are for stream-stream and table-table joins", "FULL")
        first_join = not left.scope.joined
        swapped = join.type is JoinType.RIGHT
        scope = Scope(joined=True)
        select: dict[str, str] = {}
        for side_name, side in (("left", left), ("right", right)):
            alias = side.scope.alias
            for (qualifier, column_name), physical in side.scope.qualified.items():
                if side_name == "left" and not first_join:
                    new = physical
                elif qualifier != alias:
                    continue
                else:
                    new = f"{alias}_{column_name}"
                column = Column(column_name, side.scope.types.get(physical, "STRING"))
                scope.add((qualifier,), column, new, hidden=physical in side.scope.hidden)
                # RIGHT JOIN puts the sides on the other ports (a left join the other way round)
                port = {"left": "right", "right": "left"}[side_name] if swapped else side_name
                select[new] = canonical(field_ref(port, physical))
        rekeyed = dict(config)
        ports = [(left.node, "left"), (right.node, "right")]
        if join.type is JoinType.RIGHT:
            ports = [(right.node, "left"), (left.node, "right")]
            config = _swap_keys(config)
        config["how"] = how
        config["select"] = select
        node = self.node("join", "join", config, *ports, clause=join.on)
        kind = "table" if left.kind == right.kind == "table" else "stream"
        # The joined record's key is the join key: fields holding it stay key fields.
        key_fields: set[str] = set()
        if "left_key" not in rekeyed:
            key_fields |= (
                {f"{left.scope.alias}_{n}" for n in left.key_fields} if first_join else left.key_fields
            )
        if "right_key" not in rekeyed and not foreign:
            key_fields |= {f"{right.scope.alias}_{n}" for n in right.key_fields}
        if foreign:
            key_fields = (
                {f"{left.scope.alias}_{n}" for n in left.key_fields} if first_join else left.key_fields
            )
        for tree, side in () if foreign else ((left_tree, left), (right_tree, right)):
            if isinstance(tree, exp.Column):
                path = side.scope.lookup(join.on, tree)[0]
                if len(path) == 1:
                    alias = side.scope.alias
                    prefixed = path[0] if side is left and not first_join else f"{alias}_{path[0]}"
                    key_fields.add(prefixed)
        partitions = max(p for p in (left.partitions, right.partitions, 0) if p is not None) or None
        return _Side(node, kind, scope, key_fields, partitions)

    def _resolves(self, expression: Expression, scope: Scope, tree: exp.Expr) -> bool:
        try:
            scope.rewrite(expression, tree.copy())
        except SqlError:
            return False
        return True

    def partition(self, side: _Side) -> _Side:
        if side.kind != "stream":
            raise error_at(
                self.select.partition_by[0].span,
                "PARTITION BY re-keys streams; this reads a table",
                "PARTITION",
            )
        keys = [canonical(side.scope.rewrite(e)) for e in self.select.partition_by]
        config: dict[str, Any] = {"key": keys[0] if len(keys) == 1 else keys}
        node = self.node(
            "partition_by", "select_key", config, (side.node, None), clause=self.select.partition_by[0]
        )
        self.partition_keys = keys
        plain = {k.strip('"') for k in keys if re.fullmatch(r'"[^"]+"', k)}
        return _Side(node, side.kind, side.scope, plain if len(keys) == 1 else set(), side.partitions)

    def explode(self, side: _Side) -> _Side:
        """``EXPLODE(array)`` in the projection: a ``flat_map`` node before it, one row per
        element (one EXPLODE per query; ksqlDB zips several)."""
        for index, item in enumerate(self.select.items):
            if item.expression is None:
                continue
            tree = parse(item.expression)
            if not _is_explode(tree):
                if any(_is_explode(n) for n in tree.walk()):
                    raise error_in(
                        item.expression, tree, "EXPLODE must be a whole projection item", "EXPLODE"
                    )
                continue
            if self.exploded:
                raise error_in(item.expression, tree, "Weir explodes one array per query", "EXPLODE")
            arguments = [tree.this] if isinstance(tree, exp.Explode) else tree.expressions
            argument = arguments[0] if len(arguments) == 1 else None
            if not isinstance(argument, exp.Column | exp.Dot) or side.kind != "stream":
                raise error_in(item.expression, tree, "EXPLODE takes one array column of a stream", "EXPLODE")
            path = canonical(side.scope.rewrite(item.expression, argument.copy())).replace('"', "")
            element = f"KSQL_EXPLODE_{index}"
            node = self.node(
                "explode",
                "flat_map",
                {"field": path, "as": element},
                (side.node, None),
                clause=item.expression,
            )
            self.exploded[index] = element
            side = _Side(node, side.kind, side.scope, side.key_fields, side.partitions)
        return side

    def project_plain(self, side: _Side) -> tuple[list[_OutColumn], list[str]]:
        exploded = self.exploded
        items = {id(item.expression): index for index, item in enumerate(self.select.items)}

        def rewrite(expression: Expression) -> exp.Expr:
            index = items.get(id(expression))
            if index in exploded:
                return field_ref(exploded[index])
            return side.scope.rewrite(expression)

        columns = self.projection(side.scope, rewrite)
        partition_keys = self.partition_keys
        key_names: list[str] = []
        if partition_keys is not None and len(partition_keys) > 1:
            # PARTITION BY a, b: the key is {name: value}, named as the compiler names it
            names = composite_key_names(partition_keys)
            for key_sql, name in zip(partition_keys, names, strict=True):
                match = next((c for c in columns if c.sql == key_sql and not c.key), None)
                if match is None:
                    continue
                match.key, match.name = True, name
                key_names.append(name)
            if self.persistent and len(key_names) < len(partition_keys):
                raise error_at(
                    self.select.partition_by[0].span,
                    "Key missing from projection: the query must select every PARTITION BY expression, "
                    "as ksqlDB requires",
                    "PARTITION",
                )
            return columns, key_names
        for column in columns:
            if partition_keys is not None:
                is_key = column.sql in partition_keys
            else:
                is_key = _is_key(column.sql, side.key_fields)
            if is_key and not key_names:
                column.key = True
                key_names.append(column.name)
        if self.persistent and not key_names and (side.key_fields or partition_keys):
            missing = ", ".join(sorted(side.key_fields)) or ", ".join(
                e.text for e in self.select.partition_by
            )
            raise error_at(
                self.select.span,
                f"Key missing from projection: the query must select its key ({missing}), as ksqlDB requires",
                "SELECT",
            )
        return columns, key_names

    def aggregate(self, side: _Side) -> tuple[_Side, list[_OutColumn], list[str], WindowInfo | None]:
        select = self.select
        groups = [canonical(side.scope.rewrite(e)) for e in select.group_by]
        names = composite_key_names(groups) if len(groups) > 1 else []
        window_config, window = _window(select)
        prefix = ["ROWKEY", "key"] if window_config is not None else ["ROWKEY"]
        paths = [prefix] if len(groups) == 1 else [[*prefix, name] for name in names]
        group_scope = GroupScope(
            side.scope, list(zip(groups, paths, strict=True)), windowed=window is not None
        )
        columns = self.projection(side.scope, group_scope.rewrite)
        having = canonical(group_scope.rewrite(select.having)) if select.having is not None else None
        if not group_scope.aggregations:
            raise error_at(
                select.span,
                "GROUP BY needs an aggregate function in the projection (COUNT, SUM, ...)",
                "SELECT",
            )
        config: dict[str, Any] = {
            "group_by": groups[0] if len(groups) == 1 else groups,
            "aggregations": dict(group_scope.aggregations),
        }
        if window_config is not None:
            config["window"] = window_config
        if select.emit is Emit.FINAL:
            if window_config is None:
                raise error_at(select.span, "EMIT FINAL needs a WINDOW", "FINAL")
            config["emit"] = "final"
        if side.partitions:
            config["partitions"] = side.partitions
        node = self.node("aggregate", "aggregate", config, (side.node, None), clause=select.group_by[0])
        for name, origin in group_scope.origins.items():
            self.where[f"{node}|config.aggregations.{name}"] = origin
        if having is not None:
            node = self.node("having", "filter", {"where": having}, (node, None), clause=select.having)
        key_names: list[str] = []
        for index, path in enumerate(paths):
            ref = canonical(field_ref(*path))
            match = next((c for c in columns if c.sql == ref), None)
            if match is None:
                if self.persistent:
                    raise error_at(
                        select.group_by[index].span,
                        f"Key missing from projection: the query must select its GROUP BY expression "
                        f"{select.group_by[index].text!r}, as ksqlDB requires",
                        select.group_by[index].text[:40],
                    )
                continue
            match.key = True
            if len(paths) > 1:
                match.name = names[index]
            key_names.append(match.name)
        return _Side(node, "table", Scope(), set(), side.partitions), columns, key_names, window

    def projection(self, scope: Scope, rewrite) -> list[_OutColumn]:
        columns: list[_OutColumn] = []
        seen: set[str] = set()
        for index, item in enumerate(self.select.items):
            if item.kind is not SelectItemKind.EXPRESSION:
                if self.select.group_by:
                    raise error_at(item.span, "SELECT * cannot be combined with GROUP BY", "*")
                wanted = item.qualifier.value if item.qualifier is not None else None
                if wanted is not None and wanted not in scope.qualifiers:
                    raise error_at(item.span, f"{wanted} is not a source of this query", wanted)
                for (qualifier, _name), physical in scope.qualified.items():
                    if wanted is not None and qualifier != wanted:
                        continue
                    if (
                        physical in seen
                        or physical in scope.hidden
                        or (wanted is None and qualifier != (scope.alias or qualifier) and not scope.joined)
                    ):
                        continue
                    seen.add(physical)
                    columns.append(
                        _OutColumn(
                            physical, scope.types.get(physical, "STRING"), canonical(field_ref(physical))
                        )
                    )
                continue
            assert item.expression is not None
            original = parse(item.expression)
            tree = rewrite(item.expression)
            name = item.alias.value if item.alias is not None else _output_name(original, index)
            if name in seen:
                span = item.alias.span if item.alias is not None else item.span
                raise error_at(span, f"the projection names {name} twice; give one an alias (AS ...)", name)
            seen.add(name)
            columns.append(
                _OutColumn(name, _type_of(original, scope), canonical(tree), clause=item.expression)
            )
        return columns


# SQL types → the compiler's field types (topology/compiler/catalog.py FieldType).
_FIELD_TYPES = {
    "STRING": "string",
    "INTEGER": "integer",
    "BIGINT": "integer",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "ARRAY": "array",
    "MAP": "object",
    "STRUCT": "object",
}
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def _declared_fields(source: SourceDef) -> dict[str, str] | None:
    """The source's value schema for the compiler, so expressions are type-checked when the
    statement is made (ksqlDB checks them too); None when a name is not a plain field name."""
    fields: dict[str, str] = {}
    for column in source.value_columns:
        base = column.type.split("<", 1)[0].split("(", 1)[0]
        for name in column.json_names():
            if not _FIELD_NAME.match(name):
                return None
            fields[name] = _FIELD_TYPES.get(base, "any")
    return fields


def _json_read(column: Column) -> str:
    names = column.json_names()
    refs = [canonical(field_ref(name)) for name in names]
    return refs[0] if len(refs) == 1 else f"COALESCE({', '.join(refs)})"


def _is_explode(node: exp.Expr) -> bool:
    if isinstance(node, exp.Explode):
        return True
    return isinstance(node, exp.Anonymous) and str(node.this).upper() == "EXPLODE"


def _swap_keys(config: dict[str, Any]) -> dict[str, Any]:
    swapped = dict(config)
    swapped.pop("left_key", None)
    swapped.pop("right_key", None)
    if "left_key" in config:
        swapped["right_key"] = config["left_key"]
    if "right_key" in config:
        swapped["left_key"] = config["right_key"]
    return swapped


def _is_key(sql: str, key_fields: set[str]) -> bool:
    if sql == "ROWKEY":
        return True
    match = re.fullmatch(r'"((?:[^"]|"")+)"', sql)
    return match is not None and match.group(1).replace('""', '"') in key_fields


def _output_name(tree: exp.Expr, index: int) -> str:
    """ksqlDB's name for an unaliased projection item: a column's (or struct field's) name,
    else ``KSQL_COL_<index>``."""
    if isinstance(tree, exp.Column) and isinstance(tree.this, exp.Identifier):
        return tree.this.this
    if isinstance(tree, exp.Dot) and isinstance(tree.expression, exp.Identifier):
        return tree.expression.this
    return f"KSQL_COL_{index}"


_FUNCTION_TYPES = {
    exp.Count: "BIGINT",
    exp.Avg: "DOUBLE",
    exp.Upper: "STRING",
    exp.Lower: "STRING",
    exp.Concat: "STRING",
    exp.Substring: "STRING",
    exp.Length: "INTEGER",
}


def _type_of(tree: exp.Expr, scope: Scope) -> str:
    """The SQL type of a projection item, as far as it shows (ksqlDB's schema line)."""
    if isinstance(tree, exp.Column):
        parts = [p.this for p in tree.parts if isinstance(p, exp.Identifier)]
        if len(parts) == 1 and parts[0].upper() in ("ROWTIME", "WINDOWSTART", "WINDOWEND", "ROWOFFSET"):
            return "BIGINT"
        if len(parts) == 2 and (parts[0], parts[1]) in scope.qualified:
            return scope.types.get(scope.qualified[(parts[0], parts[1])], "STRING")
        candidates = scope.unqualified.get(parts[0], [])
        return scope.types.get(candidates[0], "STRING") if len(parts) == 1 and candidates else "STRING"
    if _is_explode(tree):
        argument = tree.this if isinstance(tree, exp.Explode) else tree.expressions[0]
        inner = _type_of(argument, scope)
        return inner[6:-1] if inner.startswith("ARRAY<") else "STRING"
    if isinstance(tree, exp.Round):
        return "DOUBLE" if tree.args.get("decimals") is not None else "BIGINT"
    if isinstance(tree, exp.Floor | exp.Ceil | exp.Abs | exp.Coalesce | exp.Paren) and isinstance(
        tree.this, exp.Expr
    ):
        return _type_of(tree.this, scope)
    if isinstance(tree, exp.Case) and tree.args.get("ifs"):
        return _type_of(tree.args["ifs"][0].args["true"], scope)
    if isinstance(tree, exp.Predicate | exp.Not | exp.And | exp.Or):
        return "BOOLEAN"
    if isinstance(tree, exp.Literal):
        return "STRING" if tree.is_string else ("DOUBLE" if "." in str(tree.this) else "INTEGER")
    for cls, type_ in _FUNCTION_TYPES.items():
        if isinstance(tree, cls):
            return type_
    if isinstance(tree, exp.Anonymous):
        name = str(tree.this).upper()
        if (
            name in ("COUNT_DISTINCT", "TIMESTAMPTOSTRING", "STRINGTOTIMESTAMP")
            and name != "TIMESTAMPTOSTRING"
        ):
            return "BIGINT"
        if name in ("UCASE", "LCASE", "TIMESTAMPTOSTRING", "FORMAT_TIMESTAMP"):
            return "STRING"
        if name == "GEO_DISTANCE":
            return "DOUBLE"
        if name in ("COLLECT_LIST", "COLLECT_SET", "TOPK", "TOPKDISTINCT") and tree.expressions:
            return f"ARRAY<{_type_of(tree.expressions[0], scope)}>"
    if is_aggregate(tree) and isinstance(tree.this, exp.Expr) and not isinstance(tree.this, exp.Star):
        return _type_of(tree.this, scope)
    if (
        isinstance(tree, exp.Anonymous)
        and tree.expressions
        and str(tree.this).upper()
        in (
            "LATEST_BY_OFFSET",
            "EARLIEST_BY_OFFSET",
        )
    ):
        return _type_of(tree.expressions[0], scope)
    if isinstance(tree, exp.Binary) and not isinstance(tree, exp.Div | exp.IntDiv):
        left, right = _type_of(tree.this, scope), _type_of(tree.expression, scope)
        return "DOUBLE" if "DOUBLE" in (left, right) else left
    if isinstance(tree, exp.Div | exp.IntDiv):  # SQL's / is DIV: integer when both sides are
        left, right = _type_of(tree.this, scope), _type_of(tree.expression, scope)
        integers = ("INTEGER", "BIGINT")
        if left in integers and right in integers:
            return "BIGINT" if "BIGINT" in (left, right) else "INTEGER"
        return "DOUBLE"
    if isinstance(tree, exp.Cast):
        return (
            str(tree.to.sql())
            .upper()
            .replace("VARCHAR", "STRING")
            .replace("INT", "INTEGER")
            .replace("INTEGEREGER", "INTEGER")
        )
    if isinstance(tree, exp.Paren):
        return _type_of(tree.this, scope)
    return "STRING"


def _window(select: Select) -> tuple[dict[str, Any] | None, WindowInfo | None]:
    window = select.window
    if window is None:
        return None, None
    grace = window.grace.milliseconds if window.grace is not None else DEFAULT_GRACE_MS
    size = window.size.milliseconds
    if window.type is WindowType.TUMBLING:
        if window.advance is not None and window.advance.milliseconds != size:
            raise error_at(
                window.advance.span, "a TUMBLING window advances by its size; use HOPPING", "ADVANCE"
            )
        config: dict[str, Any] = {"type": "tumbling", "size": size, "grace": grace}
    elif window.type is WindowType.HOPPING:
        if window.advance is None:
            raise error_at(window.span, "a HOPPING window needs ADVANCE BY", "HOPPING")
        config = {"type": "hopping", "size": size, "advance": window.advance.milliseconds, "grace": grace}
    elif window.type is WindowType.SESSION:
        config = {"type": "session", "gap": size, "grace": grace}
    else:
        config = {"type": "sliding", "difference": size, "grace": grace}
    return config, WindowInfo(window.type.value, size)


def _source_key_serde(source: SourceDef, span: Span) -> str:
    keys = source.key_columns
    if source.key_format == "JSON" or len(keys) > 1 or source.window is not None:
        return "json"
    return KAFKA_NUMERIC.get(keys[0].type, "string") if keys else "string"


def _insert_target(statement: InsertIntoSelect, columns: tuple[Column, ...], target: SourceDef) -> SourceDef:
    wanted = [c.name for c in target.columns]
    got = [c.name for c in columns]
    if sorted(wanted) != sorted(got):
        raise error_at(
            statement.query.span,
            f"INSERT INTO {target.name} must select its columns {', '.join(wanted)}; the query selects {', '.join(got)}",
            "SELECT",
        )
    return target


__all__ = [
    "SINK_NODE",
    "VIEW_NODE",
    "Translation",
    "row_columns",
    "translate",
    "translate_materialize",
    "translate_push",
]
