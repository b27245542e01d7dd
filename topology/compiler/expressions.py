"""SQL expressions over records, parsed by sqlglot and compiled to Python closures.

The text is parsed by sqlglot into an AST; only the node types listed in ``_Compiler`` are
accepted, and each becomes a small closure built by this module (never code built from the
user's text: no eval/exec). A compiled expression is called as
``fn(value, key, timestamp, partition, offset)`` and reads the record through ``dict.get``
only, so it cannot reach any Python attribute.

Semantics are SQL's: NULL propagates through operators and functions, a missing field is
NULL, AND/OR use three-valued logic, and a predicate passes only when it is TRUE
(``CompiledExpression.predicate``). Pseudo-columns ``ROWKEY``, ``ROWTIME`` (ms),
``ROWPARTITION`` and ``ROWOFFSET`` read record metadata (ksqlDB names).

Work per evaluation is bounded: the text, the AST depth and size and every literal are
limited at compile time; string results over ``MAX_STRING_RESULT`` characters and integers
outside 64 bits are refused at run time with ``ExpressionRuntimeError`` before they are built.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, NamedTuple

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import Tokenizer

from topology.compiler.expression_compiler import (
    AGGREGATE_FUNCTIONS,
    MAX_DEPTH,
    MAX_NESTING,
    MAX_NODES,
    MAX_TEXT_LENGTH,
    NUMERIC,
    PSEUDO_COLUMNS,
    ExpressionError,
    Fn,
    _pos,
)
from topology.compiler.expression_functions import _Compiler
from topology.compiler.expression_runtime import ExpressionRuntimeError

# sqlglot logs a warning for every text it can only read as a raw "Command"; we refuse those
# texts with a located error anyway, so the warning is noise in the server log.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


class CompiledExpression:
    """A compiled expression. ``fn(value, key, timestamp, partition, offset)`` evaluates it;
    ``predicate`` does the same but returns True only for SQL TRUE (WHERE semantics)."""

    __slots__ = ("fn", "predicate", "sql", "fields", "type")

    def __init__(self, fn: Fn, sql: str, fields: tuple[str, ...], type_: str) -> None:
        self.fn = fn
        self.sql = sql
        self.fields = fields
        self.type = type_

        def predicate(value, key, timestamp, partition, offset, _fn=fn) -> bool:
            return _fn(value, key, timestamp, partition, offset) is True

        self.predicate = predicate

    def __call__(self, value, key=None, timestamp=None, partition=None, offset=None):
        return self.fn(value, key, timestamp, partition, offset)

    def __repr__(self) -> str:
        return f"CompiledExpression({self.sql!r}, type={self.type!r})"


# --- entry points -----------------------------------------------------------------------------


_CACHE_SIZE = 8192
_cache: OrderedDict[tuple[Any, ...], CompiledExpression | ExpressionError] = OrderedDict()
_cache_lock = threading.Lock()


def compile_expression(
    sql: str, *, fields: dict[str, str] | None = None, expected_type: str | None = None
) -> CompiledExpression:
    """Compile ``sql``; raises ExpressionError with a character position on any user error.

    ``fields`` (path → type) makes unknown fields errors and enables type checks; without it
    any field may be referenced. ``expected_type="boolean"`` requires a predicate.

    Results (and errors) are cached per process: compiling is a pure function of the
    arguments, and the editor re-validates the same document on every change.
    """
    key = (sql, tuple(sorted(fields.items())) if fields is not None else None, expected_type)
    try:
        hit = _cache.get(key)
    except TypeError:  # unhashable arguments: a caller bug, reported like bad input
        raise ExpressionError("expression must be a string", 0, "expression.syntax") from None
    if hit is None:
        try:
            hit = _compile_uncached(sql, fields, expected_type)
        except ExpressionError as error:
            hit = error
        with _cache_lock:
            _cache[key] = hit
            if len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    if isinstance(hit, ExpressionError):
        raise ExpressionError(hit.message, hit.position, hit.code)
    return hit


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _compile_uncached(
    sql: str, fields: dict[str, str] | None, expected_type: str | None
) -> CompiledExpression:
    tree = parse(sql)
    compiler = _Compiler(fields)
    fn, type_ = compiler.compile(tree)
    if expected_type == "boolean" and type_ not in ("boolean", "any", "null"):
        raise ExpressionError(f"expected a boolean condition, got a {type_} expression", 0, "expression.type")
    return CompiledExpression(fn, canonical(tree), tuple(sorted(compiler.fields)), type_)


def parse_aggregation(sql: str, *, fields: dict[str, str] | None = None) -> tuple[str, str | None]:
    """``"AVG(duration_ms)"`` → ``("AVG", "duration_ms")``; ``COUNT(*)`` → ``("COUNT", None)``.

    The argument is validated as an expression and returned as canonical SQL.
    """
    function, argument, _ = parse_aggregation_call(sql, fields=fields)
    return function, argument


def parse_aggregation_call(sql: str, *, fields: dict[str, str] | None = None) -> tuple[str, str | None, bool]:
    """``parse_aggregation`` and the ``ignoreNulls`` flag of ``LATEST_BY_OFFSET(x, FALSE)`` /
    ``EARLIEST_BY_OFFSET(x, FALSE)`` (ksqlDB's optional second argument; TRUE by default, and
    for every other function)."""
    call = parse_aggregation_spec(sql, fields=fields)
    return call.function, call.argument, call.ignore_nulls


class AggregationCall(NamedTuple):
    """One parsed aggregation: the plan's ``Aggregation`` without its output name."""

    function: str
    argument: str | None
    ignore_nulls: bool = True
    k: int | None = None


