"""Dashboards saved in Django: a default one per deployment, widgets bound to views, pages."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from dashboard.models import Dashboard
from dashboard.publisher import DeploymentEventSink
from tests.dashboard.conftest import make_deployment

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_new_deployment_gets_a_default_dashboard_with_a_table_per_view(deployment):
    dashboard = Dashboard.objects.get(deployment=deployment, is_default=True)
    widgets = list(dashboard.widgets.values_list("kind", "view", "title"))
    assert widgets == [
        ("table", "counts", "Clicks per user"),
        ("table", "minutes", "Clicks per user per minute"),
    ]


def test_deployment_dashboard_page_redirects_to_the_default_dashboard_and_renders_its_widgets(
    owner, deployment
):
    client = client_for(owner)
    response = client.get(f"/deployments/{deployment.pk}/dashboard/", follow=True)
    assert response.status_code == 200
    config = response.context["config"]
    assert [w["view"] for w in config["widgets"]] == ["counts", "minutes"]
    assert b"dashboard/dashboard.mjs" in response.content


def test_other_users_dashboards_and_monitor_are_not_found(owner, stranger, deployment):
    client = client_for(stranger)
    dashboard = Dashboard.objects.get(deployment=deployment)
    assert client.get(f"/dashboards/{dashboard.pk}/").status_code == 404
    assert client.get(f"/deployments/{deployment.pk}/monitor/").status_code == 404
    assert client.get(f"/api/dashboards/{dashboard.pk}").status_code == 404
    assert client.get("/api/dashboards").json() == []


def test_monitor_page_carries_the_topology_to_draw(owner, deployment):
    response = client_for(owner).get(f"/deployments/{deployment.pk}/monitor/")
    assert response.status_code == 200
    topology = response.context["config"]["topology"]
    assert {n["id"] for n in topology["nodes"]} == {"clicks", "by_user", "per_minute", "counts", "minutes"}
    assert {"source": "by_user", "target": "counts"} in topology["edges"]


def test_saving_widgets_replaces_them_in_order(owner, deployment):
    client = client_for(owner)
    dashboard = Dashboard.objects.get(deployment=deployment)
    widgets = [
        {"kind": "bar", "view": "counts", "title": "Top users", "options": {"field": "count", "top_n": 5}},
        {"kind": "line", "view": "minutes", "options": {"field": "count"}},
        {"kind": "number", "view": "counts", "options": {"aggregate": "sum", "field": "count"}},
    ]
    response = client.put(
        f"/api/dashboards/{dashboard.pk}", json.dumps({"widgets": widgets}), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert [(w["kind"], w["view"], w["position"]) for w in response.json()["widgets"]] == [
        ("bar", "counts", 0),
        ("line", "minutes", 1),
        ("number", "counts", 2),
    ]
    assert dashboard.widgets.get(position=0).options == {"field": "count", "top_n": 5}


def test_a_widget_bound_to_a_missing_view_is_refused_naming_the_widget(owner, deployment):
    client = client_for(owner)
    payload = {
        "deployment": deployment.pk,
        "title": "mine",
        "widgets": [{"kind": "table", "view": "counts"}, {"kind": "bar", "view": "ghost"}],
    }
    response = client.post("/api/dashboards", json.dumps(payload), content_type="application/json")
    assert response.status_code == 422
    assert "widgets[1].view" in response.json()["detail"]
    assert "'ghost'" in response.json()["detail"]


def test_an_unknown_widget_kind_is_refused(owner, deployment):
    client = client_for(owner)
    payload = {"deployment": deployment.pk, "title": "mine", "widgets": [{"kind": "pie", "view": "counts"}]}
    response = client.post("/api/dashboards", json.dumps(payload), content_type="application/json")
    assert response.status_code == 422


def test_the_default_dashboard_cannot_be_deleted_but_others_can(owner, deployment):
    client = client_for(owner)
    default = Dashboard.objects.get(deployment=deployment)
    assert client.delete(f"/api/dashboards/{default.pk}").status_code == 409
    created = client.post(
        "/api/dashboards",
        json.dumps({"deployment": deployment.pk, "title": "second", "widgets": []}),
        content_type="application/json",
    ).json()
    assert client.delete(f"/api/dashboards/{created['id']}").status_code == 204
    assert not Dashboard.objects.filter(pk=created["id"]).exists()


@pytest.mark.integration
def test_snapshot_over_http_matches_the_serving_table(owner, deployment, clear_serving):
    DeploymentEventSink(deployment.pk, 0).emit(
        {
            "type": "table_delta",
            "view": "counts",
            "seq": 1,
            "windowed": False,
            "rows": [{"key": "alice", "value": {"count": 4}}],
        }
    )
    response = client_for(owner).get(f"/api/dashboards/snapshot/{deployment.pk}/counts")
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "view.snapshot" and body["seq"] == 1
    assert body["rows"] == [{"key": "alice", "value": {"count": 4}}]


def test_snapshot_over_http_of_another_users_view_is_not_found(owner, stranger):
    deployment = make_deployment(owner)
    response = client_for(stranger).get(f"/api/dashboards/snapshot/{deployment.pk}/counts")
    assert response.status_code == 404


def test_dashboard_list_shows_only_the_users_deployments(owner, stranger, deployment):
    theirs = make_deployment(stranger)
    response = client_for(owner).get("/dashboards/")
    assert response.status_code == 200
    listed = [row["deployment"].pk for row in response.context["deployments"]]
    assert deployment.pk in listed and theirs.pk not in listed
    assert (
        f'href="/dashboards/{Dashboard.objects.get(deployment=deployment).pk}/"'.encode() in response.content
    )
