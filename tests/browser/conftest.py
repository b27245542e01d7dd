"""Browser fixtures shared by the editor tests: one Debian Chromium per test module, a user,
and a page logged in as that user (with a screenshot kept when the test fails)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from tests.browser.editor_support import chromium_browser, logged_in_page, unique


@pytest.fixture(scope="module")
def chromium():
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def editor_user(transactional_db):
    # No password: hashing one is slow on a busy machine, and the session cookie needs none.
    return get_user_model().objects.create_user(unique("editor"), password=None)


@pytest.fixture
def page(request, chromium, live_daphne, editor_user):
    with logged_in_page(request, chromium, live_daphne, editor_user) as page:
        yield page
