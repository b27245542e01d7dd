"""Clause expressions: ksqlDB tokens → ``Expression``, read by the compiler's expression parser.

The parser hands each clause expression (a projection item, WHERE, ON, HAVING, a GROUP BY or
PARTITION BY item, a VALUES item) here as a run of tokens. It becomes text that
``topology.compiler.expressions.parse`` reads (sqlglot's default dialect, the whitelisted
compiler's input):

- a name is double-quoted as ksqlDB resolves it: unquoted upper-cased, quoted kept, so a
  column called ``value`` or ``timestamp`` is never read as a keyword; the pseudo-columns
  (``ROWTIME``, ``ROWKEY``, ..., ``WINDOWSTART``, ``WINDOWEND``) stay bare, as the compiler
  reads them;
- ``a->b`` (struct field) becomes ``a.b``, the compiler's field path;
- ``x => e`` (a ksqlDB lambda) becomes ``x -> e``, sqlglot's lambda;
- ``a / b`` becomes ``a DIV b``: the compiler's ``/`` is always a double division (drawn
  topologies depend on it), its ``DIV`` is ksqlDB's ``/`` (an integer by an integer is an
  integer, truncated toward zero). Same precedence, so the rewrite is token for token, and
  the node config text shows which division it is.

Only the syntax is checked here. For the check, every function name is renamed to one sqlglot
does not know, so the call is read as a plain call whatever its arguments are: ksqlDB has
functions the compiler does not know yet, and some share a name with a sqlglot function of
another arity (``ENCODE``, ``TRANSFORM`` over maps). Whether a function exists and takes those
arguments is the next stage's check, through ``compile_clause``, which locates the
compiler's errors in the original text.

``topology.compiler`` gives an error as a character offset into the expression text; the
``locations`` of an ``Expression`` map that offset back to the token it falls in. (The
compiler has no API that takes a base position; this wrapper is it.)
"""

from __future__ import annotations

import bisect
from typing import Any

from sqlglot import exp

from topology.compiler.expressions import (
    PSEUDO_COLUMNS,
    CompiledExpression,
    ExpressionError,
    compile_expression,
)
from topology.compiler.expressions import parse as parse_expression
from topology.sql.ast import Expression, Span
from topology.sql.errors import SqlError
from topology.sql.tokens import Token, TokenKind

# Words the expression grammar itself uses: written bare, everything else is a name.
EXPRESSION_KEYWORDS = frozenset(
    (
        "AND",
        "OR",
        "NOT",
        "IS",
        "NULL",
        "TRUE",
        "FALSE",
        "IN",
        "LIKE",
        "ESCAPE",
        "BETWEEN",
        "CASE",
        "WHEN",
        "THEN",
        "ELSE",
        "END",
        "AS",
        "DISTINCT",
        "FROM",
    )
)
# Record metadata, read by the compiler only when written bare (a quoted name is a field).
_PSEUDO = frozenset(PSEUDO_COLUMNS) | frozenset(("WINDOWSTART", "WINDOWEND"))
_CASTS = frozenset(("CAST", "TRY_CAST"))
_CONSTRUCTORS = frozenset(("ARRAY", "MAP", "STRUCT"))
# The prefix that makes a call unknown to sqlglot (syntax check only; never in ``sql``).
_CHECK_PREFIX = "WEIR_SQL_CALL_"
# Symbols written differently for the compiler (see the module docstring).
_SYMBOLS = {"->": ".", "=>": "->", "/": "DIV"}
_KSQL_DIVIDE = _SYMBOLS["/"]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _render(tokens: list[Token]) -> tuple[list[str], list[str]]:
    """Each token as ``sql`` writes it and as the syntax check writes it."""
    sql: list[str] = []
    check: list[str] = []
    # One entry per open bracket: "cast" for CAST( ... ), "type" once its AS was seen.
    brackets: list[str] = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        in_type = bool(brackets) and brackets[-1] == "type"
        kind = token.kind
        if kind is TokenKind.WORD:
            word = token.value
            if in_type:
                rendered = checked = word
            elif word in EXPRESSION_KEYWORDS:
                rendered = checked = word
                if word == "AS" and brackets and brackets[-1] == "cast":
                    brackets[-1] = "type"
            elif following is not None and following.is_symbol("("):
                rendered = word
                if word in _CASTS or word in _CONSTRUCTORS:
                    checked = word
                else:
                    checked = _CHECK_PREFIX + word
            elif word in _CONSTRUCTORS and following is not None and following.is_symbol("["):
                rendered = checked = word
            elif word in _PSEUDO:
                rendered = checked = word
            else:
                rendered = checked = _quote(word)
        elif kind is TokenKind.QUOTED:
            rendered = checked = _quote(token.value)
        elif kind is TokenKind.STRING:
            rendered = checked = _string(token.value)
        elif kind is TokenKind.SYMBOL:
            symbol = token.value
            rendered = checked = _SYMBOLS.get(symbol, symbol)
            if symbol in ("(", "["):
                previous = tokens[index - 1] if index else None
                is_cast = symbol == "(" and previous is not None and previous.is_word(*_CASTS)
                brackets.append("cast" if is_cast else "other")
            elif symbol in (")", "]") and brackets:
                brackets.pop()
        else:
            rendered = checked = token.text
        sql.append(rendered)
        check.append(checked)
    return sql, check


