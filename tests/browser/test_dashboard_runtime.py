"""With a real runtime consuming Kafka, events produced to the source topic change the
matching cell of the deployment's dashboard table in Debian's Chromium.

The runtime runs in a thread of this process with the reporter sink a Celery instance task
gives it (processing/reporter.py), the shared Redis and the session's Daphne.
"""

from __future__ import annotations

import threading

import orjson
import pytest
from playwright.sync_api import expect

from processing.reporter import DeploymentEventSink
from processing.runtime.events import ListEventSink
from processing.runtime.kafka import loop
from tests.browser.editor_support import chromium_browser, session_cookie
from tests.dashboard.conftest import make_deployment
from tests.integration.runtime_harness import create_topics, delete_app_topics, kafka_config, produce, unique
from topology.compiler import naming
from topology.compiler.plan import Aggregate, Aggregation, Plan, Source, Store, SubTopology, View

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
    return Plan(
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
        stores=(Store(store, "kv", "by_user", 0),),
    )


class Tee:
    def __init__(self, *sinks):
        self.sinks = sinks

    def emit(self, event):
        for sink in self.sinks:
            sink.emit(event)


def clicks(*users):
    return [(user.encode(), orjson.dumps({"user": user})) for user in users]


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
    runtime = threading.Thread(
        target=loop.run,
        args=(count_into_view(topic),),
        kwargs=dict(
            app_id=app_id,
            kafka_config=kafka_config(),
            events=Tee(DeploymentEventSink(deployment.pk, 0), seen),
            should_stop=stop.is_set,
            commit_interval_ms=500,
            view_interval_ms=100,
        ),
        daemon=True,
    )
    runtime.start()
    try:
        with chromium_browser() as browser:
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies([cookie])
            page = context.new_page()
            page.goto(f"{live_daphne}/deployments/{deployment.pk}/dashboard/")
            alice = page.locator('[data-view="counts"] .live-row[data-key="alice"] .cell[data-col="count"]')
            bob = page.locator('[data-view="counts"] .live-row[data-key="bob"] .cell[data-col="count"]')
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
