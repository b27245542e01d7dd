"""/ksqldb/: ksqlDB's REST wire format (shapes, content types, API-key auth); statements' entities
are in tests/processing/sqlengine/test_rest_entities.py."""

import base64
import json
import time

import pytest
from django.test import Client

from config import ksqldb as views
from dashboard import health
from processing import ksqldb
from processing.sqlengine.topics import MemoryTopics
from topology import apikeys

pytestmark = pytest.mark.django_db

KSQL_V1 = "application/vnd.ksql.v1+json"
CHALLENGE = 'Basic realm="weir"'


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("kim", password=None)


@pytest.fixture
def key(user):
    return apikeys.create_api_key(user, "ksql client")


@pytest.fixture
def ksql_client(key):
    api_key, secret = key
    token = base64.b64encode(f"{api_key.key_id}:{secret}".encode()).decode()
    return Client(enforce_csrf_checks=True, headers={"Authorization": f"Basic {token}"})


@pytest.fixture
def cluster(monkeypatch):
    monkeypatch.setattr(views, "cluster_id", lambda config: "lkc-test-cluster")


def post_ksql(client, body, content_type=KSQL_V1, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post("/ksqldb/ksql", data, content_type=content_type, headers=headers)


# --- /info ------------------------------------------------------------------------------------


def test_info_answers_ksqldbs_server_info(ksql_client, cluster):
    response = ksql_client.get("/ksqldb/info")
    assert response.status_code == 200
    assert response["Content-Type"] == KSQL_V1
    assert response.json() == {
        "KsqlServerInfo": {
            "version": "0.29.0",
            "kafkaClusterId": "lkc-test-cluster",
            "ksqlServiceId": "weir_",
            "serverStatus": "RUNNING",
        }
    }


def test_info_answers_plain_json_when_asked_for_it(ksql_client, cluster):
    response = ksql_client.get("/ksqldb/info", headers={"Accept": "application/json"})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"


def test_info_refuses_an_accept_it_cannot_meet(ksql_client, cluster):
    response = ksql_client.get("/ksqldb/info", headers={"Accept": "text/csv"})
    assert response.status_code == 406
    assert response.json()["@type"] == "generic_error" and response.json()["error_code"] == 40600


def test_info_says_kafka_is_down_quickly_and_clearly(ksql_client, settings, free_port):
    settings.KAFKA_CLIENT_CONFIG = {"bootstrap.servers": f"127.0.0.1:{free_port()}"}
    started = time.monotonic()
    response = ksql_client.get("/ksqldb/info")
    assert time.monotonic() - started < 8
    assert response.status_code == 503
    body = response.json()
    assert body["@type"] == "generic_error" and body["error_code"] == 50300
    assert body["message"].startswith("Kafka is unavailable") and "unreachable" in body["message"]


def test_info_needs_a_key_and_challenges_for_one(cluster):
    response = Client().get("/ksqldb/info")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    assert response.json()["@type"] == "generic_error" and response.json()["error_code"] == 40100


def test_a_session_alone_is_not_a_key(user, cluster):
    browser = Client()
    browser.force_login(user)
    assert browser.get("/ksqldb/info").status_code == 401


def test_a_revoked_key_is_refused_at_once(ksql_client, key, cluster):
    assert ksql_client.get("/ksqldb/info").status_code == 200
    apikeys.revoke_api_key(key[0])
    response = ksql_client.get("/ksqldb/info")
    assert response.status_code == 401 and response["WWW-Authenticate"] == CHALLENGE
    assert "revoked" in response.json()["message"]


def test_wrong_credentials_are_401_not_500(cluster):
    for header in ("Basic !!!", "Basic " + base64.b64encode(b"WKNOTAKEY2345678:x").decode()):
        response = Client(headers={"Authorization": header}).get("/ksqldb/info")
        assert response.status_code == 401 and response["WWW-Authenticate"] == CHALLENGE


def test_a_wrong_method_is_405_in_ksqldbs_shape(ksql_client):
    response = ksql_client.post("/ksqldb/info")
    assert response.status_code == 405 and response["Allow"] == "GET"
    assert response.json()["error_code"] == 40500


# --- /healthcheck -----------------------------------------------------------------------------


def fake_checks(monkeypatch, database_ok: bool, kafka_ok: bool):
    monkeypatch.setitem(health.CHECKS, "database", lambda: {"ok": database_ok, "error": None})
    monkeypatch.setitem(
        health.CHECKS, "kafka", lambda: {"ok": kafka_ok, "error": "down" if not kafka_ok else None}
    )


def test_healthcheck_reports_metastore_and_kafka(monkeypatch):
    fake_checks(monkeypatch, True, True)
    response = Client().get("/ksqldb/healthcheck")
    assert response.status_code == 200 and response["Content-Type"] == KSQL_V1
    assert response.json() == {
        "isHealthy": True,
        "details": {"metastore": {"isHealthy": True}, "kafka": {"isHealthy": True}},
        "serverState": "READY",
    }


def test_healthcheck_is_503_when_kafka_is_down_and_shows_no_details(monkeypatch):
    fake_checks(monkeypatch, True, False)
    response = Client().get("/ksqldb/healthcheck")
    assert response.status_code == 503
    body = response.json()
    assert body["isHealthy"] is False and body["details"]["kafka"] == {"isHealthy": False}
    assert "down" not in response.content.decode()


def test_healthcheck_treats_a_broken_check_as_unhealthy(monkeypatch):
    def broken():
        raise RuntimeError("bug in a check")

    fake_checks(monkeypatch, True, True)
    monkeypatch.setitem(health.CHECKS, "database", broken)
    response = Client().get("/ksqldb/healthcheck")
    assert response.status_code == 503 and response.json()["details"]["metastore"] == {"isHealthy": False}


def test_healthcheck_runs_the_real_database_check(monkeypatch):
    monkeypatch.setitem(health.CHECKS, "kafka", lambda: {"ok": True, "error": None})
    assert Client().get("/ksqldb/healthcheck").json()["details"]["metastore"] == {"isHealthy": True}


# --- POST /ksql -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def topics(monkeypatch):
    """The statements' cluster, in memory: these tests run without a broker."""
    memory = MemoryTopics({"pageviews": 2})
    monkeypatch.setattr(ksqldb, "new_topics", lambda: memory)
    return memory


def test_a_statement_is_answered_with_its_entity(ksql_client):
    response = post_ksql(ksql_client, {"ksql": "SHOW STREAMS;", "streamsProperties": {}})
    assert response.status_code == 200
    assert response["Content-Type"] == KSQL_V1
    assert response.json() == [
        {"@type": "streams", "statementText": "SHOW STREAMS;", "streams": [], "warnings": []}
    ]


def test_a_failing_statement_is_named_with_where_it_fails(ksql_client):
    ksql = "-- a comment; not a statement\n  CREATE STREAM s (v VARCHAR) WITH (kafka_topic='a;b', value_format='JSON');\nSHOW TABLES;"
    response = post_ksql(ksql_client, {"ksql": ksql}, content_type="application/json")
    body = response.json()
    assert response.status_code == 400 and body["@type"] == "statement_error" and body["error_code"] == 40001
    assert (
        body["statementText"] == "CREATE STREAM s (v VARCHAR) WITH (kafka_topic='a;b', value_format='JSON');"
    )
    assert body["message"].startswith("line 2, column 17, at 's': Topic 'a;b' does not exist."), body[
        "message"
    ]
    assert "PARTITIONS" in body["message"] and body["entities"] == []


def test_plain_json_is_accepted_and_answered_when_asked_for(ksql_client):
    response = post_ksql(
        ksql_client, {"ksql": "LIST TOPICS;"}, content_type="application/json", Accept="application/json"
    )
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response.json()[0]["topics"] == [{"name": "pageviews", "replicaInfo": [1, 1]}]


def test_a_charset_parameter_on_the_content_type_is_fine(ksql_client):
    response = post_ksql(ksql_client, {"ksql": "SHOW QUERIES;"}, content_type=f"{KSQL_V1}; charset=utf-8")
    assert response.json()[0]["@type"] == "queries"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_bodies_a_browser_sends_unasked_are_refused(ksql_client, content_type):
    response = post_ksql(ksql_client, json.dumps({"ksql": "SHOW STREAMS;"}), content_type=content_type)
    assert response.status_code == 415 and response.json()["error_code"] == 41500


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('{"ksql": "SHOW STREAMS;"', "line 1, column 25"),
        ("{}", "ksql: Field required"),
        ('{"ksql": 5}', "ksql: Input should be a valid string"),
        ("[]", "valid dictionary"),
    ],
)
def test_malformed_requests_are_generic_errors_that_say_where(ksql_client, body, words):
    response = post_ksql(ksql_client, body)
    assert response.status_code == 400
    payload = response.json()
    assert payload["@type"] == "generic_error" and payload["error_code"] == 40000
    assert words in payload["message"], payload["message"]


