"""The topology API through the Django test client, as the browser uses it (session + CSRF)."""

import json

import pytest
from django.test import Client

from tests.topology.conftest import logged_in_client, node
from topology.models import Topology, TopologyVersion

pytestmark = pytest.mark.django_db

BASE = "/api/topologies"


def post(client, url, data, method="post"):
    return getattr(client, method)(url, data=json.dumps(data), content_type="application/json")


# --- authentication ------------------------------------------------------------------------


def test_anonymous_requests_are_refused_with_401(page_views):
    anonymous = Client()
    assert anonymous.get(f"{BASE}/").status_code == 401
    response = post(anonymous, f"{BASE}/validate", {"document": page_views})
    assert response.status_code == 401
    assert response.json()["detail"]


def test_a_post_without_the_csrf_token_is_refused(alice, page_views):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = post(client, f"{BASE}/", {"name": "no-token"})
    assert response.status_code == 403
    assert not Topology.objects.filter(name="no-token").exists()


# --- topologies CRUD -----------------------------------------------------------------------


def test_creating_a_topology_with_a_document_stores_version_one(api, page_views, alice):
    response = post(
        api, f"{BASE}/", {"name": "page-views", "description": "EU views", "document": page_views}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "page-views"
    assert body["owner"] == "alice"
    assert body["latest_version"]["number"] == 1
    assert body["document"] == page_views
    version = TopologyVersion.objects.get(topology__name="page-views")
    assert version.created_by == alice
    assert version.plan_hash == body["latest_version"]["plan_hash"]
    assert version.plan["subtopologies"]


def test_creating_a_topology_without_a_document_has_no_version(api):
    response = post(api, f"{BASE}/", {"name": "empty"})
    assert response.status_code == 201
    assert response.json()["latest_version"] is None
    assert response.json()["document"] is None


def test_a_taken_name_is_a_conflict(api, page_views_topology):
    response = post(api, f"{BASE}/", {"name": page_views_topology.name})
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]


def test_an_invalid_name_is_refused_naming_the_field(api):
    response = post(api, f"{BASE}/", {"name": "Has Spaces!"})
    assert response.status_code == 422
    paths = [error["path"] for error in response.json()["detail"]]
    assert any(path.endswith("name") for path in paths), paths


def test_the_list_shows_own_topologies_and_staff_see_all(api, bob_api, staff_api, page_views_topology):
    assert [t["name"] for t in api.get(f"{BASE}/").json()] == ["page-views"]
    assert bob_api.get(f"{BASE}/").json() == []
    assert [t["name"] for t in staff_api.get(f"{BASE}/").json()] == ["page-views"]


def test_the_list_shows_each_topologys_own_latest_version(api, alice, page_views_topology, page_views):
    from topology import actions

    node(page_views, "out")["config"]["topic"] = "second"
    actions.save_version(page_views_topology, page_views, "v2", alice)
    actions.create_topology(name="also-mine", owner=alice)
    listed = {t["name"]: t["latest_version"] for t in api.get(f"{BASE}/").json()}
    assert listed["page-views"]["number"] == 2
    assert listed["page-views"]["message"] == "v2"
    assert listed["also-mine"] is None


def test_someone_elses_topology_is_not_found(bob_api, page_views_topology, page_views):
    url = f"{BASE}/{page_views_topology.pk}"
    assert bob_api.get(url).status_code == 404
    assert post(bob_api, url, {"description": "mine now"}, method="patch").status_code == 404
    assert post(bob_api, f"{url}/versions", {"document": page_views}).status_code == 404
    assert bob_api.delete(url).status_code == 404
    assert Topology.objects.filter(pk=page_views_topology.pk).exists()


def test_staff_may_edit_any_topology(staff_api, page_views_topology):
    response = post(
        staff_api, f"{BASE}/{page_views_topology.pk}", {"description": "reviewed"}, method="patch"
    )
    assert response.status_code == 200
    assert Topology.objects.get(pk=page_views_topology.pk).description == "reviewed"


