"""With a real runtime consuming Kafka, events produced to the source topic change the
matching cell of the deployment's dashboard table in Debian's Chromium.

The runtime runs in a thread of this process with the reporter sink a Celery instance task
gives it (dashboard/publisher.py), the shared Redis and the session's Daphne.
"""

from __future__ import annotations

import threading

import orjson
import pytest
from playwright.sync_api import expect

from dashboard.publisher import DeploymentEventSink
from processing.runtime.events import ListEventSink
from processing.runtime.kafka import loop
from tests.browser.editor_support import chromium_browser, count_cell, dashboard_page, session_cookie
from tests.dashboard.conftest import make_deployment
from tests.integration.runtime_harness import (
    create_topics,
    delete_app_topics,
    kafka_config,
    produce,
    unique,
    wait_until,
)
from topology.compiler import naming
from topology.compiler.plan import (
    Aggregate,
    Aggregation,
    Plan,
    Source,
    Store,
    SubTopology,
    View,
    complete_plan,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.timeout(150)]

UI_TIMEOUT_MS = 45_000

DOCUMENT = {
    "nodes": [
        {"id": "clicks", "type": "source", "config": {"topics": ["clicks"], "value_format": "json"}},
        {
            "id": "by_user",
            "type": "aggregate",
            "config": {"group_by": None, "aggregations": {"count": "COUNT(*)"}},
        },
        {"id": "counts", "type": "view", "config": {"title": "Clicks per user"}},
    ],
    "edges": [{"source": "clicks", "target": "by_user"}, {"source": "by_user", "target": "counts"}],
}


def count_into_view(topic: str) -> Plan:
    store = naming.store_name("by_user")
    return complete_plan(
        Plan(
            name="clicks-per-user",
            subtopologies=(
                SubTopology(
                    id=0,
                    operators=(
                        Source(id="clicks", node_id="clicks", inputs=(), topics=(topic,)),
                        Aggregate(
                            id="by_user",
                            node_id="by_user",
                            inputs=("clicks",),
                            store=store,
                            aggregations=(Aggregation("count", "COUNT"),),
                        ),
                        View(id="counts", node_id="counts", inputs=("by_user",), title="Clicks per user"),
                    ),
                    source_topics=(topic,),
                ),
            ),
            stores=(Store.of(store, "kv", "by_user", 0, None),),
        )
    )


class Tee:
    def __init__(self, *sinks):
        self.sinks = sinks

    def emit(self, event):
        for sink in self.sinks:
            sink.emit(event)


def clicks(*users):
    return [(user.encode(), orjson.dumps({"user": user})) for user in users]


def start_runtime(topic: str, app_id: str, events, stop: threading.Event) -> threading.Thread:
    """The real Kafka loop in a thread, counting ``topic`` per user into the view ``counts``."""
    runtime = threading.Thread(
        target=loop.run,
        args=(count_into_view(topic),),
        kwargs=dict(
            app_id=app_id,
            kafka_config=kafka_config(),
            events=events,
            should_stop=stop.is_set,
            commit_interval_ms=500,
        ),
        daemon=True,
    )
    runtime.start()
    return runtime


def test_events_produced_to_the_source_topic_change_the_dashboard_cell(
    transactional_db, django_user_model, live_daphne
):
    owner = django_user_model.objects.create_user(unique("dash-owner"), password="pw")
    deployment = make_deployment(owner, DOCUMENT)
    cookie = session_cookie(owner, live_daphne)
    topic, app_id = unique("clicks"), unique("dash-app")
    create_topics({topic: 1})
    produce(topic, clicks("alice", "alice", "alice", "bob"))
    stop = threading.Event()
    seen = ListEventSink()
    runtime = start_runtime(topic, app_id, Tee(DeploymentEventSink(deployment.pk, 0), seen), stop)
    try:
        with chromium_browser() as browser:
            page = dashboard_page(browser, live_daphne, cookie, deployment.pk)
            alice, bob = count_cell(page, "alice"), count_cell(page, "bob")
            expect(alice).to_have_text("3", timeout=UI_TIMEOUT_MS)
            expect(bob).to_have_text("1")

            produce(topic, clicks("alice", "alice", "carol"))
            expect(alice).to_have_text("5", timeout=UI_TIMEOUT_MS)
            expect(
                page.locator('[data-view="counts"] .live-row[data-key="carol"] .cell[data-col="count"]')
            ).to_have_text("1")
            expect(bob).to_have_text("1")
            browser.close()
        assert not [e for e in seen.of_type("status") if e["status"] == "failed"], seen.of_type("status")
    finally:
        stop.set()
        runtime.join(30)
        delete_app_topics(app_id, [topic])


