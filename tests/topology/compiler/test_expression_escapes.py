"""The escape corpus: expressions that try to reach Python or to make unbounded work are
refused at compile time, or stopped at run time before the work is done."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topology.compiler.expression_runtime import MAX_STRING_RESULT
from topology.compiler.expressions import (
    ExpressionError,
    ExpressionRuntimeError,
    compile_expression,
    parse_aggregation,
)

REFUSED_AT_COMPILE_TIME = [
    # reaching Python objects
    "__import__('os')",
    "__import__('os').system('id')",
    "a.__class__",
    "a.__class__.__mro__",
    "__builtins__",
    '"__globals__"',
    "x.__dict__ = 1",
    "a.b.__init__.__globals__",
    "x.LOWER(a)",
    "a.b()",
    "a[0]",
    "a['__class__']",
    "lambda: 1",
    "exec('1')",
    "eval('1')",
    "getattr(a, 'b')",
    "open('/etc/passwd')",
    "@var",
    ":param",
    "?",
    "SELECT * FROM users",
    "a = 1; DROP TABLE x",
    "(SELECT 1)",
    "a IN (SELECT b FROM t)",
    "EXISTS(SELECT 1)",
    # unbounded work
    "'a' * 1000000000",
    "REPEAT('a', 1000000000)",
    "LPAD('a', 1000000000, 'b')",
    "9^9^9",
    "9 ** 9",
    "POWER(9, POWER(9, 9))",
    "POWER(10, 400)",
    "POWER(2.5, 100000)",
    "99999999999999999999999999",
    "1e999",
    "9223372036854775807 + 1",
    "'" + "x" * 5000 + "'",
    "(" * 200 + "1" + ")" * 200,
    "NOT " * 300 + "a",
    "-" * 300 + "1",
    " OR ".join(f"a{i} = {i}" for i in range(3000)),
    "a" * 25_000,
    "CONCAT(" + ", ".join(["'x'"] * 2500) + ")",
]


@pytest.mark.parametrize("sql", REFUSED_AT_COMPILE_TIME, ids=lambda s: s[:40])
def test_dangerous_expressions_are_refused_at_compile_time(sql):
    started = time.perf_counter()
    with pytest.raises(ExpressionError) as raised:
        compile_expression(sql)
    assert raised.value.code.startswith("expression.")
    assert 0 <= raised.value.position <= len(sql)
    assert time.perf_counter() - started < 2.0


def test_dunder_names_are_refused_by_name():
    for sql in ["a.__class__", "__import__('os')", "__builtins__"]:
        with pytest.raises(ExpressionError) as raised:
            compile_expression(sql)
        assert raised.value.code == "expression.forbidden_name"


def test_method_calls_on_fields_are_refused():
    with pytest.raises(ExpressionError) as raised:
        compile_expression("name.upper()")
    assert raised.value.code in {"expression.unsupported", "expression.syntax"}


def test_concatenation_beyond_the_string_limit_is_refused_before_it_is_built():
    compiled = compile_expression("a || a")
    big = "x" * (MAX_STRING_RESULT // 2 + 1)
    with pytest.raises(ExpressionRuntimeError, match="limit"):
        compiled.fn({"a": big}, None, 0, 0, 0)
    assert compiled.fn({"a": "ok"}, None, 0, 0, 0) == "okok"


def test_replace_amplification_is_refused_before_it_is_built():
    compiled = compile_expression("REPLACE(REPLACE(s, 'a', s), 'a', s)")
    with pytest.raises(ExpressionRuntimeError, match="limit"):
        compiled.fn({"s": "a" * 2000}, None, 0, 0, 0)


def test_concat_of_many_large_fields_is_refused():
    compiled = compile_expression("CONCAT(a, a, a, a, a)")
    with pytest.raises(ExpressionRuntimeError):
        compiled.fn({"a": "x" * 300_000}, None, 0, 0, 0)


def test_power_with_record_values_is_bounded_at_run_time():
    compiled = compile_expression("POWER(a, b)")
    started = time.perf_counter()
    with pytest.raises(ExpressionRuntimeError):
        compiled.fn({"a": 9, "b": 387_420_489}, None, 0, 0, 0)
    with pytest.raises(ExpressionRuntimeError):
        compiled.fn({"a": 10.0, "b": 400}, None, 0, 0, 0)
    assert time.perf_counter() - started < 0.5
    assert compiled.fn({"a": 2, "b": 62}, None, 0, 0, 0) == 2**62


def test_integer_overflow_from_record_values_is_a_runtime_error():
    compiled = compile_expression("a * b")
    with pytest.raises(ExpressionRuntimeError, match="64-bit"):
        compiled.fn({"a": 2**40, "b": 2**40}, None, 0, 0, 0)


def test_multiplying_a_string_field_is_refused_not_repeated():
    compiled = compile_expression("a * b")
    with pytest.raises(ExpressionRuntimeError):
        compiled.fn({"a": "x", "b": 1_000_000_000}, None, 0, 0, 0)


def test_like_patterns_cannot_backtrack_exponentially():
    compiled = compile_expression("s LIKE '%a%a%a%a%a%a%a%a%a%b'")
    started = time.perf_counter()
    assert compiled.fn({"s": "a" * 100_000}, None, 0, 0, 0) is False
    assert time.perf_counter() - started < 1.0


def test_evaluation_never_touches_attributes_of_record_values():
    class Trap(dict):
        def __getattribute__(self, name):
            if name != "get":
                raise AssertionError(f"attribute {name} was read")
            return super().__getattribute__(name)

    compiled = compile_expression("a.b = 1")
    assert compiled.fn({"a": Trap(b=1)}, None, 0, 0, 0) is True


SQL_TOKENS = [
    "a", "b.c", "ROWKEY", "ROWTIME", "1", "0", "-1", "2.5", "'x'", "'%a_'", "NULL", "TRUE", "(", ")", ",",
    "+", "-", "*", "/", "%", "||", "=", "<>", "<", ">=", "AND", "OR", "NOT", "IN", "BETWEEN", "LIKE",
    "IS", "CASE", "WHEN", "THEN", "ELSE", "END", "CAST", "AS", "INT", "VARCHAR", "COALESCE", "LOWER",
    "SUBSTRING", "CONCAT", "TRIM", "REPLACE", "ROUND", "POWER", "MOD", "TIMESTAMP_TO_STRING", "IF",
    "NULLIF", "COUNT", "SUM", "DISTINCT", "[", "]", ".", "::", "LEADING", "FROM", "ESCAPE", "SELECT", "?",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SQL_TOKENS), min_size=1, max_size=9))
def test_random_token_soup_compiles_or_fails_with_a_located_error_only(tokens):
    sql = " ".join(tokens)
    for parse_one in (compile_expression, parse_aggregation):
        try:
            compiled = parse_one(sql)
        except ExpressionError as error:
            assert 0 <= error.position <= len(sql)
            continue
        if parse_one is compile_expression:
            for value in ({}, {"a": 1, "b": {"c": "x"}}, {"a": "s"}, 5, None):
                try:
                    compiled.fn(value, "k", 1000, 0, 1)
                except ExpressionRuntimeError:
                    pass
