"""Fixtures for dashboard tests: users, a deployment with view nodes, websocket communicators
over the real ASGI stack (session auth + origin check) and the settings' Redis channel layer."""

from __future__ import annotations

import secrets

import pytest
from django.test import Client

WINDOWED_COUNTS = {
    "name": "clicks",
    "nodes": [
        {"id": "clicks", "type": "source", "config": {"topics": ["clicks"], "value_format": "json"}},
        {
            "id": "by_user",
            "type": "aggregate",
            "config": {"group_by": "user", "aggregations": {"count": "COUNT(*)"}},
        },
        {
            "id": "per_minute",
            "type": "aggregate",
            "config": {
                "group_by": "user",
                "aggregations": {"count": "COUNT(*)"},
                "window": {"type": "tumbling", "size": "1m", "grace": "0s"},
            },
        },
        {"id": "counts", "type": "view", "config": {"title": "Clicks per user"}},
        {"id": "minutes", "type": "view", "config": {"title": "Clicks per user per minute"}},
    ],
    "edges": [
        {"source": "clicks", "target": "by_user"},
        {"source": "clicks", "target": "per_minute"},
        {"source": "by_user", "target": "counts"},
        {"source": "per_minute", "target": "minutes"},
    ],
}


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user(f"owner-{secrets.token_hex(3)}", password="pw-owner")


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user(f"stranger-{secrets.token_hex(3)}", password="pw-stranger")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        f"staff-{secrets.token_hex(3)}", password="pw-staff", is_staff=True
    )


def make_deployment(owner, document=None):
    """A deployment of ``document`` compiled into its version's plan (dashboards read the views
    from the plan), created directly: no reconcile, no Celery."""
    from processing.models import Deployment
    from topology.compiler import compile_document
    from topology.compiler.plan import plan_to_dict
    from topology.models import Topology, TopologyVersion

    document = {"name": "clicks", **(document or WINDOWED_COUNTS)}
    result = compile_document(document)
    assert result.ok, [issue.to_dict() for issue in result.issues]
    topology = Topology.objects.create(name=f"clicks-{secrets.token_hex(4)}", owner=owner)
    version = TopologyVersion.objects.create(
        topology=topology,
        number=1,
        document=document,
        plan=plan_to_dict(result.plan),
        plan_hash=result.plan.hash,
    )
    return Deployment.objects.create(version=version, app_id=f"{topology.name}-app", created_by=owner)


@pytest.fixture
def deployment(owner):
    return make_deployment(owner)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def communicator(cookie: str | None, origin: str = "http://127.0.0.1"):
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    headers = [(b"origin", origin.encode()), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return WebsocketCommunicator(application, "/ws/live/", headers=headers)


@pytest.fixture
def clear_serving():
    """Serving and monitor keys of the deployments a test used are removed after it (shared
    Redis). Not the hubs' markers and watcher counts: a live Daphne's hub that found its marker
    gone would take it for a Redis restart and resync every socket of the next test."""
    import redis
    from django.conf import settings

    from dashboard import groups

    yield
    client = redis.Redis.from_url(settings.REDIS_URL)
    keys = [
        key
        for kind in ("serving", "monitor")
        for key in client.scan_iter(match=f"{groups.prefix()}:{kind}:*", count=500)
    ]
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def private_redis():
    from tests.dashboard.redis_server import PrivateRedis

    server = PrivateRedis()
    server.start()
    yield server
    server.kill()
