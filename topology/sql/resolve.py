"""Names in clause expressions → the fields of the records a query's nodes see (pure).

A query's clauses name columns as ksqlDB does: ``col``, ``alias.col``, ``source.col``,
``col->field``. The nodes of the topology a query becomes see records whose value holds the
row's columns under *physical* names (the column name for one source; ``ALIAS_COL`` after a
join, as ksqlDB names joined columns) and whose key is the record key. A ``Scope`` knows the
columns in reach and rewrites an expression's names to those fields, refusing unknown and
ambiguous names at their line and column (ksqlDB: "column 'X' cannot be resolved").

After GROUP BY the scope changes: a group expression is the record key (``ROWKEY``, or a
field of a composite or windowed key), an aggregate call is a field ``KSQL_AGG_n`` of the
aggregate's value, and any other column is refused ("not part of GROUP BY").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from topology.compiler.expression_compiler import AGGREGATE_FUNCTIONS, PSEUDO_COLUMNS, _pos
from topology.compiler.expressions import ExpressionError, canonical
from topology.compiler.expressions import parse as parse_expression
from topology.sql.ast import Expression
from topology.sql.catalog import Column
from topology.sql.errors import SqlError
from topology.sql.expressions import locate

WINDOW_BOUNDS = ("WINDOWSTART", "WINDOWEND")


def error_in(expression: Expression, node: exp.Expr | None, message: str, token: str) -> SqlError:
    """A SqlError at ``node`` of ``expression`` (its start when the node has no position)."""
    position = _pos(node) if node is not None else 0
    line, column, offset = locate(expression, position)
    return SqlError(message, line=line, column=column, offset=offset, token=token, code="sql.semantic")


def parse(expression: Expression) -> exp.Expr:
    try:
        return parse_expression(expression.sql)
    except ExpressionError as error:  # the parser checked the syntax already; keep it located
        line, column, offset = locate(expression, error.position)
        raise SqlError(
            error.message, line=line, column=column, offset=offset, code="sql.expression"
        ) from None


def field_ref(*path: str) -> exp.Expr:
    """``"A"."B"`` as an expression tree (``ROWKEY`` stays bare: it is the record key)."""
    text = ".".join(part if part == "ROWKEY" else '"' + part.replace('"', '""') + '"' for part in path)
    return parse_expression(text)


def _parts(column: exp.Column) -> list[exp.Identifier]:
    return [part for part in column.parts if isinstance(part, exp.Identifier)]


def is_aggregate(node: exp.Expr) -> bool:
    if isinstance(node, exp.AggFunc):
        return True
    return isinstance(node, exp.Anonymous) and str(node.this).upper() in AGGREGATE_FUNCTIONS


@dataclass
class Scope:
    """The columns in reach: (qualifier, name) → physical field, each with its SQL type."""

    qualifiers: set[str] = field(default_factory=set)
    qualified: dict[tuple[str, str], str] = field(default_factory=dict)
    unqualified: dict[str, list[str]] = field(default_factory=dict)
    types: dict[str, str] = field(default_factory=dict)  # physical field → SQL type
    window: bool = False  # WINDOWSTART / WINDOWEND are fields of the (windowed) value
    alias: str | None = None  # the one source's alias (None after a join)
    joined: bool = False  # columns are ALIAS_COL fields of a joined row
    hidden: set[str] = field(default_factory=set)  # fields SELECT * leaves out (alias.ROWTIME)

    def add(
        self, qualifiers: tuple[str, ...], column: Column, physical: str, *, hidden: bool = False
    ) -> None:
        for qualifier in qualifiers:
            self.qualifiers.add(qualifier)
            self.qualified[(qualifier, column.name)] = physical
        self.types[physical] = column.type
        if hidden:
            self.hidden.add(physical)  # reached only qualified: a bare ROWTIME is the record's
            return
        self.unqualified.setdefault(column.name, []).append(physical)

    def names(self) -> list[str]:
        return sorted(self.unqualified)

    def lookup(self, expression: Expression, column: exp.Column) -> tuple[list[str], str]:
        """The physical path of a column reference and its type ("" when not a column)."""
        parts = _parts(column)
        names = [part.this for part in parts]
        if len(parts) >= 2 and names[0] in self.qualifiers:
            physical = self.qualified.get((names[0], names[1]))
            if physical is None:
                raise error_in(
                    expression,
                    column,
                    f"column '{names[0]}.{names[1]}' cannot be resolved; {names[0]} has "
                    + ", ".join(n for (q, n) in sorted(self.qualified) if q == names[0]),
                    f"{names[0]}.{names[1]}",
                )
            return [physical, *names[2:]], self.types.get(physical, "") if len(names) == 2 else ""
        candidates = self.unqualified.get(names[0], [])
        if len(candidates) > 1:
            raise error_in(
                expression,
                column,
                f"column '{names[0]}' is ambiguous: qualify it with its source",
                names[0],
            )
        if not candidates:
            known = ", ".join(self.names()[:30]) or "none"
            raise error_in(
                expression, column, f"column '{names[0]}' cannot be resolved; columns: {known}", names[0]
            )
        return [candidates[0], *names[1:]], self.types.get(candidates[0], "") if len(names) == 1 else ""

    def rewrite(self, expression: Expression, tree: exp.Expr | None = None) -> exp.Expr:
        """``expression`` with its column names replaced by physical fields."""
        tree = parse(expression) if tree is None else tree
        for column in list(tree.find_all(exp.Column)):
            replacement = self._replacement(expression, column)
            if replacement is not None:
                if column is tree:
                    tree = replacement
                else:
                    column.replace(replacement)
        return tree

    def _replacement(self, expression: Expression, column: exp.Column) -> exp.Expr | None:
        parts = _parts(column)
        if not parts:
            return None
        head = parts[0]
        if not head.quoted and len(parts) == 1 and head.this.upper() in WINDOW_BOUNDS:
            if not self.window:
                raise error_in(
                    expression, column, f"{head.this.upper()} exists only in windowed aggregations", head.this
                )
            return field_ref(head.this.upper())
        if not head.quoted and head.this.upper() in PSEUDO_COLUMNS:
            return None
        path, _ = self.lookup(expression, column)
        return field_ref(*path)

    def type_of(self, expression: Expression) -> str:
        """The SQL type of a plain column reference, else "" (the caller infers)."""
        tree = parse(expression)
        if isinstance(tree, exp.Column):
            parts = _parts(tree)
            if parts and not parts[0].quoted and parts[0].this.upper() in (*PSEUDO_COLUMNS, *WINDOW_BOUNDS):
                return "BIGINT" if parts[0].this.upper() != "ROWKEY" else ""
            return self.lookup(expression, tree)[1]
        return ""


@dataclass
class GroupScope:
    """After GROUP BY: group expressions are the key, aggregate calls fields of the value."""

    scope: Scope  # the scope before the aggregation (aggregate arguments are read in it)
    groups: list[tuple[str, list[str]]]  # canonical group expression → its path in the record
    windowed: bool = False
    aggregations: dict[str, str] = field(default_factory=dict)  # KSQL_AGG_n → canonical call
    _by_call: dict[str, str] = field(default_factory=dict)

    def rewrite(self, expression: Expression) -> exp.Expr:
        tree = parse(expression)
        return self._rewrite(expression, tree)

    def _rewrite(self, expression: Expression, tree: exp.Expr) -> exp.Expr:
        replaced = self._replace(expression, tree)
        if replaced is not None:
            return replaced
        for child in list(tree.iter_expressions()):
            new = self._rewrite(expression, child)
            if new is not child:
                child.replace(new)
        return tree

    def _replace(self, expression: Expression, node: exp.Expr) -> exp.Expr | None:
        if is_aggregate(node):
            call = canonical(self.scope.rewrite(expression, node.copy()))
            name = self._by_call.get(call)
            if name is None:
                name = f"KSQL_AGG_{len(self.aggregations)}"
                self.aggregations[name] = call
                self._by_call[call] = name
            return field_ref(name)
        if isinstance(node, exp.Column | exp.Dot | exp.Func | exp.Binary | exp.Paren | exp.Case | exp.Cast):
            try:
                text = canonical(self.scope.rewrite(expression, node.copy()))
            except SqlError:
                text = None
            for group, path in self.groups:
                if text == group:
                    return field_ref(*path)
        if isinstance(node, exp.Column):
            parts = _parts(node)
            head = parts[0].this.upper() if parts and not parts[0].quoted else None
            if head in WINDOW_BOUNDS:
                if not self.windowed:
                    raise error_in(expression, node, f"{head} exists only in windowed aggregations", head)
                return field_ref("ROWKEY", "window_start" if head == "WINDOWSTART" else "window_end")
            if head in PSEUDO_COLUMNS:
                return None
            name = ".".join(part.this for part in parts)
            raise error_in(
                expression,
                node,
                f"column '{name}' is neither in GROUP BY nor inside an aggregate "
                "(ksqlDB: non-aggregate SELECT expression(s) not part of GROUP BY)",
                name,
            )
        return None
