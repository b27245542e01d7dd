"""Every issue code is triggered by some document, and comes back located."""

from __future__ import annotations

from typing import Any

import pytest

import topology.compiler as compiler
from tests.topology.compiler.documents import (
    doc,
    node,
    orders_join_customers,
    page_views,
    sink,
    source,
    table,
    view,
)
from topology.compiler import ISSUE_CODES, compile_document


def _with(document: dict[str, Any], node_id: str, **config: Any) -> dict[str, Any]:
    for item in document["nodes"]:
        if item["id"] == node_id:
            item["config"].update(config)
    return document


def _linear(*middle: dict[str, Any]) -> dict[str, Any]:
    nodes = [source(), *middle, sink()]
    ids = [n["id"] for n in nodes]
    return doc(nodes, list(zip(ids, ids[1:], strict=False)))


def _stream_stream_join(**config: Any) -> dict[str, Any]:
    return doc(
        [source("clicks", "clicks"), source("views", "views"), node("j", "join", **config), sink()],
        [("clicks", "j", None, "left"), ("views", "j", None, "right"), ("j", "out")],
    )


TRIGGERS: dict[str, tuple[Any, dict[str, Any]]] = {
    # code: (document, expected location fields)
    "document.not_object": (["not", "a", "document"], {}),
    "document.too_many_nodes": (
        {"name": "big", "nodes": [source(f"n{i}") for i in range(10_001)], "edges": []},
        {"field": "nodes"},
    ),
    "schema.unknown_field": (page_views() | {"colour": "blue"}, {"field": "colour"}),
    "schema.missing_field": ({"nodes": [], "edges": []}, {"field": "name"}),
    "schema.wrong_type": (
        doc([{"id": "src", "type": "source", "config": "topics=x"}], []),
        {"node_id": "src", "field": "nodes[0].config"},
    ),
    "schema.invalid_value": (
        _with(page_views(), "views", value_format="xml"),
        {"node_id": "views", "field": "config.value_format"},
    ),
    "node.duplicate_id": (
        doc([source(), source(), sink()], [("src", "out")]),
        {"node_id": "src", "field": "nodes[1].id"},
    ),
    "node.unknown_type": (
        doc([source(), node("x", "teleport"), sink()], [("src", "x"), ("x", "out")]),
        {"node_id": "x", "field": "type"},
    ),
    "edge.unknown_node": (
        doc([source(), sink()], [("src", "ghost"), ("src", "out")]),
        {"edge_id": "src->ghost"},
    ),
    "edge.unknown_port": (
        doc([source(), sink()], [("src", "out", None, "left")]),
        {"edge_id": "src->out.left", "node_id": "out", "field": "target_port"},
    ),
    "edge.duplicate": (doc([source(), sink()], [("src", "out"), ("src", "out")]), {"edge_id": "src->out"}),
    "graph.empty": ({"name": "empty", "nodes": [], "edges": []}, {"field": "nodes"}),
    "graph.no_source": (doc([node("f", "filter", where="a"), sink()], [("f", "out")]), {"field": "nodes"}),
    "graph.cycle": (
        doc(
            [source(), node("m", "merge"), node("f", "filter", where="a > 1"), sink()],
            [("src", "m"), ("m", "f"), ("f", "m"), ("f", "out")],
        ),
        {"node_id": "f"},
    ),
    "graph.unreachable": (
        doc(
            [source(), node("a", "filter", where="x"), node("b", "filter", where="x"), sink()],
            [("src", "out"), ("a", "b"), ("b", "out")],
        ),
        {"node_id": "b"},
    ),
    "graph.dead_end": (
        doc([source(), node("f", "filter", where="x"), sink()], [("src", "f"), ("src", "out")]),
        {"node_id": "f"},
    ),
    "port.missing_input": (
        doc([source(), node("f", "filter", where="x"), sink()], [("src", "out"), ("f", "out")]),
        {"node_id": "f", "field": "in"},
    ),
    "port.too_many_inputs": (
        doc([source("a", "a"), source("b", "b"), sink()], [("a", "out"), ("b", "out")]),
        {"node_id": "out", "field": "in"},
    ),
    "port.kind_mismatch": (
        doc([table(), node("r", "select_key", key="x"), sink()], [("tbl", "r"), ("r", "out")]),
        {"node_id": "r", "edge_id": "tbl->r", "field": "in"},
    ),
    "port.unconnected": (
        doc(
            [
                source(),
                node(
                    "b",
                    "branch",
                    branches=[{"name": "eu", "where": "r = 'eu'"}, {"name": "us", "where": "r = 'us'"}],
                ),
                sink(),
            ],
            [("src", "b"), ("b", "out", "eu")],
        ),
        {"node_id": "b", "field": "us"},
    ),
    "expression.syntax": (
        _linear(node("f", "filter", where="region = ")),
        {"node_id": "f", "field": "config.where", "position": 7},
    ),
    "expression.unknown_field": (
        doc(
            [
                source(fields={"region": "string", "amount": "integer"}),
                node("f", "filter", where="amount > 1 AND regoin = 'eu'"),
                sink(),
            ],
            [("src", "f"), ("f", "out")],
        ),
        {"node_id": "f", "field": "config.where", "position": 15},
    ),
    "expression.unknown_function": (
        _linear(node("m", "map", fields={"x": "FROBNICATE(a)"})),
        {"node_id": "m", "field": "config.fields.x", "position": 0},
    ),
    "expression.type": (
        _linear(node("f", "filter", where="amount + 1")),
        {"node_id": "f", "field": "config.where"},
    ),
    "expression.unsupported": (
        _linear(node("k", "select_key", key="(SELECT 1)")),
        {"node_id": "k", "field": "config.key"},
    ),
    "expression.forbidden_name": (
        _linear(node("f", "filter", where="x.__class__ = 1")),
        {"node_id": "f", "field": "config.where", "position": 2},
    ),
    "expression.limit": (_linear(node("f", "filter", where="(" * 40 + "a" + ")" * 40)), {"node_id": "f"}),
    "expression.bound": (_linear(node("f", "filter", where="a > POWER(9, POWER(9, 9))")), {"node_id": "f"}),
    "expression.aggregate": (
        _with(page_views(), "by_page", aggregations={"views": "views + 1"}),
        {"node_id": "by_page", "field": "config.aggregations.views"},
    ),
    "window.invalid": (
        _with(page_views(), "by_page", window={"type": "hopping", "size": "1m", "advance": "5m"}),
        {"node_id": "by_page", "field": "config.window.advance"},
    ),
    "window.emit_final_requires_window": (
        _with(page_views(), "by_page", window=None, emit="final"),
        {"node_id": "by_page", "field": "config.emit"},
    ),
    "window.required": (_stream_stream_join(), {"node_id": "j", "field": "config.window"}),
    "window.not_allowed": (
        orders_join_customers(window={"size": "5m"}),
        {"node_id": "enrich", "field": "config.window"},
    ),
    "join.sides": (
        doc(
            [source("orders", "orders"), table("customers", "customers"), node("j", "join"), sink()],
            [("customers", "j", None, "left"), ("orders", "j", None, "right"), ("j", "out")],
        ),
        {"node_id": "j"},
    ),
    "aggregate.table_group_by": (
        doc(
            [table(), node("agg", "aggregate", aggregations={"n": "COUNT(*)"}), sink()],
            [("tbl", "agg"), ("agg", "out")],
        ),
        {"node_id": "agg", "field": "config.group_by"},
    ),
    "aggregate.table_window": (
        doc(
            [
                table(),
                node(
                    "agg",
                    "aggregate",
                    group_by="region",
                    aggregations={"n": "COUNT(*)"},
                    window={"type": "tumbling", "size": "1m"},
                ),
                sink(),
            ],
            [("tbl", "agg"), ("agg", "out")],
        ),
        {"node_id": "agg", "field": "config.window"},
    ),
    "aggregate.table_function": (
        doc(
            [table(), node("agg", "aggregate", group_by="region", aggregations={"top": "MAX(age)"}), sink()],
            [("tbl", "agg"), ("agg", "out")],
        ),
        {"node_id": "agg", "field": "config.aggregations.top"},
    ),
    "join.how": (orders_join_customers(how="outer"), {"node_id": "enrich", "field": "config.how"}),
    "join.table_rekey": (
        orders_join_customers(right_key="id"),
        {"node_id": "enrich", "field": "config.right_key"},
    ),
    "join.foreign_key_sides": (
        orders_join_customers(foreign_key="customer_id"),
        {"node_id": "enrich", "field": "config.foreign_key"},
    ),
    "join.copartition": (
        doc(
            [
                source("orders", "orders", partitions=6),
                table("customers", "customers", partitions=3),
                node("j", "join"),
                sink(),
            ],
            [("orders", "j", None, "left"), ("customers", "j", None, "right"), ("j", "out")],
        ),
        {"node_id": "j"},
    ),
    "branch.duplicate_name": (
        doc(
            [
                source(),
                node("b", "branch", branches=[{"name": "x", "where": "a"}, {"name": "x", "where": "b"}]),
                sink(),
            ],
            [("src", "b"), ("b", "out", "x")],
        ),
        {"node_id": "b", "field": "config.branches[1].name"},
    ),
    "map.conflict": (
        _linear(node("m", "map", fields={"total": "a + b"}, drop=["total"])),
        {"node_id": "m", "field": "config.drop"},
    ),
    "name.collision": (
        doc(
            [
                source("orders", "orders"),
                source("clicks", "clicks"),
                node("j", "join", window={"size": "1m"}, left_key="user"),
                node("j-left", "select_key", key="x"),
                sink(),
                sink("out2", "out2"),
            ],
            [
                ("orders", "j", None, "left"),
                ("clicks", "j", None, "right"),
                ("j", "out"),
                ("orders", "j-left"),
                ("j-left", "out2"),
            ],
        ),
        {"node_id": "j-left", "field": "id"},
    ),
}