def test_updating_meta_renames_and_describes(api, page_views_topology):
    url = f"{BASE}/{page_views_topology.pk}"
    response = post(api, url, {"name": "views-renamed", "description": "new words"}, method="patch")
    assert response.status_code == 200
    assert response.json()["name"] == "views-renamed"
    assert api.get(url).json()["description"] == "new words"


def test_renaming_onto_a_taken_name_is_a_conflict(api, alice, page_views_topology):
    Topology.objects.create(name="taken", owner=alice)
    response = post(api, f"{BASE}/{page_views_topology.pk}", {"name": "taken"}, method="patch")
    assert response.status_code == 409
    assert Topology.objects.get(pk=page_views_topology.pk).name == "page-views"


def test_deleting_a_topology_removes_its_versions(api, page_views_topology):
    response = api.delete(f"{BASE}/{page_views_topology.pk}")
    assert response.status_code == 204
    assert not Topology.objects.exists()
    assert not TopologyVersion.objects.exists()


def test_a_topology_with_a_deployment_cannot_be_deleted(api, page_views_topology):
    from processing.models import Deployment

    Deployment.objects.create(version=page_views_topology.versions.get(), app_id="page-views-0a1b2c")
    response = api.delete(f"{BASE}/{page_views_topology.pk}")
    assert response.status_code == 409
    assert "deployments" in response.json()["detail"]
    assert Topology.objects.filter(pk=page_views_topology.pk).exists()


def test_an_unknown_topology_id_is_not_found(api):
    response = api.get(f"{BASE}/999999")
    assert response.status_code == 404
    assert "999999" in response.json()["detail"]


# --- versions ------------------------------------------------------------------------------


def test_saving_a_changed_document_makes_the_next_version(api, page_views_topology, page_views):
    node(page_views, "eu_only")["config"]["where"] = "region = 'us'"
    response = post(
        api, f"{BASE}/{page_views_topology.pk}/versions", {"document": page_views, "message": "US"}
    )
    assert response.status_code == 201, response.content
    assert response.json()["created"] is True
    assert response.json()["version"]["number"] == 2
    assert response.json()["version"]["message"] == "US"
    numbers = [v["number"] for v in api.get(f"{BASE}/{page_views_topology.pk}/versions").json()]
    assert numbers == [1, 2]


def test_a_layout_only_save_makes_no_version_but_keeps_the_moved_positions(
    api, page_views_topology, page_views
):
    for index, moved in enumerate(page_views["nodes"]):
        moved["position"] = {"x": 1000 + index, "y": 5}
    response = post(api, f"{BASE}/{page_views_topology.pk}/versions", {"document": page_views})
    assert response.status_code == 200, response.content
    assert response.json() == {**response.json(), "created": False}
    assert response.json()["version"]["number"] == 1
    assert TopologyVersion.objects.filter(topology=page_views_topology).count() == 1
    reopened = api.get(f"{BASE}/{page_views_topology.pk}").json()["document"]
    assert node(reopened, "by_page")["position"] == {"x": 1002, "y": 5}


def test_an_invalid_document_is_refused_with_located_issues_and_nothing_is_stored(
    api, page_views_topology, page_views
):
    node(page_views, "eu_only")["config"]["where"] = "no_such_function(region)"
    page_views["edges"].append({"source": "out", "target": "ghost"})
    response = post(api, f"{BASE}/{page_views_topology.pk}/versions", {"document": page_views})
    assert response.status_code == 422
    issues = response.json()["issues"]
    assert {issue["node_id"] for issue in issues} >= {"eu_only"}
    assert len(issues) >= 2, issues
    assert all(issue["code"] and issue["message"] for issue in issues)
    assert TopologyVersion.objects.filter(topology=page_views_topology).count() == 1


