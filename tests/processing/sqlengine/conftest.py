"""Engine fixtures: a user, and a session whose topics live in memory (no broker)."""

from __future__ import annotations

import secrets

import pytest

from processing.sqlengine import Session
from processing.sqlengine.topics import MemoryTopics


@pytest.fixture
def ada(django_user_model):
    return django_user_model.objects.create_user(f"ada-{secrets.token_hex(3)}", password="pw")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user(f"bob-{secrets.token_hex(3)}", password="pw")


@pytest.fixture
def topics():
    return MemoryTopics({"pageviews": 3, "users": 2})


@pytest.fixture
def session(topics):
    return Session(topics=topics)


PAGEVIEWS = (
    "CREATE STREAM pageviews (viewtime BIGINT, userid STRING KEY, pageid STRING) "
    "WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON');"
)
USERS = (
    "CREATE TABLE users (userid STRING PRIMARY KEY, regionid STRING) "
    "WITH (KAFKA_TOPIC='users', VALUE_FORMAT='JSON');"
)
