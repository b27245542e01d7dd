"""Weir's own /api/ takes an API key over HTTP Basic (scripts), beside the browser's session."""

import base64
import json

import pytest
from django.test import Client

from tests.topology.conftest import logged_in_client
from topology import apikeys
from topology.models import Topology

pytestmark = pytest.mark.django_db

CHALLENGE = 'Basic realm="weir"'


def basic(key_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


@pytest.fixture
def alices_key(alice):
    return apikeys.create_api_key(alice, "script")


@pytest.fixture
def script(alices_key):
    """A client that sends only the key: no session, no CSRF token, CSRF enforced as for a browser."""
    key, secret = alices_key
    return Client(enforce_csrf_checks=True, headers=basic(key.key_id, secret))


def test_a_script_lists_its_owners_topologies_with_a_key(script, alice, bob):
    Topology.objects.create(name="alices", owner=alice)
    Topology.objects.create(name="bobs", owner=bob)
    response = script.get("/api/topologies/")
    assert response.status_code == 200
    assert [t["name"] for t in response.json()] == ["alices"]


def test_a_script_writes_with_a_key_and_no_csrf_token(script, alice):
    response = script.post(
        "/api/topologies/", json.dumps({"name": "from-script"}), content_type="application/json"
    )
    assert response.status_code in (200, 201), response.content
    assert Topology.objects.get(name="from-script").owner == alice


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic " + base64.b64encode(b"WKNOSUCHKEY23456:whatever").decode()},
        {"Authorization": "Basic not-base64!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
)
def test_wrong_credentials_answer_401_with_a_basic_challenge(headers):
    response = Client(headers=headers).get("/api/topologies/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json()["detail"]


def test_a_wrong_secret_is_401_even_for_a_signed_in_browser(alice, alices_key):
    key, _ = alices_key
    client = logged_in_client(alice)
    response = client.get("/api/topologies/", headers=basic(key.key_id, "wrong"))
    assert response.status_code == 401 and response["WWW-Authenticate"] == CHALLENGE


def test_a_revoked_key_stops_working_on_the_next_request(script, alices_key):
    key, _ = alices_key
    assert script.get("/api/topologies/").status_code == 200
    apikeys.revoke_api_key(key)
    response = script.get("/api/topologies/")
    assert response.status_code == 401 and response["WWW-Authenticate"] == CHALLENGE


def test_a_key_write_from_another_sites_page_is_refused(alices_key):
    key, secret = alices_key
    client = Client(headers={**basic(key.key_id, secret), "Origin": "https://evil.example"})
    response = client.post("/api/topologies/", json.dumps({"name": "csrf"}), content_type="application/json")
    assert response.status_code == 403 and "evil.example" in response.json()["detail"]
    assert not Topology.objects.filter(name="csrf").exists()
    assert client.get("/api/topologies/").status_code == 200  # reads are harmless


def test_the_browser_session_still_works_and_still_needs_the_csrf_token(alice):
    browser = logged_in_client(alice)
    ok = browser.post("/api/topologies/", json.dumps({"name": "by-browser"}), content_type="application/json")
    assert ok.status_code in (200, 201)
    no_token = Client(enforce_csrf_checks=True)
    no_token.force_login(alice)
    refused = no_token.post(
        "/api/topologies/", json.dumps({"name": "no-token"}), content_type="application/json"
    )
    assert refused.status_code == 403
    assert not Topology.objects.filter(name="no-token").exists()


def test_no_credentials_keep_the_plain_401_and_no_browser_prompt():
    response = Client().get("/api/topologies/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication required."}
    assert "WWW-Authenticate" not in response


@pytest.mark.parametrize("path", ["/api/deployments", "/api/dashboards", "/api/openapi.json"])
def test_a_key_opens_every_apps_api(script, path):
    assert script.get(path).status_code == 200