def test_an_invalid_first_document_creates_no_topology(api, page_views):
    page_views["nodes"][0]["type"] = "teleport"
    response = post(api, f"{BASE}/", {"name": "broken", "document": page_views})
    assert response.status_code == 422
    assert response.json()["issues"][0]["node_id"] == "views"
    assert not Topology.objects.filter(name="broken").exists()


def test_a_version_is_fetched_with_its_document_and_plan(api, page_views_topology, page_views):
    response = api.get(f"{BASE}/{page_views_topology.pk}/versions/1")
    assert response.status_code == 200
    body = response.json()
    assert body["document"] == page_views
    assert body["plan"]["hash"] == body["plan_hash"]
    assert body["created_by"] == "alice"


def test_a_missing_version_is_not_found(api, page_views_topology):
    response = api.get(f"{BASE}/{page_views_topology.pk}/versions/7")
    assert response.status_code == 404
    assert "no version 7" in response.json()["detail"]


# --- validate, diff, export/import, schemas ------------------------------------------------


def test_validate_describes_a_valid_document(api, page_views):
    response = post(api, f"{BASE}/validate", {"document": page_views})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert "eu_only" in body["describe"]
    assert len(body["plan_hash"]) == 64
    assert not Topology.objects.exists()


def test_validate_lists_every_issue_of_an_invalid_document(api, page_views):
    node(page_views, "by_page")["config"]["aggregations"]["views"] = "COUNT(*"
    page_views["edges"].append({"source": "views", "target": "nowhere"})
    response = post(api, f"{BASE}/validate", {"document": page_views})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    assert body["describe"] is None
    assert len(body["issues"]) >= 2
    assert "by_page" in {issue["node_id"] for issue in body["issues"]}


def test_the_diff_names_changed_nodes_and_judges_compatibility(api, page_views_topology, page_views):
    page_views["nodes"].append(
        {"id": "big_only", "type": "filter", "config": {"where": "duration_ms > 1000"}}
    )
    page_views["edges"] = [e for e in page_views["edges"] if e["target"] != "out"]
    page_views["edges"] += [
        {"source": "by_page", "target": "big_only"},
        {"source": "big_only", "target": "out"},
    ]
    node(page_views, "by_page")["config"]["window"]["size"] = "5m"
    saved = post(api, f"{BASE}/{page_views_topology.pk}/versions", {"document": page_views})
    assert saved.status_code == 201, saved.content
    response = api.get(f"{BASE}/{page_views_topology.pk}/versions/1/diff/2")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["from_version"], body["to_version"]) == (1, 2)
    assert "big_only" in json.dumps(body["nodes"]["added"])
    assert "by_page" in json.dumps(body["nodes"]["changed"])
    assert body["compatibility"]["verdict"] in {"reprocess", "new_identity"}
    assert any("by_page" in reason for reason in body["compatibility"]["reasons"])


def test_the_diff_of_a_version_with_itself_is_compatible(api, page_views_topology):
    body = api.get(f"{BASE}/{page_views_topology.pk}/versions/1/diff/1").json()
    assert body["compatibility"]["verdict"] == "compatible"
    assert not body["nodes"]["added"] and not body["nodes"]["removed"] and not body["nodes"]["changed"]


def test_the_diff_with_a_missing_version_is_not_found(api, page_views_topology):
    assert api.get(f"{BASE}/{page_views_topology.pk}/versions/1/diff/3").status_code == 404


