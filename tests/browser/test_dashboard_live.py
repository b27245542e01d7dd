"""The live dashboard in Debian's Chromium: a view's table follows the runtime's deltas, and
after Redis is killed and restarted (empty) the table resyncs to the right values.

Redis here is a private redis-server on a free port with its own Daphne pointing at it: the
shared Redis is never stopped. Events come through DeploymentEventSink, the sink the Celery
task hands the runtime, with the events the runtime emits (processing/runtime/events.py).
"""

from __future__ import annotations

import pytest
from channels_redis.core import RedisChannelLayer
from django.conf import settings
from playwright.sync_api import expect

from dashboard.publisher import DeploymentEventSink
from tests.browser.editor_support import chromium_browser, count_cell, dashboard_page, session_cookie
from tests.dashboard.conftest import make_deployment
from tests.dashboard.live_client import canonical, serving_table_at

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(120)]

UI_TIMEOUT_MS = 20_000


def delta(seq, rows):
    return {
        "type": "table_delta",
        "view": "counts",
        "seq": seq,
        "windowed": False,
        "rows": [{"key": k, "value": None if v is None else {"count": v}} for k, v in rows],
    }


def test_table_cells_follow_deltas_and_resync_after_redis_restarts(
    transactional_db, django_user_model, private_redis, daphne_on_private_redis, stack_processes
):
    owner = django_user_model.objects.create_user("dash-owner", password="pw")
    deployment = make_deployment(owner)
    cookie = session_cookie(owner, daphne_on_private_redis)
    layer = RedisChannelLayer(
        hosts=[private_redis.url], prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    )
    sink = DeploymentEventSink(deployment.pk, 0, redis_url=private_redis.url, channel_layer=layer)
    sink.emit({"type": "status", "status": "running", "error": None})
    sink.emit(delta(1, [("alice", 1), ("bob", 2)]))

    with chromium_browser() as browser:
        page = dashboard_page(browser, daphne_on_private_redis, cookie, deployment.pk)
        expect(count_cell(page, "alice")).to_have_text("1", timeout=UI_TIMEOUT_MS)
        expect(count_cell(page, "bob")).to_have_text("2")
        expect(page.locator('[data-view="counts"] .freshness')).to_have_attribute("data-state", "live")

        sink.emit(delta(2, [("alice", 5)]))
        expect(count_cell(page, "alice")).to_have_text("5", timeout=UI_TIMEOUT_MS)

        # Redis dies: the runtime keeps going (the sink buffers), then Redis comes back empty.
        private_redis.kill()
        sink.emit(delta(3, [("alice", 7), ("bob", None), ("carol", 3)]))
        private_redis.start()
        sink.emit(delta(4, [("dave", 4)]))

        expect(count_cell(page, "alice")).to_have_text("7", timeout=UI_TIMEOUT_MS)
        expect(count_cell(page, "carol")).to_have_text("3", timeout=UI_TIMEOUT_MS)
        expect(count_cell(page, "dave")).to_have_text("4", timeout=UI_TIMEOUT_MS)
        expect(page.locator('[data-view="counts"] .live-row[data-key="bob"]')).to_have_count(
            0, timeout=UI_TIMEOUT_MS
        )

        # What the browser shows is exactly the serving table.
        seq, table = serving_table_at(private_redis.url, deployment.pk)
        shown = page.evaluate(
            """() => {
                const entry = window.weirDashboard.widgets.find(w => w.widget.view === 'counts');
                return {seq: entry.state.seq, rows: [...entry.state.rows.values()].map(r => [r.key, r.value])};
            }"""
        )
        assert {canonical(k): v for k, v in shown["rows"]} == table
        assert table == {
            canonical("alice"): {"count": 7},
            canonical("carol"): {"count": 3},
            canonical("dave"): {"count": 4},
        }
        assert shown["seq"] == seq
        # Chromium decoded the hub's deltas as written pre-framed to Daphne's sockets
        # (dashboard/wire.py), not frames from Channels' send path, and compressed once for all.
        extensions = page.evaluate("() => window.weirDashboard.socket.ws.extensions")
        assert "permessage-deflate" in extensions and "server_no_context_takeover" in extensions
        daphne_log = stack_processes.log_tail(
            f"daphne-dashboard-{daphne_on_private_redis.rsplit(':', 1)[1]}", 400
        )
        assert "hub frames are written pre-framed to Daphne's transport" in daphne_log
        browser.close()
    sink.close()
