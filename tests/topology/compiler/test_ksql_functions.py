"""ksqlDB's functions and operator semantics in the expression compiler: GEO_DISTANCE, the
Java-pattern time functions, ROUND and SUBSTRING as ksqlDB's, ``DIV`` (ksqlDB's ``/``), the
aliases, and the collection aggregates' parsing, plan and description."""

from __future__ import annotations

import time

import pytest

from tests.topology.compiler.documents import doc, node, sink, source
from topology.compiler import compile_document, describe
from topology.compiler.expressions import (
    ExpressionError,
    ExpressionRuntimeError,
    compile_expression,
    parse_aggregation_spec,
)
from topology.compiler.plan import plan_from_json, plan_to_json

MARCH_5 = 1709647629123  # 2024-03-05T14:07:09.123Z


def evaluate(sql: str, value=None, fields=None):
    return compile_expression(sql, fields=fields).fn(value, None, None, None, None)


# --- scalar functions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "value", "expected"),
    [
        ("UCASE(s)", {"s": "ada"}, "ADA"),
        ("LCASE(s)", {"s": "ADA"}, "ada"),
        ("LEN(s)", {"s": "ada"}, 3),
        ("IFNULL(a, 'none')", {}, "none"),
        ("IFNULL(a, 'none')", {"a": "x"}, "x"),
        ("CONCAT(a, b, c, d)", {"a": "x", "c": "z", "d": 1}, "xz1"),  # NULLs skipped, as ksqlDB
        ("CONCAT(a)", {"a": "x"}, "x"),
        # SUBSTRING as ksqlDB's: 1-based, negative from the end, 0 as 1, lengths cut
        ("SUBSTRING(s, 2)", {"s": "abcdef"}, "bcdef"),
        ("SUBSTRING(s, 2, 3)", {"s": "abcdef"}, "bcd"),
        ("SUBSTRING(s, -3)", {"s": "abcdef"}, "def"),
        ("SUBSTRING(s, -3, 2)", {"s": "abcdef"}, "de"),
        ("SUBSTRING(s, -10, 2)", {"s": "abcdef"}, "ab"),
        ("SUBSTRING(s, 0, 2)", {"s": "abcdef"}, "ab"),
        ("SUBSTRING(s, 9)", {"s": "abcdef"}, ""),
        ("SUBSTRING(s, 2, -1)", {"s": "abcdef"}, ""),
        ("SUBSTRING(s, 5, 10)", {"s": "abcdef"}, "ef"),
        # ROUND as ksqlDB's (Java Math.round): halves up, toward +infinity
        ("ROUND(a)", {"a": 2.5}, 3),
        ("ROUND(a)", {"a": -2.5}, -2),
        ("ROUND(a)", {"a": -2.6}, -3),
        ("ROUND(a)", {"a": 0.49999999999999994}, 0),
        ("ROUND(a)", {"a": 7}, 7),
        ("ROUND(a, 1)", {"a": -2.25}, -2.2),
        ("ROUND(a, 1)", {"a": 2.25}, 2.3),
        ("ROUND(a, 2)", {"a": 1.005}, 1.01),  # decimal, as BigDecimal.valueOf
        ("ROUND(a, -2)", {"a": 1250}, 1300.0),
        ("ROUND(a, b)", {"a": 1.5}, None),
    ],
)
def test_ksqldb_functions_evaluate_as_ksqldb_does(sql, value, expected):
    result = evaluate(sql, value)
    assert result == expected
    assert result.__class__ is expected.__class__


def test_round_types_are_ksqldbs():
    assert compile_expression("ROUND(a)", fields={"a": "double"}).type == "integer"
    assert compile_expression("ROUND(a, 1)", fields={"a": "integer"}).type == "double"
    with pytest.raises(ExpressionError) as caught:
        compile_expression("ROUND(a, 'x')")
    assert caught.value.code == "expression.type" and caught.value.position == 9


def test_geo_distance_is_the_haversine_distance_in_km_or_miles():
    london, paris = (51.5074, -0.1278), (48.8566, 2.3522)
    km = evaluate("GEO_DISTANCE(a, b, c, d)", {"a": london[0], "b": london[1], "c": paris[0], "d": paris[1]})
    assert km == pytest.approx(343.5, abs=0.5)
    miles = evaluate(f"GEO_DISTANCE({london[0]}, {london[1]}, {paris[0]}, {paris[1]}, 'mi')")
    assert miles == pytest.approx(km * 3959 / 6371)
    assert evaluate("GEO_DISTANCE(0, 0, 0, 0, 'KM')") == 0.0
    assert evaluate("GEO_DISTANCE(0, 0, 0, a)", {}) is None
    assert evaluate("GEO_DISTANCE(0, 0, 0, 1, u)", {}) == evaluate(
        "GEO_DISTANCE(0, 0, 0, 1)"
    )  # NULL unit: km
    assert evaluate("GEO_DISTANCE(0, 0, 0, 180, u)", {"u": "kilometres"}) == pytest.approx(
        6371 * 3.141592653589793
    )