def test_an_empty_request_says_it_holds_no_statement(ksql_client):
    body = post_ksql(ksql_client, {"ksql": "  -- nothing\n"}).json()
    assert body["@type"] == "statement_error" and body["error_code"] == 40000
    assert "no statement" in body["message"]


def test_ksql_needs_a_key(key):
    response = post_ksql(Client(), {"ksql": "SHOW STREAMS;"})
    assert response.status_code == 401 and response["WWW-Authenticate"] == CHALLENGE


def test_a_key_post_from_another_sites_page_is_refused(ksql_client):
    response = post_ksql(ksql_client, {"ksql": "SHOW STREAMS;"}, Origin="https://evil.example")
    assert response.status_code == 403 and response.json()["error_code"] == 40300


def test_a_bug_behind_the_view_is_a_ksqldb_shaped_error(ksql_client, monkeypatch):
    def broken(request, user):
        raise RuntimeError("boom")

    monkeypatch.setattr(views.ksqldb, "execute", broken)
    response = post_ksql(ksql_client, {"ksql": "SHOW STREAMS;"})
    assert response.status_code == 500
    assert response.json() == {
        "@type": "generic_error",
        "error_code": 50000,
        "message": "Internal error; the server log has the details.",
    }


@pytest.mark.parametrize("path", ["nope", "query/extra/parts", "status"])
def test_unknown_endpoints_answer_404_in_ksqldbs_shape_and_list_the_real_ones(ksql_client, path):
    response = ksql_client.post(f"/ksqldb/{path}", "{}", content_type=KSQL_V1)
    assert response.status_code == 404 and response["Content-Type"] == KSQL_V1
    assert response.json()["error_code"] == 40400 and "/query-stream" in response.json()["message"]


def test_an_unknown_path_is_a_ksqldb_not_found():
    response = Client().get("/ksqldb/nonsense")
    assert response.status_code == 404 and "No ksqlDB endpoint" in response.json()["message"]
