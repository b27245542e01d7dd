"""The streaming endpoints under Daphne (ASGI, as `make run` serves them): rows stream while the
query runs, a client that disconnects closes its query at once, close-query ends the stream.
Daphne serves bench/push_asgi.py: config.asgi with one stream declared in the catalog."""

import base64
import json
import socket
import time

import httpx
import pytest
from confluent_kafka import Producer

from ops.stack_processes import free_port
from tests.conftest import VENV_BIN, _http_answers, wait_for
from topology import apikeys
from topology.sql.catalog import Column, SourceDef

pytestmark = pytest.mark.integration


@pytest.fixture
def daphne(new_topic, stack_processes, stack_process_env, transactional_db, django_user_model):
    topic = new_topic()
    source = SourceDef(
        "ORDERS", "STREAM", topic, (Column("ID", "STRING", key=True), Column("AMOUNT", "INTEGER"))
    )
    port = free_port()
    name = f"daphne-push-{port}"
    env = dict(stack_process_env, WEIR_HTTP_PORT=str(port), BENCH_PUSH_CATALOG=json.dumps([source.to_dict()]))
    argv = [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "bench.push_asgi:application"]
    stack_processes.start(name, argv, env)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: _http_answers(f"{url}/accounts/login/"), 90, "Daphne to serve HTTP")
    user = django_user_model.objects.create_user("daphne-push", password=None)
    key, secret = apikeys.create_api_key(user, "daphne push")
    yield url, topic, (key.key_id, secret)
    stack_processes.stop(name)


def open_query(url, auth, path, body):
    data = json.dumps(body).encode()
    token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    sock = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=15)
    sock.sendall(
        (
            f"POST /ksqldb/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
        ).encode()
        + data
    )
    return sock


def read_until(sock, marker, received=b""):
    while marker not in received:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the connection after {received[-300:]!r}"
        received += chunk
    return received


def close_query(url, auth, query_id):
    return httpx.post(f"{url}/ksqldb/close-query", json={"queryId": query_id}, auth=auth, timeout=10)


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("query", {"ksql": "SELECT * FROM ORDERS EMIT CHANGES;"}),
        ("query-stream", {"sql": "SELECT * FROM ORDERS EMIT CHANGES;"}),
    ],
)
def test_rows_stream_and_a_client_that_disconnects_closes_its_query(daphne, kafka_config, path, body):
    url, topic, auth = daphne
    sock = open_query(url, auth, path, body)
    received = read_until(sock, b"queryId")
    query_id = received.split(b'"queryId":"')[1].split(b'"')[0].decode()
    producer = Producer({**kafka_config, "linger.ms": 0})
    producer.produce(topic, key="k", value=json.dumps({"AMOUNT": 7}))
    producer.flush(10)
    read_until(sock, b'["k",7]', received)
    sock.close()
    wait_for(lambda: close_query(url, auth, query_id).status_code == 400, 10, "the query to be closed")


@pytest.mark.timeout(180)
def test_close_query_ends_a_connected_clients_stream(daphne):
    url, _topic, auth = daphne
    sock = open_query(url, auth, "query", {"ksql": "SELECT * FROM ORDERS EMIT CHANGES;"})
    received = read_until(sock, b"queryId")
    query_id = received.split(b'"queryId":"')[1].split(b'"')[0].decode()
    time.sleep(0.3)
    assert close_query(url, auth, query_id).status_code == 200
    read_until(sock, b'{"finalMessage":"Query Closed"}]', received)
    sock.close()