@pytest.mark.parametrize(
    ("sql", "code", "position"),
    [
        ("GEO_DISTANCE(1, 2, 3)", "expression.syntax", 0),
        ("GEO_DISTANCE(1, 2, 3, 4, 'KM', 6)", "expression.syntax", 0),
        ("GEO_DISTANCE(1, 2, 3, 'x')", "expression.type", 22),
        ("GEO_DISTANCE(1, 2, 3, 4, 'parsecs')", "expression.unsupported", 25),
        ("GEO_DISTANCE(91, 0, 0, 0)", "expression.bound", 0),
    ],
)
def test_geo_distance_errors_are_located(sql, code, position):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(sql)
    assert (caught.value.code, caught.value.position) == (code, position)


def test_geo_distance_refuses_coordinates_off_the_globe_at_run_time():
    with pytest.raises(ExpressionRuntimeError, match="longitudes"):
        evaluate("GEO_DISTANCE(0, a, 0, 0)", {"a": 181})


# --- Java-pattern time functions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("TIMESTAMPTOSTRING(ts, 'yyyy-MM-dd HH:mm:ss.SSS')", "2024-03-05 14:07:09.123"),
        ("TIMESTAMPTOSTRING(ts, 'yyyy-MM-dd''T''HH:mm:ssX')", "2024-03-05T14:07:09Z"),
        ("TIMESTAMPTOSTRING(ts, 'dd/MM/yyyy')", "05/03/2024"),
        ("TIMESTAMPTOSTRING(ts, 'yyyy-MM-dd HH:mm XXX', 'Europe/Oslo')", "2024-03-05 15:07 +01:00"),
        ("TIMESTAMPTOSTRING(ts, 'HH:mm', '-05:30')", "08:37"),
        ("FORMAT_TIMESTAMP(ts, 'EEE, d MMM yyyy h:mm a')", "Tue, 5 Mar 2024 2:07 PM"),
        ("TIMESTAMPTOSTRING(ts, NULL)", None),
        ("TIMESTAMPTOSTRING(missing, 'yyyy')", None),
    ],
)
def test_timestamptostring_formats_epoch_ms_with_java_patterns(sql, expected):
    assert evaluate(sql, {"ts": MARCH_5}) == expected


@pytest.mark.parametrize(
    ("sql", "text", "expected"),
    [
        ("STRINGTOTIMESTAMP(s, 'yyyy-MM-dd HH:mm:ss.SSS')", "2024-03-05 14:07:09.123", MARCH_5),
        ("STRINGTOTIMESTAMP(s, 'yyyy-MM-dd''T''HH:mm:ss.SSSX')", "2024-03-05T15:07:09.123+01", MARCH_5),
        (
            "STRINGTOTIMESTAMP(s, 'yyyy-MM-dd HH:mm:ss.SSS', 'America/New_York')",
            "2024-03-05 09:07:09.123",
            MARCH_5,
        ),
        ("PARSE_TIMESTAMP(s, 'dd/MM/yyyy')", "05/03/2024", 1709596800000),
        ("STRINGTOTIMESTAMP(s, 'HH:mm')", "01:30", 5_400_000),  # the rest from 1970-01-01
        ("STRINGTOTIMESTAMP(s, 'h:mm a')", "2:07 pm", 50_820_000),
        ("STRINGTOTIMESTAMP(s, 'yyyy')", None, None),
    ],
)
def test_stringtotimestamp_parses_java_patterns_to_epoch_ms(sql, text, expected):
    assert evaluate(sql, {"s": text}) == expected


def test_format_and_parse_round_trip_in_any_zone():
    for zone in ("UTC", "Asia/Kolkata", "America/Los_Angeles", "+14:00"):
        text = evaluate(f"TIMESTAMPTOSTRING(ts, 'yyyy-MM-dd HH:mm:ss.SSS', '{zone}')", {"ts": MARCH_5})
        assert evaluate(f"STRINGTOTIMESTAMP(s, 'yyyy-MM-dd HH:mm:ss.SSS', '{zone}')", {"s": text}) == MARCH_5


