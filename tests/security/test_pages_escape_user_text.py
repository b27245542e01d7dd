"""User text (topology description, view titles, a deployment's last error, event messages)
shows as text on every page in a real Chromium, never as markup that runs."""

from __future__ import annotations

import copy
import os

import pytest

from dashboard import actions as dashboard_actions
from dashboard.publisher import DeploymentEventSink
from processing.models import DeploymentEvent
from tests.browser.editor_support import chromium_browser, logged_in_page
from tests.dashboard.conftest import WINDOWED_COUNTS, clear_serving, make_deployment  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PAYLOAD = '<img src=x onerror="window.__xss=(window.__xss||0)+1"><b>bold</b>'


@pytest.fixture(scope="module")
def chromium():
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def hostile(transactional_db, django_user_model):
    user = django_user_model.objects.create_user("mallory-and-victim", password=None)
    document = copy.deepcopy(WINDOWED_COUNTS)
    for node in document["nodes"]:
        if node["type"] == "view":
            node["config"]["title"] = PAYLOAD
    deployment = make_deployment(user, document)
    topology = deployment.version.topology
    topology.description = PAYLOAD
    topology.save(update_fields=["description"])
    deployment.last_error = PAYLOAD
    # Celery beat may be running (the integration suite starts it): a deployment it should run
    # gets a real instance, whose sink would write slot 0 over the reports these tests make.
    deployment.desired_state = "stopped"
    deployment.save(update_fields=["last_error", "desired_state"])
    DeploymentEvent.objects.create(deployment=deployment, kind="failed", message=PAYLOAD)
    dashboard = dashboard_actions.ensure_default_dashboard(deployment)
    return user, deployment, dashboard


def assert_shown_as_text(page, where):
    page.wait_for_function("document.body.textContent.includes('<b>bold</b>')", timeout=15_000)
    assert page.evaluate("window.__xss === undefined"), where
    assert page.locator("img[src='x']").count() == 0, where
    assert page.locator("b", has_text="bold").count() == 0, where


def test_user_text_is_shown_as_text_on_every_page(request, chromium, live_daphne, hostile):
    user, deployment, dashboard = hostile
    pages = [
        "/topologies/",
        "/deployments/",
        f"/deployments/{deployment.pk}/",
        f"/deployments/{deployment.pk}/monitor/",
        f"/dashboards/{dashboard.pk}/",
    ]
    with logged_in_page(request, chromium, live_daphne, user) as page:
        for path in pages:
            page.goto(live_daphne + path)
            page.wait_for_load_state("networkidle")
            assert_shown_as_text(page, path)


@pytest.mark.usefixtures("clear_serving")
def test_record_keys_values_and_runtime_reports_are_shown_as_text(request, chromium, live_daphne, hostile):
    """Record contents and runtime errors may carry text from whoever writes the input topic."""
    user, deployment, dashboard = hostile
    sink = DeploymentEventSink(deployment.pk, 0)
    row = {"key": PAYLOAD, "value": {"count": 1, PAYLOAD: PAYLOAD}}
    sink.emit({"type": "table_delta", "view": "counts", "seq": 1, "windowed": False, "rows": [row]})
    sink.emit({"type": "status", "status": "failed", "error": PAYLOAD})
    sink.emit({"type": "restore", "store": PAYLOAD, "partition": 0, "restored": 1, "total": 2, "done": False})
    lag = {"topic": PAYLOAD, "partition": 0, "committed": 0, "end": 5, "lag": 5}
    sink.emit({"type": "lag", "partitions": [lag]})
    with logged_in_page(request, chromium, live_daphne, user) as page:
        page.goto(f"{live_daphne}/dashboards/{dashboard.pk}/")
        page.locator(".live-row").first.wait_for()
        assert_shown_as_text(page, "dashboard rows")
        page.goto(f"{live_daphne}/deployments/{deployment.pk}/monitor/")
        page.wait_for_function(
            "document.querySelector('#instances tbody').textContent.includes('<b>bold</b>')", timeout=15_000
        )
        page.wait_for_function(
            "document.querySelector('#restore tbody').textContent.includes('<b>bold</b>')", timeout=15_000
        )
        assert_shown_as_text(page, "monitor")


@pytest.mark.usefixtures("clear_serving")
def test_worker_reported_numbers_that_carry_markup_are_shown_as_text_on_the_monitor(
    request, chromium, live_daphne, hostile
):
    """The monitor formats offsets, lag, restore progress and slots as numbers, but they arrive
    in a worker's JSON report: a report with text in those fields must not become markup."""
    user, deployment, _ = hostile
    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit({"type": "status", "status": "running"})
    sink.emit(
        {"type": "restore", "store": "counts", "partition": PAYLOAD, "restored": PAYLOAD, "total": PAYLOAD}
    )
    lag = {"topic": "page-views", "partition": 0, "committed": PAYLOAD, "end": PAYLOAD, "lag": PAYLOAD}
    sink.emit({"type": "lag", "partitions": [lag]})
    with logged_in_page(request, chromium, live_daphne, user) as page:
        page.goto(f"{live_daphne}/deployments/{deployment.pk}/monitor/")
        for table in ("#lag", "#restore"):
            page.wait_for_function(
                f"document.querySelector('{table} tbody').textContent.includes('<b>bold</b>')", timeout=15_000
            )
        assert_shown_as_text(page, "monitor numbers")
