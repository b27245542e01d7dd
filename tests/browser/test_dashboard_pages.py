"""Dashboard pages in Debian's Chromium, fed through the reporter sink: charts bound to views,
a 10,000-row table that keeps the DOM small, and the deployment monitor."""

from __future__ import annotations

import contextlib
import time

import pytest
from playwright.sync_api import expect

from dashboard.actions import create_dashboard
from dashboard.publisher import DeploymentEventSink
from tests.browser.editor_support import chromium_browser, session_cookie
from tests.dashboard.conftest import make_deployment
from tests.integration.runtime_harness import unique

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]

UI_TIMEOUT_MS = 20_000


@pytest.fixture
def owner(transactional_db, django_user_model):
    return django_user_model.objects.create_user(unique("dash"), password="pw")


@contextlib.contextmanager
def browser_page(live_daphne, cookie, path):
    """Chromium on ``path``. Playwright's sync API runs an event loop in this thread, so every
    ORM call of a test happens before this block (Django refuses ORM calls inside one)."""
    with chromium_browser() as browser:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.add_cookies([cookie])
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        page.goto(f"{live_daphne}{path}")
        yield page


def windows(user, counts):
    return [
        {"key": {"key": user, "window_start": start, "window_end": start + 60_000}, "value": {"count": n}}
        for start, n in counts
    ]


def test_chart_widgets_draw_the_views_values(live_daphne, owner):
    deployment = make_deployment(owner)
    dashboard = create_dashboard(
        deployment,
        "charts",
        owner,
        [
            {"kind": "number", "view": "counts", "options": {"field": "count", "aggregate": "sum"}},
            {"kind": "bar", "view": "counts", "options": {"field": "count", "top_n": 2}},
            {"kind": "line", "view": "minutes", "options": {"field": "count"}},
            {"kind": "table", "view": "minutes"},
        ],
    )
    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit(
        {
            "type": "table_delta",
            "view": "counts",
            "seq": 1,
            "windowed": False,
            "rows": [
                {"key": "alice", "value": {"count": 4}},
                {"key": "bob", "value": {"count": 7}},
                {"key": "carol", "value": {"count": 1}},
            ],
        }
    )
    sink.emit(
        {
            "type": "table_delta",
            "view": "minutes",
            "seq": 1,
            "windowed": True,
            "rows": windows("alice", [(0, 1), (60_000, 3)]) + windows("bob", [(0, 2)]),
        }
    )
    cookie = session_cookie(owner, live_daphne)
    with browser_page(live_daphne, cookie, f"/dashboards/{dashboard.pk}/") as page:
        expect(page.locator(".widget-number .big-number")).to_have_text("12")
        sink.emit(
            {
                "type": "table_delta",
                "view": "counts",
                "seq": 2,
                "windowed": False,
                "rows": [{"key": "carol", "value": {"count": 10}}],
            }
        )
        expect(page.locator(".widget-number .big-number")).to_have_text("21")
        expect(page.locator(".widget-bar canvas")).to_have_count(1)
        expect(page.locator(".widget-line .u-legend .u-series")).to_have_count(3)  # x + alice + bob
        bar_labels = page.evaluate("() => window.weirDashboard.widgets[1].view.labels")
        assert bar_labels == ["carol", "bob"]
        # The windowed table shows each window's start and end.
        row = page.locator('.widget-table .live-row[data-key="alice"]').first
        expect(row.locator('[data-col="__window_start"]')).to_have_text("1970-01-01 00:00:00Z")
        expect(row.locator('[data-col="__window_end"]')).to_have_text("1970-01-01 00:01:00Z")


def test_ten_thousand_rows_render_through_a_small_window_of_the_dom(live_daphne, owner):
    deployment = make_deployment(owner)
    sink = DeploymentEventSink(deployment.pk, 0)
    sink.emit(
        {
            "type": "table_delta",
            "view": "counts",
            "seq": 1,
            "windowed": False,
            "rows": [{"key": f"user-{i:05d}", "value": {"count": i}} for i in range(10_000)],
        }
    )
    cookie = session_cookie(owner, live_daphne)
    with browser_page(live_daphne, cookie, f"/deployments/{deployment.pk}/dashboard/") as page:
        table = page.locator('[data-view="counts"]')
        expect(table.locator(".live-table-count")).to_have_text("10000 rows")
        assert table.locator(".live-row").count() < 60
        # Scrolling to the end brings the last rows into the DOM.
        table.locator(".live-table-viewport").evaluate("el => { el.scrollTop = el.scrollHeight; }")
        expect(table.locator('.live-row[data-key="user-09999"] [data-col="count"]')).to_have_text("9999")
        # Filtering finds a row anywhere in the table; an upsert is highlighted.
        table.locator(".live-table-filter").fill("user-04242")
        sink.emit(
            {
                "type": "table_delta",
                "view": "counts",
                "seq": 2,
                "windowed": False,
                "rows": [{"key": "user-04242", "value": {"count": -1}}],
            }
        )
        updated = table.locator('.live-row[data-key="user-04242"]')
        expect(updated.locator('[data-col="count"]')).to_have_text("-1")
        expect(updated).to_have_class("live-row flash-upsert")


