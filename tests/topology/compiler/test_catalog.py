"""The catalog: each node type defined once and exported as JSON Schema for the editor."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from topology.compiler import catalog_schema, document_schema
from topology.compiler.catalog import NODE_TYPES, evaluate_output_rule, parse_duration

DOCUMENTED_TYPES = {
    "source",
    "table_source",
    "filter",
    "map",
    "flat_map",
    "select_key",
    "branch",
    "merge",
    "aggregate",
    "join",
    "to_table",
    "to_stream",
    "sink",
    "view",
}


def test_the_catalog_holds_every_node_type_of_the_format():
    assert set(NODE_TYPES) == DOCUMENTED_TYPES
    assert set(catalog_schema()["node_types"]) == DOCUMENTED_TYPES


def test_the_catalog_schema_is_json_with_ports_and_config_schemas():
    schema = json.loads(json.dumps(catalog_schema()))
    assert schema["port_kinds"] == ["stream", "table"]
    join = schema["node_types"]["join"]
    assert [p["name"] for p in join["inputs"]] == ["left", "right"]
    assert join["config"]["properties"]["how"]["enum"] == ["inner", "left", "outer"]
    assert join["config"]["additionalProperties"] is False
    assert schema["node_types"]["to_stream"]["inputs"][0]["kinds"] == ["table"]
    assert schema["node_types"]["aggregate"]["outputs"] == [{"name": "out"}]
    assert schema["node_types"]["aggregate"]["output_rule"] == {"kind": "table"}
    assert schema["node_types"]["merge"]["inputs"][0]["multiple"] is True
    assert schema["node_types"]["branch"]["outputs"] == [
        {"dynamic": {"config_field": "branches", "name_field": "name"}},
        {"name": "default"},
    ]
    assert "as" in schema["node_types"]["flat_map"]["config"]["properties"]
    assert schema["node_types"]["sink"]["outputs"] == []
    for node_type in schema["node_types"].values():
        assert node_type["description"] and node_type["title"]


def test_the_catalog_says_each_types_palette_group_and_how_its_output_kind_follows():
    schema = catalog_schema()
    groups = [group["id"] for group in schema["palette_groups"]]
    assert groups == ["sources", "transforms", "aggregations", "joins", "sinks"]
    types = schema["node_types"]
    assert {name for name, t in types.items() if t["group"] == "sources"} == {"source", "table_source"}
    assert types["to_table"]["group"] == "transforms" and types["view"]["group"] == "sinks"
    assert all(t["group"] in groups for t in types.values())
    # "same as input" is machine-readable: the input port whose kind the output takes.
    assert types["filter"]["output_rule"] == {"same_as": "in"}
    assert types["map"]["output_rule"] == {"same_as": "in"}
    assert types["join"]["output_rule"] == {"table_if_all": ["left", "right"]}
    assert types["sink"]["output_rule"] is None and types["view"]["output_rule"] is None
    assert types["source"]["output_rule"] == {"kind": "stream"}


@pytest.mark.parametrize(
    ("rule", "inputs", "kind"),
    [
        ({"kind": "table"}, {}, "table"),
        ({"same_as": "in"}, {"in": "table"}, "table"),
        ({"same_as": "in"}, {}, None),
        ({"table_if_all": ["left", "right"]}, {"left": "table", "right": "table"}, "table"),
        ({"table_if_all": ["left", "right"]}, {"left": "stream", "right": "table"}, "stream"),
        ({"table_if_all": ["left", "right"]}, {"left": "table"}, None),
        (None, {"in": "stream"}, None),
    ],
)
def test_output_rules_evaluate_to_a_kind_once_their_inputs_are_known(rule, inputs, kind):
    assert evaluate_output_rule(rule, inputs) == kind


def test_the_document_schema_is_strict_about_unknown_fields():
    schema = document_schema()
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"name", "nodes"}
    assert schema["$defs"]["Node"]["properties"]["id"]["pattern"].startswith("^[A-Za-z0-9_]")


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("500ms", 500),
        ("10s", 10_000),
        ("5m", 300_000),
        ("1h", 3_600_000),
        ("2d", 172_800_000),
        (250, 250),
        ("42", 42),
    ],
)
def test_durations_parse_to_milliseconds(text, ms):
    assert parse_duration(text) == ms


@pytest.mark.parametrize("text", ["5 minutes", "-1s", "1w", True, 1.5, None, "9999999999999d"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_config_models_refuse_unknown_fields():
    with pytest.raises(ValidationError):
        NODE_TYPES["filter"].config.model_validate({"where": "a", "wehre": "b"})
