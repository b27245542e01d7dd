"""The deployment page in a real Chromium: its buttons go through the REST API, refusals are
shown inline with the API's own message, and supervisor changes show up without a reload."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect, sync_playwright

from processing import actions
from processing.models import Deployment
from tests.browser.editor_support import (
    CHROMIUM_ARGS,
    UI_TIMEOUT_MS,
    screenshot_on_failure,
    session_cookie,
    unique,
)
from tests.processing.plans import count_by_key, store_version
from topology.models import Topology

pytestmark = [pytest.mark.browser, pytest.mark.integration]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# The page polls every 2 s; a busy shared machine may delay a poll a few times over.
POLL_TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def chromium_browser():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@contextmanager
def logged_in_page(request, browser, base_url: str, user) -> Iterator:
    """A fresh context with the user's session; a screenshot is kept when the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([session_cookie(user, base_url)])
    context.set_default_timeout(UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    except Exception:
        screenshot_on_failure(request, page)
        raise
    finally:
        context.close()


@pytest.fixture
def deployment(transactional_db, new_topic):
    user = get_user_model().objects.create_user(unique("operator"), password=None)
    source = new_topic(partitions=1, prefix="page-src")
    topology = Topology.objects.create(name=unique("page"), owner=user)
    version = store_version(topology, count_by_key(topology.name, (source,), "page-out"), user=user)
    return actions.deploy(version, actor=user, instances=1)


@pytest.mark.timeout(180)
def test_clicking_stop_changes_the_desired_state_and_refusals_are_shown_inline(
    request, chromium_browser, live_daphne, deployment
):
    with logged_in_page(request, chromium_browser, live_daphne, deployment.created_by) as page:
        page.goto(f"{live_daphne}/deployments/")
        page.locator(f'tr[data-deployment-id="{deployment.pk}"] a', has_text="details").click()
        page.wait_for_selector("#deployment[data-ready=true]")
        expect(page.locator("#desired-state")).to_have_text("running")

        page.locator('button[data-action="stop"]').click()

        expect(page.locator("#desired-state")).to_have_text("stopped")
        expect(page.locator("#event-rows")).to_contain_text("stop requested")
        assert Deployment.objects.get(pk=deployment.pk).desired_state == "stopped"

        page.locator('button[data-action="stop"]').click()
        message = page.locator("#action-message")
        expect(message).to_have_attribute("data-kind", "error")
        expect(message).to_contain_text("the deployment is already stopped")

        page.locator("#scale-instances").fill("40")
        page.locator('button[data-action="scale"]').click()
        expect(message).to_contain_text("instances: ")
        assert Deployment.objects.get(pk=deployment.pk).instances == 1


@pytest.mark.timeout(180)
def test_a_status_change_by_the_supervisor_appears_without_a_reload(
    request, chromium_browser, live_daphne, deployment
):
    with logged_in_page(request, chromium_browser, live_daphne, deployment.created_by) as page:
        page.goto(f"{live_daphne}/deployments/{deployment.pk}/")
        page.wait_for_selector("#deployment[data-ready=true]")
        expect(page.locator("#last-error")).to_be_hidden()

        Deployment.objects.filter(pk=deployment.pk).update(
            status="failed", last_error="gave up after 3 restarts: poison pill at offset 7"
        )

        expect(page.locator("#deployment-status .badge")).to_have_attribute(
            "data-status", "failed", timeout=POLL_TIMEOUT_MS
        )
        expect(page.locator("#last-error")).to_have_text("gave up after 3 restarts: poison pill at offset 7")
