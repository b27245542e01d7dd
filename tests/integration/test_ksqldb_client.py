"""A ksqlDB client from PyPI (ksql-python-ng, unchanged) against a real Daphne: it connects with
an API key (GET /info on connect), gets ksqlDB's error shape from /ksql, and is refused without one."""

import httpx
import pytest
from django.contrib.auth import get_user_model
from ksql import KSQLAPI
from ksql.errors import KSQLError

from topology.apikeys import create_api_key, revoke_api_key


@pytest.fixture
def api_key(transactional_db):
    user = get_user_model().objects.create_user("ksql-client-user", password=None)
    return create_api_key(user, "ksql-python-ng")


@pytest.mark.timeout(120)
def test_a_pypi_ksqldb_client_connects_with_an_api_key_and_reads_server_info(live_daphne, api_key):
    key, secret = api_key
    client = KSQLAPI(f"{live_daphne}/ksqldb", api_key=key.key_id, secret=secret)
    assert client.get_ksql_version() == "0.29.0"
    info = httpx.get(f"{live_daphne}/ksqldb/info", auth=(key.key_id, secret), timeout=15).json()
    assert info["KsqlServerInfo"]["kafkaClusterId"]
    assert info["KsqlServerInfo"]["serverStatus"] == "RUNNING"


@pytest.mark.timeout(120)
def test_the_client_runs_statements_and_gets_located_statement_errors(live_daphne, api_key):
    key, secret = api_key
    client = KSQLAPI(f"{live_daphne}/ksqldb", api_key=key.key_id, secret=secret)
    [streams] = client.ksql("SHOW STREAMS")
    assert streams["@type"] == "streams" and streams["streams"] == []
    with pytest.raises(KSQLError) as caught:
        client.ksql("DROP STREAM nope")
    assert caught.value.error_code == 40001
    assert caught.value.msg == "line 1, column 13, at 'nope': Source NOPE does not exist."


@pytest.mark.timeout(120)
def test_the_client_is_refused_with_a_wrong_or_revoked_key(live_daphne, api_key):
    key, secret = api_key
    with pytest.raises(ValueError, match="401"):
        KSQLAPI(f"{live_daphne}/ksqldb", api_key=key.key_id, secret="wrong")
    KSQLAPI(f"{live_daphne}/ksqldb", api_key=key.key_id, secret=secret)
    revoke_api_key(key)
    with pytest.raises(ValueError, match="401"):
        KSQLAPI(f"{live_daphne}/ksqldb", api_key=key.key_id, secret=secret)
    response = httpx.get(f"{live_daphne}/ksqldb/info", auth=(key.key_id, secret), timeout=15)
    assert response.headers["WWW-Authenticate"] == 'Basic realm="weir"'


@pytest.mark.timeout(120)
def test_the_client_runs_a_push_query_until_its_limit(live_server, transactional_db, new_topic, monkeypatch):
    """ksql-python-ng's ``query()`` (HTTP/1.1 ``/query``) against live_server, where the
    catalog can hold a stream (the SQL engine's catalog tables are not in this branch)."""
    import json
    import threading
    import time

    from confluent_kafka import Producer
    from django.conf import settings

    from processing import push
    from topology.sql import parse_statement
    from topology.sql.catalog import DictCatalog, define_source

    topic = new_topic()
    orders = define_source(
        parse_statement(
            f"CREATE STREAM ORDERS (ID STRING KEY, AMOUNT INTEGER) WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON')"
        )
    )
    monkeypatch.setattr(push, "catalog_for", lambda user: DictCatalog({"ORDERS": orders}))
    user = get_user_model().objects.create_user("ksql-push-user", password=None)
    key, secret = create_api_key(user, "ksql-python-ng push")

    def feed():
        producer = Producer({**settings.KAFKA_CLIENT_CONFIG, "linger.ms": 0})
        time.sleep(1.0)
        for name, amount in (("a", 1), ("b", 2)):
            producer.produce(topic, key=name, value=json.dumps({"AMOUNT": amount}))
        producer.flush(10)

    feeder = threading.Thread(target=feed)
    feeder.start()
    client = KSQLAPI(f"{live_server.url}/ksqldb", api_key=key.key_id, secret=secret)
    chunks = list(client.query("SELECT ID, AMOUNT FROM ORDERS EMIT CHANGES LIMIT 2"))
    feeder.join()
    body = json.loads("".join(chunks))
    assert body[0]["header"]["schema"] == "`ID` STRING KEY, `AMOUNT` INTEGER"
    assert [item["row"]["columns"] for item in body[1:-1]] == [["a", 1], ["b", 2]]
    assert body[-1] == {"finalMessage": "Limit Reached"}
