"""The demo event stream of `make run`: page views on the topic ``pageviews``.

Records are JSON values keyed by user id, shaped for the example topologies in the docs:
``{"user_id", "page", "region", "duration_ms", "ts"}``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from processing.runtime.kafka.config import client_config

DEMO_TOPIC = "pageviews"
# Three partitions so a demo deployment can show parallelism up to three instances.
DEMO_PARTITIONS = 3
PAGES = ["/", "/pricing", "/docs", "/blog", "/signup", "/checkout"]
REGIONS = ["eu", "us", "apac"]


def admin_config(kafka_config: dict[str, Any]) -> dict[str, Any]:
    # log_level 3: librdkafka's informational teardown notes are noise on the `make run` console.
    return client_config(kafka_config, defaults={"log_level": 3})


def feeder_config(kafka_config: dict[str, Any]) -> dict[str, Any]:
    return client_config(kafka_config, "producer", defaults={"linger.ms": 50})


def ensure_demo_topic(kafka_config: dict[str, Any], topic: str = DEMO_TOPIC, timeout: float = 15.0) -> bool:
    """Create the demo topic when missing. True when it was created now."""
    admin = AdminClient(admin_config(kafka_config))
    if topic in admin.list_topics(timeout=timeout).topics:
        return False
    future = admin.create_topics([NewTopic(topic, num_partitions=DEMO_PARTITIONS, replication_factor=1)])[
        topic
    ]
    try:
        future.result(timeout=timeout)
    except KafkaException as exc:
        if exc.args and exc.args[0].name() == "TOPIC_ALREADY_EXISTS":
            return False
        raise
    return True


def pageview(rng: random.Random) -> tuple[bytes, bytes]:
    user_id = f"user-{rng.randint(1, 50)}"
    value = {
        "user_id": user_id,
        "page": rng.choice(PAGES),
        "region": rng.choice(REGIONS),
        "duration_ms": rng.randint(20, 3000),
        "ts": int(time.time() * 1000),
    }
    return user_id.encode(), json.dumps(value).encode()


def generate_pageviews(
    kafka_config: dict[str, Any],
    should_stop: Callable[[], bool],
    topic: str = DEMO_TOPIC,
    per_second: float = 5.0,
) -> int:
    """Produce page views at about ``per_second`` until ``should_stop()``; returns how many."""
    producer = Producer(feeder_config(kafka_config))
    rng = random.Random()
    sent = 0
    interval = 1.0 / per_second
    while not should_stop():
        key, value = pageview(rng)
        producer.produce(topic, key=key, value=value)
        producer.poll(0)
        sent += 1
        time.sleep(interval)
    producer.flush(10)
    return sent
