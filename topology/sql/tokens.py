"""ksqlDB's lexical rules: text → tokens, each with its line, column and offset.

Written here rather than taken from sqlglot's ``Tokenizer``: sqlglot's ``TokenError`` carries
no position (every error here must name line, column and token), and its default rules
differ from ksqlDB's where it matters (``$`` and ``${`` are read as parts of names, ``1e`` is a
number, ``0x1F`` two tokens). Clause expressions are still read by sqlglot, through
``topology.compiler`` (see ``topology.sql.expressions``).

The rules:

- unquoted words ``[A-Za-z_][A-Za-z0-9_]*`` are upper-cased (``value``), as ksqlDB resolves
  identifiers; keywords are words too, recognised by the parser where they may appear;
- backtick- and double-quoted identifiers keep their case (a doubled quote escapes it);
- string literals in single quotes, ``''`` escaping a quote;
- numbers: ``12``, ``1.5``, ``.5``, ``1e3``, ``2.5E-3``;
- ``${name}`` is a variable reference (substituted by ``substitute``);
- ``--`` to the end of the line and ``/* ... */`` are comments; whitespace separates;
- symbols: ``-> => := <= >= <> != ||`` and ``= < > + - * / % ( ) [ ] , . ; :``.
"""

from __future__ import annotations

import bisect
import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from topology.sql.errors import SqlError

MAX_TEXT_LENGTH = 1_000_000  # a script; one statement is far shorter

_SYMBOLS_2 = frozenset(("->", "=>", ":=", "<=", ">=", "<>", "!=", "||"))
_SYMBOLS_1 = frozenset("=<>+-*/%()[],.;:")
_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_WORD_PART = _WORD_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_SPACE = frozenset(" \t\r\n\f\v")
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class TokenKind(enum.Enum):
    WORD = "word"  # unquoted identifier or keyword; value upper-cased
    QUOTED = "quoted identifier"  # `name` or "name"; value keeps its case
    STRING = "string"  # 'text'; value unescaped
    NUMBER = "number"
    SYMBOL = "symbol"
    VARIABLE = "variable"  # ${name}; value is the name
    END = "end"  # end of the statement or input


@dataclass(frozen=True, slots=True)
class Token:
    """One token. ``text`` is as written (after substitution), ``value`` as ksqlDB reads it.

    ``offset``/``end`` index the original text (``end`` exclusive); ``line`` and ``column``
    are 1-based. A token that came from a variable's value has ``variable`` set to the
    variable's name and the position of the reference.
    """

    kind: TokenKind
    text: str
    value: str
    offset: int
    end: int
    line: int
    column: int
    variable: str | None = None

    def is_word(self, *words: str) -> bool:
        return self.kind is TokenKind.WORD and (not words or self.value in words)

    def is_symbol(self, *symbols: str) -> bool:
        return self.kind is TokenKind.SYMBOL and self.value in symbols

    @property
    def is_identifier(self) -> bool:
        return self.kind is TokenKind.WORD or self.kind is TokenKind.QUOTED

    def describe(self) -> str:
        """The token as an error message quotes it."""
        if self.kind is TokenKind.END:
            return "the end of the statement" if self.text == ";" else "the end of the input"
        shown = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        where = f" (from ${{{self.variable}}})" if self.variable else ""
        if self.kind is TokenKind.STRING:
            return f"the string {shown}{where}"
        return f"'{shown}'{where}"