def test_text_that_does_not_match_the_pattern_is_a_runtime_error():
    with pytest.raises(ExpressionRuntimeError, match="does not match"):
        evaluate("STRINGTOTIMESTAMP(s, 'yyyy-MM-dd')", {"s": "2024/03/05"})
    with pytest.raises(ExpressionRuntimeError, match="month must be in 1..12"):
        evaluate("STRINGTOTIMESTAMP(s, 'yyyy-MM-dd')", {"s": "2024-13-05"})


@pytest.mark.parametrize(
    ("sql", "code", "position", "words"),
    [
        ("TIMESTAMPTOSTRING(ts, 'yyyy-MM-dd qq')", "expression.unsupported", 34, "'q'"),
        ("TIMESTAMPTOSTRING(ts, 'YYYY')", "expression.unsupported", 23, "week-based"),
        ("STRINGTOTIMESTAMP(s, 'HH:mm z')", "expression.unsupported", 28, "'z'"),
        ("TIMESTAMPTOSTRING(ts, 'dddd')", "expression.unsupported", 23, "too many"),
        ("TIMESTAMPTOSTRING(ts, '[yyyy]')", "expression.unsupported", 23, "'['"),
        ("TIMESTAMPTOSTRING(ts, 'yyyy''')", "expression.unsupported", 27, "unclosed quote"),
        ("TIMESTAMPTOSTRING(ts, 'yyyy', 'Mars/Olympus')", "expression.unsupported", 30, "time zone"),
        ("TIMESTAMPTOSTRING(ts)", "expression.syntax", 0, "a pattern"),
        ("STRINGTOTIMESTAMP(s, 'yyyy', 'UTC', 4)", "expression.syntax", 0, "4 arguments"),
        ("TIMESTAMPTOSTRING('x', 'yyyy')", "expression.type", 18, "epoch milliseconds"),
        ("STRINGTOTIMESTAMP(s, 5)", "expression.type", 21, "string pattern"),
    ],
)
def test_bad_patterns_zones_and_arities_fail_at_compile_time_naming_the_place(sql, code, position, words):
    with pytest.raises(ExpressionError) as caught:
        compile_expression(sql)
    assert (caught.value.code, caught.value.position) == (code, position)
    assert words in caught.value.message


def test_a_pattern_computed_per_record_is_checked_per_record():
    assert evaluate("TIMESTAMPTOSTRING(ts, p)", {"ts": MARCH_5, "p": "yyyy"}) == "2024"
    with pytest.raises(ExpressionRuntimeError, match="unknown pattern letter 'q'"):
        evaluate("TIMESTAMPTOSTRING(ts, p)", {"ts": MARCH_5, "p": "qq"})


def test_timestamp_to_string_keeps_its_strftime_formats_and_shares_the_conversion():
    assert evaluate("TIMESTAMP_TO_STRING(ts)", {"ts": MARCH_5}) == "2024-03-05T14:07:09.123Z"
    assert evaluate("TIMESTAMP_TO_STRING(ts, '%Y/%m')", {"ts": MARCH_5}) == "2024/03"
    assert evaluate("TIMESTAMP_TO_STRING(ts)", {"ts": -1}) == "1969-12-31T23:59:59.999Z"


def test_unix_timestamp_reads_the_clock_per_record_and_passes_a_timestamp_through():
    compiled = compile_expression("UNIX_TIMESTAMP()")
    assert compiled.type == "integer"
    before = time.time_ns() // 1_000_000
    time.sleep(0.002)
    assert compiled.fn(None, None, None, None, None) > before  # not folded at compile time
    assert evaluate("UNIX_TIMESTAMP(ts)", {"ts": MARCH_5}) == MARCH_5
    with pytest.raises(ExpressionError):
        compile_expression("UNIX_TIMESTAMP(1, 2)")


# --- DIV: ksqlDB's division ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "value", "expected"),
    [
        ("a DIV b", {"a": 7, "b": 2}, 3),
        ("a DIV b", {"a": -7, "b": 2}, -3),  # toward zero, as Java's long division
        ("a DIV b", {"a": 7, "b": -2}, -3),
        ("a DIV b", {"a": 7.0, "b": 2}, 3.5),  # a double: the double division
        ("a DIV b", {"a": 7, "b": 0}, None),
        ("a DIV b", {"a": None, "b": 2}, None),
        ("a DIV b * c", {"a": 7, "b": 2, "c": 3}, 9),  # (7 DIV 2) * 3: precedence of /
        ("c + a DIV b", {"a": 7, "b": 2, "c": 1}, 4),
        ("a / b", {"a": 7, "b": 2}, 3.5),  # '/' is unchanged: always a double
        ("9223372036854775807 DIV a", {"a": 2}, 4611686018427387903),  # exact, no float on the way
    ],
)
def test_div_is_ksqldb_division(sql, value, expected):
    result = evaluate(sql, value)
    assert result == expected and result.__class__ is expected.__class__


