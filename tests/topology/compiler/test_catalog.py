"""The catalog: each node type defined once and exported as JSON Schema for the editor."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from topology.compiler import catalog_schema, document_schema
from topology.compiler.catalog import NODE_TYPES, parse_duration

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
    assert schema["node_types"]["aggregate"]["outputs"][0]["kinds"] == ["table"]
    assert schema["node_types"]["merge"]["inputs"][0]["multiple"] is True
    assert schema["node_types"]["branch"]["outputs"]["dynamic"]
    assert "as" in schema["node_types"]["flat_map"]["config"]["properties"]
    assert schema["node_types"]["sink"]["outputs"] == []
    for node_type in schema["node_types"].values():
        assert node_type["description"] and node_type["title"]


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