# TOPK's k is a literal, as in ksqlDB; bounded like every list an accumulator keeps.
MAX_TOPK = 1000


def parse_aggregation_spec(sql: str, *, fields: dict[str, str] | None = None) -> AggregationCall:
    """``parse_aggregation_call`` and TOPK / TOPKDISTINCT's ``k``."""
    tree = parse(sql)
    ignore_nulls = True
    k = None
    if isinstance(tree, exp.Anonymous) and len(tree.expressions) == 2:
        name = str(tree.this).upper()
        second = tree.expressions[1]
        if name in _OFFSET_AGGREGATES:
            if not isinstance(second, exp.Boolean):
                raise ExpressionError(
                    f"the second argument of {name} is ignoreNulls, TRUE or FALSE "
                    "(the latestN / earliestN forms are not available)",
                    _pos(second),
                    "expression.aggregate",
                )
            ignore_nulls = bool(second.this)
        elif name in _TOPK_AGGREGATES:
            k = _topk_size(name, second)
        if name in _OFFSET_AGGREGATES or name in _TOPK_AGGREGATES:
            tree = exp.Anonymous(this=tree.this, expressions=[tree.expressions[0]])
    function, argument = _aggregation_parts(tree)
    if function in _TOPK_AGGREGATES and k is None:
        raise ExpressionError(
            f"{function} takes an expression and k, the number of values to keep: {function}(x, 3)",
            _pos(tree),
            "expression.aggregate",
        )
    if argument is None:
        return AggregationCall(function, None, ignore_nulls)
    compiler = _Compiler(fields)
    _, type_ = compiler.compile(argument)
    if function in ("SUM", "AVG") and type_ not in NUMERIC and type_ not in ("any", "null"):
        raise ExpressionError(
            f"{function} needs a numeric argument, got {type_}", _pos(argument), "expression.type"
        )
    if function in _TOPK_AGGREGATES and type_ not in _ORDERED_TYPES:
        raise ExpressionError(
            f"{function} needs numbers or strings, got {type_}", _pos(argument), "expression.type"
        )
    return AggregationCall(function, canonical(argument), ignore_nulls, k)


def _topk_size(name: str, node: exp.Expr) -> int:
    if not (isinstance(node, exp.Literal) and not node.is_string and str(node.this).isdigit()):
        raise ExpressionError(
            f"the second argument of {name} is k, a whole number literal", _pos(node), "expression.aggregate"
        )
    k = int(str(node.this))
    if not 1 <= k <= MAX_TOPK:
        raise ExpressionError(
            f"{name}'s k must be within 1 and {MAX_TOPK}, got {k}", _pos(node), "expression.aggregate"
        )
    return k


# Aggregates sqlglot has no node for: it parses them as anonymous functions.
_OFFSET_AGGREGATES = ("LATEST_BY_OFFSET", "EARLIEST_BY_OFFSET")
_TOPK_AGGREGATES = ("TOPK", "TOPKDISTINCT")
_NAMED_AGGREGATES = (
    "COUNT_DISTINCT",
    "LATEST",
    "EARLIEST",
    *_OFFSET_AGGREGATES,
    "COLLECT_LIST",
    "COLLECT_SET",
    *_TOPK_AGGREGATES,
)
# What TOPK can order, as ksqlDB's (INT, BIGINT, DOUBLE, STRING).
_ORDERED_TYPES = frozenset(("integer", "double", "number", "string", "any", "null"))


def _aggregation_parts(tree: exp.Expr) -> tuple[str, exp.Expr | None]:
    position = _pos(tree)
    if isinstance(tree, exp.Count):
        inner = tree.this
        if isinstance(inner, exp.Star):
            return "COUNT", None
        if isinstance(inner, exp.Distinct):
            if len(inner.expressions) != 1:
                raise ExpressionError(
                    "COUNT(DISTINCT ...) takes one expression", position, "expression.aggregate"
                )
            return "COUNT_DISTINCT", inner.expressions[0]
        if inner is None or tree.expressions:
            raise ExpressionError("COUNT takes * or one expression", position, "expression.aggregate")
        return "COUNT", inner
    simple = {exp.Sum: "SUM", exp.Min: "MIN", exp.Max: "MAX", exp.Avg: "AVG"}
    for cls, name in simple.items():
        if type(tree) is cls:
            if tree.expressions or tree.this is None or isinstance(tree.this, exp.Star | exp.Distinct):
                raise ExpressionError(f"{name} takes one expression", position, "expression.aggregate")
            return name, tree.this
    if isinstance(tree, exp.Anonymous) and str(tree.this).upper() in _NAMED_AGGREGATES:
        name = str(tree.this).upper()
        if len(tree.expressions) != 1 or isinstance(tree.expressions[0], exp.Star):
            raise ExpressionError(f"{name} takes one expression", position, "expression.aggregate")
        return name, tree.expressions[0]
    raise ExpressionError(
        "expected an aggregation: " + ", ".join(f"{f}(...)" for f in AGGREGATE_FUNCTIONS),
        position,
        "expression.aggregate",
    )


