"""Fixtures for the security tests: two users and a staff member with browser-like clients
(CSRF enforced), and one topology + deployment + dashboard owned by alice."""

import secrets

import pytest
from django.test import Client

from tests.topology.compiler import documents


def browser_client(user) -> Client:
    """CSRF enforced, with a valid token cookie + header, as the browser sends it."""
    token = secrets.token_hex(16)
    client = Client(enforce_csrf_checks=True, headers={"X-CSRFToken": token})
    client.cookies["csrftoken"] = token
    client.force_login(user)
    return client


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user(username="alice", password=None)


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(username="bob", password=None)


@pytest.fixture
def alice_api(alice):
    return browser_client(alice)


@pytest.fixture
def bob_api(bob):
    return browser_client(bob)


@pytest.fixture
def owned(alice):
    """alice's topology (version 1), deployment (stopped) and default dashboard."""
    from dashboard import actions as dashboard_actions
    from processing import actions as processing_actions
    from topology import actions as topology_actions

    topology, version = topology_actions.create_topology(
        name=f"page-views-{secrets.token_hex(3)}", owner=alice, document=documents.page_views(), message="v1"
    )
    deployment = processing_actions.deploy(version, actor=alice)
    dashboard = dashboard_actions.ensure_default_dashboard(deployment)
    return {"topology": topology, "version": version, "deployment": deployment, "dashboard": dashboard}
