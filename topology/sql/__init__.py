"""Pure: ksqlDB-dialect SQL statements, parsed with their positions (no Django).

``parse(text, variables=None)`` returns the statements of a script as the frozen dataclasses
of ``topology.sql.ast``; every user error is a ``SqlError`` naming line, column and token.
Queries become topology documents in ``topology.sql.translate`` (and back in ``render``).
"""

from topology.sql.errors import SqlError
from topology.sql.expressions import compile_clause
from topology.sql.parser import ParsedScript, parse, parse_script, parse_statement
from topology.sql.tokens import Token, TokenKind, tokenize

__all__ = [
    "ParsedScript",
    "SqlError",
    "Token",
    "TokenKind",
    "compile_clause",
    "parse",
    "parse_script",
    "parse_statement",
    "tokenize",
]