class _CanonicalGenerator(Generator):
    """sqlglot's default generator, except that ``a DIV b`` stays ``a DIV b``: its own
    rendering, ``CAST(a / b AS BIGINT)``, reads back as a different expression."""

    def intdiv_sql(self, expression: exp.IntDiv) -> str:
        return self.binary(expression, "DIV")


_local = threading.local()


def _sqlglot() -> tuple[Tokenizer, Parser, Generator]:
    """One tokenizer, parser and generator per thread: building them costs about a quarter of
    parsing a short expression, and each resets its state on every call."""
    tools = getattr(_local, "tools", None)
    if tools is None:
        dialect = Dialect.get_or_raise(None)
        generator = _CanonicalGenerator(dialect=dialect)
        tools = _local.tools = (dialect.tokenizer(), dialect.parser(), generator)
    return tools


def canonical(tree: exp.Expr) -> str:
    """sqlglot's rendering of a parsed expression: the form stored in plans."""
    return _sqlglot()[2].generate(tree, copy=False)


def parse(sql: str) -> exp.Expr:
    """Parse and bound-check the text; returns the sqlglot AST (not yet whitelisted)."""
    if not isinstance(sql, str):
        raise ExpressionError("expression must be a string", 0, "expression.syntax")
    if len(sql) > MAX_TEXT_LENGTH:
        raise ExpressionError(
            f"expression is {len(sql)} characters, more than the limit of {MAX_TEXT_LENGTH}",
            MAX_TEXT_LENGTH,
            "expression.limit",
        )
    if not sql.strip():
        raise ExpressionError("expression is empty", 0, "expression.syntax")
    _check_nesting(sql)
    tokenizer, parser, _ = _sqlglot()
    try:
        trees = parser.parse(tokenizer.tokenize(sql), sql)
    except TokenError as error:
        raise ExpressionError(
            f"cannot read the expression: {error}", _unclosed_quote(sql), "expression.syntax"
        ) from None
    except ParseError as error:
        raise ExpressionError(
            _parse_message(error), _parse_position(sql, error), "expression.syntax"
        ) from None
    except (SqlglotError, RecursionError, ValueError, TypeError):
        raise ExpressionError("cannot parse the expression", 0, "expression.syntax") from None
    trees = [t for t in trees if t is not None]  # type: ignore[misc]
    if len(trees) != 1 or isinstance(trees[0], exp.Block):
        raise ExpressionError("expected exactly one expression", 0, "expression.syntax")
    tree = trees[0]
    assert tree is not None
    _check_size(tree)
    return tree


# --- limits and positions -------------------------------------------------------------------


def _check_nesting(sql: str) -> None:
    # Checked on the text before sqlglot sees it: its parser is recursive.
    depth = 0
    quote = ""
    for index, char in enumerate(sql):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char in "([":
            depth += 1
            if depth > MAX_NESTING:
                raise ExpressionError(
                    f"expression nests deeper than {MAX_NESTING} levels", index, "expression.limit"
                )
        elif char in ")]":
            depth -= 1


def _check_size(tree: exp.Expr) -> None:
    count = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(
                f"expression has more than {MAX_NODES} parts", _pos(node), "expression.limit"
            )
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"expression nests deeper than {MAX_DEPTH} levels", _pos(node), "expression.limit"
            )
        for child in node.iter_expressions():
            stack.append((child, depth + 1))


def _parse_position(sql: str, error: ParseError) -> int:
    try:
        info = error.errors[0]
        line, col = int(info["line"]), int(info["col"])
        highlight = info.get("highlight") or ""
    except (IndexError, KeyError, TypeError, ValueError):
        return 0
    lines = sql.split("\n")
    offset = sum(len(text) + 1 for text in lines[: max(line - 1, 0)])
    return max(0, min(len(sql), offset + col - len(highlight)))


def _parse_message(error: ParseError) -> str:
    try:
        description = error.errors[0]["description"]
    except (IndexError, KeyError, TypeError):
        return "syntax error"
    if description.startswith("Required keyword"):
        return "incomplete expression: an operand is missing"
    return f"syntax error: {description}"


def _unclosed_quote(sql: str) -> int:
    quote = ""
    start = 0
    for index, char in enumerate(sql):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"`":
            quote, start = char, index
    return start if quote else 0


__all__ = [
    "AGGREGATE_FUNCTIONS",
    "MAX_TOPK",
    "PSEUDO_COLUMNS",
    "AggregationCall",
    "CompiledExpression",
    "ExpressionError",
    "ExpressionRuntimeError",
    "clear_cache",
    "compile_expression",
    "parse",
    "parse_aggregation",
    "parse_aggregation_call",
    "parse_aggregation_spec",
]
