"""The one error type of ``topology.sql``: located at a line, a column and a token."""

from __future__ import annotations


class SqlError(ValueError):
    """A user error in SQL text, located for people.

    ``line`` and ``column`` are 1-based (a tab counts as one column) and point into the text
    that was given to ``parse`` (never into a variable's value: a token that came from
    ``${name}`` is located at the reference). ``token`` is the offending token as written
    ("" at the end of the input). ``code`` is stable: sql.syntax, sql.token, sql.expression,
    sql.variable, sql.unsupported, sql.limit. ``statement`` is the text of the statement the
    error is in, when there is one (ksqlDB's REST errors carry it as ``statementText``).
    """

    def __init__(
        self,
        message: str,
        *,
        line: int,
        column: int,
        token: str = "",
        offset: int = 0,
        code: str = "sql.syntax",
        statement: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.token = token
        self.offset = offset
        self.code = code
        self.statement = statement

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"

    def __repr__(self) -> str:
        return f"SqlError({str(self)!r}, code={self.code!r})"
