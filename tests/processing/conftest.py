"""Fixtures for deployment tests: users, a topology with a compiled-looking version, clients."""

from __future__ import annotations

import secrets

import pytest
from django.test import Client

from tests.processing.plans import count_by_key, store_version


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user(f"owner-{secrets.token_hex(3)}", password="pw-owner")


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user(f"stranger-{secrets.token_hex(3)}", password="pw-stranger")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        f"staff-{secrets.token_hex(3)}", password="pw-staff", is_staff=True, is_superuser=True
    )


@pytest.fixture
def topology(owner):
    from topology.models import Topology

    return Topology.objects.create(name=f"clicks-{secrets.token_hex(3)}", owner=owner)


@pytest.fixture
def version(topology, owner):
    return store_version(topology, count_by_key(topology.name, ("A", "B"), "group-by-counts"), user=owner)


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return client_for(owner)


@pytest.fixture
def staff_client(staff):
    return client_for(staff)


@pytest.fixture
def stranger_client(stranger):
    return client_for(stranger)