def _join(tokens: list[Token], pieces: list[str]) -> tuple[str, list[tuple[int, Token]]]:
    out: list[str] = []
    starts: list[tuple[int, Token]] = []
    length = 0
    for index, (token, piece) in enumerate(zip(tokens, pieces, strict=True)):
        previous = tokens[index - 1] if index else None
        if previous is not None and (
            token.offset > previous.end
            or token.variable
            or previous.variable
            # `a/b` → `a DIV b`: the word operator needs spaces where the symbol did not
            or (token.is_symbol("/") and piece == _KSQL_DIVIDE)
            or (previous.is_symbol("/") and pieces[index - 1] == _KSQL_DIVIDE)
        ):
            out.append(" ")
            length += 1
        starts.append((length, token))
        out.append(piece)
        length += len(piece)
    return "".join(out), starts


def _token_at(starts: list[tuple[int, Token]], position: int) -> Token:
    keys = [start for start, _ in starts]
    index = max(0, bisect.bisect_right(keys, position) - 1)
    return starts[index][1]


def build_expression(tokens: list[Token], source: str, what: str) -> Expression:
    """``tokens`` (non-empty) as an Expression, its syntax checked; ``what`` names the clause
    in errors ("the WHERE condition"). ``source`` is the original text."""
    sql_pieces, check_pieces = _render(tokens)
    sql, sql_starts = _join(tokens, sql_pieces)
    check, check_starts = _join(tokens, check_pieces)
    first, last = tokens[0], tokens[-1]
    if any(t.variable for t in tokens):
        text, _ = _join(tokens, [t.text for t in tokens])
    else:
        text = source[first.offset : last.end]
    try:
        tree = parse_expression(check)
    except ExpressionError as error:
        token = _token_at(check_starts, error.position)
        where = "after" if error.position >= len(check) else "at"
        raise _error(f"cannot read {what}: {_detail(error)}, {where} {token.describe()}", token) from None
    except Exception:  # sqlglot is third-party: whatever it raises, the user gets a located error
        raise _error(f"cannot read {what}", first) from None
    alias = _stray_alias(tree)
    if alias is not None:
        token = _token_at(check_starts, _alias_position(alias, check))
        raise _error(
            f"cannot read {what}: unexpected {token.describe()} (an operator or ',' is missing?)", token
        )
    locations = tuple((start, t.line, t.column, t.offset) for start, t in sql_starts)
    return Expression(
        text=text, sql=sql, span=Span(first.line, first.column, first.offset, last.end), locations=locations
    )


def _detail(error: ExpressionError) -> str:
    return error.message.replace(_CHECK_PREFIX, "")


def _stray_alias(tree: exp.Expr) -> exp.Alias | None:
    """``a b`` reads as an alias in sqlglot; in a ksqlDB clause it is a syntax error
    (struct constructors ``STRUCT(a := 1)`` are sqlglot aliases too, and fine)."""
    stack: list[exp.Expr] = [tree]
    seen = 0
    while stack and seen < 5000:
        node = stack.pop()
        seen += 1
        if isinstance(node, exp.Alias) and not isinstance(node.parent, exp.Struct):
            return node
        stack.extend(node.iter_expressions())
    return None


def _alias_position(alias: exp.Alias, check: str) -> int:
    name = alias.args.get("alias")
    meta = getattr(name, "_meta", None) or {}
    start = meta.get("start")
    if isinstance(start, int):
        return start
    return max(0, len(check) - 1)


def _error(message: str, token: Token) -> SqlError:
    return SqlError(
        message,
        line=token.line,
        column=token.column,
        token=token.text,
        offset=token.offset,
        code="sql.expression",
    )


def locate(expression: Expression, position: int) -> tuple[int, int, int]:
    """(line, column, offset) in the original text of character ``position`` of ``expression.sql``."""
    if not expression.locations:
        return expression.span.line, expression.span.column, expression.span.offset
    keys = [entry[0] for entry in expression.locations]
    index = max(0, bisect.bisect_right(keys, position) - 1)
    _, line, column, offset = expression.locations[index]
    return line, column, offset


def compile_clause(expression: Expression, **options: Any) -> CompiledExpression:
    """``compile_expression(expression.sql, **options)``, its errors raised as SqlError at the
    line and column of the offending token in the original text."""
    try:
        return compile_expression(expression.sql, **options)
    except ExpressionError as error:
        line, column, offset = locate(expression, error.position)
        raise SqlError(
            error.message.replace(f"'{_KSQL_DIVIDE}'", "'/'"),  # the user wrote '/'
            line=line,
            column=column,
            offset=offset,
            token=_word_at(expression, error.position),
            code="sql.expression",
        ) from None


def _word_at(expression: Expression, position: int) -> str:
    sql = expression.sql
    if not 0 <= position < len(sql):
        return ""
    end = position
    while end < len(sql) and not sql[end].isspace() and sql[end] not in "(),":
        end += 1
    return sql[position:end] or sql[position]
