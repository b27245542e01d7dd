"""ksqlDB statements: ``parse(text, variables=None) -> list[Statement]``.

A hand-written recursive-descent parser over ``topology.sql.tokens``: the script is split at
';', each statement's ``${name}`` references are substituted (from ``variables`` and the
script's own DEFINE/UNDEFINE statements, in order), and the statement is parsed. Clause
expressions are checked for syntax by ``topology.sql.expressions``; names, functions and
types of expressions are the next stage's business.

Any user error raises ``SqlError`` with the line, column and token; nothing else is raised
for any text. The statement grammar is listed in docs/sql.md ("Statements").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from topology.sql.ast import (
    ColumnDefinition,
    CreateAsSelect,
    CreateSource,
    Define,
    Describe,
    Drop,
    Explain,
    Expression,
    Identifier,
    InsertIntoSelect,
    InsertValues,
    Literal,
    Property,
    RunScript,
    SetProperty,
    Show,
    ShowWhat,
    SourceKind,
    SqlType,
    Statement,
    StructField,
    Terminate,
    Undefine,
    UnsetProperty,
)
from topology.sql.cursor import did_you_mean
from topology.sql.errors import SqlError
from topology.sql.query import QueryParser
from topology.sql.tokens import Token, TokenKind, split_statements, substitute, tokenize

MAX_TYPE_DEPTH = 32
MAX_VARIABLE_LENGTH = 10_000

STATEMENTS = (
    "CREATE",
    "INSERT",
    "SELECT",
    "SHOW",
    "LIST",
    "DESCRIBE",
    "EXPLAIN",
    "TERMINATE",
    "DROP",
    "SET",
    "UNSET",
    "DEFINE",
    "UNDEFINE",
    "RUN",
)
# ksqlDB statements Weir does not parse yet: named, so the error says so.
UNSUPPORTED = ("PRINT", "ALTER", "ASSERT", "PAUSE", "RESUME")

PRIMITIVE_TYPES = {
    "BOOLEAN": "BOOLEAN",
    "INT": "INTEGER",
    "INTEGER": "INTEGER",
    "BIGINT": "BIGINT",
    "DOUBLE": "DOUBLE",
    "VARCHAR": "STRING",
    "STRING": "STRING",
    "BYTES": "BYTES",
    "DATE": "DATE",
    "TIME": "TIME",
    "TIMESTAMP": "TIMESTAMP",
}
_TYPE_NAMES = (*PRIMITIVE_TYPES, "DECIMAL", "ARRAY", "MAP", "STRUCT")
_EXTENDED_SHOW = frozenset((ShowWhat.STREAMS, ShowWhat.TABLES, ShowWhat.TOPICS, ShowWhat.QUERIES))


@dataclass(frozen=True)
class ParsedScript:
    """The statements of a script and the variables defined once all of them ran."""

    statements: tuple[Statement, ...]
    variables: dict[str, str]


def parse_script(text: str, variables: Mapping[str, str] | None = None) -> ParsedScript:
    """Parse every statement of ``text``; ``variables`` (name → value) are defined first."""
    defined = _initial_variables(variables)
    statements: list[Statement] = []
    for tokens in split_statements(tokenize(text)):
        statement_text = text[tokens[0].offset : tokens[-2].end]
        try:
            if not tokens[0].is_word("DEFINE", "UNDEFINE"):
                tokens = substitute(tokens, defined)
            statement = _Parser(tokens, text).statement()
        except SqlError as error:
            error.statement = statement_text
            raise
        if isinstance(statement, Define):
            defined[statement.name] = statement.value
        elif isinstance(statement, Undefine):
            defined.pop(statement.name, None)
        statements.append(statement)
    return ParsedScript(tuple(statements), defined)


def parse(text: str, variables: Mapping[str, str] | None = None) -> list[Statement]:
    """The statements of ``text``, in order. Raises SqlError (located) on any user error."""
    return list(parse_script(text, variables).statements)


def parse_statement(text: str, variables: Mapping[str, str] | None = None) -> Statement:
    """The one statement of ``text`` (a closing ';' is optional)."""
    statements = parse(text, variables)
    if not statements:
        raise SqlError("expected a statement, got only spaces or comments", line=1, column=1)
    if len(statements) > 1:
        second = statements[1]
        raise SqlError(
            "expected one statement, got more: a second one starts here",
            line=second.span.line,
            column=second.span.column,
            offset=second.span.offset,
            token=second.text.split(None, 1)[0] if second.text.split() else "",
            statement=second.text,
        )
    return statements[0]


def _initial_variables(variables: Mapping[str, str] | None) -> dict[str, str]:
    defined: dict[str, str] = {}
    for name, value in (variables or {}).items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise SqlError("variables must map names to strings", line=1, column=1, code="sql.variable")
        if not name.replace("_", "a").isalnum() or not name.isascii() or name[:1].isdigit():
            raise SqlError(f"bad variable name {name!r}", line=1, column=1, code="sql.variable")
        if len(value) > MAX_VARIABLE_LENGTH:
            raise SqlError(f"the value of {name} is too long", line=1, column=1, code="sql.limit")
        defined[name.upper()] = value
    return defined


class _Parser(QueryParser):
    def statement(self) -> Statement:
        token = self.current
        handler = {
            "CREATE": self.create,
            "INSERT": self.insert,
            "SELECT": self.select,
            "SHOW": self.show,
            "LIST": self.show,
            "DESCRIBE": self.describe,
            "EXPLAIN": self.explain,
            "TERMINATE": self.terminate,
            "DROP": self.drop,
            "SET": self.set,
            "UNSET": self.unset,
            "DEFINE": self.define,
            "UNDEFINE": self.undefine,
            "RUN": self.run_script,
        }.get(token.value if token.kind is TokenKind.WORD else "")
        if handler is None:
            if token.is_word(*UNSUPPORTED):
                raise self.error(f"{token.value} statements are not supported yet", code="sql.unsupported")
            starts = "a statement starts with " + ", ".join(STATEMENTS)
            if token.kind is not TokenKind.WORD:
                raise self.error(f"expected a statement, got {token.describe()}; {starts}")
            hint = did_you_mean(token.value, STATEMENTS)
            raise self.error(f"unknown statement {token.describe()}{hint}; {starts}")
        statement = handler()
        if not self.at_end():
            raise self.error(
                f"unexpected {self.current.describe()} after the end of the {token.value} statement "
                "(statements are separated by ';')"
            )
        return statement

    # --- CREATE -----------------------------------------------------------------------------

    def create(self) -> Statement:
        start = self.advance()
        or_replace = False
        if self.accept("OR"):
            self.expect("REPLACE", "after CREATE OR")
            or_replace = True
        source = self.accept("SOURCE")
        kind_token = self.current
        if not kind_token.is_word("STREAM", "TABLE"):
            if kind_token.is_word("TYPE", "CONNECTOR", "SINK"):
                raise self.error(f"CREATE {kind_token.value} is not supported yet", code="sql.unsupported")
            raise self.expected("STREAM or TABLE after CREATE")
        self.advance()
        kind = SourceKind(kind_token.value)
        noun = kind.value.lower()
        if_not_exists = False
        if self.accept("IF"):
            self.expect("NOT", "after IF")
            self.expect("EXISTS", "after IF NOT")
            if_not_exists = True
            if or_replace:
                raise self.error("CREATE OR REPLACE and IF NOT EXISTS cannot be used together", self.previous)
        name = self.identifier(f"the {noun} name after CREATE {kind.value}")
        columns: tuple[ColumnDefinition, ...] = ()
        properties: tuple[Property, ...] = ()
        if self.current.is_symbol("("):
            columns = self.column_list(kind)
        if self.accept("WITH"):
            properties = self.properties()
        if self.current.is_word("AS"):
            if columns:
                raise self.error("CREATE ... AS SELECT takes no column list: its columns come from the query")
            if source is not None:
                raise self.error(f"CREATE SOURCE {kind.value} cannot be AS SELECT", source)
            self.advance()
            if not self.current.is_word("SELECT"):
                raise self.expected(f"SELECT after CREATE {kind.value} {name.text} ... AS")
            query = self.select()
            return CreateAsSelect(
                text=self.text_from(start),
                span=self.span_from(start),
                kind=kind,
                name=name,
                properties=properties,
                query=query,
                or_replace=or_replace,
                if_not_exists=if_not_exists,
            )
        if not self.at_end():
            if properties:
                raise self.expected("AS SELECT or the end of the statement after the WITH list")
            if columns:
                raise self.expected("WITH or the end of the statement after the column list")
            hint = " (did you mean AS SELECT?)" if did_you_mean(self.current.value, ["SELECT"]) else ""
            raise self.error(
                f"expected '(', WITH or AS after the {noun} name, got {self.current.describe()}{hint}"
            )
        return CreateSource(
            text=self.text_from(start),
            span=self.span_from(start),
            kind=kind,
            name=name,
            columns=columns,
            properties=properties,
            or_replace=or_replace,
            if_not_exists=if_not_exists,
            source=source is not None,
        )

    def column_list(self, kind: SourceKind) -> tuple[ColumnDefinition, ...]:
        self.advance()  # (
        columns: list[ColumnDefinition] = []
        seen: dict[str, Identifier] = {}
        while True:
            start = self.current
            name = self.identifier("a column name" if not columns else "a column name after ','")
            if name.value in seen:
                raise self.error(f"column {name.value} is declared twice", start)
            seen[name.value] = name
            type_ = self.type(f"after the column name {name.text}", 0)
            key = primary_key = False
            key_token = self.current
            if self.accept("PRIMARY"):
                self.expect("KEY", "after PRIMARY")
                primary_key = True
                if kind is SourceKind.STREAM:
                    raise self.error(
                        "a stream's key column is declared KEY; PRIMARY KEY is for tables", key_token
                    )
            elif self.accept("KEY"):
                key = True
                if kind is SourceKind.TABLE:
                    raise self.error(
                        "a table's key column is declared PRIMARY KEY; KEY is for streams", key_token
                    )
            columns.append(ColumnDefinition(name, type_, key, primary_key, self.span_from(start)))
            if self.accept_symbol(","):
                continue
            if self.accept_symbol(")"):
                return tuple(columns)
            what = "PRIMARY KEY, " if kind is SourceKind.TABLE and not primary_key else ""
            what = "KEY, " if kind is SourceKind.STREAM and not key else what
            raise self.expected(f"{what}',' or ')' after the column {name.text}")

    def type(self, after: str, depth: int) -> SqlType:
        token = self.current
        if depth > MAX_TYPE_DEPTH:
            raise self.error(f"the type nests deeper than {MAX_TYPE_DEPTH} levels", token, "sql.limit")
        if token.kind is not TokenKind.WORD:
            raise self.expected(f"a type {after}")
        word = token.value
        if word in PRIMITIVE_TYPES:
            self.advance()
            return SqlType(PRIMITIVE_TYPES[word], self.span_from(token))
        if word == "DECIMAL":
            self.advance()
            self.expect_symbol("(", "after DECIMAL: a decimal is DECIMAL(precision, scale)")
            precision = self.whole_number("the precision of DECIMAL")
            self.expect_symbol(",", "after the precision of DECIMAL(precision, scale)")
            scale = self.whole_number("the scale of DECIMAL")
            self.expect_symbol(")", "to close DECIMAL(precision, scale)")
            if precision < 1 or scale > precision:
                raise self.error(
                    f"DECIMAL({precision}, {scale}) needs a precision of at least 1 and a scale no more than it",
                    token,
                )
            return SqlType("DECIMAL", self.span_from(token), precision=precision, scale=scale)
        if word == "ARRAY":
            self.advance()
            self.expect_symbol("<", "after ARRAY, as in ARRAY<STRING>")
            element = self.type("inside ARRAY<...>", depth + 1)
            self.expect_symbol(">", "to close ARRAY<...>")
            return SqlType("ARRAY", self.span_from(token), element=element)
        if word == "MAP":
            self.advance()
            self.expect_symbol("<", "after MAP, as in MAP<STRING, INT>")
            key = self.type("for the keys of MAP<...>", depth + 1)
            self.expect_symbol(",", "between the key and value types of MAP<key, value>")
            value = self.type("for the values of MAP<...>", depth + 1)
            self.expect_symbol(">", "to close MAP<key, value>")
            return SqlType("MAP", self.span_from(token), key=key, value=value)
        if word == "STRUCT":
            self.advance()
            self.expect_symbol("<", "after STRUCT, as in STRUCT<name STRING, age INT>")
            fields: list[StructField] = []
            names: set[str] = set()
            if not self.accept_symbol(">"):
                while True:
                    field_token = self.current
                    field_name = self.identifier("a field name in STRUCT<...>")
                    if field_name.value in names:
                        raise self.error(f"field {field_name.value} appears twice in the STRUCT", field_token)
                    names.add(field_name.value)
                    fields.append(
                        StructField(field_name, self.type(f"after the field {field_name.text}", depth + 1))
                    )
                    if self.accept_symbol(","):
                        continue
                    if self.accept_symbol(">"):
                        break
                    raise self.expected(f"',' or '>' after the STRUCT field {field_name.text}")
            return SqlType("STRUCT", self.span_from(token), fields=tuple(fields))
        raise self.error(
            f"unknown type {token.describe()}{did_you_mean(word, _TYPE_NAMES)}; types are "
            + ", ".join(_TYPE_NAMES),
            token,
        )

    def whole_number(self, what: str) -> int:
        token = self.current
        if token.kind is not TokenKind.NUMBER or not token.value.isdigit() or len(token.value) > 9:
            raise self.expected(what)
        self.advance()
        return int(token.value)

    def properties(self) -> tuple[Property, ...]:
        self.expect_symbol("(", "after WITH, as in WITH (KAFKA_TOPIC='topic', VALUE_FORMAT='JSON')")
        properties: list[Property] = []
        seen: set[str] = set()
        while True:
            start = self.current
            if not start.is_identifier:
                raise self.expected("a property name in WITH (...)")
            self.advance()
            name = start.value.upper()
            if name in seen:
                raise self.error(f"property {name} is given twice", start)
            seen.add(name)
            self.expect_symbol("=", f"after the property name {start.text}")
            value = self.literal(f"for {name}")
            properties.append(Property(name, value, self.span_from(start)))
            if self.accept_symbol(","):
                continue
            if self.accept_symbol(")"):
                return tuple(properties)
            raise self.expected(f"',' or ')' after the value of {name}")

    def literal(self, what: str) -> Literal:
        start = self.current
        negative = self.accept_symbol("-") is not None
        token = self.current
        if token.kind is TokenKind.NUMBER:
            self.advance()
            number: int | float
            if token.value.isdigit():
                number = int(token.value)
            else:
                number = float(token.value)
                if number in (float("inf"), float("-inf")):
                    raise self.error(f"the number {token.text} is too large", token, "sql.limit")
            return Literal(-number if negative else number, self.span_from(start))
        if negative:
            raise self.expected(f"a number after '-' {what}")
        if token.kind is TokenKind.STRING:
            self.advance()
            return Literal(token.value, self.span_from(start))
        if token.is_word("TRUE", "FALSE"):
            self.advance()
            return Literal(token.value == "TRUE", self.span_from(start))
        raise self.expected(f"a value (a 'string', a number, TRUE or FALSE) {what}")

    def string(self, what: str) -> str:
        token = self.current
        if token.kind is not TokenKind.STRING:
            raise self.expected(what)
        self.advance()
        return token.value

    # --- INSERT -----------------------------------------------------------------------------

    def insert(self) -> Statement:
        start = self.advance()
        self.expect("INTO", "after INSERT")
        target = self.identifier("the stream or table name after INSERT INTO")
        columns: list[Identifier] = []
        if self.accept_symbol("("):
            columns.append(self.identifier("a column name in INSERT INTO name (...)"))
            while self.accept_symbol(","):
                columns.append(self.identifier("a column name after ','"))
            self.expect_symbol(")", "or ',' after the column names")
            if not self.current.is_word("VALUES"):
                raise self.expected("VALUES after the column list")
        if self.current.is_word("VALUES"):
            values_token = self.advance()
            self.expect_symbol("(", "after VALUES")
            values: list[Expression] = []
            while True:
                values.append(self.expression("the value", "in VALUES (...)" if not values else "after ','"))
                if self.accept_symbol(","):
                    continue
                if self.accept_symbol(")"):
                    break
                raise self.expected("',' or ')' after the value")
            if columns and len(columns) != len(values):
                raise self.error(
                    f"INSERT names {len(columns)} columns but VALUES gives {len(values)} values", values_token
                )
            return InsertValues(
                text=self.text_from(start),
                span=self.span_from(start),
                target=target,
                columns=tuple(columns),
                values=tuple(values),
            )
        properties: tuple[Property, ...] = ()
        if self.accept("WITH"):
            properties = self.properties()
        if not self.current.is_word("SELECT"):
            raise self.expected(f"VALUES, '(' or SELECT after INSERT INTO {target.text}")
        query = self.select()
        return InsertIntoSelect(
            text=self.text_from(start),
            span=self.span_from(start),
            target=target,
            properties=properties,
            query=query,
        )

    # --- the other statements ---------------------------------------------------------------

    def show(self) -> Statement:
        start = self.advance()
        token = self.current
        names = [w.value for w in ShowWhat]
        if not token.is_word(*names):
            hint = did_you_mean(token.value, names) if token.kind is TokenKind.WORD else ""
            raise self.error(f"expected {', '.join(names)} after {start.value}, got {token.describe()}{hint}")
        what = ShowWhat(self.advance().value)
        extended = self.accept("EXTENDED")
        if extended is not None and what not in _EXTENDED_SHOW:
            raise self.error(f"EXTENDED is not allowed with {start.value} {what.value}", extended)
        return Show(
            text=self.text_from(start),
            span=self.span_from(start),
            what=what,
            extended=extended is not None,
            verb=start.value,
        )

    def describe(self) -> Statement:
        start = self.advance()
        function = self.accept("FUNCTION") is not None
        extended = not function and self.accept("EXTENDED") is not None
        what = "the function name" if function else "the stream or table name"
        name = self.identifier(f"{what} after {self.previous.value}")
        return Describe(
            text=self.text_from(start),
            span=self.span_from(start),
            name=name,
            extended=extended,
            function=function,
        )

    def explain(self) -> Statement:
        start = self.advance()
        if self.current.is_word("SELECT", "CREATE", "INSERT"):
            inner_start = self.current
            inner = {"SELECT": self.select, "CREATE": self.create, "INSERT": self.insert}[inner_start.value]()
            if not isinstance(inner, CreateAsSelect | InsertIntoSelect) and inner_start.value != "SELECT":
                raise self.error(
                    "EXPLAIN takes a query, CREATE ... AS SELECT, INSERT INTO ... SELECT or a query id",
                    inner_start,
                )
            return Explain(text=self.text_from(start), span=self.span_from(start), statement=inner)  # type: ignore[arg-type]
        query_id = self.identifier("a query id or a query after EXPLAIN")
        return Explain(text=self.text_from(start), span=self.span_from(start), query_id=query_id)

    def terminate(self) -> Statement:
        start = self.advance()
        if self.accept("ALL"):
            return Terminate(text=self.text_from(start), span=self.span_from(start), all=True)
        query_id = self.identifier("a query id or ALL after TERMINATE")
        return Terminate(text=self.text_from(start), span=self.span_from(start), query_id=query_id)

    def drop(self) -> Statement:
        start = self.advance()
        kind_token = self.current
        if not kind_token.is_word("STREAM", "TABLE"):
            if kind_token.is_word("TYPE", "CONNECTOR"):
                raise self.error(f"DROP {kind_token.value} is not supported yet", code="sql.unsupported")
            raise self.expected("STREAM or TABLE after DROP")
        kind = SourceKind(self.advance().value)
        if_exists = False
        if self.accept("IF"):
            self.expect("EXISTS", "after IF")
            if_exists = True
        name = self.identifier(f"the {kind.value.lower()} name after DROP {kind.value}")
        delete_topic = False
        if self.accept("DELETE"):
            self.expect("TOPIC", "after DELETE")
            delete_topic = True
        return Drop(
            text=self.text_from(start),
            span=self.span_from(start),
            kind=kind,
            name=name,
            if_exists=if_exists,
            delete_topic=delete_topic,
        )

    def set(self) -> Statement:
        start = self.advance()
        name = self.string(
            "the property name in quotes after SET, as in SET 'auto.offset.reset' = 'earliest'"
        )
        self.expect_symbol("=", "after the property name")
        value = self.string("the value in quotes after '=', as in SET 'auto.offset.reset' = 'earliest'")
        return SetProperty(text=self.text_from(start), span=self.span_from(start), name=name, value=value)

    def unset(self) -> Statement:
        start = self.advance()
        name = self.string("the property name in quotes after UNSET, as in UNSET 'auto.offset.reset'")
        return UnsetProperty(text=self.text_from(start), span=self.span_from(start), name=name)

    def variable_name(self, after: str) -> Token:
        token = self.current
        if token.kind is not TokenKind.WORD:
            raise self.expected(f"a variable name (letters, digits and '_') after {after}")
        return self.advance()

    def define(self) -> Statement:
        start = self.advance()
        name = self.variable_name("DEFINE")
        self.expect_symbol("=", f"after DEFINE {name.text}")
        value_token = self.current
        value = self.string(f"the value in quotes, as in DEFINE {name.text} = 'value'")
        if len(value) > MAX_VARIABLE_LENGTH:
            raise self.error(f"the value of {name.text} is too long", value_token, "sql.limit")
        return Define(text=self.text_from(start), span=self.span_from(start), name=name.value, value=value)

    def undefine(self) -> Statement:
        start = self.advance()
        name = self.variable_name("UNDEFINE")
        return Undefine(text=self.text_from(start), span=self.span_from(start), name=name.value)

    def run_script(self) -> Statement:
        start = self.advance()
        self.expect("SCRIPT", "after RUN")
        path = self.string("the file name in quotes after RUN SCRIPT")
        return RunScript(text=self.text_from(start), span=self.span_from(start), path=path)
