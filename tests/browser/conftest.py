"""Browser fixtures shared by the editor tests: one Debian Chromium per test module."""

from __future__ import annotations

import pytest

from tests.browser.editor_support import chromium_browser


@pytest.fixture(scope="module")
def chromium():
    with chromium_browser() as browser:
        yield browser
