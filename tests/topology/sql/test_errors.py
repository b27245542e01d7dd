"""Every error path of the statement parser names line, column and token; nothing but SqlError
escapes, whatever the text."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topology.sql import SqlError, parse, parse_script

# (text, line, column, offending token, what the message says)
ERRORS = [
    ("CREATE STREAM s SELEC", 1, 17, "SELEC", "expected '(', WITH or AS after the stream name, got 'SELEC' "),
    ("CREATE OR s", 1, 11, "s", "expected REPLACE after CREATE OR, got 's'"),
    ("CREATE GROUP s", 1, 8, "GROUP", "expected STREAM or TABLE after CREATE, got 'GROUP'"),
    ("CREATE TYPE t AS INT", 1, 8, "TYPE", "CREATE TYPE is not supported yet"),
    ("CREATE STREAM IF EXISTS s", 1, 18, "EXISTS", "expected NOT after IF, got 'EXISTS'"),
    ("CREATE STREAM IF NOT s", 1, 22, "s", "expected EXISTS after IF NOT, got 's'"),
    (
        "CREATE OR REPLACE STREAM IF NOT EXISTS s (a INT)",
        1,
        33,
        "EXISTS",
        "CREATE OR REPLACE and IF NOT EXISTS cannot be used together",
    ),
    ("CREATE STREAM (a INT)", 1, 15, "(", "expected the stream name after CREATE STREAM, got '('"),
    (
        "CREATE STREAM s (a INT) AS SELECT * FROM t",
        1,
        25,
        "AS",
        "CREATE ... AS SELECT takes no column list: its columns come ",
    ),
    ("CREATE SOURCE TABLE t AS SELECT * FROM s", 1, 8, "SOURCE", "CREATE SOURCE TABLE cannot be AS SELECT"),
    (
        "CREATE STREAM s AS INSERT",
        1,
        20,
        "INSERT",
        "expected SELECT after CREATE STREAM s ... AS, got 'INSERT'",
    ),
    (
        "CREATE STREAM s WITH (kafka_topic='x') EXTRA",
        1,
        40,
        "EXTRA",
        "expected AS SELECT or the end of the statement after the WIT",
    ),
    (
        "CREATE STREAM s (a INT) EXTRA",
        1,
        25,
        "EXTRA",
        "expected WITH or the end of the statement after the column l",
    ),
    ("CREATE STREAM s (a INT, a BIGINT)", 1, 25, "a", "column A is declared twice"),
    ("CREATE STREAM s (a INT PRIMARY KEY)", 1, 24, "PRIMARY", "a stream's key column is declared KEY"),
    ("CREATE TABLE t (a INT KEY)", 1, 23, "KEY", "a table's key column is declared PRIMARY KEY"),
    ("CREATE STREAM s (a INT b INT)", 1, 24, "b", "expected KEY, ',' or ')' after the column a, got 'b'"),
    (
        "CREATE TABLE t (a INT b INT)",
        1,
        23,
        "b",
        "expected PRIMARY KEY, ',' or ')' after the column a, got 'b'",
    ),
    ("CREATE STREAM s (a 'x')", 1, 20, "'x'", "expected a type after the column name a, got the string 'x'"),
    ("CREATE STREAM s (a STRNG)", 1, 20, "STRNG", "unknown type 'STRNG' (did you mean STRING?)"),
    (
        "CREATE STREAM s (a DECIMAL)",
        1,
        27,
        ")",
        "expected '(' after DECIMAL: a decimal is DECIMAL(precision, ",
    ),
    (
        "CREATE STREAM s (a DECIMAL(4))",
        1,
        29,
        ")",
        "expected ',' after the precision of DECIMAL(precision, scale",
    ),
    (
        "CREATE STREAM s (a DECIMAL(2, 4))",
        1,
        20,
        "DECIMAL",
        "DECIMAL(2, 4) needs a precision of at least 1 and a scale no",
    ),
    ("CREATE STREAM s (a DECIMAL(x, 1))", 1, 28, "x", "expected the precision of DECIMAL, got 'x'"),
    (
        "CREATE STREAM s (a DECIMAL(4, 2)",
        1,
        33,
        "",
        "expected KEY, ',' or ')' after the column a, got the end of ",
    ),
    (
        "CREATE STREAM s (a ARRAY INT)",
        1,
        26,
        "INT",
        "expected '<' after ARRAY, as in ARRAY<STRING>, got 'INT'",
    ),
    ("CREATE STREAM s (a ARRAY<INT)", 1, 29, ")", "expected '>' to close ARRAY<...>, got ')'"),
    (
        "CREATE STREAM s (a MAP<STRING>)",
        1,
        30,
        ">",
        "expected ',' between the key and value types of MAP<key, val",
    ),
    (
        "CREATE STREAM s (a MAP STRING)",
        1,
        24,
        "STRING",
        "expected '<' after MAP, as in MAP<STRING, INT>, got 'STRING'",
    ),
    ("CREATE STREAM s (a MAP<STRING, INT)", 1, 35, ")", "expected '>' to close MAP<key, value>, got ')'"),
    (
        "CREATE STREAM s (a STRUCT(b INT))",
        1,
        26,
        "(",
        "expected '<' after STRUCT, as in STRUCT<name STRING, age INT",
    ),
    ("CREATE STREAM s (a STRUCT<b INT, b INT>)", 1, 34, "b", "field B appears twice in the STRUCT"),
    (
        "CREATE STREAM s (a STRUCT<b INT c INT>)",
        1,
        33,
        "c",
        "expected ',' or '>' after the STRUCT field b, got 'c'",
    ),
    ("CREATE STREAM s (a STRUCT<1 INT>)", 1, 27, "1", "expected a field name in STRUCT<...>, got '1'"),
    (
        "CREATE STREAM s WITH kafka_topic='x'",
        1,
        22,
        "kafka_topic",
        "expected '(' after WITH, as in WITH (KAFKA_TOPIC='topic', VA",
    ),
    ("CREATE STREAM s WITH (1 = 2)", 1, 23, "1", "expected a property name in WITH (...), got '1'"),
    (
        "CREATE STREAM s WITH (a 'x')",
        1,
        25,
        "'x'",
        "expected '=' after the property name a, got the string 'x'",
    ),
    (
        "CREATE STREAM s WITH (a = b)",
        1,
        27,
        "b",
        "expected a value (a 'string', a number, TRUE or FALSE) for A",
    ),
    (
        "CREATE STREAM s WITH (a = -'x')",
        1,
        28,
        "'x'",
        "expected a number after '-' for A, got the string 'x'",
    ),
    ("CREATE STREAM s WITH (a = 1e999)", 1, 27, "1e999", "the number 1e999 is too large"),
    ("CREATE STREAM s WITH (a = 1, A = 2)", 1, 30, "A", "property A is given twice"),
    ("CREATE STREAM s WITH (a = 1 b = 2)", 1, 29, "b", "expected ',' or ')' after the value of A, got 'b'"),
    ("INSERT t VALUES (1)", 1, 8, "t", "expected INTO after INSERT, got 't'"),
    (
        "INSERT INTO VALUES (1)",
        1,
        13,
        "VALUES",
        "expected the stream or table name after INSERT INTO, got 'VA",
    ),
    ("INSERT INTO t (a, b) VALUES (1)", 1, 22, "VALUES", "INSERT names 2 columns but VALUES gives 1 values"),
    ("INSERT INTO t (a b) VALUES (1)", 1, 18, "b", "expected ')' or ',' after the column names, got 'b'"),
    (
        "INSERT INTO t (a) SELECT * FROM s",
        1,
        19,
        "SELECT",
        "expected VALUES after the column list, got 'SELECT'",
    ),
    ("INSERT INTO t VALUES 1", 1, 22, "1", "expected '(' after VALUES, got '1'"),
    ("INSERT INTO t VALUES ()", 1, 23, ")", "expected an expression in VALUES (...), got ')'"),
    (
        "INSERT INTO t VALUES (1 2)",
        1,
        25,
        "2",
        "cannot read the value: syntax error: Invalid expression / Un",
    ),
    ("INSERT INTO t VALUES (1, )", 1, 26, ")", "expected an expression after ',', got ')'"),
    ("INSERT INTO t VALUES (1", 1, 24, "", "expected ',' or ')' after the value, got the end of the inpu"),
    ("INSERT INTO t FROM s", 1, 15, "FROM", "expected VALUES, '(' or SELECT after INSERT INTO t, got 'FRO"),
    ("SELECT a FROM", 1, 14, "", "expected the stream or table name after FROM, got the end of"),
    ("SELECT a, FROM s", 1, 11, "FROM", "expected an expression or * in the SELECT list, got 'FROM'"),
    ("SELECT a s", 1, 11, "", "expected ',' or FROM after the SELECT list, got the end of t"),
    ("SELECT a AS FROM s", 1, 13, "FROM", "expected the column name after AS, got 'FROM'"),
    ("SELECT a FROM s x y", 1, 19, "y", "expected WINDOW, WHERE, GROUP BY, PARTITION BY, HAVING, EMIT"),
    ("SELECT a FROM s AS", 1, 19, "", "expected an alias after s AS, got the end of the input"),
    ("SELECT a FROM s WHERE", 1, 22, "", "expected an expression after WHERE, got the end of the input"),
    (
        "SELECT a FROM s WHERE a = ",
        1,
        25,
        "=",
        "cannot read the WHERE condition: incomplete expression: an o",
    ),
    (
        "SELECT a FROM s WHERE a, b",
        1,
        24,
        ",",
        "expected GROUP BY, PARTITION BY, HAVING, EMIT, LIMIT or the ",
    ),
    ("SELECT a FROM s WHERE a b", 1, 25, "b", "cannot read the WHERE condition: unexpected 'b' (an operator"),
    ("SELECT a FROM s WHERE a = 1 WHERE b = 2", 1, 29, "WHERE", "a query has one WHERE clause"),
    (
        "SELECT a FROM s EMIT CHANGES WHERE b = 2",
        1,
        30,
        "WHERE",
        "WHERE must come before EMIT: the clauses of a query go FROM,",
    ),
    (
        "SELECT a FROM s WHERE a = 1 JOIN t ON a = b",
        1,
        29,
        "JOIN",
        "a join comes right after FROM, before WHERE",
    ),
    ("SELECT a FROM s EMIT", 1, 21, "", "expected CHANGES or FINAL after EMIT, got the end of the inp"),
    ("SELECT a FROM s EMIT ALL", 1, 22, "ALL", "expected CHANGES or FINAL after EMIT, got 'ALL'"),
    ("SELECT a FROM s LIMIT x", 1, 23, "x", "expected a whole number of rows after LIMIT, got 'x'"),
    ("SELECT a FROM s LIMIT 1.5", 1, 23, "1.5", "expected a whole number of rows after LIMIT, got '1.5'"),
    ("SELECT a FROM s LIMIT 99999999999", 1, 23, "99999999999", "LIMIT 99999999999 is more than 2147483647"),
    ("SELECT a FROM s LIMIT 1 2", 1, 25, "2", "expected the end of the query, got '2'"),
    ("SELECT a FROM s GROUP BY", 1, 25, "", "expected an expression after GROUP BY, got the end of the in"),
    ("SELECT a FROM s GROUP BY a,", 1, 28, "", "expected an expression after ',', got the end of the input"),
    (
        "SELECT a FROM s GROUP BY (a, b",
        1,
        30,
        "b",
        "cannot read the GROUP BY expression: syntax error: Expecting",
    ),
    ("SELECT a FROM s HAVING", 1, 23, "", "expected an expression after HAVING, got the end of the inpu"),
    ("SELECT a FROM s JOIN", 1, 21, "", "expected the stream or table name after JOIN, got the end of"),
    ("SELECT a FROM s LEFT t", 1, 22, "t", "expected JOIN after LEFT, got 't'"),
    (
        "SELECT a FROM s OUTER JOIN t ON a = b",
        1,
        17,
        "OUTER",
        "OUTER JOIN needs a side: LEFT, RIGHT or FULL OUTER JOIN",
    ),
    ("SELECT a FROM s JOIN t", 1, 23, "", "expected WITHIN or ON and the join condition after the joine"),
    ("SELECT a FROM s JOIN t ON", 1, 26, "", "expected an expression after ON, got the end of the input"),
    (
        "SELECT a FROM s JOIN t WITHIN ON a = b",
        1,
        31,
        "ON",
        "expected a duration such as 30 SECONDS after WITHIN, got 'ON",
    ),
    (
        "SELECT a FROM s JOIN t WITHIN 1 ON a = b",
        1,
        33,
        "ON",
        "expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS ",
    ),
    (
        "SELECT a FROM s JOIN t WITHIN 1 YEAR ON a = b",
        1,
        33,
        "YEAR",
        "expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS ",
    ),
    (
        "SELECT a FROM s JOIN t WITHIN 1.5 HOURS ON a = b",
        1,
        31,
        "1.5",
        "expected a duration such as 30 SECONDS after WITHIN, got '1.",
    ),
    (
        "SELECT a FROM s JOIN t WITHIN 99999999999999999999 DAYS ON a = b",
        1,
        31,
        "99999999999999999999",
        "the duration 99999999999999999999 DAYS is too long",
    ),
    (
        "SELECT a FROM s JOIN t WITHIN (1 HOUR 2 HOURS) ON a = b",
        1,
        39,
        "2",
        "expected ',' between the before and after durations of WITHI",
    ),
    (
        "SELECT a FROM s JOIN t WITHIN (1 HOUR, 2 HOURS ON a = b",
        1,
        48,
        "ON",
        "expected ')' to close WITHIN (before, after), got 'ON'",
    ),
    (
        "SELECT a FROM s JOIN t WITHIN 1 HOUR GRACE 1 HOUR ON a = b",
        1,
        44,
        "1",
        "expected PERIOD after GRACE, got '1'",
    ),
    (
        "SELECT a FROM s JOIN t GRACE PERIOD 1 HOUR ON a = b",
        1,
        24,
        "GRACE",
        "GRACE PERIOD of a join comes after its WITHIN window",
    ),
    (
        "SELECT a FROM s JOIN t WITHIN 1 HOUR a = b",
        1,
        38,
        "a",
        "expected ON and the join condition after the joined t, got '",
    ),
    ("SELECT a FROM s WINDOW", 1, 23, "", "expected TUMBLING, HOPPING, SESSION or SLIDING after WINDOW,"),
    (
        "SELECT a FROM s WINDOW ROLLING (SIZE 1 HOUR)",
        1,
        24,
        "ROLLING",
        "expected TUMBLING, HOPPING, SESSION or SLIDING after WINDOW,",
    ),
    (
        "SELECT a FROM s WINDOW TUMBLING SIZE 1 HOUR",
        1,
        33,
        "SIZE",
        "expected '(' after WINDOW TUMBLING, got 'SIZE'",
    ),
    (
        "SELECT a FROM s WINDOW TUMBLING (1 HOUR)",
        1,
        34,
        "1",
        "expected SIZE or RETENTION or GRACE PERIOD in WINDOW TUMBLIN",
    ),
    (
        "SELECT a FROM s WINDOW TUMBLING (SIZE 1 HOUR",
        1,
        45,
        "",
        "expected ',' or ')' in WINDOW TUMBLING (...), got the end of",
    ),
    (
        "SELECT a FROM s WINDOW TUMBLING (RETENTION 1 DAY)",
        1,
        17,
        "WINDOW",
        "a TUMBLING window needs SIZE, as in TUMBLING (SIZE 1 HOUR)",
    ),
    ("SELECT a FROM s WINDOW TUMBLING (SIZE 1 HOUR, SIZE 2 HOURS)", 1, 47, "SIZE", "SIZE is given twice"),
    (
        "SELECT a FROM s WINDOW TUMBLING (SIZE 1 HOUR, ADVANCE BY 1 MINUTE)",
        1,
        47,
        "ADVANCE",
        "ADVANCE BY is not an option of a TUMBLING window (it takes S",
    ),
    (
        "SELECT a FROM s WINDOW HOPPING (SIZE 1 HOUR)",
        1,
        17,
        "WINDOW",
        "a HOPPING window needs ADVANCE BY, as in HOPPING (SIZE 1 HOU",
    ),
    (
        "SELECT a FROM s WINDOW HOPPING (SIZE 1 HOUR, ADVANCE 1 MINUTE)",
        1,
        54,
        "1",
        "expected BY after ADVANCE, got '1'",
    ),
    (
        "SELECT a FROM s WINDOW SESSION (SIZE 1 HOUR)",
        1,
        33,
        "SIZE",
        "a SESSION window takes its gap without SIZE, as in SESSION (",
    ),
    (
        "SELECT a FROM s WINDOW SESSION (1 HOUR, ADVANCE BY 1 MINUTE)",
        1,
        41,
        "ADVANCE",
        "ADVANCE BY is not an option of a SESSION window (it takes RE",
    ),
    (
        "SELECT a FROM s WINDOW TUMBLING (SIZE 1 HOUR, GRACE 1 MINUTE)",
        1,
        53,
        "1",
        "expected PERIOD after GRACE, got '1'",
    ),
    (
        "SELECT a FROM s WINDOW TUMBLING (SIZE 1 HOUR) WINDOW TUMBLING (SIZE 1 HOUR)",
        1,
        47,
        "WINDOW",
        "a query has one WINDOW clause",
    ),
    (
        "SELECT a FROM s WHERE b = 1 WINDOW TUMBLING (SIZE 1 HOUR)",
        1,
        29,
        "WINDOW",
        "WINDOW must come before WHERE: the clauses of a query go FRO",
    ),
    (
        "SELECT a FROM s WHERE (SELECT 1)",
        1,
        31,
        "1",
        "cannot read the WHERE condition: syntax error: Expecting ), ",
    ),
    ("SELECT (a FROM s", 1, 11, "FROM", "cannot read the SELECT expression: syntax error: Expecting )"),
    ("SELECT a) FROM s", 1, 9, ")", "expected ',' or FROM after the SELECT list, got ')'"),
    ("SELECT CAST(a AS) FROM s", 1, 17, ")", "cannot read the SELECT expression: syntax error: Expected TY"),
    ("SHOW", 1, 5, "", "expected STREAMS, TABLES, TOPICS, QUERIES, FUNCTIONS, PROPER"),
    ("SHOW STREAM", 1, 6, "STREAM", "expected STREAMS, TABLES, TOPICS, QUERIES, FUNCTIONS, PROPER"),
    ("SHOW 'x'", 1, 6, "'x'", "expected STREAMS, TABLES, TOPICS, QUERIES, FUNCTIONS, PROPER"),
    ("SHOW FUNCTIONS EXTENDED", 1, 16, "EXTENDED", "EXTENDED is not allowed with SHOW FUNCTIONS"),
    (
        "LIST STREAMS EXTENDED EXTRA",
        1,
        23,
        "EXTRA",
        "unexpected 'EXTRA' after the end of the LIST statement (stat",
    ),
    ("DESCRIBE", 1, 9, "", "expected the stream or table name after DESCRIBE, got the en"),
    ("DESCRIBE EXTENDED", 1, 18, "", "expected the stream or table name after EXTENDED, got the en"),
    ("DESCRIBE FUNCTION", 1, 18, "", "expected the function name after FUNCTION, got the end of th"),
    ("EXPLAIN", 1, 8, "", "expected a query id or a query after EXPLAIN, got the end of"),
    (
        "EXPLAIN CREATE STREAM s (a INT)",
        1,
        9,
        "CREATE",
        "EXPLAIN takes a query, CREATE ... AS SELECT, INSERT INTO ...",
    ),
    (
        "EXPLAIN SELECT a FROM s x y",
        1,
        27,
        "y",
        "expected WINDOW, WHERE, GROUP BY, PARTITION BY, HAVING, EMIT",
    ),
    ("TERMINATE", 1, 10, "", "expected a query id or ALL after TERMINATE, got the end of t"),
    ("TERMINATE 'q'", 1, 11, "'q'", "expected a query id or ALL after TERMINATE, got the string 'q'"),
    ("DROP s", 1, 6, "s", "expected STREAM or TABLE after DROP, got 's'"),
    ("DROP CONNECTOR c", 1, 6, "CONNECTOR", "DROP CONNECTOR is not supported yet"),
    ("DROP TABLE IF t", 1, 15, "t", "expected EXISTS after IF, got 't'"),
    ("DROP TABLE", 1, 11, "", "expected the table name after DROP TABLE, got the end of the"),
    ("DROP TABLE t DELETE", 1, 20, "", "expected TOPIC after DELETE, got the end of the input"),
    ("DROP TABLE t DELETE TOPICS", 1, 21, "TOPICS", "expected TOPIC after DELETE, got 'TOPICS'"),
    (
        "SET auto.offset.reset = 'earliest'",
        1,
        5,
        "auto",
        "expected the property name in quotes after SET, as in SET 'a",
    ),
    ("SET 'a' 'b'", 1, 9, "'b'", "expected '=' after the property name, got the string 'b'"),
    ("SET 'a' = earliest", 1, 11, "earliest", "expected the value in quotes after '=', as in SET 'auto.offs"),
    ("UNSET a", 1, 7, "a", "expected the property name in quotes after UNSET, as in UNSE"),
    ("DEFINE = 'x'", 1, 8, "=", "expected a variable name (letters, digits and '_') after DEF"),
    ("DEFINE a 'x'", 1, 10, "'x'", "expected '=' after DEFINE a, got the string 'x'"),
    ("DEFINE a = x", 1, 12, "x", "expected the value in quotes, as in DEFINE a = 'value', got "),
    ("UNDEFINE 'a'", 1, 10, "'a'", "expected a variable name (letters, digits and '_') after UND"),
    ("RUN 'x'", 1, 5, "'x'", "expected SCRIPT after RUN, got the string 'x'"),
    ("RUN SCRIPT x", 1, 12, "x", "expected the file name in quotes after RUN SCRIPT, got 'x'"),
    ("PRINT 'topic'", 1, 1, "PRINT", "PRINT statements are not supported yet"),
    ("SELEC * FROM s", 1, 1, "SELEC", "unknown statement 'SELEC' (did you mean SELECT?)"),
    ("'x'", 1, 1, "'x'", "expected a statement, got the string 'x'"),
    ("(", 1, 1, "(", "expected a statement, got '('"),
    ("GRANT ALL", 1, 1, "GRANT", "unknown statement 'GRANT'"),
]


@pytest.mark.parametrize(("text", "line", "column", "token", "message"), ERRORS)
def test_each_error_names_its_line_column_and_token(text, line, column, token, message):
    with pytest.raises(SqlError) as caught:
        parse(text)
    error = caught.value
    assert (error.line, error.column, error.token) == (line, column, token)
    assert message in error.message
    assert str(error) == f"line {line}, column {column}: {error.message}"
    assert error.statement == text.strip()


def test_the_briefs_example_reads_as_people_expect():
    with pytest.raises(SqlError) as caught:
        parse("SHOW STREAMS;\n\n  CREATE STREAM s\n  SELEC a FROM t;")
    assert str(caught.value) == (
        "line 4, column 3: expected '(', WITH or AS after the stream name, got 'SELEC' (did you mean AS SELECT?)"
    )
    assert caught.value.statement == "CREATE STREAM s\n  SELEC a FROM t"


def test_an_error_in_a_later_statement_is_located_in_the_whole_script():
    with pytest.raises(SqlError) as caught:
        parse("SET 'a' = 'b';\n-- a comment; with a semicolon\nSELECT a FROM s\n  WHERE a = = 1;")
    assert (caught.value.line, caught.value.column, caught.value.token) == (4, 13, "=")
    assert caught.value.code == "sql.expression"


def test_an_expression_too_deep_for_the_compiler_is_a_located_limit_error():
    with pytest.raises(SqlError) as caught:
        parse("SELECT a FROM s WHERE " + "(" * 40 + "a" + ")" * 40)
    assert caught.value.code == "sql.expression" and "deeper" in caught.value.message
    assert caught.value.line == 1


def test_a_statement_that_parsed_before_the_error_is_not_returned():
    with pytest.raises(SqlError):
        parse_script("CREATE STREAM s (a INT) WITH (kafka_topic='s');\nDROP STREAM;")


# --- anything at all ------------------------------------------------------------------------------

WORDS = [
    "CREATE", "OR", "REPLACE", "SOURCE", "STREAM", "TABLE", "IF", "NOT", "EXISTS", "AS", "SELECT", "FROM",
    "WHERE", "WINDOW", "TUMBLING", "HOPPING", "SESSION", "SLIDING", "SIZE", "ADVANCE", "BY", "RETENTION",
    "GRACE", "PERIOD", "GROUP", "PARTITION", "HAVING", "EMIT", "CHANGES", "FINAL", "LIMIT", "JOIN", "INNER",
    "LEFT", "RIGHT", "FULL", "OUTER", "WITHIN", "ON", "INSERT", "INTO", "VALUES", "WITH", "KEY", "PRIMARY",
    "SHOW", "LIST", "STREAMS", "EXTENDED", "DESCRIBE", "FUNCTION", "EXPLAIN", "TERMINATE", "ALL", "DROP",
    "DELETE", "TOPIC", "SET", "UNSET", "DEFINE", "UNDEFINE", "RUN", "SCRIPT", "CASE", "WHEN", "THEN", "ELSE",
    "END", "CAST", "IS", "NULL", "DISTINCT", "AND", "IN", "LIKE", "BETWEEN", "STRUCT", "ARRAY", "MAP",
    "DECIMAL", "INT", "VARCHAR", "HOUR", "SECONDS", "DAYS", "a", "b", "s", "t", "COUNT", "LATEST_BY_OFFSET",
    "`Q`", '"d"', "'x'", "'it''s'", "1", "0", "2.5", "1e3", "${v}", "${w}", "(", ")", "[", "]", "<", ">",
    ",", ";", ".", "*", "=", "->", "=>", ":=", "+", "-", "/", "%", "||", "<>", "!=", "--c\n", "/*c*/",
]  # fmt: skip

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def only_sql_errors(text, variables=None):
    try:
        parse(text, variables)
    except SqlError as error:
        assert error.line >= 1 and error.column >= 1
        assert isinstance(error.message, str) and error.message
        assert isinstance(error.token, str)


@FUZZ
@given(st.text(max_size=200))
def test_random_text_gives_statements_or_a_sql_error(text):
    only_sql_errors(text, {"v": "a"})


@FUZZ
@given(st.lists(st.sampled_from(WORDS), max_size=40))
def test_random_token_soup_gives_statements_or_a_sql_error(words):
    only_sql_errors(" ".join(words), {"v": "a", "w": "'x"})


@FUZZ
@given(
    st.lists(st.sampled_from(WORDS), max_size=25),
    st.sampled_from(
        [
            "SELECT {} FROM s EMIT CHANGES",
            "SELECT a FROM s WHERE {}",
            "CREATE TABLE t AS SELECT k, COUNT(*) FROM s {} GROUP BY k",
            "CREATE STREAM s ({}) WITH (kafka_topic='s')",
            "INSERT INTO t VALUES ({})",
            "SELECT * FROM a JOIN b {} ON a.k = b.k",
            "SELECT k FROM s WINDOW {} GROUP BY k",
        ]
    ),
)
def test_token_soup_inside_a_statement_gives_statements_or_a_sql_error(words, template):
    only_sql_errors(template.format(" ".join(words)), {"v": "a", "w": "1"})


@pytest.mark.parametrize(
    ("text", "variables", "code", "message"),
    [
        (
            "CREATE STREAM s (a " + "ARRAY<" * 40 + "INT" + ">" * 40 + ")",
            None,
            "sql.limit",
            "nests deeper than 32",
        ),
        ("DEFINE a = '" + "x" * 10_001 + "'", None, "sql.limit", "the value of a is too long"),
        ("SHOW STREAMS", {"a": "x" * 10_001}, "sql.limit", "the value of a is too long"),
        ("SELECT ${a} FROM s", {"a": "${b}", "b": "1"}, "sql.variable", "refers to another variable"),
        ("SELECT a FROM s ON a = b", None, "sql.syntax", "unexpected 'ON': the clauses of a query go"),
        ("SELECT a FROM s WHERE a AS b", None, "sql.syntax", "unexpected 'AS'"),
    ],
)
def test_limits_and_rarer_errors(text, variables, code, message):
    with pytest.raises(SqlError) as caught:
        parse(text, variables)
    assert caught.value.code == code and message in caught.value.message
    assert repr(caught.value).startswith("SqlError(") and "line 1, column " in repr(caught.value)
