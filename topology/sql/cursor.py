"""A cursor over one statement's tokens, and the errors it raises (always located)."""

from __future__ import annotations

import difflib

from topology.sql.ast import Identifier, Span
from topology.sql.errors import SqlError
from topology.sql.tokens import Token, TokenKind

# Words that never stand bare for a name (a stream, an alias, a column in a list): each starts
# or separates a clause, so reading it as a name would hide the real mistake.
RESERVED = frozenset(
    (
        "AND",
        "AS",
        "BY",
        "CASE",
        "CREATE",
        "DROP",
        "ELSE",
        "EMIT",
        "END",
        "FALSE",
        "FROM",
        "FULL",
        "GROUP",
        "HAVING",
        "IN",
        "INNER",
        "INSERT",
        "INTO",
        "IS",
        "JOIN",
        "LEFT",
        "LIKE",
        "LIMIT",
        "NOT",
        "NULL",
        "ON",
        "OR",
        "OUTER",
        "PARTITION",
        "RIGHT",
        "SELECT",
        "STREAM",
        "TABLE",
        "THEN",
        "TRUE",
        "VALUES",
        "WHEN",
        "WHERE",
        "WINDOW",
        "WITH",
        "WITHIN",
    )
)


def did_you_mean(word: str, choices: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word.upper(), choices, n=1, cutoff=0.75)
    return f" (did you mean {close[0]}?)" if close else ""


class Cursor:
    def __init__(self, tokens: list[Token], source: str) -> None:
        self.tokens = tokens
        self.source = source
        self.pos = 0

    # --- moving -----------------------------------------------------------------------------

    @property
    def current(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    @property
    def previous(self) -> Token:
        return self.tokens[max(self.pos - 1, 0)]

    def advance(self) -> Token:
        token = self.tokens[self.pos]
        if token.kind is not TokenKind.END:
            self.pos += 1
        return token

    def at_end(self) -> bool:
        return self.current.kind is TokenKind.END

    def accept(self, *words: str) -> Token | None:
        if self.current.is_word(*words):
            return self.advance()
        return None

    def accept_symbol(self, symbol: str) -> Token | None:
        if self.current.is_symbol(symbol):
            return self.advance()
        return None

    def expect(self, word: str, context: str) -> Token:
        if self.current.is_word(word):
            return self.advance()
        raise self.expected(f"{word} {context}")

    def expect_symbol(self, symbol: str, context: str) -> Token:
        if self.current.is_symbol(symbol):
            return self.advance()
        raise self.expected(f"'{symbol}' {context}")

    # --- building ---------------------------------------------------------------------------

    def span_from(self, start: Token) -> Span:
        end = max(self.previous.end, start.end)
        return Span(start.line, start.column, start.offset, end)

    def text_from(self, start: Token) -> str:
        return self.source[start.offset : max(self.previous.end, start.end)]

    def identifier(self, what: str) -> Identifier:
        token = self.current
        if token.kind is TokenKind.QUOTED or (token.kind is TokenKind.WORD and token.value not in RESERVED):
            self.advance()
            return to_identifier(token)
        raise self.expected(what)

    def is_name(self, token: Token | None = None) -> bool:
        token = token or self.current
        return token.kind is TokenKind.QUOTED or (
            token.kind is TokenKind.WORD and token.value not in RESERVED
        )

    # --- errors -----------------------------------------------------------------------------

    def error(self, message: str, token: Token | None = None, code: str = "sql.syntax") -> SqlError:
        token = token or self.current
        return SqlError(
            message,
            line=token.line,
            column=token.column,
            token=token.text if token.kind is not TokenKind.END else "",
            offset=token.offset,
            code=code,
        )

    def expected(self, what: str, token: Token | None = None) -> SqlError:
        token = token or self.current
        return self.error(f"expected {what}, got {token.describe()}", token)


def to_identifier(token: Token) -> Identifier:
    return Identifier(
        value=token.value,
        text=token.text,
        quoted=token.kind is TokenKind.QUOTED,
        span=Span(token.line, token.column, token.offset, token.end),
    )
