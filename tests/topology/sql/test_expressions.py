"""Clause expressions as the compiler reads them: ksqlDB's ``/`` becomes the compiler's ``DIV``."""

from __future__ import annotations

import pytest

from topology.sql import SqlError, compile_clause, parse_statement

INTS = {"A": "integer", "B": "integer", "C": "integer"}


def items(text: str):
    return [item.expression for item in parse_statement(text).items]


def test_select_a_divided_by_b_of_integer_columns_gives_an_integer():
    (divide,) = items("SELECT a / b FROM s EMIT CHANGES;")
    assert divide.sql == '"A" DIV "B"'
    compiled = compile_clause(divide, fields=INTS)
    assert compiled.type == "integer"
    assert compiled({"A": 7, "B": 2}) == 3
    assert compiled({"A": -7, "B": 2}) == -3  # truncated toward zero, as ksqlDB (Java)
    assert compiled({"A": 7, "B": 0}) is None


def test_a_double_operand_keeps_the_double_division():
    (divide,) = items("SELECT a / 2.0 FROM s EMIT CHANGES;")
    compiled = compile_clause(divide, fields=INTS)
    assert compiled.type == "double" and compiled({"A": 7}) == 3.5


def test_division_without_spaces_and_its_precedence_stay_ksqldbs():
    tight, mixed, grouped, unary = items("SELECT a/b, a / b * c, c + a/b, -a/b FROM s EMIT CHANGES;")
    assert tight.sql == '"A" DIV "B"'
    record = {"A": 7, "B": 2, "C": 3}
    assert compile_clause(tight, fields=INTS)(record) == 3
    assert compile_clause(mixed, fields=INTS)(record) == 9  # (7 / 2) * 3
    assert compile_clause(grouped, fields=INTS)(record) == 6  # 3 + (7 / 2)
    assert compile_clause(unary, fields=INTS)(record) == -3


def test_the_original_text_is_kept_for_people():
    (divide,) = items("SELECT a/b FROM s EMIT CHANGES;")
    assert divide.text == "a/b"


def test_an_error_in_a_division_speaks_of_the_slash_the_user_wrote():
    (divide,) = items("SELECT 1 +\n  name / 2 FROM s EMIT CHANGES;")
    with pytest.raises(SqlError) as caught:
        compile_clause(divide, fields={"NAME": "string"})
    assert (caught.value.line, caught.value.column) == (2, 3)  # the operand that is not a number
    assert "'/' needs numbers" in caught.value.message
