"""Push queries against the real broker: latest and earliest, LIMIT, close, several topics
interleaved, and 50 at once leaving no consumer group and no thread behind."""

import json
import threading
import time

import pytest
from confluent_kafka import Producer

from processing import inserts, push
from processing.runtime.kafka.transient import TailError
from tests.processing.sql_documents import ORDERS, orders_over

pytestmark = pytest.mark.integration


@pytest.fixture
def produce(kafka_config):
    producer = Producer({**kafka_config, "linger.ms": 0})

    def send(topic, key, value, timestamp=None):
        kwargs = {"timestamp": timestamp} if timestamp is not None else {}
        producer.produce(topic, key=key, value=json.dumps(value), **kwargs)
        producer.flush(10)

    return send


def transient_groups(kafka_admin):
    groups = kafka_admin.list_consumer_groups(request_timeout=10).result(timeout=15)
    return [g.group_id for g in groups.valid if g.group_id.startswith("weir-transient-")]


def push_threads():
    return [t for t in threading.enumerate() if t.name.startswith("push-")]


def collect(query, n, timeout=20.0):
    rows = []
    deadline = time.monotonic() + timeout
    while len(rows) < n and time.monotonic() < deadline:
        ready, ended = query.take_ready(timeout=0.2)
        rows.extend(ready)
        if ended:
            break
    return rows


@pytest.mark.timeout(120)
def test_latest_sees_only_what_is_produced_after_it_starts_and_ends_at_limit(new_topic, produce):
    topic = new_topic(partitions=3)
    produce(topic, "old", {"AMOUNT": 100})
    query = push.start_push_query(orders_over(topic, "virtual"), limit=2, properties={})
    produce(topic, "small", {"AMOUNT": 1})
    produce(topic, "k1", {"AMOUNT": 20})
    produce(topic, "k2", {"AMOUNT": 30})
    rows = list(query.rows())
    assert rows == [["k1", 20], ["k2", 30]]
    assert query.end_reason == push.LIMIT_REACHED
    query.close()
    assert not push_threads()


@pytest.mark.timeout(120)
def test_earliest_reads_from_the_beginning_of_every_partition(new_topic, produce):
    topic = new_topic(partitions=2)
    for index in range(6):
        produce(topic, f"k{index}", {"AMOUNT": 11 + index}, timestamp=1_000 + index)
    query = push.start_push_query(
        orders_over(topic, "virtual"), limit=6, properties={"auto.offset.reset": "earliest"}
    )
    rows = list(query.rows())
    assert sorted(rows) == [[f"k{i}", 11 + i] for i in range(6)]
    # Across partitions, rows come in timestamp order.
    assert [r[1] for r in rows] == sorted(r[1] for r in rows)


@pytest.mark.timeout(120)
def test_two_topics_are_both_read(new_topic, produce):
    first, second = new_topic(), new_topic()
    query = push.start_push_query(
        orders_over(first, "virtual", topics=[first, second]), limit=2, properties={}
    )
    produce(second, "b", {"AMOUNT": 50})
    produce(first, "a", {"AMOUNT": 40})
    assert sorted(query.rows()) == [["a", 40], ["b", 50]]


@pytest.mark.timeout(120)
def test_close_stops_an_unbounded_query_at_once(new_topic, produce):
    topic = new_topic()
    query = push.start_push_query(orders_over(topic, "virtual"), limit=None, properties={})
    produce(topic, "a", {"AMOUNT": 99})
    assert collect(query, 1) == [["a", 99]]
    started = time.monotonic()
    query.close()
    assert time.monotonic() - started < 3
    assert not query.running and query not in push.running_queries() and not push_threads()


def test_a_missing_topic_is_refused_before_the_query_starts():
    with pytest.raises(push.PushQueryError, match="does not exist"):
        push.start_push_query(orders_over("no-such-topic-ever", "virtual"), limit=None, properties={})


@pytest.mark.timeout(240)
def test_fifty_concurrent_queries_leave_no_consumer_group_and_no_thread(new_topic, produce, kafka_admin):
    topic = new_topic(partitions=2)
    before = set(threading.enumerate())
    queries = [
        push.start_push_query(orders_over(topic, "virtual"), limit=None, properties={}) for _ in range(50)
    ]
    assert len(push.running_queries()) >= 50 and len(push_threads()) == 50
    produce(topic, "all", {"AMOUNT": 77})
    for query in queries:
        assert collect(query, 1) == [["all", 77]]
    assert transient_groups(kafka_admin) == []
    for query in queries:
        query.close()
    assert not push_threads() and not push.running_queries()
    assert set(threading.enumerate()) <= before
    # The broker never heard of a group: nothing was joined and nothing committed.
    time.sleep(1)
    assert transient_groups(kafka_admin) == []


@pytest.mark.timeout(120)
def test_insert_values_writes_the_record_a_push_query_then_reads(new_topic):
    topic = new_topic(partitions=3)
    source = ORDERS.__class__(**{**ORDERS.__dict__, "topic": topic})
    query = push.start_push_query(orders_over(topic, "virtual"), limit=1, properties={})
    inserts.insert_values(source, ["ID", "AMOUNT", "REGION", "ROWTIME"], ["k9", 42, "eu", 1_700_000_000_000])
    assert list(query.rows()) == [["k9", 42]]
    from processing.runtime.kafka.sample import sample_topic

    [record] = sample_topic({"bootstrap.servers": source_bootstrap()}, topic, 5)
    assert record.key == b"k9" and record.timestamp == 1_700_000_000_000
    assert json.loads(record.value) == {"AMOUNT": 42, "REGION": "eu"}


def test_insert_values_into_a_missing_topic_fails_naming_it():
    source = ORDERS.__class__(**{**ORDERS.__dict__, "topic": "no-such-topic-for-inserts"})
    with pytest.raises(TailError, match="no-such-topic-for-inserts"):
        inserts.insert_values(source, ["ID", "AMOUNT"], ["k", 1])


def source_bootstrap():
    from django.conf import settings

    return settings.KAFKA_CLIENT_CONFIG["bootstrap.servers"]
