"""The preview runs inside a web request: the number of records, the size of each record and
the time it may run are bounded, and going past a bound is a 400 naming the field."""

import json

import pytest

from processing import preview
from tests.topology.compiler import documents

pytestmark = pytest.mark.django_db


def post(client, body):
    return client.post("/api/preview", data=json.dumps(body), content_type="application/json")


def record(index, page="/a"):
    return {
        "key": f"u{index}",
        "value": {"region": "eu", "page": page, "duration_ms": 900},
        "timestamp": index,
    }


def test_preview_refuses_more_records_than_the_limit(alice_api):
    records = [record(i) for i in range(preview.MAX_PREVIEW_RECORDS + 1)]
    response = post(alice_api, {"document": documents.page_views(), "records": records})
    assert response.status_code == 400
    assert response.json()["field"] == "records"
    assert str(preview.MAX_PREVIEW_RECORDS) in response.json()["detail"]


def test_preview_refuses_an_oversized_record_naming_it(alice_api):
    big = record(1, page="/" + "x" * preview.MAX_RECORD_BYTES)
    response = post(alice_api, {"document": documents.page_views(), "records": [record(0), big]})
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == "records.1"
    assert str(preview.MAX_RECORD_BYTES) in response.json()["detail"]


def test_preview_accepts_a_record_just_under_the_size_limit(alice_api):
    near = record(0, page="/" + "x" * (preview.MAX_RECORD_BYTES - 200))
    response = post(alice_api, {"document": documents.page_views(), "records": [near]})
    assert response.status_code == 200, response.content[:300]
    assert response.json()["ok"] is True


def test_preview_that_runs_past_its_time_limit_stops_with_a_400(alice_api, settings):
    settings.WEIR_PREVIEW_TIME_LIMIT_SECONDS = 0.0
    records = [record(i) for i in range(20)]
    response = post(alice_api, {"document": documents.page_views(), "records": records})
    assert response.status_code == 400, response.content[:300]
    assert response.json()["field"] == "records"
    assert "stopped at record 1 of 20" in response.json()["detail"]


def test_preview_within_its_time_limit_runs_every_record(alice_api):
    records = [record(i) for i in range(20)]
    response = post(alice_api, {"document": documents.page_views(), "records": records})
    assert response.status_code == 200
    assert response.json()["input_count"] == 20
