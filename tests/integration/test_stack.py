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


@pytest.mark.timeout(120)
def test_a_task_sent_to_the_control_queue_is_answered_by_the_real_worker(celery_workers):
    from dashboard.diagnostics import ping

    token = uuid.uuid4().hex
    result = ping.apply_async(args=[token], queue="control")
    assert result.get(timeout=30)["pong"] == token