def test_export_then_import_round_trips_to_the_same_plan(api, bob_api, page_views_topology):
    exported = api.get(f"{BASE}/{page_views_topology.pk}/export")
    assert exported.status_code == 200
    response = post(bob_api, f"{BASE}/import", {"document": exported.json(), "name": "copied"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created_topology"] is True
    assert body["topology"]["owner"] == "bob"
    original = TopologyVersion.objects.get(topology=page_views_topology, number=1)
    assert body["version"]["plan_hash"] == original.plan_hash
    assert body["version"]["document"] == original.document


def test_exporting_an_older_version_gives_its_document(api, page_views_topology, page_views):
    node(page_views, "eu_only")["config"]["where"] = "region = 'us'"
    post(api, f"{BASE}/{page_views_topology.pk}/versions", {"document": page_views})
    older = api.get(f"{BASE}/{page_views_topology.pk}/export?version=1").json()
    assert node(older, "eu_only")["config"]["where"].startswith("region = 'eu'")
    assert api.get(f"{BASE}/{page_views_topology.pk}/export?version=9").status_code == 404


def test_importing_onto_an_own_name_adds_a_version(api, page_views_topology, page_views):
    node(page_views, "out")["config"]["topic"] = "views-v2"
    response = post(api, f"{BASE}/import", {"document": page_views, "name": "page-views"})
    assert response.status_code == 201
    assert response.json()["created_topology"] is False
    assert response.json()["version"]["number"] == 2


def test_importing_onto_someone_elses_name_is_a_conflict(bob_api, page_views_topology, page_views):
    response = post(bob_api, f"{BASE}/import", {"document": page_views, "name": "page-views"})
    assert response.status_code == 409
    assert page_views_topology.versions.count() == 1


def test_importing_without_a_usable_name_says_so(api, page_views):
    page_views["name"] = "Not A Slug"
    response = post(api, f"{BASE}/import", {"document": page_views})
    assert response.status_code == 400
    assert "Not A Slug" in response.json()["detail"]


def test_the_catalog_and_document_schemas_are_json_schema(api):
    catalog = api.get(f"{BASE}/catalog")
    assert catalog.status_code == 200
    assert "aggregate" in json.dumps(catalog.json())
    schema = api.get(f"{BASE}/schema")
    assert schema.status_code == 200
    assert "nodes" in json.dumps(schema.json())


def test_openapi_documents_the_topology_endpoints(api):
    response = api.get("/api/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/topologies/validate" in paths
    assert "/api/topologies/{topology_id}/versions/{old}/diff/{new}" in paths


# --- bad input: always 4xx, with the place named -------------------------------------------


def test_a_malformed_json_body_is_400_with_its_position(api):
    response = api.post(f"{BASE}/validate", data='{"document": {"nodes": [}', content_type="application/json")
    assert response.status_code == 400
    assert "line 1" in response.json()["detail"]


def test_a_body_that_is_not_utf8_is_400(api):
    response = api.post(f"{BASE}/validate", data=b'{"document": "\xff\xfe"}', content_type="application/json")
    assert response.status_code == 400
    assert "UTF-8" in response.json()["detail"] or "JSON" in response.json()["detail"]


def test_a_wrong_type_is_422_with_the_field_path(api):
    response = post(api, f"{BASE}/validate", {"document": ["not", "an", "object"]})
    assert response.status_code == 422
    assert [e["path"] for e in response.json()["detail"]] == ["body.payload.document"]


def test_an_unknown_field_is_422_naming_it(api, page_views):
    response = post(api, f"{BASE}/validate", {"document": page_views, "documnet": {}})
    assert response.status_code == 422
    assert response.json()["detail"][0]["path"] == "body.payload.documnet"


def test_a_body_that_is_not_an_object_is_422(api):
    response = post(api, f"{BASE}/", [1, 2, 3])
    assert response.status_code == 422


def test_a_wrong_type_inside_the_document_is_an_issue_at_its_node(api, page_views):
    node(page_views, "views")["config"]["topics"] = "pageviews"
    response = post(api, f"{BASE}/validate", {"document": page_views})
    assert response.status_code == 200
    issues = response.json()["issues"]
    assert response.json()["ok"] is False
    assert any(issue["node_id"] == "views" and "topics" in (issue["field"] or "") for issue in issues), issues


def test_a_body_over_10_mb_is_refused_with_413(api):
    padding = "x" * (10 * 1024 * 1024 + 1)
    response = api.post(
        f"{BASE}/validate", data=f'{{"document": {{"pad": "{padding}"}}}}', content_type="application/json"
    )
    assert response.status_code == 413
    assert "10 MB" in response.json()["detail"]


def test_more_than_10000_nodes_are_refused_with_a_clear_issue(api):
    nodes = [{"id": f"n{i}", "type": "filter", "config": {"where": "1 = 1"}} for i in range(10_001)]
    response = post(api, f"{BASE}/validate", {"document": {"name": "huge", "nodes": nodes, "edges": []}})
    assert response.status_code == 200
    issues = response.json()["issues"]
    assert [issue["code"] for issue in issues] == ["document.too_many_nodes"]
    assert "10000" in issues[0]["message"]


def test_an_overlong_expression_is_refused_at_its_node_and_field(api, page_views):
    node(page_views, "eu_only")["config"]["where"] = " AND ".join(["region = 'eu'"] * 2000)
    response = post(api, f"{BASE}/validate", {"document": page_views})
    assert response.status_code == 200
    issues = response.json()["issues"]
    assert any(
        issue["node_id"] == "eu_only" and issue["field"] and "where" in issue["field"] for issue in issues
    ), issues


def test_bad_input_never_answers_500(api, page_views_topology):
    url = f"{BASE}/{page_views_topology.pk}"
    bodies = ["", "null", "[]", '"text"', "{", '{"document": null}', '{"document": {"nodes": "x"}}', "\x00"]
    for body in bodies:
        for target in (f"{BASE}/validate", f"{url}/versions", f"{BASE}/import", f"{BASE}/"):
            response = api.post(target, data=body, content_type="application/json")
            context = (target, body, response.status_code, response.content[:200])
            if response.status_code == 200:
                # validate answers 200 for any document it could read: the verdict is in the body
                assert target.endswith("/validate") and response.json()["ok"] is False, context
            else:
                assert 400 <= response.status_code < 500, context


def test_a_compiler_crash_is_reported_as_an_issue_not_a_500(
    api, page_views_topology, page_views, monkeypatch
):
    def broken_compiler(document):
        raise RuntimeError("compiler bug")

    monkeypatch.setattr("topology.actions.compile_document", broken_compiler)
    validated = post(api, f"{BASE}/validate", {"document": page_views})
    assert validated.status_code == 200
    assert [i["code"] for i in validated.json()["issues"]] == ["compiler.internal_error"]
    saved = post(api, f"{BASE}/{page_views_topology.pk}/versions", {"document": page_views})
    assert saved.status_code == 422
    assert page_views_topology.versions.count() == 1


def test_validate_gives_the_sql_of_a_graph_sql_can_express_and_why_not_otherwise(api, alice, bob, page_views):
    from topology.models import SqlSource
    from topology.sql import parse
    from topology.sql.catalog import DictCatalog, define_source
    from topology.sql.translate import translate

    declared = define_source(
        parse(
            "CREATE STREAM clicks (user_id VARCHAR KEY, page VARCHAR) WITH (KAFKA_TOPIC='clicks', VALUE_FORMAT='JSON');"
        )[0]
    )
    SqlSource.objects.create(
        name="CLICKS", kind="STREAM", definition=declared.to_dict(), statement="", owner=alice
    )
    statement = parse("CREATE TABLE per_page AS SELECT page, COUNT(*) AS n FROM clicks GROUP BY page;")[0]
    document = translate(statement, DictCatalog({"CLICKS": declared}), name="q").document
    body = post(api, f"{BASE}/validate", {"document": document}).json()
    assert body["ok"] and body["sql"].startswith("CREATE TABLE PER_PAGE") and "GROUP BY PAGE" in body["sql"]
    drawn = post(api, f"{BASE}/validate", {"document": page_views}).json()
    assert drawn["ok"] and drawn["sql"] is None and drawn["sql_reason"]
    # another user does not see alice's stream, so the graph has no SQL for them
    other = logged_in_client(bob)
    hidden = post(other, f"{BASE}/validate", {"document": document}).json()
    assert hidden["sql"] is None and hidden["sql_reason"]
