"""The node reference in docs/ is generated from the catalog and must match it."""

from __future__ import annotations

from pathlib import Path

from topology.compiler.catalog import NODE_TYPES
from topology.compiler.docgen import render
from topology.compiler.issues import ISSUE_CODES

DOCS = Path(__file__).resolve().parents[3] / "docs"


def test_the_committed_node_reference_is_up_to_date():
    committed = (DOCS / "nodes.md").read_text()
    assert committed == render(), "regenerate it: python -m topology.compiler.docgen > docs/nodes.md"


def test_the_node_reference_documents_every_node_type_and_field():
    text = render()
    for name, node_type in NODE_TYPES.items():
        assert f"## `{name}`" in text
        for field_name, field in node_type.config.model_fields.items():
            assert f"| `{field.alias or field_name}` |" in text


def test_the_format_page_lists_every_issue_code():
    text = (DOCS / "topology-format.md").read_text()
    for code in ISSUE_CODES:
        assert f"`{code}`" in text
