"""Compiler text → ksqlDB text for ``topology.sql.render``: expressions, names, durations, windows.

An expression in a node config is the compiler's text (``"A"."B"``, ``a DIV b``); it is
tokenized with ksqlDB's own tokenizer and written back span by span: every path of quoted
names goes through a resolver (the query's scope: physical field → ``alias.COL``, ``KSQL_AGG_n``
→ its call, ``ROWKEY`` → the GROUP BY expression), ``DIV`` becomes ``/``; everything else
(literals, operators, function names, spacing) stays as it is, so re-reading it gives the
same compiler text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from topology.compiler.catalog import parse_duration
from topology.compiler.expressions import PSEUDO_COLUMNS
from topology.sql.cursor import RESERVED
from topology.sql.errors import SqlError
from topology.sql.expressions import EXPRESSION_KEYWORDS
from topology.sql.tokens import TokenKind, tokenize


class Refusal(Exception):
    """Why a graph has no SQL form; the message names the node."""


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

Resolver = Callable[[list[str], bool], str]


def before_grouping(names: dict[str, str], node_id: str) -> Resolver:
    """Physical paths before any GROUP BY: a field and its struct parts (``A->B``)."""

    def resolve(path: list[str], whole: bool) -> str:
        if path[0] == "ROWKEY":
            return "->".join(["ROWKEY", *(identifier(p) for p in path[1:])])
        return path_text(path, names, node_id)

    return resolve


def path_text(path: list[str], names: dict[str, str], node_id: str) -> str:
    head = names.get(path[0])
    if head is None:
        raise Refusal(f"node {node_id}: field {path[0]} is no column of the query's sources")
    return "->".join([head, *(identifier(p) for p in path[1:])])


def grouped(sql: str, whole: bool) -> str:
    """A GROUP BY expression put where ``ROWKEY`` stood: bracketed unless it is one operand."""
    return sql if whole or _BARE_PATH.fullmatch(sql) or _one_call(sql) else f"({sql})"


def _one_call(sql: str) -> bool:
    """``F(...)`` whose bracket closes at the end (``F(a) + G(b)`` is not one call)."""
    match = re.match(r"\w+\(", sql)
    if match is None or not sql.endswith(")"):
        return False
    depth = 0
    for offset in range(match.end() - 1, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[offset], 0)
        if depth == 0:
            return offset == len(sql) - 1
    return False


_NAME = r"(?:[A-Z_][A-Z0-9_]*|`(?:[^`]|``)+`)"
_BARE_PATH = re.compile(rf"{_NAME}(?:\.{_NAME})?(?:->{_NAME})*")


def expression(text: str, resolve: Resolver, node_id: str) -> str:
    """Compiler text → ksqlDB text: paths through ``resolve``, ``DIV`` as ``/`` (a lambda is refused:
    the compiler has no function that takes one yet)."""
    try:
        tokens = [t for t in tokenize(str(text)) if t.kind is not TokenKind.END]
    except SqlError as error:
        raise Refusal(f"node {node_id}: cannot read {text!r} ({error.message})") from None
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
            raise Refusal(f"node {node_id}: lambdas ({text[:40]}) are not rendered back to SQL yet")
        if replacement is not None:
            out.append(text[position : token.offset])
            out.append(replacement)
            position = tokens[end - 1].end
        index = end if replacement is not None else index + 1
    out.append(text[position:])
    return "".join(out)


def projection_item(out: str, text: str, resolve: Resolver, node_id: str) -> str:
    sql = expression(text, resolve, node_id)
    natural = sql.split("->")[-1].split(".")[-1]
    if _BARE_PATH.fullmatch(sql) and natural in (identifier(out), f"`{out}`"):
        return sql
    return f"{sql} AS {identifier(out)}"


def key_item(sql: str, fields: dict[str, str]) -> str:
    natural = sql.split("->")[-1].split(".")[-1].strip("`")
    if _BARE_PATH.fullmatch(sql) and natural not in fields:
        return sql
    name, counter = "KEY", 0
    while name in fields:
        counter += 1
        name = f"KEY_{counter}"
    return f"{sql} AS {name}"


def listed(keys: Any) -> list[str]:
    return [str(k) for k in keys] if isinstance(keys, list) else [str(keys)]


def identifier(name: str) -> str:
    """A name as ksqlDB reads it back: bare when it is one upper-case word, else in backticks."""
    if _BARE.fullmatch(name) and name not in _KEYWORDS:
        return name
    return "`" + name.replace("`", "``") + "`"


def string_literal(value: str) -> str:
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
        raise Refusal(f"node {node_id}: window {key}: {error}") from None


def window_clause(window: dict[str, Any], node_id: str) -> str:
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


def within_clause(window: dict[str, Any], node_id: str) -> str:
    grace = f"GRACE PERIOD {duration(_ms(window, 'grace', node_id))}"
    if window.get("size") is not None:
        return f"WITHIN {duration(_ms(window, 'size', node_id))} {grace}"
    before, after = duration(_ms(window, "before", node_id)), duration(_ms(window, "after", node_id))
    return f"WITHIN ({before}, {after}) {grace}"