class Locator:
    """Offset → (line, column) in one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._starts = [0] + [index + 1 for index, char in enumerate(text) if char == "\n"]

    def position(self, offset: int) -> tuple[int, int]:
        line = bisect.bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1

    def error(self, message: str, offset: int, token: str = "", code: str = "sql.token") -> SqlError:
        line, column = self.position(offset)
        return SqlError(message, line=line, column=column, token=token, offset=offset, code=code)


def tokenize(text: str) -> list[Token]:
    """All tokens of ``text`` followed by one END token; raises SqlError on a lexical error."""
    if not isinstance(text, str):
        raise SqlError("SQL text must be a string", line=1, column=1, code="sql.token")
    if len(text) > MAX_TEXT_LENGTH:
        raise SqlError(
            f"the SQL text is {len(text)} characters, more than the limit of {MAX_TEXT_LENGTH}",
            line=1,
            column=1,
            code="sql.limit",
        )
    locator = Locator(text)
    return _Scanner(text, locator).run()


class _Scanner:
    def __init__(self, text: str, locator: Locator) -> None:
        self.text = text
        self.locator = locator
        self.tokens: list[Token] = []

    def add(self, kind: TokenKind, start: int, end: int, value: str) -> None:
        line, column = self.locator.position(start)
        self.tokens.append(Token(kind, self.text[start:end], value, start, end, line, column))

    def fail(self, message: str, offset: int, token: str) -> SqlError:
        return self.locator.error(message, offset, token)

    def run(self) -> list[Token]:
        text = self.text
        length = len(text)
        index = 0
        while index < length:
            char = text[index]
            if char in _SPACE:
                index += 1
            elif char == "-" and text.startswith("--", index):
                newline = text.find("\n", index)
                index = length if newline < 0 else newline + 1
            elif char == "/" and text.startswith("/*", index):
                close = text.find("*/", index + 2)
                if close < 0:
                    raise self.fail("unterminated comment: '/*' has no closing '*/'", index, "/*")
                index = close + 2
            elif char in _WORD_START:
                end = index + 1
                while end < length and text[end] in _WORD_PART:
                    end += 1
                self.add(TokenKind.WORD, index, end, text[index:end].upper())
                index = end
            elif char in _DIGITS or (char == "." and index + 1 < length and text[index + 1] in _DIGITS):
                index = self.number(index)
            elif char == "'":
                index = self.quoted(index, "'", TokenKind.STRING, "string literal")
            elif char == "`" or char == '"':
                index = self.quoted(index, char, TokenKind.QUOTED, "quoted identifier")
            elif char == "$" and text.startswith("${", index):
                match = _VARIABLE.match(text, index)
                if match is None:
                    close = text.find("}", index)
                    shown = text[index : close + 1] if 0 <= close < index + 60 else "${"
                    raise self.fail(
                        f"bad variable reference {shown}: expected ${{name}} with a name of letters, digits and '_'",
                        index,
                        shown,
                    )
                self.add(TokenKind.VARIABLE, index, match.end(), match.group(1))
                index = match.end()
            elif text[index : index + 2] in _SYMBOLS_2:
                self.add(TokenKind.SYMBOL, index, index + 2, text[index : index + 2])
                index += 2
            elif char in _SYMBOLS_1:
                self.add(TokenKind.SYMBOL, index, index + 1, char)
                index += 1
            else:
                raise self.fail(f"unexpected character {char!r}", index, char)
        line, column = self.locator.position(length)
        self.tokens.append(Token(TokenKind.END, "", "", length, length, line, column))
        return self.tokens

    def number(self, start: int) -> int:
        text = self.text
        length = len(text)
        end = start
        while end < length and text[end] in _DIGITS:
            end += 1
        if end < length and text[end] == ".":
            end += 1
            while end < length and text[end] in _DIGITS:
                end += 1
        if end < length and text[end] in "eE":
            exponent = end + 1
            if exponent < length and text[exponent] in "+-":
                exponent += 1
            if exponent < length and text[exponent] in _DIGITS:
                end = exponent
                while end < length and text[end] in _DIGITS:
                    end += 1
        if end < length and text[end] in _WORD_PART:
            stop = end
            while stop < length and text[stop] in _WORD_PART:
                stop += 1
            raise self.fail(
                f"malformed number {text[start:stop]!r}: a name cannot start with a digit (quote it with backticks)",
                start,
                text[start:stop],
            )
        self.add(TokenKind.NUMBER, start, end, text[start:end])
        return end

    def quoted(self, start: int, quote: str, kind: TokenKind, what: str) -> int:
        text = self.text
        parts: list[str] = []
        index = start + 1
        while True:
            close = text.find(quote, index)
            if close < 0:
                raise self.fail(f"unterminated {what}: {quote} has no closing {quote}", start, quote)
            parts.append(text[index:close])
            if text.startswith(quote * 2, close):
                parts.append(quote)
                index = close + 2
                continue
            end = close + 1
            value = "".join(parts)
            if kind is TokenKind.QUOTED and not value:
                raise self.fail("a quoted identifier cannot be empty", start, text[start:end])
            self.add(kind, start, end, value)
            return end


def split_statements(tokens: list[Token]) -> list[list[Token]]:
    """Tokens per statement, split at ';'. Each list ends with an END token (its text is ';'
    when the statement was closed by one). Empty statements are dropped."""
    statements: list[list[Token]] = []
    current: list[Token] = []
    for token in tokens:
        if token.is_symbol(";") or token.kind is TokenKind.END:
            if current:
                end = Token(TokenKind.END, token.text, "", token.offset, token.end, token.line, token.column)
                statements.append([*current, end])
            current = []
        else:
            current.append(token)
    return statements


def references(tokens: list[Token]) -> bool:
    """Whether any token refers to a variable (bare, or inside a string literal)."""
    return any(
        t.kind is TokenKind.VARIABLE or (t.kind is TokenKind.STRING and "${" in t.value) for t in tokens
    )


def substitute(tokens: list[Token], variables: Mapping[str, str]) -> list[Token]:
    """Replace ``${name}`` references: a bare reference by the tokens of the value, a reference
    inside a string literal by the value's text. Names are case-insensitive (``variables``
    keys are upper-case). Quoted identifiers and comments are left alone.
    """
    if not references(tokens):
        return tokens
    result: list[Token] = []
    for token in tokens:
        if token.kind is TokenKind.VARIABLE:
            value = _lookup(token, token.value, variables)
            try:
                inner = tokenize(value)
            except SqlError as error:
                raise _at(token, f"the value of ${{{token.value}}} cannot be read: {error.message}") from None
            for part in inner[:-1]:
                if part.kind is TokenKind.VARIABLE:
                    raise _at(token, f"the value of ${{{token.value}}} refers to another variable")
                result.append(
                    replace(
                        part,
                        offset=token.offset,
                        end=token.end,
                        line=token.line,
                        column=token.column,
                        variable=token.value,
                    )
                )
        elif token.kind is TokenKind.STRING and "${" in token.value:
            names: list[str] = []

            def one(match: re.Match[str], token: Token = token, names: list[str] = names) -> str:
                names.append(match.group(1))
                return _lookup(token, match.group(1), variables)

            value = _VARIABLE.sub(one, token.value)
            text = "'" + value.replace("'", "''") + "'"
            result.append(replace(token, text=text, value=value, variable=names[0] if names else None))
        else:
            result.append(token)
    return result


def _lookup(token: Token, name: str, variables: Mapping[str, str]) -> str:
    value = variables.get(name.upper())
    if value is None:
        known = ", ".join(sorted(variables)) or "none"
        raise _at(
            token, f"variable ${{{name}}} is not defined (DEFINE it first; defined: {known})", "sql.variable"
        )
    return value


def _at(token: Token, message: str, code: str = "sql.variable") -> SqlError:
    return SqlError(
        message, line=token.line, column=token.column, token=token.text, offset=token.offset, code=code
    )
