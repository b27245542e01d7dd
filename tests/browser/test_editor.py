"""The topology editor in Debian's Chromium against a real Daphne serving the app."""

from __future__ import annotations

import json
import os

import pytest
from playwright.sync_api import expect

from tests.browser.editor_support import (
    drag_from_palette,
    drag_wire,
    open_editor,
    outline_edges,
    outline_nodes,
    unique,
    wait_valid,
)
from topology.compiler import compile_document
from topology.models import Topology

pytestmark = [pytest.mark.browser, pytest.mark.integration]

# Playwright's sync API keeps an asyncio loop running in this thread; the ORM calls made here
# (fixtures, assertions on saved rows) are plain synchronous code, so tell Django that.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def make_topology(user, document: dict | None = None) -> Topology:
    return Topology.objects.create(name=unique("editor-t"), owner=user, draft_document=document)


def pipeline_document(source_topic: str, sink_topic: str) -> dict:
    return {
        "name": "pipeline",
        "nodes": [
            {
                "id": "views",
                "type": "source",
                "config": {"topics": [source_topic]},
                "position": {"x": 40, "y": 160},
            },
            {
                "id": "eu_only",
                "type": "filter",
                "config": {"where": "region = 'eu'"},
                "position": {"x": 300, "y": 160},
            },
            {
                "id": "by_page",
                "type": "aggregate",
                "config": {"group_by": "page", "aggregations": {"views": "COUNT(*)"}},
                "position": {"x": 560, "y": 160},
            },
            {"id": "out", "type": "sink", "config": {"topic": sink_topic}, "position": {"x": 820, "y": 160}},
        ],
        "edges": [
            {"source": "views", "target": "eu_only"},
            {"source": "eu_only", "target": "by_page"},
            {"source": "by_page", "target": "out"},
        ],
    }


def select_node(page, node_id: str) -> None:
    page.locator("#tab-outline").click()
    page.locator(f'[data-outline-node="{node_id}"]').click()
    expect(page.locator(f'.node-form[data-node-id="{node_id}"]')).to_be_visible()


def fill_field(page, field: str, text: str) -> None:
    control = page.locator(
        f'.node-form .field[data-field="{field}"] :is(input:not(.map-key), textarea)'
    ).first
    control.fill(text)
    control.blur()


def test_drawing_source_filter_aggregate_sink_with_the_mouse_saves_a_graph_that_reloads_and_compiles(
    page, live_daphne, editor_user
):
    topology = make_topology(editor_user)
    open_editor(page, live_daphne, topology.pk)
    for node_type, x in (("source", 110), ("filter", 340), ("aggregate", 570), ("sink", 800)):
        drag_from_palette(page, node_type, x, 200)
    expect(page.locator("#outline-nodes [data-outline-node]")).to_have_count(4)
    assert outline_nodes(page) == ["source", "filter", "aggregate", "sink"]

    drag_wire(page, "source", "out", "filter", "in")
    drag_wire(page, "filter", "out", "aggregate", "in")
    drag_wire(page, "aggregate", "out", "sink", "in")
    expect(page.locator("#outline-edges li")).to_have_count(3)
    assert outline_edges(page) == ["source → filter", "filter → aggregate", "aggregate → sink"]

    select_node(page, "source")
    fill_field(page, "topics", "page-views")
    select_node(page, "filter")
    fill_field(page, "where", "region = 'eu' AND duration_ms > 100")
    select_node(page, "aggregate")
    fill_field(page, "group_by", "page")
    page.locator('.node-form .field[data-field="aggregations"] button', has_text="Add").click()
    key_input = page.locator(".node-form .map-key").first
    key_input.fill("views")
    key_input.blur()
    fill_field(page, "aggregations.views", "COUNT(*)")
    select_node(page, "sink")
    fill_field(page, "topic", "views-by-page")
    wait_valid(page)

    page.locator("#save-message").fill("first draft from the mouse")
    page.locator("#btn-save").click()
    expect(page.locator("#status")).to_have_text("Saved version 1.")

    page.reload()
    page.wait_for_selector("#editor[data-ready=true]")
    assert outline_nodes(page) == ["source", "filter", "aggregate", "sink"]
    assert outline_edges(page) == ["source → filter", "filter → aggregate", "aggregate → sink"]
    expect(page.locator('#canvas [data-cell-id="aggregate"]')).to_have_count(1)

    version = topology.versions.get(number=1)
    assert version.message == "first draft from the mouse"
    saved = version.document
    assert compile_document(saved).ok
    by_id = {n["id"]: n for n in saved["nodes"]}
    assert by_id["filter"]["config"]["where"] == "region = 'eu' AND duration_ms > 100"
    assert by_id["aggregate"]["config"]["aggregations"] == {"views": "COUNT(*)"}
    assert by_id["source"]["config"]["topics"] == ["page-views"]


