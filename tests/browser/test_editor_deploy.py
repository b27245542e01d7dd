"""Deploy from the editor onto real Celery workers; records flow from source topic to sink topic."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from confluent_kafka import Consumer, Producer
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from processing import actions as deployment_actions
from processing.models import Deployment
from tests.browser.editor_support import (
    logged_in_page,
    open_editor,
    unique,
)
from topology import actions

pytestmark = [pytest.mark.browser, pytest.mark.integration]

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# A cold worker starts the instance, creates internal topics and joins the group; on a shared
# 2-core machine that takes tens of seconds, rarely more.
RUNNING_TIMEOUT_MS = 120_000
DELIVERY_TIMEOUT_S = 60


def filter_document(source_topic: str, sink_topic: str) -> dict:
    return {
        "name": "deploy-from-editor",
        "nodes": [
            {
                "id": "orders",
                "type": "source",
                "config": {"topics": [source_topic]},
                "position": {"x": 40, "y": 100},
            },
            {
                "id": "eu",
                "type": "filter",
                "config": {"where": "region = 'eu'"},
                "position": {"x": 300, "y": 100},
            },
            {"id": "out", "type": "sink", "config": {"topic": sink_topic}, "position": {"x": 560, "y": 100}},
        ],
        "edges": [{"source": "orders", "target": "eu"}, {"source": "eu", "target": "out"}],
    }


@pytest.mark.timeout(300)
def test_deploying_from_the_editor_runs_the_topology_and_records_reach_the_sink(
    request,
    chromium,
    transactional_db,
    live_daphne,
    celery_workers,
    celery_beat,
    new_topic,
    kafka_config,
    wait_for,
):
    source_topic = new_topic(partitions=2, prefix="editor-src")
    sink_topic = new_topic(partitions=1, prefix="editor-sink")
    user = get_user_model().objects.create_user(unique("deployer"), password=None)
    topology, _ = actions.create_topology(
        name=unique("editor-deploy"),
        owner=user,
        document=filter_document(source_topic, sink_topic),
        message="v1",
    )

    try:
        with logged_in_page(request, chromium, live_daphne, user) as page:
            open_editor(page, live_daphne, topology.pk)
            page.locator("#btn-deploy").click()
            expect(page.locator("#deploy-mode")).to_contain_text("new deployment")
            page.locator("#deploy-instances").fill("1")
            page.locator("#deploy-guarantee").select_option("at_least_once")
            page.locator("#deploy-error-policy").select_option("skip")
            page.locator("#deploy-submit").click()
            expect(page.locator("#deployment-state")).to_have_attribute(
                "data-status", "running", timeout=RUNNING_TIMEOUT_MS
            )
            seen = records_through_the_topology(kafka_config, source_topic, sink_topic, wait_for)
            assert sorted(r["n"] for r in seen) == [0, 2, 4]
            assert {r["region"] for r in seen} == {"eu"}

            deployment = Deployment.objects.get(version__topology=topology)
            assert (deployment.instances, deployment.guarantee, deployment.error_policy) == (
                1,
                "at_least_once",
                "skip",
            )

            # A second version: the dialog now offers an upgrade and says what it means for state.
            changed = filter_document(source_topic, sink_topic)
            changed["nodes"][1]["config"]["where"] = "region = 'us'"
            actions.save_version(topology, changed, "us only", user)
            verdict = actions.diff_versions(topology.versions.get(number=1), topology.versions.get(number=2))
            page.reload()
            page.wait_for_selector("#editor[data-ready=true]")
            page.locator("#btn-deploy").click()
            expect(page.locator("#deploy-mode")).to_contain_text(
                f"Deployment #{deployment.pk} runs version 1"
            )
            expect(page.locator("#deploy-verdict .verdict")).to_have_attribute(
                "data-verdict", verdict["compatibility"]["verdict"]
            )
            page.locator("#deploy-cancel").click()
    finally:
        for running in Deployment.objects.filter(version__topology=topology):
            deployment_actions.stop(running, actor=user)


def records_through_the_topology(kafka_config, source_topic, sink_topic, wait_for) -> list[dict]:
    marker = uuid.uuid4().hex
    producer = Producer(kafka_config)
    for index, region in enumerate(["eu", "us", "eu", "apac", "eu"]):
        value = {"region": region, "n": index, "marker": marker}
        producer.produce(source_topic, key=f"o{index}".encode(), value=json.dumps(value).encode())
    producer.flush(10)

    consumer = Consumer(
        {**kafka_config, "group.id": f"editor-test-{marker}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([sink_topic])
    seen: list[dict] = []

    def eu_records_arrived():
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            seen.append(json.loads(message.value()))
        return len(seen) >= 3

    try:
        wait_for(eu_records_arrived, DELIVERY_TIMEOUT_S, "the three eu records in the sink topic")
    finally:
        consumer.close()
    return seen