def test_every_issue_code_has_a_trigger_below():
    assert set(TRIGGERS) | {"compiler.internal"} == set(ISSUE_CODES)


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_issue_code_is_reported_at_its_place(code):
    document, location = TRIGGERS[code]
    result = compile_document(document)
    matching = [issue for issue in result.issues if issue.code == code]
    assert matching, [str(issue) for issue in result.issues]
    issue = matching[0]
    for name, expected in location.items():
        assert getattr(issue, name) == expected, str(issue)
    assert issue.message
    if issue.severity == "error":
        assert not result.ok and result.plan is None


def test_an_internal_error_is_returned_as_an_issue_not_raised(monkeypatch):
    def broken(graph):
        raise KeyError("bug")

    monkeypatch.setattr(compiler, "lower", broken)
    result = compile_document(page_views())
    assert [issue.code for issue in result.issues] == ["compiler.internal"]
    assert not result.ok


def test_issues_serialise_with_every_location_field():
    result = compile_document(_linear(node("f", "filter", where="region = ")))
    assert result.issues[0].to_dict() == {
        "code": "expression.syntax",
        "message": result.issues[0].message,
        "node_id": "f",
        "edge_id": None,
        "field": "config.where",
        "position": 7,
        "severity": "error",
    }


def test_all_issues_are_collected_not_only_the_first():
    document = doc(
        [
            source(),
            node("f", "filter", where="a = "),
            node("m", "map", fields={"x": "NOPE(1)"}),
            node("y", "teleport"),
            sink(),
            view(),
        ],
        [("src", "f"), ("f", "m"), ("m", "out"), ("src", "ghost")],
    )
    codes = {issue.code for issue in compile_document(document).issues}
    assert {
        "expression.syntax",
        "expression.unknown_function",
        "node.unknown_type",
        "edge.unknown_node",
    } <= codes


def test_a_warning_alone_still_compiles():
    document, _ = TRIGGERS["port.unconnected"]
    result = compile_document(document)
    assert result.ok and result.plan is not None
    assert [issue.severity for issue in result.issues] == ["warning"]
