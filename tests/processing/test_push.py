"""The push-query runner without a broker: a fake tail feeds the in-memory driver; rows, LIMIT,
close, dead letters, the registry, and the Kafka tail's interleaving by timestamp."""

import json
import threading
import time

import pytest

from processing import push
from processing.runtime.kafka import transient
from tests.processing.sql_documents import orders_over


class FakeTail:
    def __init__(self, batches):
        self.batches = list(batches)
        self.closed = False
        self.topics = None

    def poll(self, timeout):
        if self.batches:
            return self.batches.pop(0)
        time.sleep(timeout)
        return []

    def close(self):
        self.closed = True


def record(topic, key, value, timestamp, partition=0, offset=0):
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return (topic, partition, offset, timestamp, key.encode(), raw, None)


@pytest.fixture
def tail(monkeypatch):
    holder = {}

    def open_tail(kafka_config, topics, *, offset_reset, client_id):
        holder["topics"], holder["offset_reset"] = list(topics), offset_reset
        return holder["tail"]

    monkeypatch.setattr(transient, "open_tail", open_tail)
    return holder


def start(tail, batches, limit=None, properties=None, minimum=10):
    tail["tail"] = FakeTail(batches)
    return push.start_push_query(
        orders_over("orders", "virtual", minimum), limit=limit, properties=properties or {}
    )


def test_rows_are_the_sink_records_as_ksqldb_columns_and_end_at_limit(tail):
    query = start(
        tail,
        [
            [record("orders", "a", {"AMOUNT": 5}, 1), record("orders", "b", {"AMOUNT": 20}, 2)],
            [record("orders", "c", {"AMOUNT": 30}, 3), record("orders", "d", {"AMOUNT": 40}, 4)],
        ],
        limit=2,
    )
    assert query.query_id.startswith("transient_ORDERS_") and query.query_id[17:].isdigit()
    assert query.schema == "`ID` STRING KEY, `AMOUNT` INTEGER"
    assert list(query.rows()) == [["b", 20], ["c", 30]]
    assert query.end_reason == push.LIMIT_REACHED
    query._thread.join(2)
    assert not query._thread.is_alive() and tail["tail"].closed
    assert query not in push.running_queries()
    assert tail["topics"] == ["orders"] and tail["offset_reset"] == "latest"


def test_earliest_comes_from_the_properties(tail):
    query = start(tail, [], properties={"auto.offset.reset": "earliest"})
    query.close()
    assert tail["offset_reset"] == "earliest"
    with pytest.raises(push.PushQueryError, match="'earliest' or 'latest'"):
        start(tail, [], properties={"auto.offset.reset": "middle"})


def test_close_ends_rows_stops_the_thread_and_is_idempotent(tail):
    query = start(tail, [])
    assert query in push.running_queries()
    reader_rows = []
    reader = threading.Thread(target=lambda: reader_rows.extend(query.rows()))
    reader.start()
    assert push.close_query(query.query_id) is True
    reader.join(3)
    assert not reader.is_alive() and reader_rows == []
    assert not query._thread.is_alive() and tail["tail"].closed
    query.close()
    assert push.close_query(query.query_id) is False
    assert query.end_reason == push.QUERY_CLOSED


def test_a_bad_record_is_a_counted_dead_letter_and_the_query_goes_on(tail):
    query = start(
        tail, [[record("orders", "a", b"{not json", 1), record("orders", "b", {"AMOUNT": 11}, 2)]], limit=1
    )
    assert list(query.rows()) == [["b", 11]]
    assert query.dead_letters == 1 and query.dead_letter_messages


def test_an_error_ends_the_rows_and_is_kept(tail):
    class Broken(FakeTail):
        def poll(self, timeout):
            raise transient.TailError("broker went away")

    tail["tail"] = Broken([])
    query = push.start_push_query(orders_over("orders", "virtual"), limit=None, properties={})
    assert list(query.rows()) == []
    assert query.error == "broker went away" and tail["tail"].closed


def test_a_document_that_does_not_compile_is_refused_before_anything_runs(tail):
    translation = orders_over("orders", "virtual")
    translation.document["nodes"][1]["config"]["where"] = "AMOUNT >"
    tail["tail"] = FakeTail([])
    with pytest.raises(push.PushQueryError, match="does not compile"):
        push.start_push_query(translation, limit=None, properties={})


def test_async_rows_wake_on_a_row_and_report_idle_time(tail):
    import asyncio

    query = start(tail, [[], [], [record("orders", "z", {"AMOUNT": 99}, 1)]], limit=1)

    async def collect():
        return [row async for row in query.arows(idle=0.05)]

    rows = asyncio.run(collect())
    assert [r for r in rows if r is not None] == [["z", 99]]


def test_records_of_several_partitions_interleave_by_timestamp_keeping_each_partitions_order():
    a = [("t", 0, 0, 5, None, None, None), ("t", 0, 1, 1, None, None, None), ("t", 0, 2, 9, None, None, None)]
    b = [("u", 0, 0, 2, None, None, None), ("u", 0, 1, 6, None, None, None)]
    merged = transient.interleave([a[0], b[0], a[1], b[1], a[2]])
    assert [(r[0], r[2]) for r in merged] == [("u", 0), ("t", 0), ("t", 1), ("u", 1), ("t", 2)]


def test_the_tail_consumer_never_commits():
    config = transient.tail_config({"bootstrap.servers": "x:1", "consumer.fetch.wait.max.ms": "50"}, "c")
    assert config["enable.auto.commit"] is False and config["enable.auto.offset.store"] is False
    assert config["fetch.wait.max.ms"] == "50" and config["group.id"].startswith("weir-transient-")


def test_a_deleted_table_row_comes_out_as_a_tombstone(tail):
    from topology.sql.catalog import Column, SourceDef
    from topology.sql.translate import Translation

    output = SourceDef(
        "USERS", "TABLE", "virtual", (Column("ID", "STRING", key=True), Column("NAME", "STRING"))
    )
    document = {
        "name": "push-table",
        "nodes": [
            {"id": "users", "type": "table_source", "config": {"topic": "users"}},
            {"id": "sink", "type": "sink", "config": {"topic": "virtual"}},
        ],
        "edges": [{"source": "users", "target": "sink"}],
    }
    tail["tail"] = FakeTail(
        [[record("users", "u1", {"NAME": "kim"}, 1), ("users", 0, 1, 2, b"u1", None, None)]]
    )
    query = push.start_push_query(Translation(document, output, ("USERS",)), limit=2, properties={})
    rows = list(query.rows())
    assert rows == [["u1", "kim"], ["u1", None]]
    assert [r.tombstone for r in rows] == [False, True]
