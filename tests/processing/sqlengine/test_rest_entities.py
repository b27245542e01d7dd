"""/ksqldb/ksql answers the engine's results as ksqlDB 0.29's entities, and /status reports commands."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

import pytest
from django.test import Client

from processing import ksqldb
from processing.sqlengine.topics import MemoryTopics
from tests.processing.sqlengine.conftest import PAGEVIEWS
from topology import apikeys

pytestmark = pytest.mark.django_db
KSQL_V1 = "application/vnd.ksql.v1+json"


@pytest.fixture
def topics(monkeypatch):
    memory = MemoryTopics({"pageviews": 3})
    monkeypatch.setattr(ksqldb, "new_topics", lambda: memory)
    return memory


def client_of(user) -> Client:
    key, secret = apikeys.create_api_key(user, "tests")
    token = base64.b64encode(f"{key.key_id}:{secret}".encode()).decode()
    return Client(headers={"Authorization": f"Basic {token}"})


@pytest.fixture
def client(ada, topics):
    return client_of(ada)


def ksql(client, text, **extra):
    response = client.post("/ksqldb/ksql", json.dumps({"ksql": text, **extra}), content_type=KSQL_V1)
    return response.status_code, response.json()


COUNTS = "CREATE TABLE views AS SELECT userid, COUNT(*) AS n FROM pageviews GROUP BY userid;"


def test_create_answers_current_status(client):
    status, [created] = ksql(client, PAGEVIEWS)
    assert status == 200
    assert created == {
        "@type": "currentStatus",
        "statementText": PAGEVIEWS,
        "commandId": "stream/`PAGEVIEWS`/create",
        "commandStatus": {"status": "SUCCESS", "message": "Stream created", "queryId": None},
        "commandSequenceNumber": created["commandSequenceNumber"],
        "warnings": [],
    }


def test_show_streams_tables_and_queries_in_ksqldbs_shapes(client):
    ksql(client, PAGEVIEWS + COUNTS)
    status, [streams, tables, queries] = ksql(client, "SHOW STREAMS; SHOW TABLES; SHOW QUERIES;")
    assert streams["streams"] == [
        {
            "type": "STREAM",
            "name": "PAGEVIEWS",
            "topic": "pageviews",
            "keyFormat": "KAFKA",
            "valueFormat": "JSON",
            "isWindowed": False,
        }
    ]
    assert tables["@type"] == "tables" and tables["tables"][0]["name"] == "VIEWS"
    [query] = queries["queries"]
    assert set(query) == {
        "queryString",
        "sinks",
        "sinkKafkaTopics",
        "id",
        "statusCount",
        "queryType",
        "state",
    }
    assert query["sinks"] == ["VIEWS"] and query["sinkKafkaTopics"] == ["VIEWS"]
    assert query["queryType"] == "PERSISTENT" and query["state"] == "RUNNING"
    assert query["id"].startswith("CTAS_VIEWS_")


def test_describe_answers_a_source_description(client):
    ksql(client, PAGEVIEWS + COUNTS)
    _, [described] = ksql(client, "DESCRIBE pageviews;")
    description = described["sourceDescription"]
    assert described["@type"] == "sourceDescription"
    assert description["name"] == "PAGEVIEWS" and description["type"] == "STREAM"
    assert description["fields"][1] == {
        "name": "USERID",
        "schema": {"type": "STRING", "fields": None, "memberSchema": None},
        "type": "KEY",
    }
    assert [q["id"] for q in description["readQueries"]] == [
        ksql(client, "SHOW QUERIES;")[1][0]["queries"][0]["id"]
    ]
    assert description["writeQueries"] == [] and description["partitions"] == 3
    for field in (
        "windowType",
        "timestamp",
        "statistics",
        "errorStats",
        "extended",
        "keyFormat",
        "valueFormat",
        "topic",
        "replication",
        "statement",
    ):
        assert field in description


def test_explain_show_topics_properties_functions_and_variables(client):
    ksql(client, PAGEVIEWS + COUNTS)
    query_id = ksql(client, "SHOW QUERIES;")[1][0]["queries"][0]["id"]
    _, entities = ksql(
        client,
        f"EXPLAIN {query_id}; SHOW TOPICS; SHOW PROPERTIES; SHOW FUNCTIONS; DESCRIBE FUNCTION abs; SHOW VARIABLES;",
        sessionVariables={"who": "ada"},
        streamsProperties={"auto.offset.reset": "earliest"},
    )
    explained, topics, properties, functions, function, variables = entities
    assert explained["@type"] == "queryDescription"
    assert explained["queryDescription"]["id"] == query_id and explained["queryDescription"]["sources"] == [
        "PAGEVIEWS"
    ]
    assert "Sub-topology" in explained["queryDescription"]["topology"]
    assert (
        topics["@type"] == "kafka_topics"
        and {"name": "pageviews", "replicaInfo": [1, 1, 1]} in topics["topics"]
    )
    assert properties["@type"] == "properties" and properties["overwrittenProperties"] == [
        "auto.offset.reset"
    ]
    assert {"name": "auto.offset.reset", "scope": "STREAMS", "value": "earliest"} in properties["properties"]
    assert functions["@type"] == "function_names"
    assert {"name": "ABS", "category": "MATHEMATICAL", "type": "SCALAR"} in functions["functions"]
    assert function["@type"] == "describe_function" and function["name"] == "ABS"
    assert variables == {
        "@type": "variables",
        "statementText": "SHOW VARIABLES;",
        "variables": [{"name": "WHO", "value": "ada"}],
        "warnings": [],
    }


def test_set_and_define_answer_no_entity_and_last_for_the_request(client):
    status, entities = ksql(client, "SET 'auto.offset.reset'='latest'; DEFINE t = 'x'; SHOW VARIABLES;")
    assert status == 200 and [e["@type"] for e in entities] == ["variables"]
    assert ksql(client, "SHOW VARIABLES;")[1][0]["variables"] == []


def test_an_upgrade_warning_is_in_warnings(client):
    ksql(client, PAGEVIEWS + COUNTS)
    replaced = COUNTS.replace("CREATE TABLE", "CREATE OR REPLACE TABLE").replace(
        "userid;", "userid HAVING COUNT(*) > 2;"
    )
    _, [status] = ksql(client, replaced)
    assert status["commandStatus"]["queryId"].startswith("CTAS_VIEWS_")
    assert "'compatible'" in status["warnings"][0]["message"]


def test_a_failed_statement_is_a_statement_error_with_the_entities_before_it(client):
    status, body = ksql(client, PAGEVIEWS + "DROP TABLE pageviews;")
    assert status == 400 and body["@type"] == "statement_error" and body["error_code"] == 40001
    assert body["statementText"] == "DROP TABLE pageviews;"
    assert body["message"] == (
        f"line 1, column {len(PAGEVIEWS) + 1}, at 'pageviews': "
        "Incompatible data source type is STREAM, but statement was DROP TABLE"
    )
    assert [e["@type"] for e in body["entities"]] == ["currentStatus"]


def test_queries_and_run_script_are_refused_over_rest(client):
    ksql(client, PAGEVIEWS)
    status, body = ksql(client, "SELECT * FROM pageviews EMIT CHANGES;")
    assert status == 400 and "websocket endpoint '/query'" in body["message"]
    status, body = ksql(client, "RUN SCRIPT '/etc/passwd';")
    assert status == 400 and "RUN SCRIPT cannot be used with the REST API" in body["message"]


def test_status_reports_a_command_its_user_issued(client, bob, topics):
    _, [created] = ksql(client, PAGEVIEWS)
    url = "/ksqldb/status/" + quote(created["commandId"])
    response = client.get(url)
    assert response.status_code == 200 and response.json() == {
        "status": "SUCCESS",
        "message": "Stream created",
    }
    assert client_of(bob).get(url).status_code == 404
    missing = client.get("/ksqldb/status/stream/%60NOPE%60/create")
    assert missing.status_code == 404 and missing.json()["error_code"] == 40400