def test_div_types_follow_declared_fields():
    ints = {"a": "integer", "b": "integer"}
    assert compile_expression("a DIV b", fields=ints).type == "integer"
    assert compile_expression("a DIV b", fields={"a": "integer", "b": "double"}).type == "double"
    assert compile_expression("a DIV b").type == "number"
    assert evaluate("a DIV b", {"a": 7.0, "b": 2}, fields=ints) == 3  # declared integers: truncated
    assert evaluate("a DIV 2.0", {"a": 7}, fields=ints) == 3.5
    with pytest.raises(ExpressionError) as caught:
        compile_expression("a DIV 'x'")
    assert caught.value.code == "expression.type" and caught.value.position == 6


def test_div_is_canonical_text_that_reads_back_the_same():
    compiled = compile_expression("(a+1) div b*2")
    assert compiled.sql == "(a + 1) DIV b * 2"
    assert compile_expression(compiled.sql).sql == compiled.sql
    assert compile_expression("a / b DIV c").sql == "a / b DIV c"


def test_div_of_min_long_by_minus_one_is_refused_not_wrapped():
    with pytest.raises(ExpressionRuntimeError, match="64-bit"):
        evaluate("a DIV b", {"a": -(2**63), "b": -1})


# --- collection aggregates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("COLLECT_LIST(a)", ("COLLECT_LIST", "a", True, None)),
        ("COLLECT_SET(a.b)", ("COLLECT_SET", "a.b", True, None)),
        ("TOPK(a * 2, 3)", ("TOPK", "a * 2", True, 3)),
        ("topkdistinct(name, 1000)", ("TOPKDISTINCT", "name", True, 1000)),
        ("COUNT(a)", ("COUNT", "a", True, None)),
        ("COUNT(*)", ("COUNT", None, True, None)),
    ],
)
def test_collection_aggregations_parse(sql, expected):
    assert tuple(parse_aggregation_spec(sql)) == expected


@pytest.mark.parametrize(
    ("sql", "code", "position"),
    [
        ("TOPK(a)", "expression.aggregate", 0),
        ("TOPK(a, 0)", "expression.aggregate", 8),
        ("TOPK(a, 1001)", "expression.aggregate", 8),
        ("TOPK(a, b)", "expression.aggregate", 8),
        ("TOPK(a, 2.5)", "expression.aggregate", 8),
        ("TOPK(a > 1, 2)", "expression.type", 5),
        ("TOPKDISTINCT(a, 2, 3)", "expression.aggregate", 0),
        ("COLLECT_LIST(a, 2)", "expression.aggregate", 0),
        ("COLLECT_SET(*)", "expression.aggregate", 0),
    ],
)
def test_collection_aggregation_errors_are_located(sql, code, position):
    with pytest.raises(ExpressionError) as caught:
        parse_aggregation_spec(sql)
    assert (caught.value.code, caught.value.position) == (code, position)


def test_collection_aggregates_are_refused_outside_an_aggregate_node():
    with pytest.raises(ExpressionError, match="is an aggregation"):
        compile_expression("TOPK(a, 2)")


def test_a_topk_document_compiles_to_a_plan_that_keeps_k_and_round_trips():
    document = doc(
        [
            source("events", "events"),
            node("agg", "aggregate", aggregations={"top": "TOPK(v, 3)", "all": "COLLECT_LIST(v)"}),
            sink("out", "top"),
        ],
        [("events", "agg"), ("agg", "out")],
    )
    result = compile_document(document)
    assert result.ok, [i.to_dict() for i in result.issues]
    (aggregate,) = [op for op in result.plan.operators() if op.kind == "aggregate"]
    assert {(a.name, a.function, a.k) for a in aggregate.aggregations} == {
        ("top", "TOPK", 3),
        ("all", "COLLECT_LIST", None),
    }
    assert plan_from_json(plan_to_json(result.plan)) == result.plan
    assert '"k"' not in plan_to_json(result.plan).decode().replace('"k":3', "")  # omitted unless set
    assert "top = TOPK(v, 3)" in describe(result.plan)


def test_a_topk_type_error_is_an_issue_at_its_aggregation():
    document = doc(
        [
            source("events", "events", fields={"ok": "boolean"}),
            node("agg", "aggregate", aggregations={"top": "TOPK(ok, 3)"}),
            sink("out", "top"),
        ],
        [("events", "agg"), ("agg", "out")],
    )
    (issue,) = compile_document(document).issues
    assert (issue.code, issue.node_id, issue.field) == ("expression.type", "agg", "config.aggregations.top")
