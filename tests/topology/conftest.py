"""Fixtures for the topology app's DB tests (tests/topology/compiler/ sees them too; keep it light): users, logged-in API clients, sample documents."""

import secrets

import pytest
from django.test import Client

from tests.topology.compiler import documents


@pytest.fixture
def page_views():
    """A valid document (the example of issue 3); each test gets its own copy to change."""
    return documents.page_views()


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
