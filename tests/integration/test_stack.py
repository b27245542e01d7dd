"""Issue 2's round trips through the real stack: broker, Celery worker, channel layer."""

import json
import uuid

import pytest
from confluent_kafka import Consumer, Producer

pytestmark = pytest.mark.integration


@pytest.mark.timeout(60)
def test_records_produced_to_a_topic_are_consumed_back_in_order(kafka_config, new_topic, wait_for):
    topic = new_topic(partitions=1, prefix="stack-roundtrip")
    producer = Producer(kafka_config)
    sent = [json.dumps({"n": n, "token": uuid.uuid4().hex}).encode() for n in range(20)]
    for value in sent:
        producer.produce(topic, key=b"k", value=value)
    assert producer.flush(15) == 0

    consumer = Consumer(
        {**kafka_config, "group.id": f"stack-test-{uuid.uuid4().hex}", "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    received: list[bytes] = []

    def all_received():
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            received.append(message.value())
        return len(received) == len(sent)

    try:
        wait_for(all_received, 45, "the 20 produced records to be consumed")
    finally:
        consumer.close()
    assert received == sent


@pytest.mark.timeout(60)
def test_the_demo_feeder_of_make_run_feeds_its_topic_with_the_brokers_heap_set(kafka_admin, wait_for):
    """`WEIR_KAFKA_HEAP=512m make run`: the heap is the local broker's, not a client setting."""
    import os

    from confluent_kafka import TopicPartition

    from processing.runtime.kafka.config import connection_config
    from processing.runtime.kafka.demo import DEMO_PARTITIONS, ensure_demo_topic, generate_pageviews

    kafka_config = connection_config({**os.environ, "WEIR_KAFKA_HEAP": "512m"})
    topic = f"stack-demo-{uuid.uuid4().hex[:12]}"
    try:
        assert ensure_demo_topic(kafka_config, topic=topic) is True
        asked = []
        sent = generate_pageviews(
            kafka_config, lambda: asked.append(1) or len(asked) > 30, topic=topic, per_second=200
        )
        assert sent == 30
        consumer = Consumer({**kafka_config, "group.id": f"stack-test-{uuid.uuid4().hex}"})
        try:
            partitions = [TopicPartition(topic, p) for p in range(DEMO_PARTITIONS)]
            wait_for(
                lambda: sum(consumer.get_watermark_offsets(tp, timeout=5)[1] for tp in partitions) == 30,
                30,
                "the 30 page views on the demo topic",
            )
        finally:
            consumer.close()
    finally:
        for future in kafka_admin.delete_topics([topic], operation_timeout=15).values():
            try:
                future.result(timeout=30)
            except Exception:  # never created: nothing to delete
                pass


@pytest.mark.timeout(120)
def test_a_task_sent_to_the_control_queue_is_answered_by_the_real_worker(celery_workers):
    from dashboard.diagnostics import ping

    token = uuid.uuid4().hex
    result = ping.apply_async(args=[token], queue="control")
    assert result.get(timeout=30)["pong"] == token


def _session_cookie_for_new_user(*, is_staff: bool = False) -> bytes:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(
        get_user_model().objects.create_user(
            f"ws-{uuid.uuid4().hex[:8]}", password="pw-for-tests", is_staff=is_staff
        )
    )
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@pytest.mark.timeout(120)
def test_a_group_send_from_a_celery_task_reaches_a_websocket_consumer_over_redis(
    celery_workers, transactional_db
):
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from config.asgi import application
    from dashboard.diagnostics import broadcast

    token = uuid.uuid4().hex
    # The diagnostics socket is for staff.
    headers = [
        (b"cookie", _session_cookie_for_new_user(is_staff=True)),
        (b"origin", b"http://127.0.0.1:8000"),
    ]
    payload = {"token": token, "numbers": [1, 2, 3]}

    async def scenario():
        import asyncio

        communicator = WebsocketCommunicator(application, f"/ws/diagnostics/{token}/", headers=headers)
        connected, _ = await communicator.connect(timeout=10)
        assert connected
        subscribed = await communicator.receive_json_from(timeout=10)
        assert subscribed["type"] == "diagnostics.subscribed"
        result = broadcast.apply_async(args=[token, payload], queue="control")
        # The worker process (not this one) publishes through Redis.
        assert await asyncio.to_thread(result.get, timeout=30) is True
        message = await communicator.receive_json_from(timeout=15)
        await communicator.disconnect()
        return message

    message = async_to_sync(scenario)()
    assert message == {"type": "diagnostics.message", "payload": payload}


@pytest.mark.timeout(60)
def test_the_diagnostics_websocket_refuses_anonymous_visitors(transactional_db):
    from asgiref.sync import async_to_sync
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    async def scenario():
        communicator = WebsocketCommunicator(
            application, "/ws/diagnostics/anonymous/", headers=[(b"origin", b"http://127.0.0.1:8000")]
        )
        connected, code = await communicator.connect(timeout=10)
        await communicator.disconnect()
        return connected, code

    assert async_to_sync(scenario)() == (False, 4401)


@pytest.mark.timeout(120)
def test_health_is_all_green_through_a_real_daphne_with_real_workers(
    live_daphne, celery_workers, transactional_db
):
    import urllib.request

    def health(headers: dict[str, str]) -> dict:
        request = urllib.request.Request(f"{live_daphne}/api/health", headers=headers)
        with urllib.request.urlopen(request, timeout=15) as response:
            assert response.status == 200
            return json.loads(response.read())

    anonymous = health({})
    assert anonymous["ok"] is True, anonymous
    assert anonymous["celery"] == {"ok": True, "status": "ok"}
    # Worker names are details: they need a session.
    report = health({"Cookie": _session_cookie_for_new_user().decode()})
    assert report["ok"] is True, report
    for queue, node in celery_workers.nodes.items():
        assert node in report["celery"]["queues"][queue]["workers"]
