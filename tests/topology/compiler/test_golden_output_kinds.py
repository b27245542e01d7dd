"""The compiler's stream/table rule against the golden documents the editor's rule also reads.

static/editor/tests/golden.test.mjs feeds the same file to static/editor/model.mjs, so the
two evaluations of the catalog's ``output_rule`` cannot drift apart. The committed catalog
export next to it is what the JavaScript tests load as the server's catalog.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from topology.compiler import catalog_schema
from topology.compiler.docgen import catalog_json
from topology.compiler.graph import TopologyGraph
from topology.compiler.passes import run_passes

GOLDEN = Path(__file__).parent / "golden"
CASES = json.loads((GOLDEN / "output_kinds.json").read_text(encoding="utf-8"))["cases"]


@pytest.mark.parametrize("case", CASES, ids=[case["document"]["name"] for case in CASES])
def test_the_compiler_gives_every_node_the_golden_output_kind(case):
    graph = run_passes(TopologyGraph(raw=case["document"], partitions={}))
    kinds = {node["id"]: graph.kinds.get(node["id"]) for node in case["document"]["nodes"]}
    assert kinds == case["kinds"]


def test_the_golden_cases_cover_every_node_type_and_both_kinds():
    types = {node["type"] for case in CASES for node in case["document"]["nodes"]}
    assert types == set(catalog_schema()["node_types"])
    kinds = {kind for case in CASES for kind in case["kinds"].values()}
    assert kinds == {"stream", "table", None}


def test_the_committed_catalog_export_is_what_the_server_sends():
    # Regenerate with: python -m topology.compiler.docgen --catalog-json > tests/topology/compiler/golden/catalog.json
    assert (GOLDEN / "catalog.json").read_text(encoding="utf-8") == catalog_json()
