"""/api/health and the status page report each part of the stack, green or red with the reason."""

import pytest
from django.contrib.auth import get_user_model

from dashboard import health

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


PARTS = ("kafka", "redis", "database", "celery")


@pytest.fixture
def signed_in(client):
    client.force_login(get_user_model().objects.create_user("ops", password="pw-for-tests"))
    return client


def test_health_is_public_and_reports_every_part_of_the_stack(client):
    response = client.get("/api/health")
    assert response.status_code in (200, 503)
    report = response.json()
    assert set(report) == {"ok", "status", "checked_at", *PARTS}
    for part in PARTS:
        assert report[part] == {"ok": report[part]["ok"], "status": "ok" if report[part]["ok"] else "down"}
    assert report["ok"] == all(report[part]["ok"] for part in PARTS)
    assert report["status"] == ("ok" if report["ok"] else "degraded")
    assert response.status_code == (200 if report["ok"] else 503)


def test_anonymous_callers_see_a_red_entry_but_not_its_address_or_error(client, settings, free_port):
    port = free_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    response = client.get("/api/health")
    assert response.status_code == 503
    report = response.json()
    assert report["redis"] == {"ok": False, "status": "down"}
    assert report["ok"] is False and report["status"] == "degraded"
    body = response.content.decode()
    assert str(port) not in body and "refused" not in body.lower()
    kafka_host = settings.KAFKA_CLIENT_CONFIG["bootstrap.servers"].split(",")[0].rsplit(":", 1)[0]
    assert kafka_host not in body and "cluster_id" not in body and "brokers" not in body


def test_signed_in_users_get_every_part_with_its_details(signed_in):
    response = signed_in.get("/api/health")
    report = response.json()
    assert set(report) >= {"ok", "checked_at", *PARTS}
    for part in PARTS:
        assert set(report[part]) >= {"ok", "error"}
    assert report["ok"] == all(report[part]["ok"] for part in PARTS)
    assert response.status_code == (200 if report["ok"] else 503)


def test_signed_in_users_see_a_red_entry_with_its_error(signed_in, settings, free_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = signed_in.get("/api/health")
    assert response.status_code == 503
    assert f"Redis at {settings.REDIS_URL}" in response.json()["redis"]["error"]


def test_kafka_entry_names_the_brokers_and_the_controller(signed_in):
    kafka = signed_in.get("/api/health").json()["kafka"]
    assert kafka["ok"] is True and kafka["error"] is None
    assert kafka["brokers"] and all({"id", "host", "port"} <= set(b) for b in kafka["brokers"])
    assert kafka["controller_id"] in {b["id"] for b in kafka["brokers"]}


def test_redis_and_database_entries_are_green_on_a_running_stack(signed_in):
    report = signed_in.get("/api/health").json()
    assert report["redis"] == {"ok": True, "error": None, "version": report["redis"]["version"]}
    assert report["redis"]["version"]
    assert report["database"]["ok"] is True and report["database"]["vendor"] == "sqlite"


@pytest.mark.timeout(120)
def test_celery_entry_lists_the_workers_of_each_queue(celery_workers):
    celery = health.check_celery()
    assert celery["ok"] is True and celery["error"] is None
    for queue, node in celery_workers.nodes.items():
        assert node in celery["queues"][queue]["workers"]


@pytest.mark.timeout(120)
def test_a_queue_without_a_worker_turns_the_celery_entry_red(celery_workers, monkeypatch):
    monkeypatch.setattr(health, "CELERY_QUEUES", ("control", "streams", "nobody-listens-here"))
    celery = health.check_celery()
    assert celery["ok"] is False
    assert celery["error"] == "no worker consumes queue(s): nobody-listens-here"
    assert celery["queues"]["nobody-listens-here"] == {"ok": False, "workers": []}
    assert celery["queues"]["control"]["ok"] is True


def test_unreachable_kafka_is_red_with_the_address_in_the_message(settings, free_port):
    address = f"127.0.0.1:{free_port()}"
    settings.KAFKA_CLIENT_CONFIG = {"bootstrap.servers": address}
    kafka = health.check_kafka()
    assert kafka["ok"] is False
    assert address in kafka["error"] and "unreachable" in kafka["error"]
    assert kafka["brokers"] == [] and kafka["controller_id"] is None


def test_unreachable_redis_is_red_with_the_url_in_the_message(settings, free_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    redis_entry = health.check_redis()
    assert redis_entry["ok"] is False
    assert settings.REDIS_URL in redis_entry["error"] and "refused" in redis_entry["error"].lower()


def test_redis_passwords_never_appear_in_error_messages(settings, free_port):
    settings.REDIS_URL = f"redis://:s3cret-pw@127.0.0.1:{free_port()}/0"
    redis_entry = health.check_redis()
    assert redis_entry["ok"] is False
    assert "s3cret-pw" not in redis_entry["error"]


def test_status_page_needs_a_login_and_renders_each_entry(client):
    assert client.get("/status/").status_code == 302
    client.force_login(get_user_model().objects.create_user("ops", password="pw-for-tests"))
    page = client.get("/status/").content.decode()
    for part in ("kafka", "redis", "database", "celery"):
        assert f'id="health-{part}"' in page


def test_status_page_shows_a_red_entry_with_its_error(client, settings, free_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    client.force_login(get_user_model().objects.create_user("ops", password="pw-for-tests"))
    page = client.get("/status/").content.decode()
    redis_card = page.split('id="health-redis"', 1)[1].split("</div>", 1)[0]
    assert '<span class="badge bad">down</span>' in redis_card
    assert f"Redis at {settings.REDIS_URL}" in redis_card
    assert '<span class="badge bad" id="overall">degraded</span>' in page