def test_a_running_runtime_feeds_the_table_through_a_redis_restart(
    transactional_db, django_user_model, private_redis, daphne_on_private_redis
):
    """The acceptance scenario in one piece: the runtime consumes the source topic and the cell
    changes; Redis is killed while events keep coming, restarted empty, and the table resyncs
    to the runtime's counts, then keeps following new events."""
    from channels_redis.core import RedisChannelLayer
    from django.conf import settings

    from tests.dashboard.live_client import canonical, serving_table_at

    owner = django_user_model.objects.create_user(unique("dash-owner"), password="pw")
    deployment = make_deployment(owner, DOCUMENT)
    cookie = session_cookie(owner, daphne_on_private_redis)
    topic, app_id = unique("clicks"), unique("dash-app")
    create_topics({topic: 1})
    produce(topic, clicks("alice", "alice", "bob"))
    layer = RedisChannelLayer(
        hosts=[private_redis.url], prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
    )
    sink = DeploymentEventSink(deployment.pk, 0, redis_url=private_redis.url, channel_layer=layer)
    stop = threading.Event()
    seen = ListEventSink()
    runtime = start_runtime(topic, app_id, Tee(sink, seen), stop)

    def runtime_counted(key, count):
        return any(
            row["key"] == key and row["value"] == {"count": count}
            for event in seen.of_type("table_delta")
            for row in event["rows"]
        )

    try:
        with chromium_browser() as browser:
            page = dashboard_page(browser, daphne_on_private_redis, cookie, deployment.pk)
            expect(count_cell(page, "alice")).to_have_text("2", timeout=UI_TIMEOUT_MS)
            expect(count_cell(page, "bob")).to_have_text("1")

            private_redis.kill()
            produce(topic, clicks("alice", "carol"))
            wait_until(
                lambda: runtime_counted("carol", 1), 30, "the runtime to count carol while Redis is down"
            )
            private_redis.start()

            expect(count_cell(page, "alice")).to_have_text("3", timeout=UI_TIMEOUT_MS)
            expect(count_cell(page, "carol")).to_have_text("1", timeout=UI_TIMEOUT_MS)
            expect(count_cell(page, "bob")).to_have_text("1")
            produce(topic, clicks("bob"))
            expect(count_cell(page, "bob")).to_have_text("2", timeout=UI_TIMEOUT_MS)

            # The browser shows exactly the serving table, which is the runtime's.
            page.wait_for_function(
                """() => {
                    const entry = window.weirDashboard.widgets.find(w => w.widget.view === 'counts');
                    return entry.state.rows.size === 3;
                }"""
            )
            shown = page.evaluate(
                """() => {
                    const entry = window.weirDashboard.widgets.find(w => w.widget.view === 'counts');
                    return [...entry.state.rows.values()].map(r => [r.key, r.value]);
                }"""
            )
            expected = {canonical(k): {"count": n} for k, n in (("alice", 3), ("bob", 2), ("carol", 1))}
            assert {canonical(k): v for k, v in shown} == expected
            assert serving_table_at(private_redis.url, deployment.pk)[1] == expected
            browser.close()
        assert not [e for e in seen.of_type("status") if e["status"] == "failed"], seen.of_type("status")
    finally:
        stop.set()
        runtime.join(30)
        sink.close()
        delete_app_topics(app_id, [topic])
