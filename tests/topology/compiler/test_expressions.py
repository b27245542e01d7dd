"""Expression features: each SQL construct evaluated over records, with SQL NULL semantics."""

from __future__ import annotations

import pytest

from topology.compiler.expressions import (
    ExpressionError,
    ExpressionRuntimeError,
    compile_expression,
    parse_aggregation,
)


def evaluate(sql: str, value=None, key=None, timestamp=None, partition=None, offset=None):
    return compile_expression(sql).fn(value, key, timestamp, partition, offset)


@pytest.mark.parametrize(
    ("sql", "value", "expected"),
    [
        ("a = 1", {"a": 1}, True),
        ("a <> 1", {"a": 1}, False),
        ("a != 2", {"a": 1}, True),
        ("a > 1", {"a": 2}, True),
        ("a >= 2", {"a": 2}, True),
        ("a < 2", {"a": 2}, False),
        ("a <= 2", {"a": 2}, True),
        ("name = 'eu'", {"name": "eu"}, True),
        ("a + b", {"a": 2, "b": 3}, 5),
        ("a - b", {"a": 2, "b": 3}, -1),
        ("a * b", {"a": 2, "b": 3}, 6),
        ("a / b", {"a": 3, "b": 2}, 1.5),
        ("a % b", {"a": 7, "b": 3}, 1),
        ("-a", {"a": 4}, -4),
        ("(a + 1) * 2", {"a": 4}, 10),
        ("a IN (1, 2, 3)", {"a": 2}, True),
        ("a IN (1, 2, 3)", {"a": 5}, False),
        ("a NOT IN ('x', 'y')", {"a": "z"}, True),
        ("a IN (b, c)", {"a": 2, "b": 1, "c": 2}, True),
        ("a BETWEEN 1 AND 3", {"a": 3}, True),
        ("a NOT BETWEEN 1 AND 3", {"a": 4}, True),
        ("name LIKE 'ab%'", {"name": "abc"}, True),
        ("name LIKE 'a_c'", {"name": "abc"}, True),
        ("name LIKE '%b%'", {"name": "abc"}, True),
        ("name LIKE 'b%'", {"name": "abc"}, False),
        ("name NOT LIKE 'b%'", {"name": "abc"}, True),
        ("name ILIKE 'AB%'", {"name": "abc"}, True),
        ("name LIKE '%a%a%a%b'", {"name": "a" * 50 + "c"}, False),
        ("a IS NULL", {}, True),
        ("a IS NOT NULL", {"a": 0}, True),
        ("flag IS TRUE", {"flag": True}, True),
        ("flag IS FALSE", {"flag": None}, False),
        ("CASE WHEN a > 10 THEN 'big' WHEN a > 5 THEN 'mid' ELSE 'small' END", {"a": 7}, "mid"),
        ("CASE a WHEN 1 THEN 'one' WHEN 2 THEN 'two' END", {"a": 2}, "two"),
        ("CASE a WHEN 1 THEN 'one' END", {"a": 3}, None),
        ("IF(a > 1, 'y', 'n')", {"a": 2}, "y"),
        ("CAST(a AS INT)", {"a": "42"}, 42),
        ("CAST(a AS BIGINT)", {"a": 4.9}, 4),
        ("CAST(a AS DOUBLE)", {"a": "1.5"}, 1.5),
        ("CAST(a AS VARCHAR)", {"a": 7}, "7"),
        ("CAST(a AS VARCHAR)", {"a": True}, "true"),
        ("CAST(a AS BOOLEAN)", {"a": "yes"}, True),
        ("TRY_CAST(a AS INT)", {"a": "nope"}, None),
        ("COALESCE(a, b, 'none')", {"b": "bee"}, "bee"),
        ("NULLIF(a, 0)", {"a": 0}, None),
        ("GREATEST(a, b)", {"a": 1, "b": 5}, 5),
        ("LEAST(a, b)", {"a": 1, "b": 5}, 1),
        ("LOWER(s)", {"s": "AbC"}, "abc"),
        ("UPPER(s)", {"s": "AbC"}, "ABC"),
        ("LENGTH(s)", {"s": "abcd"}, 4),
        ("SUBSTRING(s, 2, 3)", {"s": "abcdef"}, "bcd"),
        ("SUBSTRING(s, 3)", {"s": "abcdef"}, "cdef"),
        ("CONCAT(a, '-', b)", {"a": "x", "b": 1}, "x-1"),
        ("CONCAT(a, missing, b)", {"a": "x", "b": "y"}, "xy"),
        ("CONCAT_WS(',', a, b)", {"a": "x", "b": "y"}, "x,y"),
        ("a || b", {"a": "x", "b": "y"}, "xy"),
        ("TRIM(s)", {"s": "  x  "}, "x"),
        ("LTRIM(s)", {"s": "  x  "}, "x  "),
        ("RTRIM(s)", {"s": "  x  "}, "  x"),
        ("TRIM(BOTH 'x' FROM s)", {"s": "xxaxx"}, "a"),
        ("REPLACE(s, 'a', 'o')", {"s": "banana"}, "bonono"),
        ("ABS(a)", {"a": -3}, 3),
        ("ROUND(a)", {"a": 2.5}, 3),
        ("ROUND(a)", {"a": -2.5}, -2),
        ("ROUND(a, 2)", {"a": 1.005 + 1e-9}, 1.01),
        ("FLOOR(a)", {"a": 2.7}, 2),
        ("CEIL(a)", {"a": 2.1}, 3),
        ("POWER(a, 3)", {"a": 2}, 8),
        ("MOD(a, 3)", {"a": -7}, -1),
        ("SQRT(a)", {"a": 16}, 4.0),
        ("SIGN(a)", {"a": -9}, -1),
        ("user.address.city", {"user": {"address": {"city": "Oslo"}}}, "Oslo"),
        ("a.b.c.d.e", {"a": {"b": {"c": {"d": {"e": 5}}}}}, 5),
        ("user.address.city", {"user": "not an object"}, None),
        ('"weird name" = 1', {"weird name": 1}, True),
        ("left.amount * right.rate", {"left": {"amount": 2}, "right": {"rate": 3}}, 6),
    ],
)
def test_each_sql_construct_evaluates_over_a_record(sql, value, expected):
    assert evaluate(sql, value) == expected


