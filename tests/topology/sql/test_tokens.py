"""The ksqlDB tokenizer: kinds, values as ksqlDB reads them, positions, lexical errors."""

import pytest

from topology.sql import SqlError, TokenKind, tokenize
from topology.sql.tokens import split_statements, substitute


def kinds_values(text):
    return [(t.kind, t.value) for t in tokenize(text)[:-1]]


def test_unquoted_words_are_upper_cased_and_quoted_identifiers_keep_their_case():
    assert kinds_values('riderLocations `profileId` "Mixed"') == [
        (TokenKind.WORD, "RIDERLOCATIONS"),
        (TokenKind.QUOTED, "profileId"),
        (TokenKind.QUOTED, "Mixed"),
    ]


def test_a_doubled_quote_escapes_it_in_strings_and_identifiers():
    assert kinds_values("'it''s' `a``b`") == [(TokenKind.STRING, "it's"), (TokenKind.QUOTED, "a`b")]
    assert tokenize("'it''s'")[0].text == "'it''s'"


def test_numbers_in_every_form():
    assert [v for _, v in kinds_values("12 1.5 .5 1e3 2.5E-3 7.")] == [
        "12",
        "1.5",
        ".5",
        "1e3",
        "2.5E-3",
        "7.",
    ]
    assert all(k is TokenKind.NUMBER for k, _ in kinds_values("12 1.5 .5 1e3"))


def test_struct_access_lambdas_and_two_character_symbols_are_one_token():
    assert [v for _, v in kinds_values("a->b x=>y m:=1 a<=b a>=b a<>b a!=b a||b")] == [
        "A", "->", "B", "X", "=>", "Y", "M", ":=", "1", "A", "<=", "B", "A", ">=", "B", "A", "<>", "B",
        "A", "!=", "B", "A", "||", "B",
    ]  # fmt: skip


def test_nested_type_closers_stay_separate():
    values = [v for _, v in kinds_values("ARRAY<MAP<STRING,INT>>")]
    assert values[-2:] == [">", ">"]


def test_variable_references_are_tokens_and_stay_text_inside_strings():
    assert kinds_values("${streamName} '${format}'") == [
        (TokenKind.VARIABLE, "streamName"),
        (TokenKind.STRING, "${format}"),
    ]


def test_comments_are_skipped():
    assert kinds_values("a -- one\n/* two\nlines */ b") == [(TokenKind.WORD, "A"), (TokenKind.WORD, "B")]


def test_every_token_carries_line_column_and_offset():
    tokens = tokenize("SELECT a,\n\t  `b` FROM s;")
    by_value = {t.value: t for t in tokens}
    assert (by_value["SELECT"].line, by_value["SELECT"].column, by_value["SELECT"].offset) == (1, 1, 0)
    assert (by_value["b"].line, by_value["b"].column, by_value["b"].offset, by_value["b"].end) == (
        2,
        4,
        13,
        16,
    )
    assert (by_value["FROM"].line, by_value["FROM"].column) == (2, 8)
    end = tokens[-1]
    assert end.kind is TokenKind.END and end.offset == len("SELECT a,\n\t  `b` FROM s;")


def test_statements_split_at_semicolons_outside_strings_and_comments():
    statements = split_statements(tokenize("SET 'a;b' = 'c'; -- x; y\n;; SHOW STREAMS"))
    assert [[t.value for t in s[:-1]] for s in statements] == [["SET", "a;b", "=", "c"], ["SHOW", "STREAMS"]]
    assert statements[0][-1].text == ";" and statements[1][-1].text == ""


@pytest.mark.parametrize(
    ("text", "line", "column", "token", "message"),
    [
        ("SELECT 'abc", 1, 8, "'", "unterminated string literal"),
        ("a\n  `abc", 2, 3, "`", "unterminated quoted identifier"),
        ('"abc', 1, 1, '"', "unterminated quoted identifier"),
        ("a /* never closed", 1, 3, "/*", "unterminated comment"),
        ("SELECT #", 1, 8, "#", "unexpected character '#'"),
        ("x = 1abc", 1, 5, "1abc", "malformed number '1abc'"),
        ("SELECT ${bad name}", 1, 8, "${bad name}", "bad variable reference"),
        ("a $b", 1, 3, "$", "unexpected character '$'"),
        ("SELECT ``", 1, 8, "``", "a quoted identifier cannot be empty"),
    ],
)
def test_lexical_errors_name_line_column_and_token(text, line, column, token, message):
    with pytest.raises(SqlError) as caught:
        tokenize(text)
    error = caught.value
    assert (error.line, error.column, error.token) == (line, column, token)
    assert message in error.message
    assert str(error).startswith(f"line {line}, column {column}: ")
    assert error.code == "sql.token"


def test_too_long_a_text_is_refused():
    with pytest.raises(SqlError) as caught:
        tokenize("a " * 600_000)
    assert caught.value.code == "sql.limit"


def test_a_non_string_is_refused_as_a_sql_error():
    with pytest.raises(SqlError):
        tokenize(b"SELECT")  # type: ignore[arg-type]


def test_substitution_replaces_bare_references_by_tokens_located_at_the_reference():
    tokens = substitute(tokenize("FROM ${src} x"), {"SRC": "riderLocations"})
    source = tokens[1]
    assert (source.kind, source.value, source.variable, source.column) == (
        TokenKind.WORD,
        "RIDERLOCATIONS",
        "src",
        6,
    )


def test_substitution_inside_a_string_escapes_quotes():
    (token, _end) = substitute(tokenize("'${v}!'"), {"V": "it's"})
    assert token.value == "it's!" and token.text == "'it''s!'"


def test_an_undefined_variable_is_named():
    with pytest.raises(SqlError) as caught:
        substitute(tokenize("SELECT ${nope}"), {"OTHER": "1"})
    assert "${nope} is not defined" in caught.value.message
    assert (caught.value.column, caught.value.code) == (8, "sql.variable")


def test_a_value_that_cannot_be_read_is_located_at_the_reference():
    with pytest.raises(SqlError) as caught:
        substitute(tokenize("a ${v}"), {"V": "'open"})
    assert (caught.value.column, caught.value.code) == (3, "sql.variable")
    assert "the value of ${v} cannot be read" in caught.value.message
