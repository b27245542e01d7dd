"""/ksqldb/query and /query-stream end to end over HTTP (pytest-django's live_server, WSGI) with
the real broker: rows produced after the query starts reach the client, LIMIT ends the
response, and a client that goes away closes its query. The catalog holds one stream,
``ORDERS`` on a fresh topic (the SQL engine's catalog tables are not in this branch)."""

import base64
import json
import socket
import time
from urllib.parse import urlparse

import httpx
import pytest
from confluent_kafka import Producer

from processing import push
from tests.conftest import wait_for
from topology import apikeys
from topology.sql import parse_statement
from topology.sql.catalog import DictCatalog, define_source

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(new_topic, monkeypatch):
    name = new_topic(partitions=2)
    orders = define_source(
        parse_statement(
            f"CREATE STREAM ORDERS (ID STRING KEY, AMOUNT INTEGER) WITH (KAFKA_TOPIC='{name}', VALUE_FORMAT='JSON')"
        )
    )
    monkeypatch.setattr(push, "catalog_for", lambda user: DictCatalog({"ORDERS": orders}))
    return name


@pytest.fixture
def auth(transactional_db, django_user_model):
    user = django_user_model.objects.create_user("stream-user", password=None)
    key, secret = apikeys.create_api_key(user, "live")
    return key.key_id, secret


def produce_later(kafka_config, topic, rows, delay=0.3):
    producer = Producer({**kafka_config, "linger.ms": 0})
    time.sleep(delay)
    for key, amount in rows:
        producer.produce(topic, key=key, value=json.dumps({"AMOUNT": amount}))
    producer.flush(10)


@pytest.mark.timeout(120)
def test_query_streams_rows_produced_after_it_starts_until_the_limit(live_server, topic, auth, kafka_config):
    import threading

    with httpx.stream(
        "POST",
        f"{live_server.url}/ksqldb/query",
        json={
            "ksql": "SELECT * FROM ORDERS WHERE AMOUNT > 10 EMIT CHANGES LIMIT 2;",
            "streamsProperties": {},
        },
        headers={"Content-Type": "application/vnd.ksql.v1+json"},
        auth=auth,
        timeout=30,
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        header = next(lines)
        feeder = threading.Thread(
            target=produce_later, args=(kafka_config, topic, [("a", 5), ("b", 20), ("c", 30)])
        )
        feeder.start()
        rest = [line for line in lines if line.strip()]
        feeder.join()
    body = json.loads(header + "".join(rest))
    assert body[0]["header"]["queryId"].startswith("transient_ORDERS_")
    assert body[0]["header"]["schema"] == "`ID` STRING KEY, `AMOUNT` INTEGER"
    assert [item["row"]["columns"] for item in body[1:-1]] == [["b", 20], ["c", 30]]
    assert body[-1] == {"finalMessage": "Limit Reached"}
    wait_for(lambda: not push.running_queries(), 10, "the query to be gone")


@pytest.mark.timeout(120)
def test_query_stream_reads_from_earliest_as_delimited_lines(live_server, topic, auth, kafka_config):
    produce_later(kafka_config, topic, [("x", 11), ("y", 12)], delay=0)
    response = httpx.post(
        f"{live_server.url}/ksqldb/query-stream",
        json={
            "sql": "SELECT * FROM ORDERS EMIT CHANGES LIMIT 2;",
            "properties": {"auto.offset.reset": "earliest"},
        },
        auth=auth,
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.ksqlapi.delimited.v1"
    header, *rows = response.text.splitlines()
    assert json.loads(header)["columnNames"] == ["ID", "AMOUNT"]
    assert sorted(json.loads(row) for row in rows) == [["x", 11], ["y", 12]]


@pytest.mark.timeout(120)
def test_a_client_that_goes_away_closes_its_query(live_server, topic, auth):
    url = urlparse(live_server.url)
    body = json.dumps({"ksql": "SELECT * FROM ORDERS EMIT CHANGES;"}).encode()
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    request = (
        f"POST /ksqldb/query HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Basic {token}\r\n"
        f"Content-Type: application/vnd.ksql.v1+json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while b'"header"' not in received:
            chunk = sock.recv(4096)
            assert chunk, f"the server closed the connection after {received!r}"
            received += chunk
        wait_for(lambda: len(push.running_queries()) == 1, 10, "the query to run")
    wait_for(lambda: not push.running_queries(), 15, "the query to close after the client left")


@pytest.mark.timeout(120)
def test_close_query_ends_a_running_query_over_http(live_server, topic, auth):
    import threading

    received = []

    def read():
        with httpx.stream(
            "POST",
            f"{live_server.url}/ksqldb/query-stream",
            json={"sql": "SELECT * FROM ORDERS EMIT CHANGES;"},
            auth=auth,
            timeout=30,
        ) as response:
            received.extend(response.iter_lines())

    reader = threading.Thread(target=read)
    reader.start()
    [query] = wait_for(push.running_queries, 10, "the query to run")
    response = httpx.post(
        f"{live_server.url}/ksqldb/close-query", json={"queryId": query.query_id}, auth=auth, timeout=10
    )
    assert response.status_code == 200
    reader.join(10)
    assert not reader.is_alive()
    assert json.loads(received[0])["queryId"] == query.query_id
