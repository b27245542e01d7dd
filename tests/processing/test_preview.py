"""The preview API: a draft runs in the runtime's test driver; nothing is deployed."""

from __future__ import annotations

import json
import uuid

import pytest
from confluent_kafka import Producer

from tests.topology.compiler import documents
from tests.topology.conftest import node

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_views():
    """A valid document (the example of issue 3); each test gets its own copy to change."""
    return documents.page_views()


@pytest.fixture
def api(owner_client):
    return owner_client


EU_RECORDS = [
    {"key": "u1", "value": {"region": "eu", "page": "/a", "duration_ms": 500}, "timestamp": 1_000},
    {"key": "u2", "value": {"region": "us", "page": "/a", "duration_ms": 500}, "timestamp": 2_000},
    {"key": "u3", "value": {"region": "eu", "page": "/b", "duration_ms": 50}, "timestamp": 3_000},
    {"key": "u4", "value": {"region": "eu", "page": "/a", "duration_ms": 900}, "timestamp": 4_000},
]


def unwindowed(document):
    node(document, "by_page")["config"].pop("window")
    return document


def post(api, path, body):
    return api.post(path, data=json.dumps(body), content_type="application/json")


def test_preview_shows_each_nodes_output_for_pasted_records(api, page_views):
    response = post(api, "/api/preview", {"document": unwindowed(page_views), "records": EU_RECORDS})

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["ok"] is True and body["errors"] == []
    assert [r["key"] for r in body["outputs"]["eu_only"]] == ["u1", "u4"]
    counts = [(r["key"], r["value"]["views"]) for r in body["outputs"]["by_page"]]
    assert counts == [("/a", 1), ("/a", 2)]
    assert body["outputs"]["views"] and len(body["outputs"]["views"]) == 4


def test_preview_accepts_plain_values_as_records(api, page_views):
    values = [r["value"] for r in EU_RECORDS]
    body = post(api, "/api/preview", {"document": unwindowed(page_views), "records": values}).json()

    assert [r["value"]["duration_ms"] for r in body["outputs"]["eu_only"]] == [500, 900]


def test_preview_of_an_invalid_draft_returns_its_issues_instead_of_running(api, page_views):
    node(page_views, "eu_only")["config"]["where"] = "region = = 'eu'"

    response = post(api, "/api/preview", {"document": page_views, "records": EU_RECORDS})

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and body["outputs"] == {}
    assert any(i["node_id"] == "eu_only" and "where" in i["field"] for i in body["issues"])


def test_preview_names_the_record_with_a_bad_timestamp(api, page_views):
    records = [EU_RECORDS[0], {"key": "k", "value": {"region": "eu"}, "timestamp": "yesterday"}]

    response = post(api, "/api/preview", {"document": unwindowed(page_views), "records": records})

    assert response.status_code == 400
    assert response.json()["field"] == "records.1.timestamp"


def test_preview_refuses_a_source_that_is_not_in_the_document(api, page_views):
    response = post(api, "/api/preview", {"document": page_views, "source": "nope", "records": []})

    assert response.status_code == 400
    assert "nope" in response.json()["detail"]


def test_preview_reports_records_that_fail_at_their_node(api, page_views):
    node(page_views, "eu_only")["config"]["where"] = "CAST(page AS INTEGER) > 1"
    records = [{"key": "k", "value": {"region": "eu", "page": "/a", "duration_ms": 5}, "timestamp": 1}]

    body = post(api, "/api/preview", {"document": unwindowed(page_views), "records": records}).json()

    assert body["ok"] is True
    assert body["outputs"]["eu_only"] == []
    assert [e["node_id"] for e in body["errors"]] == ["eu_only"]
    assert "CAST" in body["errors"][0]["message"]


def test_preview_shows_what_a_sink_would_write(api, page_views):
    body = post(api, "/api/preview", {"document": unwindowed(page_views), "records": EU_RECORDS}).json()

    assert [(r["key"], r["value"]["views"]) for r in body["outputs"]["out"]] == [("/a", 1), ("/a", 2)]


def test_preview_needs_a_logged_in_user(client, page_views):
    response = post(client, "/api/preview", {"document": page_views, "records": []})

    assert response.status_code == 401


@pytest.mark.integration
def test_preview_samples_the_last_records_of_the_source_topic(api, page_views, new_topic, kafka_config):
    topic = new_topic(partitions=2, prefix="preview")
    node(page_views, "views")["config"]["topics"] = [topic]
    producer = Producer(kafka_config)
    for index in range(30):
        value = {"region": "eu", "page": f"/p{index % 3}", "duration_ms": 200, "n": index}
        producer.produce(
            topic, key=f"k{index}".encode(), value=json.dumps(value).encode(), timestamp=1_000 + index
        )
    producer.flush(10)

    body = post(api, "/api/preview", {"document": unwindowed(page_views), "sample": 10}).json()

    assert body["ok"] is True and body["input_count"] == 10
    assert sorted(r["value"]["n"] for r in body["outputs"]["views"]) == list(range(20, 30))


@pytest.mark.integration
def test_preview_of_a_missing_topic_says_which_topic(api, page_views):
    missing = f"missing-{uuid.uuid4().hex}"
    node(page_views, "views")["config"]["topics"] = [missing]

    response = post(api, "/api/preview", {"document": page_views, "sample": 5})

    assert response.status_code == 400
    assert missing in response.json()["detail"]


@pytest.mark.integration
def test_describe_reads_the_source_partition_counts_from_kafka(api, page_views, new_topic):
    topic = new_topic(partitions=3, prefix="describe")
    node(page_views, "views")["config"]["topics"] = [topic]

    body = post(api, "/api/preview/describe", {"document": page_views}).json()

    assert body["ok"] is True
    assert body["partitions"] == {topic: 3}
    assert topic in body["describe"]


def test_preview_shows_a_views_table_as_the_dashboard_would(api, page_views):
    body = post(api, "/api/preview", {"document": unwindowed(page_views), "records": EU_RECORDS}).json()

    assert [(r["key"], r["value"]["views"]) for r in body["outputs"]["live"]] == [("/a", 2)]