def test_pseudo_columns_read_the_record_metadata():
    compiled = compile_expression(
        "ROWKEY || ':' || CAST(ROWTIME AS VARCHAR) || ':' || CAST(ROWPARTITION AS VARCHAR)"
    )
    assert compiled.fn({}, "k", 1000, 3, 9) == "k:1000:3"
    assert compile_expression("ROWOFFSET").fn({}, None, 0, 0, 41) == 41
    assert compiled.fields == ()


def test_windowed_keys_are_reachable_through_rowkey_fields():
    key = {"key": "page-1", "window_start": 0, "window_end": 60000}
    assert compile_expression("ROWKEY.window_end - ROWKEY.window_start").fn({}, key, 0, 0, 0) == 60000


def test_a_quoted_pseudo_column_name_is_an_ordinary_field():
    assert compile_expression('"ROWKEY"').fn({"ROWKEY": "field"}, "key", 0, 0, 0) == "field"


def test_scalar_values_have_no_fields():
    assert evaluate("a", 5) is None
    assert evaluate("a.b", [1, 2]) is None


@pytest.mark.parametrize(
    ("sql", "value"),
    [
        ("a + 1", {}),
        ("a > 1", {"a": None}),
        ("LOWER(a)", {}),
        ("a IN (1, 2)", {}),
        ("a BETWEEN 1 AND b", {"a": 1}),
        ("a || 'x'", {}),
        ("CAST(a AS INT)", {}),
        ("SUBSTRING(a, 1, 2)", {}),
        ("NOT a", {}),
        ("a LIKE 'x%'", {}),
        ("a LIKE NULL", {"a": "x"}),
        ("ROUND(a, 1)", {}),
    ],
)
def test_null_propagates_through_operators_and_functions(sql, value):
    assert evaluate(sql, value) is None


def test_and_or_follow_three_valued_logic():
    assert evaluate("a AND b", {"a": False}) is False
    assert evaluate("a AND b", {"a": True}) is None
    assert evaluate("a OR b", {"a": True}) is True
    assert evaluate("a OR b", {"a": False}) is None
    assert evaluate("a OR b", {"a": False, "b": False}) is False
    assert evaluate("a IN (1, NULL)", {"a": 2}) is None