def test_an_invalid_expression_shows_its_error_on_the_filter_node_and_its_where_field(
    page, live_daphne, editor_user
):
    topology = make_topology(editor_user, pipeline_document("in-t", "out-t"))
    open_editor(page, live_daphne, topology.pk)
    wait_valid(page)
    select_node(page, "eu_only")
    fill_field(page, "where", "region = = 'eu'")

    field_error = page.locator('.node-form .field[data-field="where"] .field-error')
    expect(field_error).to_have_count(1)
    assert field_error.inner_text().strip()
    expect(page.locator('#canvas [data-cell-id="eu_only"] rect').first).to_have_attribute("stroke", "#dc2626")
    expect(page.locator('#canvas [data-cell-id="by_page"] rect').first).not_to_have_attribute(
        "stroke", "#dc2626"
    )

    page.locator("#tab-problems").click()
    problem = page.locator('#problems-list .problem[data-node-id="eu_only"]')
    expect(problem).to_have_count(1)
    select_node(page, "by_page")
    page.locator("#tab-problems").click()
    problem.click()
    expect(page.locator('.node-form[data-node-id="eu_only"]')).to_be_visible()


def test_a_wire_that_would_make_a_cycle_is_refused_with_the_reason(page, live_daphne, editor_user):
    document = pipeline_document("in-t", "out-t")
    document["nodes"].append(
        {"id": "again", "type": "filter", "config": {"where": "TRUE"}, "position": {"x": 300, "y": 360}}
    )
    document["edges"].append({"source": "eu_only", "target": "again"})
    topology = make_topology(editor_user, document)
    open_editor(page, live_daphne, topology.pk)
    before = outline_edges(page)

    drag_wire(page, "again", "out", "eu_only", "in")

    expect(page.locator("#connection-refused")).to_contain_text("cycle")
    assert outline_edges(page) == before
    assert len(page.locator("#canvas .x6-edge").all()) == len(before)


def test_a_table_output_into_a_stream_only_port_is_refused_with_the_reason(page, live_daphne, editor_user):
    document = pipeline_document("in-t", "out-t")
    document["nodes"].append(
        {"id": "rekey", "type": "select_key", "config": {"key": "page"}, "position": {"x": 820, "y": 360}}
    )
    topology = make_topology(editor_user, document)
    open_editor(page, live_daphne, topology.pk)
    before = outline_edges(page)

    drag_wire(page, "by_page", "out", "rekey", "in")

    refused = page.locator("#connection-refused")
    expect(refused).to_contain_text("by_page produces a table")
    expect(refused).to_contain_text("rekey (select_key) takes a stream")
    assert outline_edges(page) == before


def test_preview_with_pasted_records_shows_filtered_and_aggregated_rows_at_their_nodes(
    page, live_daphne, editor_user
):
    topology = make_topology(editor_user, pipeline_document("in-t", "out-t"))
    open_editor(page, live_daphne, topology.pk)
    wait_valid(page)
    page.locator("#tab-preview").click()
    records = [
        {"key": "u1", "value": {"region": "eu", "page": "/a"}, "timestamp": 1000},
        {"key": "u2", "value": {"region": "us", "page": "/a"}, "timestamp": 2000},
        {"key": "u3", "value": {"region": "eu", "page": "/b"}, "timestamp": 3000},
        {"key": "u4", "value": {"region": "eu", "page": "/a"}, "timestamp": 4000},
    ]
    page.locator("#preview-records").fill(json.dumps(records))
    page.locator("#btn-preview").click()

    filtered = page.locator('[data-preview-node="eu_only"] table.records tbody tr')
    expect(filtered).to_have_count(3)
    assert "us" not in " ".join(filtered.all_inner_texts())
    aggregated = page.locator('[data-preview-node="by_page"] table.records tbody tr')
    expect(aggregated).to_have_count(3)
    rows = [r.split("\t") for r in aggregated.all_inner_texts()]
    # Emit-changes: /a counts 1, /b counts 1, then /a counts 2.
    assert [(r[0], r[-1]) for r in rows] == [("/a", "1"), ("/b", "1"), ("/a", "2")]


