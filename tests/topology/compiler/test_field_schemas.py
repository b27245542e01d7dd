"""Declared source fields are checked in the expressions downstream, through shape-keeping
nodes and maps, and not after nodes that reshape values."""

from __future__ import annotations

from tests.topology.compiler.documents import doc, node, sink, source, table
from topology.compiler import compile_document

FIELDS = {"amount": "integer", "region": "string", "user": "object"}


def codes(document):
    return [(issue.code, issue.node_id, issue.field) for issue in compile_document(document).issues]


def test_declared_fields_are_known_through_filters_and_re_keys():
    document = doc(
        [
            source(fields=FIELDS),
            node("eu", "filter", where="region = 'eu' AND user.tier = 'gold'"),
            node("by_region", "select_key", key="region"),
            node("big", "filter", where="amout > 10"),
            sink(),
        ],
        [("src", "eu"), ("eu", "by_region"), ("by_region", "big"), ("big", "out")],
    )
    assert codes(document) == [("expression.unknown_field", "big", "config.where")]


def test_a_map_defines_the_fields_after_it():
    document = doc(
        [
            source(fields=FIELDS),
            node("shape", "map", keep=["region"], fields={"double": "amount * 2"}),
            node("ok", "filter", where="double > 4 AND region = 'eu'"),
            node("gone", "filter", where="amount > 1"),
            sink(),
        ],
        [("src", "shape"), ("shape", "ok"), ("ok", "gone"), ("gone", "out")],
    )
    assert codes(document) == [("expression.unknown_field", "gone", "config.where")]


def test_declared_types_are_checked_downstream():
    document = doc(
        [source(fields=FIELDS), node("f", "filter", where="region > 5"), sink()], [("src", "f"), ("f", "out")]
    )
    assert codes(document) == [("expression.type", "f", "config.where")]


def test_aggregation_arguments_are_checked_against_declared_fields():
    document = doc(
        [
            source(fields=FIELDS),
            node("totals", "aggregate", aggregations={"sum": "SUM(amont)"}),
            sink(),
        ],
        [("src", "totals"), ("totals", "out")],
    )
    assert codes(document) == [("expression.unknown_field", "totals", "config.aggregations.sum")]


def test_join_selections_see_both_declared_sides():
    document = doc(
        [
            source("orders", "orders", fields={"total": "double", "customer_id": "string"}),
            table("customers", "customers", fields={"name": "string"}),
            node("j", "join", how="left", select={"who": "right.name", "what": "left.totl"}),
            sink(),
        ],
        [("orders", "j", None, "left"), ("customers", "j", None, "right"), ("j", "out")],
    )
    assert codes(document) == [("expression.unknown_field", "j", "config.select.what")]


def test_without_declarations_any_field_may_be_used():
    document = doc(
        [source(), node("f", "filter", where="anything.at.all = 1"), sink()], [("src", "f"), ("f", "out")]
    )
    assert codes(document) == []


def test_after_an_aggregate_the_schema_is_unknown_so_nothing_is_flagged():
    document = doc(
        [
            source(fields=FIELDS),
            node("n", "aggregate", aggregations={"count": "COUNT(*)"}),
            node("back", "to_stream"),
            node("f", "filter", where="count > 1 AND whatever IS NULL"),
            sink(),
        ],
        [("src", "n"), ("n", "back"), ("back", "f"), ("f", "out")],
    )
    assert codes(document) == []