def test_a_predicate_passes_only_when_true():
    compiled = compile_expression("a > 1")
    assert compiled.predicate({"a": 2}, None, 0, 0, 0) is True
    assert compiled.predicate({}, None, 0, 0, 0) is False
    assert compiled.predicate({"a": 0}, None, 0, 0, 0) is False


def test_division_and_modulo_by_zero_are_null():
    assert evaluate("a / 0", {"a": 1}) is None
    assert evaluate("a % 0", {"a": 1}) is None


def test_comparing_values_of_different_runtime_types_is_null():
    assert evaluate("a > 1", {"a": "x"}) is None
    assert evaluate("a < b", {"a": {"x": 1}, "b": {"y": 2}}) is None


def test_time_functions_convert_between_epoch_milliseconds_and_iso_strings():
    assert (
        evaluate("TIMESTAMP_TO_STRING(ROWTIME)", {}, timestamp=1_700_000_000_123)
        == "2023-11-14T22:13:20.123Z"
    )
    assert evaluate("TIMESTAMP_TO_STRING(ts, '%Y-%m-%d')", {"ts": 0}) == "1970-01-01"
    assert evaluate("STRING_TO_TIMESTAMP(s)", {"s": "2024-01-01T00:00:00Z"}) == 1_704_067_200_000
    assert evaluate("STRING_TO_TIMESTAMP(s)", {"s": "2024-01-01T01:00:00+01:00"}) == 1_704_067_200_000
    assert evaluate("STRING_TO_TIMESTAMP(s)", {"s": "2024-01-01 00:00:00"}) == 1_704_067_200_000
    assert evaluate("FROM_UNIXTIME(s)", {"s": 86400}) == "1970-01-02T00:00:00.000Z"


def test_an_unparsable_timestamp_is_a_runtime_error():
    with pytest.raises(ExpressionRuntimeError):
        evaluate("STRING_TO_TIMESTAMP(s)", {"s": "yesterday"})


def test_a_failed_cast_is_a_runtime_error_naming_the_value():
    with pytest.raises(ExpressionRuntimeError, match="abc"):
        evaluate("CAST(a AS INT)", {"a": "abc"})


def test_arithmetic_on_a_string_field_is_a_runtime_error():
    with pytest.raises(ExpressionRuntimeError, match="needs numbers"):
        evaluate("a * 3", {"a": "x"})


def test_the_canonical_text_round_trips_through_the_compiler():
    for sql in [
        "a IS NOT NULL AND b NOT IN (1, 2)",
        "CASE WHEN a THEN 1 ELSE 2 END",
        "IF(x > 1, 'a', 'b')",
        "MOD(a, 2) = 0 OR name NOT LIKE 'x%'",
        "TRIM(LEADING 'x' FROM s)",
        "user.address.city || '!'",
    ]:
        canonical = compile_expression(sql).sql
        assert compile_expression(canonical).sql == canonical


def test_referenced_fields_are_listed_as_paths():
    compiled = compile_expression("user.address.city = 'x' AND amount > 1 AND ROWKEY = 'k'")
    assert compiled.fields == ("amount", "user.address.city")


def test_static_types_are_inferred():
    assert compile_expression("a > 1").type == "boolean"
    assert compile_expression("LOWER(a)").type == "string"
    assert compile_expression("1 + 2").type == "integer"
    assert compile_expression("a / 2").type == "double"
    assert compile_expression("a").type == "any"


def test_constant_subexpressions_are_folded_at_compile_time():
    assert compile_expression("POWER(2, 10) + 1").fn(None, None, None, None, None) == 1025


@pytest.mark.parametrize(
    ("sql", "code", "position"),
    [
        ("a = ", "expression.syntax", 2),
        ("a +* 2", "expression.syntax", 5),
        ("region = 'eu", "expression.syntax", 9),
        ("a = 1; b = 2", "expression.syntax", 0),
        ("", "expression.syntax", 0),
        ("a = 1 AND LOWERR(b) = 'x'", "expression.unknown_function", 10),
        ("'a' * 3", "expression.type", 0),
        ("a AND 3", "expression.type", 6),
        ("'x' > 1", "expression.type", 0),
        ("CAST(a AS DATE)", "expression.type", 5),
        ("SELECT a FROM t", "expression.unsupported", 7),
        ("a = ANY(b)", "expression.unsupported", 8),
        ("COUNT(*) > 1", "expression.unknown_function", 0),
        ("a = 1\nAND (b +)", "expression.syntax", 14),
    ],
)
def test_user_errors_are_located_by_code_and_character(sql, code, position):
    with pytest.raises(ExpressionError) as raised:
        compile_expression(sql)
    assert raised.value.code == code
    assert raised.value.position == position


