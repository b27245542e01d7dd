"""Browser fixtures shared by the editor tests: one Debian Chromium per test module."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.browser.editor_support import CHROMIUM_ARGS


@pytest.fixture(scope="module")
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()
