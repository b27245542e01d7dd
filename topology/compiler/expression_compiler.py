"""The whitelisting AST compiler behind ``expressions.compile_expression``.

Each accepted sqlglot node type has one method here that returns ``(closure, type)``. Any other
node type is refused. Closures take ``(value, key, timestamp, partition, offset)`` and are
kept flat (no per-call allocation on the common paths) because filters run per record.
A subtree without field references is evaluated once at compile time, so bounds such as
``POWER(9, POWER(9, 9))`` fail while compiling rather than on the first record.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any, get_args

from sqlglot import exp

from topology.compiler import expression_runtime as rt
from topology.compiler.expression_runtime import ExpressionRuntimeError
from topology.compiler.plan import AggregateFunction

# Config fields take at most 4,000 characters (catalog); the parser takes more because the
# compiler builds longer canonical predicates (branch conditions) from them.
MAX_TEXT_LENGTH = 20_000
MAX_NESTING = 32  # parentheses in the text (sqlglot's parser is recursive)
MAX_DEPTH = 128  # AST depth (long AND chains are flattened, so this is generous)
MAX_NODES = 2_000
MAX_LITERAL_LENGTH = 4_000
MAX_IN_LIST = 1_000
MAX_FIELD_DEPTH = 16
MAX_ROUND_DIGITS = 15

PSEUDO_COLUMNS = {"ROWKEY": "any", "ROWTIME": "integer", "ROWPARTITION": "integer", "ROWOFFSET": "integer"}
# The plan's list of aggregate functions is the one list.
AGGREGATE_FUNCTIONS: tuple[str, ...] = get_args(AggregateFunction)

# Type names used for compile-time checks; "any" means unknown (field types not declared).
NUMERIC = frozenset(("integer", "double", "number"))
FIELD_TYPES = frozenset(("string", "integer", "double", "number", "boolean", "object", "array", "any"))
_LOOSE = frozenset(("any", "null"))

Fn = Callable[[Any, Any, Any, Any, Any], Any]

_NUM = rt.NUMBER_TYPES
_check_number = rt.check_number
_to_string = rt.to_string


class ExpressionError(ValueError):
    """A user error in an expression, located by character offset into its text.

    ``code`` is the stable issue code: expression.syntax, expression.unknown_field,
    expression.unknown_function, expression.type, expression.unsupported,
    expression.forbidden_name, expression.limit, expression.bound, expression.aggregate.
    """

    def __init__(self, message: str, position: int = 0, code: str = "expression.invalid") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} (at character {self.position})"


def _pos(node: exp.Expr | None) -> int:
    """The character offset of a node: its own token, else the first token inside it.

    Follows the leftmost child first (cheap, and what a node's text starts with); only a node
    with no located token down that path gets the full walk.
    """
    if node is None:
        return 0
    current: exp.Expr | None = node
    for _ in range(64):
        if current is None:
            break
        meta = current._meta
        start = meta.get("start") if meta else None
        if isinstance(start, int):
            return start
        if isinstance(current, exp.Column | exp.Dot):
            node = current  # its parts are stored last-first: take the smallest offset below
            break
        current = next(current.iter_expressions(), None)
    best = None
    stack = [node]
    seen = 0
    while stack and seen < 2000:
        current = stack.pop()
        seen += 1
        meta = current._meta
        start = meta.get("start") if meta else None
        if isinstance(start, int) and (best is None or start < best):
            best = start
        stack.extend(current.iter_expressions())
    return best or 0


def _fail(message: str, node: exp.Expr | None, code: str = "expression.invalid") -> ExpressionError:
    return ExpressionError(message, _pos(node), code)


def _unknown_function(name: str, node: exp.Expr) -> ExpressionError:
    return _fail(
        f"unknown function {name}; known: {', '.join(KNOWN_FUNCTIONS)}", node, "expression.unknown_function"
    )


def _const_fn(value: Any) -> Fn:
    def constant(v, k, t, p, o):
        return value

    return constant


def _type_of_value(value: Any) -> str:
    return rt.type_name(value)


def _numeric_result(left: str, right: str) -> str:
    if left == "integer" and right == "integer":
        return "integer"
    if "double" in (left, right):
        return "double"
    return "number"


def _common_type(types: list[str]) -> str:
    known = {t for t in types if t != "null"}
    if not known:
        return "null"
    if len(known) == 1:
        return known.pop()
    if known <= NUMERIC:
        return "number"
    return "any"


_COMPARISONS: dict[type, Callable[[Any, Any], bool]] = {
    exp.EQ: operator.eq,
    exp.NEQ: operator.ne,
    exp.GT: operator.gt,
    exp.GTE: operator.ge,
    exp.LT: operator.lt,
    exp.LTE: operator.le,
}

_CAST_TYPES = {
    "string": ("VARCHAR", "CHAR", "TEXT", "NVARCHAR", "NCHAR"),
    "integer": ("INT", "BIGINT", "SMALLINT", "TINYINT", "MEDIUMINT"),
    "double": ("DOUBLE", "FLOAT", "DECIMAL", "REAL"),
    "boolean": ("BOOLEAN",),
}
_CAST_TARGET = {name: target for target, names in _CAST_TYPES.items() for name in names}

KNOWN_FUNCTIONS = (
    "ABS",
    "CEIL",
    "COALESCE",
    "CONCAT",
    "CONCAT_WS",
    "FLOOR",
    "FORMAT_TIMESTAMP",
    "FROM_UNIXTIME",
    "GEO_DISTANCE",
    "GREATEST",
    "IF",
    "IFNULL",
    "LCASE",
    "LEAST",
    "LEN",
    "LENGTH",
    "LOWER",
    "LTRIM",
    "MOD",
    "NULLIF",
    "PARSE_TIMESTAMP",
    "POWER",
    "REPLACE",
    "ROUND",
    "RTRIM",
    "SIGN",
    "SQRT",
    "STRINGTOTIMESTAMP",
    "STRING_TO_TIMESTAMP",
    "SUBSTRING",
    "TIMESTAMPTOSTRING",
    "TIMESTAMP_TO_STRING",
    "TRIM",
    "UCASE",
    "UNIX_TIMESTAMP",
    "UPPER",
)


_HANDLER_NAMES: dict[type, str] = {
    exp.Column: "_column",
    exp.Dot: "_column",
    exp.Literal: "_literal",
    exp.Boolean: "_boolean",
    exp.Null: "_null",
    exp.Paren: "_paren",
    exp.Neg: "_neg",
    exp.Add: "_arithmetic",
    exp.Sub: "_arithmetic",
    exp.Mul: "_arithmetic",
    exp.Div: "_arithmetic",
    exp.IntDiv: "_arithmetic",
    exp.Mod: "_arithmetic",
    exp.DPipe: "_dpipe",
    exp.And: "_logic",
    exp.Or: "_logic",
    exp.Not: "_not",
    exp.In: "_in",
    exp.Between: "_between",
    exp.Like: "_like",
    exp.ILike: "_like",
    exp.Is: "_is",
    exp.Case: "_case",
    exp.If: "_if",
    exp.Cast: "_cast",
    exp.TryCast: "_cast",
    exp.Coalesce: "_coalesce",
    exp.Nullif: "_nullif",
    exp.Greatest: "_extreme",
    exp.Least: "_extreme",
    exp.Lower: "_lower_upper",
    exp.Upper: "_lower_upper",
    exp.Length: "_length",
    exp.Substring: "_substring",
    exp.Concat: "_concat",
    exp.ConcatWs: "_concat_ws",
    exp.Trim: "_trim",
    exp.Replace: "_replace",
    exp.Abs: "_math1",
    exp.Floor: "_math1",
    exp.Ceil: "_math1",
    exp.Sqrt: "_math1",
    exp.Sign: "_math1",
    exp.Round: "_round",
    exp.Pow: "_power",
    exp.Anonymous: "_anonymous",
    **{cls: "_comparison" for cls in _COMPARISONS},
}


class _CompilerCore:
    """Driver, fields and literals; operators live in expression_operators, functions in
    expression_functions."""

    _HANDLERS: dict[type, Callable[..., tuple[Fn, str]]] = {}

    def __init__(self, fields: dict[str, str] | None = None) -> None:
        self.declared = dict(fields) if fields is not None else None
        self.fields: set[str] = set()
        self._constants: dict[Fn, Any] = {}
        self._field_refs = 0
        # getter closure → field name, so hot comparisons can read the field inline
        self._top_level_fields: dict[Fn, str] = {}

    # --- driver -------------------------------------------------------------------------------

    def compile(self, node: exp.Expr) -> tuple[Fn, str]:
        handler = self._HANDLERS.get(type(node))
        if handler is None:
            if isinstance(node, exp.Func):
                name = node.sql_name() if hasattr(node, "sql_name") else type(node).__name__.upper()
                raise _unknown_function(name, node)
            raise _fail(f"unsupported syntax: {type(node).__name__}", node, "expression.unsupported")
        self._only_args(node)
        refs_before = self._field_refs
        fn, type_ = handler(self, node)
        if self._field_refs == refs_before and fn not in self._constants:
            fn, type_ = self._fold(fn, node)
        return fn, type_

    def _fold(self, fn: Fn, node: exp.Expr) -> tuple[Fn, str]:
        try:
            value = fn(None, None, None, None, None)
        except ExpressionRuntimeError as error:
            raise _fail(error.message, node, "expression.bound") from None
        return self._constant(value), _type_of_value(value)

    def _constant(self, value: Any) -> Fn:
        fn = _const_fn(value)
        self._constants[fn] = value
        return fn

    _ALLOWED_ARGS: dict[type, tuple[str, ...]] = {}

    def _only_args(self, node: exp.Expr) -> None:
        """Refuse sub-expressions in argument slots this compiler does not read (e.g. ESCAPE,
        subqueries inside IN, collations), so nothing is silently ignored."""
        allowed = _ARGS.get(type(node))
        if allowed is None:
            return
        for key, value in node.args.items():
            if key in allowed or value is None or value is False or value == []:
                continue
            if isinstance(value, exp.Expr | list):
                raise _fail(
                    f"unsupported clause {key!r} in {type(node).__name__}", node, "expression.unsupported"
                )

    def _optional(self, node: exp.Expr | None) -> tuple[Fn, str]:
        """An optional operand (ELSE, IF's false branch): NULL when it is left out."""
        return self.compile(node) if node is not None else (self._constant(None), "null")

    def _child(self, node: exp.Expr | None, parent: exp.Expr) -> tuple[Fn, str]:
        if node is None:
            raise _fail("an operand is missing", parent, "expression.syntax")
        return self.compile(node)

    def _expect(self, type_: str, allowed: frozenset[str], node: exp.Expr, what: str) -> None:
        if type_ not in allowed and type_ not in _LOOSE:
            raise _fail(f"{what}, got {type_}", node, "expression.type")

    # --- fields ---------------------------------------------------------------------------------

    def _path(self, node: exp.Expr) -> list[exp.Identifier]:
        if isinstance(node, exp.Column):
            args = node.args  # catalog.db.table.this, outermost first (Column.parts is slow)
            parts = [args[key] for key in ("catalog", "db", "table", "this") if args.get(key) is not None]
            if not parts or not all(isinstance(p, exp.Identifier) for p in parts):
                raise _fail("unsupported column reference", node, "expression.unsupported")
            return [p for p in parts if isinstance(p, exp.Identifier)]
        if isinstance(node, exp.Dot):
            if not isinstance(node.expression, exp.Identifier):
                raise _fail(
                    "only field names may follow a dot (no method calls)",
                    node.expression,
                    "expression.unsupported",
                )
            return self._path(node.this) + [node.expression]
        if isinstance(node, exp.Identifier):
            return [node]
        raise _fail("only field names may be combined with dots", node, "expression.unsupported")

    def _column(self, node: exp.Expr) -> tuple[Fn, str]:
        identifiers = self._path(node)
        if len(identifiers) > MAX_FIELD_DEPTH:
            raise _fail(f"field path deeper than {MAX_FIELD_DEPTH}", node, "expression.limit")
        names = []
        for ident in identifiers:
            name = ident.this if isinstance(ident.this, str) else str(ident.this)
            if name.startswith("__") or not name:
                raise ExpressionError(
                    f"field name {name!r} is not allowed", _pos(ident), "expression.forbidden_name"
                )
            names.append(name)
        self._field_refs += 1
        head = identifiers[0]
        if not head.quoted and names[0].upper() in PSEUDO_COLUMNS:
            return self._pseudo(names[0].upper(), names[1:])
        path = ".".join(names)
        type_ = self._field_type(path, node)
        self.fields.add(path)
        getter = _getter(tuple(names))
        if len(names) == 1:
            self._top_level_fields[getter] = names[0]
        return getter, type_

    def _field_type(self, path: str, node: exp.Expr) -> str:
        if self.declared is None:
            return "any"
        if path in self.declared:
            declared = self.declared[path]
            return declared if declared in FIELD_TYPES else "any"
        parts = path.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            prefix = ".".join(parts[:cut])
            if prefix in self.declared and self.declared[prefix] in ("object", "any"):
                return "any"
        if any(name.startswith(path + ".") for name in self.declared):
            return "object"
        known = ", ".join(sorted(self.declared)[:20]) or "none"
        raise _fail(f"unknown field {path!r}; known fields: {known}", node, "expression.unknown_field")

    def _pseudo(self, name: str, rest: list[str]) -> tuple[Fn, str]:
        if name == "ROWKEY":
            if rest:
                inner = _getter(tuple(rest))

                def key_field(v, k, t, p, o):
                    return inner(k, None, None, None, None)

                return key_field, "any"
            return (lambda v, k, t, p, o: k), "any"
        if rest:
            raise ExpressionError(f"{name} has no fields", 0, "expression.unknown_field")
        if name == "ROWTIME":
            return (lambda v, k, t, p, o: t), "integer"
        if name == "ROWPARTITION":
            return (lambda v, k, t, p, o: p), "integer"
        return (lambda v, k, t, p, o: o), "integer"

    # --- literals -------------------------------------------------------------------------------

    def _literal(self, node: exp.Literal) -> tuple[Fn, str]:
        text = node.this if isinstance(node.this, str) else str(node.this)
        if len(text) > MAX_LITERAL_LENGTH:
            raise _fail(f"literal longer than {MAX_LITERAL_LENGTH} characters", node, "expression.limit")
        if node.is_string:
            return self._constant(text), "string"
        try:
            if text.isdigit():
                value: Any = int(text)
            else:
                value = float(text)
        except ValueError:
            raise _fail(f"not a number: {text[:40]}", node, "expression.syntax") from None
        if value.__class__ is int and value > rt.MAX_INT:
            raise _fail("integer literal outside the 64-bit range", node, "expression.limit")
        if value.__class__ is float and not math.isfinite(value):
            raise _fail("number literal out of range", node, "expression.limit")
        return self._constant(value), _type_of_value(value)

    def _boolean(self, node: exp.Boolean) -> tuple[Fn, str]:
        return self._constant(bool(node.this)), "boolean"

    def _null(self, node: exp.Null) -> tuple[Fn, str]:
        return self._constant(None), "null"

    def _paren(self, node: exp.Paren) -> tuple[Fn, str]:
        return self._child(node.this, node)


def _getter(names: tuple[str, ...]) -> Fn:
    """A field reader: ``dict.get`` along the path; anything that is not a dict yields NULL."""
    if len(names) == 1:
        name = names[0]

        def get_field(v, k, t, p, o):
            try:
                return v.get(name)
            except AttributeError:
                return None

        return get_field
    if len(names) == 2:
        outer, inner = names

        def get_nested(v, k, t, p, o):
            try:
                return v.get(outer).get(inner)
            except AttributeError:
                return None

        return get_nested

    def get_path(v, k, t, p, o):
        current = v
        for name in names:
            try:
                current = current.get(name)
            except AttributeError:
                return None
        return current

    return get_path


# Argument slots each handled node type reads; anything else filled in is refused.
_ARGS: dict[type, tuple[str, ...]] = {
    exp.In: ("this", "expressions"),
    exp.Between: ("this", "low", "high"),
    exp.Like: ("this", "expression"),
    exp.ILike: ("this", "expression"),
    exp.Case: ("this", "ifs", "default"),
    exp.If: ("this", "true", "false"),
    exp.Substring: ("this", "start", "length"),
    exp.Trim: ("this", "expression"),
    exp.Replace: ("this", "expression", "replacement"),
    exp.Round: ("this", "decimals"),
    exp.Floor: ("this",),
    exp.Ceil: ("this",),
    exp.Abs: ("this",),
    exp.Sqrt: ("this",),
    exp.Sign: ("this",),
    exp.Lower: ("this",),
    exp.Upper: ("this",),
    exp.Length: ("this",),
    exp.Concat: ("expressions",),
    exp.ConcatWs: ("expressions",),
    exp.Coalesce: ("this", "expressions"),
    exp.Nullif: ("this", "expression"),
    exp.Greatest: ("this", "expressions"),
    exp.Least: ("this", "expressions"),
    exp.Pow: ("this", "expression"),
    exp.Cast: ("this", "to"),
    exp.TryCast: ("this", "to"),
    exp.Anonymous: ("this", "expressions"),
    exp.Not: ("this",),
    exp.Is: ("this", "expression"),
    exp.Neg: ("this",),
    exp.Paren: ("this",),
    exp.And: ("this", "expression"),
    exp.Or: ("this", "expression"),
    exp.DPipe: ("this", "expression"),
    **{cls: ("this", "expression") for cls in (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod)},
    **{cls: ("this", "expression") for cls in _COMPARISONS},
}