def test_a_delta_rewrites_only_the_rows_it_changed_and_the_highlight_fades(live_daphne, owner):
    deployment = make_deployment(owner)
    sink = DeploymentEventSink(deployment.pk, 0)

    def emit(seq, rows):
        sink.emit(
            {
                "type": "table_delta",
                "view": "counts",
                "seq": seq,
                "windowed": False,
                "rows": [{"key": k, "value": {"count": v}} for k, v in rows],
            }
        )

    emit(1, [(f"user-{i:02d}", i) for i in range(20)])
    cookie = session_cookie(owner, live_daphne)
    with browser_page(live_daphne, cookie, f"/deployments/{deployment.pk}/dashboard/") as page:
        table = page.locator('[data-view="counts"]')
        expect(table.locator(".live-table-count")).to_have_text("20 rows")
        # Tag the DOM nodes of two rows, then change one of them.
        for key in ("user-03", "user-04"):
            table.locator(f'.live-row[data-key="{key}"] [data-col="count"]').evaluate(
                "el => { el.weirTag = 1; }"
            )
        emit(2, [("user-04", 400)])
        changed = table.locator('.live-row[data-key="user-04"]')
        expect(changed.locator('[data-col="count"]')).to_have_text("400")
        expect(changed).to_have_class("live-row flash-upsert")
        page.wait_for_timeout(200)  # a dozen more animation frames
        tags = page.evaluate(
            """() => ["user-03", "user-04"].map((k) =>
                document.querySelector(`[data-view="counts"] .live-row[data-key="${k}"] [data-col="count"]`).weirTag === 1)"""
        )
        # The untouched row kept its node through every frame; the changed one was rewritten.
        assert tags == [True, False]
        # The highlight ends after 1.2 s by dropping the class (CSS fades the background).
        expect(changed).to_have_class("live-row", timeout=5_000)


def test_monitor_shows_rates_lag_restore_and_instances(live_daphne, owner):
    deployment = make_deployment(owner)
    sink = DeploymentEventSink(deployment.pk, 0)
    cookie = session_cookie(owner, live_daphne)
    with browser_page(live_daphne, cookie, f"/deployments/{deployment.pk}/monitor/") as page:
        expect(page.locator("#connection-state")).to_have_text("open")
        expect(page.locator('#topology [data-node="by_user"]')).to_have_count(1)
        sink.emit({"type": "status", "status": "restoring", "error": None})
        sink.emit(
            {
                "type": "restore",
                "store": "by_user-store",
                "partition": 0,
                "restored": 250,
                "total": 1000,
                "done": False,
            }
        )
        sink.emit(
            {
                "type": "metrics",
                "nodes": {"by_user": {"in": 0, "out": 0, "errors": 0, "late": 0}},
                "latency_ms": 1.0,
                "partitions": [["clicks", 0], ["clicks", 1]],
            }
        )
        sink.emit(
            {
                "type": "lag",
                "partitions": [{"topic": "clicks", "partition": 0, "committed": 0, "end": 1000, "lag": 1000}],
            }
        )
        time.sleep(1.0)  # rates and catch-up time are differences over time
        sink.emit({"type": "status", "status": "running", "error": None})
        sink.emit(
            {
                "type": "metrics",
                "nodes": {"by_user": {"in": 500, "out": 500, "errors": 5, "late": 0}},
                "latency_ms": 1.0,
                "partitions": [["clicks", 0], ["clicks", 1]],
            }
        )
        sink.emit(
            {
                "type": "lag",
                "partitions": [
                    {"topic": "clicks", "partition": 0, "committed": 500, "end": 1000, "lag": 500}
                ],
            }
        )

        expect(page.locator("#restore tbody tr")).to_contain_text("250 / 1000")
        expect(page.locator('#instances tr[data-slot="0"]')).to_contain_text("running")
        expect(page.locator('#instances tr[data-slot="0"]')).to_contain_text("clicks/0, clicks/1")
        expect(page.locator('#instances tr[data-slot="0"] .heartbeat')).to_have_text("now")
        expect(page.locator('#lag tr[data-partition="clicks/0"] .lag')).to_have_text("500")
        # ~500 records/s consumed, nothing produced: about one second to catch up.
        expect(page.locator('#lag tr[data-partition="clicks/0"] .eta')).to_have_text("1 s")
        rates = page.locator('#topology [data-node="by_user"] .rates')
        expect(rates).to_contain_text("in ")
        expect(rates).to_contain_text("err ")
