"""validate_topology, import_topology and export_topology, run through call_command."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.topology.conftest import node
from topology.models import Topology

pytestmark = pytest.mark.django_db


def run(*args):
    """Run a command; return (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def write(tmp_path):
    def write_file(content, name="topology.json"):
        path = tmp_path / name
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        return str(path)

    return write_file


@pytest.fixture
def admin_user(make_user):
    return make_user("root", is_staff=True, is_superuser=True)


def test_validate_exits_0_and_prints_the_plan_for_a_valid_document(write, page_views):
    status, out, _ = run("validate_topology", write(page_views))
    assert status == 0
    assert "eu_only" in out and "by_page" in out


def test_validate_exits_1_and_prints_every_issue_for_an_invalid_document(write, page_views):
    node(page_views, "eu_only")["config"]["where"] = "no_such_function(region)"
    node(page_views, "views")["type"] = "teleport"
    status, out, err = run("validate_topology", write(page_views))
    assert status == 1
    lines = out.strip().splitlines()
    assert len(lines) >= 2
    assert any("node=eu_only" in line and "field=" in line for line in lines), out
    assert any("node=views" in line for line in lines), out
    assert "does not compile" in err


def test_validate_in_json_format_is_machine_readable(write, page_views):
    status, out, _ = run("validate_topology", write(page_views), "--format", "json")
    assert status == 0
    result = json.loads(out)
    assert result["ok"] is True and len(result["plan_hash"]) == 64

    node(page_views, "eu_only")["config"]["where"] = "region ="
    status, out, _ = run("validate_topology", write(page_views), "--format", "json")
    assert status == 1
    result = json.loads(out)
    assert result["ok"] is False
    assert {"code", "node_id", "field", "message"} <= set(result["issues"][0])


def test_validate_reports_malformed_json_with_line_and_column(write):
    status, out, _ = run("validate_topology", write('{"nodes": [\n  {"id": }'))
    assert status == 1
    assert "json_syntax" in out and "line 2" in out


def test_validate_of_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("validate_topology", str(tmp_path / "absent.json"))


def test_import_creates_a_topology_then_export_prints_the_same_document(write, page_views, admin_user):
    status, out, _ = run("import_topology", write(page_views), "--name", "imported")
    assert status == 0
    assert "Created topology imported" in out
    topology = Topology.objects.get(name="imported")
    assert topology.owner == admin_user
    status, out, _ = run("export_topology", "imported")
    assert status == 0
    assert json.loads(out) == page_views


def test_importing_again_with_only_moved_nodes_makes_no_new_version(write, page_views, admin_user):
    run("import_topology", write(page_views))
    page_views["nodes"][0]["position"] = {"x": 999, "y": 999}
    status, out, _ = run("import_topology", write(page_views))
    assert status == 0
    assert "no new version" in out
    assert Topology.objects.get(name="page-views-by-region").versions.count() == 1


def test_import_of_an_invalid_document_exits_1_and_stores_nothing(write, page_views, admin_user):
    page_views["edges"].append({"source": "views", "target": "ghost"})
    status, out, err = run("import_topology", write(page_views))
    assert status == 1
    assert "ghost" in out
    assert "nothing was imported" in err
    assert not Topology.objects.exists()


def test_import_with_an_unknown_owner_is_a_command_error(write, page_views):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        call_command("import_topology", write(page_views), "--owner", "nobody")


def test_export_of_a_given_version_prints_that_version(write, page_views, alice):
    run("import_topology", write(page_views), "--owner", "alice")
    node(page_views, "out")["config"]["topic"] = "second-topic"
    run("import_topology", write(page_views), "--owner", "alice")
    _, first, _ = run("export_topology", "page-views-by-region", "--version", "1")
    _, latest, _ = run("export_topology", "page-views-by-region")
    assert node(json.loads(first), "out")["config"]["topic"] == "views-by-page"
    assert node(json.loads(latest), "out")["config"]["topic"] == "second-topic"


def test_export_of_an_unknown_name_or_version_is_a_command_error(write, page_views, alice):
    with pytest.raises(CommandError, match="No topology named 'absent'"):
        call_command("export_topology", "absent")
    run("import_topology", write(page_views), "--owner", "alice")
    with pytest.raises(CommandError, match="no version 5"):
        call_command("export_topology", "page-views-by-region", "--version", "5")