def test_declared_fields_make_unknown_fields_errors_at_their_position():
    fields = {"amount": "integer", "region": "string", "user": "object"}
    with pytest.raises(ExpressionError) as raised:
        compile_expression("amount > 1 AND regoin = 'eu'", fields=fields)
    assert raised.value.code == "expression.unknown_field"
    assert raised.value.position == 15
    assert "regoin" in raised.value.message
    assert compile_expression("user.anything = 1", fields=fields).fields == ("user.anything",)


def test_declared_field_types_are_checked():
    with pytest.raises(ExpressionError) as raised:
        compile_expression("region + 1", fields={"region": "string"})
    assert raised.value.code == "expression.type"
    assert compile_expression("amount + 1", fields={"amount": "integer"}).type == "integer"


def test_a_boolean_is_required_where_a_condition_is_expected():
    with pytest.raises(ExpressionError) as raised:
        compile_expression("amount + 1", expected_type="boolean")
    assert raised.value.code == "expression.type"
    assert compile_expression("flag", expected_type="boolean").type == "any"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("COUNT(*)", ("COUNT", None)),
        ("count(*)", ("COUNT", None)),
        ("COUNT(user_id)", ("COUNT", "user_id")),
        ("SUM(amount)", ("SUM", "amount")),
        ("MIN(price)", ("MIN", "price")),
        ("MAX(price)", ("MAX", "price")),
        ("AVG(duration_ms)", ("AVG", "duration_ms")),
        ("AVG(a.b * 2)", ("AVG", "a.b * 2")),
        ("COUNT(DISTINCT user_id)", ("COUNT_DISTINCT", "user_id")),
        ("COUNT_DISTINCT(user_id)", ("COUNT_DISTINCT", "user_id")),
        ("LATEST(status)", ("LATEST", "status")),
        ("EARLIEST(status)", ("EARLIEST", "status")),
    ],
)
def test_aggregation_calls_parse_to_function_and_argument(sql, expected):
    assert parse_aggregation(sql) == expected


@pytest.mark.parametrize(
    "sql",
    ["amount", "SUM(*)", "MEDIAN(x)", "SUM(a, b)", "LATEST()", "COUNT(*) + 1", "SUM('x')", "AVG(__class__)"],
)
def test_anything_but_one_aggregation_call_is_refused(sql):
    with pytest.raises(ExpressionError):
        parse_aggregation(sql)


def test_an_unknown_nested_field_is_located_at_the_start_of_its_path():
    with pytest.raises(ExpressionError) as raised:
        compile_expression("a + user.adress.city * 2", fields={"a": "integer", "user": "string"})
    assert raised.value.code == "expression.unknown_field"
    assert raised.value.position == 4


@pytest.mark.parametrize("sql", ["a * 3", "a + 3", "a - 3", "a * 2.5"])
@pytest.mark.parametrize("value", [{"a": 4}, {"a": -1.5}, {"a": None}, {}, None, [1], "text", {"a": True}])
def test_field_with_a_number_constant_evaluates_like_the_general_arithmetic(sql, value):
    # `field <op> number` has its own fast closure; `COALESCE(a, a) <op> number` takes the
    # general one. Both must agree on results, NULLs and errors.
    general = sql.replace("a ", "COALESCE(a, a) ", 1)
    assert compile_expression(sql).fn.__name__ == "field_arithmetic"
    assert compile_expression(general).fn.__name__ == "arithmetic"
    outcomes = []
    for text in (sql, general):
        try:
            outcomes.append(("ok", evaluate(text, value)))
        except ExpressionRuntimeError as exc:
            outcomes.append(("error", str(exc).split(" at ")[0]))
    assert outcomes[0] == outcomes[1]


def test_field_times_a_constant_past_the_64_bit_range_is_a_runtime_error():
    with pytest.raises(ExpressionRuntimeError, match="64-bit"):
        evaluate("a * 2", {"a": 2**62})
