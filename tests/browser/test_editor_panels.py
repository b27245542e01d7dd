"""Editor side panels in Chromium: versions and diff, outline by keyboard, import, describe."""

from __future__ import annotations

import json
import os

import pytest
from playwright.sync_api import expect

from tests.browser.editor_support import (
    open_editor,
    outline_edges,
    outline_nodes,
    unique,
    wait_valid,
)
from tests.browser.test_editor import fill_field, pipeline_document, select_node
from topology import actions
from topology.models import Topology

pytestmark = [pytest.mark.browser, pytest.mark.integration]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture
def user(editor_user):
    """The user the page (tests/browser/conftest.py) is logged in as."""
    return editor_user


def test_version_history_shows_a_readable_diff_and_the_compatibility_verdict(page, live_daphne, user):
    topology, _ = actions.create_topology(
        name=unique("versions"), owner=user, document=pipeline_document("in-t", "out-t"), message="first"
    )
    open_editor(page, live_daphne, topology.pk)
    select_node(page, "eu_only")
    fill_field(page, "where", "region = 'us'")
    wait_valid(page)
    page.locator("#save-message").fill("only us")
    page.keyboard.press("Control+s")
    expect(page.locator("#status")).to_have_text("Saved version 2.")

    page.locator("#tab-versions").click()
    expect(page.locator("#versions-list li")).to_have_count(2)
    expect(page.locator('#versions-list li[data-version="2"]')).to_contain_text("only us")
    page.locator('#versions-list li[data-version="2"] button', has_text="Diff with previous").click()

    expect(page.locator("#version-diff .diff")).to_contain_text("~ node eu_only changed (config.where)")
    expected = actions.diff_versions(topology.versions.get(number=1), topology.versions.get(number=2))
    verdict = page.locator("#version-diff .verdict")
    expect(verdict).to_have_attribute("data-verdict", expected["compatibility"]["verdict"])
    for reason in expected["compatibility"]["reasons"]:
        expect(page.locator("#version-diff")).to_contain_text(reason)


def test_the_palette_and_outline_add_connect_and_delete_with_the_keyboard_only(page, live_daphne, user):
    document = pipeline_document("in-t", "out-t")
    document["edges"] = [e for e in document["edges"] if e["target"] != "eu_only"]
    topology = Topology.objects.create(name=unique("keys"), owner=user, draft_document=document)
    open_editor(page, live_daphne, topology.pk)

    page.locator('.palette-item[data-type="view"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator('[data-outline-node="view"]')).to_have_count(1)

    page.locator("#tab-config").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#panel-outline")).to_be_visible()
    page.locator("#outline-connect-source").focus()
    page.locator("#outline-connect-source").select_option(label="views")
    page.locator("#outline-connect-target").select_option(label="eu_only")
    page.locator("#outline-connect").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#outline-edges li")).to_have_count(3)
    assert "views → eu_only" in outline_edges(page)

    page.locator('button[aria-label="Delete node by_page"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator('[data-outline-node="by_page"]')).to_have_count(0)
    assert outline_edges(page) == ["views → eu_only"]


def test_importing_a_json_file_replaces_the_draft(page, live_daphne, user, tmp_path):
    topology = Topology.objects.create(name=unique("import"), owner=user)
    open_editor(page, live_daphne, topology.pk)
    exported = pipeline_document("in-t", "out-t")
    for n in exported["nodes"]:
        n.pop("position")
    path = tmp_path / "pipeline.json"
    path.write_text(json.dumps(exported))

    page.locator("#import-file").set_input_files(str(path))

    expect(page.locator("#outline-nodes [data-outline-node]")).to_have_count(4)
    assert outline_nodes(page) == ["views", "eu_only", "by_page", "out"]
    assert len(outline_edges(page)) == 3
    wait_valid(page)
    xs = [page.locator(f'#canvas [data-cell-id="{n}"]').bounding_box()["x"] for n in outline_nodes(page)]
    assert xs == sorted(xs), "auto-layout places each node right of what feeds it"


def test_the_describe_panel_shows_the_plan_and_the_source_partitions(page, live_daphne, user, new_topic):
    topic = new_topic(partitions=3, prefix="describe-ui")
    topology = Topology.objects.create(
        name=unique("describe"), owner=user, draft_document=pipeline_document(topic, "out-t")
    )
    open_editor(page, live_daphne, topology.pk)
    wait_valid(page)

    page.locator("#tab-describe").click()

    expect(page.locator("#describe-partitions")).to_contain_text(f"{topic}=3")
    expect(page.locator("#describe-text")).to_contain_text(topic)


def test_creating_a_topology_from_the_list_opens_it_in_the_editor(page, live_daphne, user):
    name = unique("from-list")
    page.goto(f"{live_daphne}/topologies/")
    page.locator("#new-topology-name").fill(name)
    page.locator("#new-topology button[type=submit]").click()

    page.wait_for_selector("#editor[data-ready=true]")
    topology = Topology.objects.get(name=name)
    assert page.url.endswith(f"/topologies/{topology.pk}/edit/")
    assert topology.owner == user
    page.goto(f"{live_daphne}/topologies/")
    expect(page.locator(".topologies a", has_text=name)).to_have_attribute(
        "href", f"/topologies/{topology.pk}/edit/"
    )


def test_exporting_downloads_the_current_draft_as_json(page, live_daphne, user):
    document = pipeline_document("in-t", "out-t")
    topology = Topology.objects.create(name=unique("export"), owner=user, draft_document=document)
    open_editor(page, live_daphne, topology.pk)

    with page.expect_download() as download_info:
        page.locator("#btn-export").click()

    exported = json.loads(download_info.value.path().read_text())
    assert exported["nodes"] == document["nodes"]
    assert exported["edges"] == document["edges"]
