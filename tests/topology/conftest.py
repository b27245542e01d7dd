"""Fixtures for the topology app's DB tests (tests/topology/compiler/ sees them too; keep it light): users, logged-in API clients, sample documents."""

import copy
import secrets

import pytest
from django.test import Client

PAGE_VIEWS = {
    "name": "page-views-by-region",
    "nodes": [
        {
            "id": "views",
            "type": "source",
            "config": {"topics": ["pageviews"], "value_format": "json"},
            "position": {"x": 80, "y": 120},
        },
        {
            "id": "eu_only",
            "type": "filter",
            "config": {"where": "region = 'eu' AND duration_ms > 100"},
            "position": {"x": 280, "y": 120},
        },
        {
            "id": "by_page",
            "type": "aggregate",
            "config": {
                "group_by": "page",
                "aggregations": {"views": "COUNT(*)", "avg_ms": "AVG(duration_ms)"},
                "window": {"type": "tumbling", "size": "1m", "grace": "10s"},
            },
            "position": {"x": 480, "y": 120},
        },
        {"id": "out", "type": "sink", "config": {"topic": "views-by-page"}, "position": {"x": 680, "y": 60}},
        {
            "id": "live",
            "type": "view",
            "config": {"title": "Views by page"},
            "position": {"x": 680, "y": 180},
        },
    ],
    "edges": [
        {"source": "views", "target": "eu_only"},
        {"source": "eu_only", "target": "by_page"},
        {"source": "by_page", "target": "out"},
        {"source": "by_page", "target": "live"},
    ],
}


@pytest.fixture
def page_views():
    """A valid document (the example of issue 3); each test gets its own copy to change."""
    return copy.deepcopy(PAGE_VIEWS)


def node(document, node_id):
    return next(n for n in document["nodes"] if n["id"] == node_id)


@pytest.fixture
def make_user(django_user_model):
    def make(username, **extra):
        # No password: hashing one costs seconds on a busy machine and force_login needs none.
        return django_user_model.objects.create_user(username=username, password=None, **extra)

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def staff(make_user):
    return make_user("sam", is_staff=True)


def logged_in_client(user) -> Client:
    """A client that behaves like the browser: CSRF enforced, token cookie + header sent."""
    token = secrets.token_hex(16)  # 32 characters, the unmasked secret form Django accepts
    client = Client(enforce_csrf_checks=True, headers={"X-CSRFToken": token})
    client.cookies["csrftoken"] = token
    client.force_login(user)
    return client


@pytest.fixture
def api(alice):
    return logged_in_client(alice)


@pytest.fixture
def bob_api(bob):
    return logged_in_client(bob)


@pytest.fixture
def staff_api(staff):
    return logged_in_client(staff)


@pytest.fixture
def page_views_topology(alice, page_views):
    # Imported here: this conftest also covers tests/topology/compiler/, which must not
    # depend on the Django side.
    from topology import actions

    topology, _ = actions.create_topology(
        name="page-views", owner=alice, document=page_views, message="first"
    )
    return topology