def test_undo_and_redo_restore_a_deleted_node_with_its_edges(page, live_daphne, editor_user):
    topology = make_topology(editor_user, pipeline_document("in-t", "out-t"))
    open_editor(page, live_daphne, topology.pk)
    edges = outline_edges(page)
    page.locator('#canvas [data-cell-id="eu_only"]').click()
    page.keyboard.press("Delete")
    expect(page.locator('[data-outline-node="eu_only"]')).to_have_count(0)
    assert outline_edges(page) == ["by_page → out"]
    expect(page.locator('#canvas [data-cell-id="eu_only"]')).to_have_count(0)

    page.keyboard.press("Control+z")
    expect(page.locator('[data-outline-node="eu_only"]')).to_have_count(1)
    assert outline_edges(page) == edges
    expect(page.locator('#canvas [data-cell-id="eu_only"]')).to_have_count(1)
    expect(page.locator("#canvas .x6-edge")).to_have_count(3)

    page.keyboard.press("Control+Shift+z")
    expect(page.locator('[data-outline-node="eu_only"]')).to_have_count(0)
    assert outline_edges(page) == ["by_page → out"]


def test_copy_and_paste_of_a_selection_duplicates_nodes_with_their_inner_edges(
    page, live_daphne, editor_user
):
    topology = make_topology(editor_user, pipeline_document("in-t", "out-t"))
    open_editor(page, live_daphne, topology.pk)
    page.locator('#canvas [data-cell-id="eu_only"]').click()
    page.locator('#canvas [data-cell-id="by_page"]').click(modifiers=["Shift"])
    expect(page.locator("#config-panel")).to_contain_text("2 nodes selected")

    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")

    expect(page.locator("#outline-nodes [data-outline-node]")).to_have_count(6)
    assert outline_nodes(page)[4:] == ["eu_only_2", "by_page_2"]
    assert "eu_only_2 → by_page_2" in outline_edges(page)
    assert len(outline_edges(page)) == 4


def test_branch_outputs_are_named_ports_wired_to_their_own_targets(page, live_daphne, editor_user):
    document = {
        "name": "branching",
        "nodes": [
            {
                "id": "orders",
                "type": "source",
                "config": {"topics": ["orders"]},
                "position": {"x": 40, "y": 200},
            },
            {
                "id": "split",
                "type": "branch",
                "config": {"branches": [{"name": "big", "where": "amount > 100"}]},
                "position": {"x": 320, "y": 200},
            },
            {"id": "big_out", "type": "sink", "config": {"topic": "big"}, "position": {"x": 620, "y": 100}},
            {"id": "rest_out", "type": "sink", "config": {"topic": "rest"}, "position": {"x": 620, "y": 300}},
        ],
        "edges": [{"source": "orders", "target": "split"}],
    }
    topology = make_topology(editor_user, document)
    open_editor(page, live_daphne, topology.pk)
    expect(page.locator('#canvas [data-cell-id="split"] [port="out:big"]')).to_have_count(1)
    expect(page.locator('#canvas [data-cell-id="split"] [port="out:default"]')).to_have_count(1)

    drag_wire(page, "split", "big", "big_out", "in")
    drag_wire(page, "split", "default", "rest_out", "in")

    expect(page.locator("#outline-edges li")).to_have_count(3)
    assert outline_edges(page)[1:] == ["split.big → big_out", "split.default → rest_out"]
    wait_valid(page)


def test_renaming_a_node_in_its_form_keeps_its_edges(page, live_daphne, editor_user):
    topology = make_topology(editor_user, pipeline_document("in-t", "out-t"))
    open_editor(page, live_daphne, topology.pk)
    select_node(page, "eu_only")

    page.locator("#node-id-input").fill("europe")
    page.locator("#node-id-input").blur()

    expect(page.locator('[data-outline-node="europe"]')).to_have_count(1)
    assert outline_edges(page) == ["views → europe", "europe → by_page", "by_page → out"]
    expect(page.locator("#canvas .x6-edge")).to_have_count(3)
    wait_valid(page)
