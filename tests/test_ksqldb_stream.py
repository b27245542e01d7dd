"""/ksqldb/query, /query-stream, /close-query, /inserts-stream: framing, auth and errors, with a fake query."""

import base64
import json

import pytest
from django.test import Client

from config import ksqldb_stream as views
from processing import inserts, pull, push
from topology import apikeys
from topology.sql.catalog import Column, DictCatalog, SourceDef

pytestmark = pytest.mark.django_db

KSQL_V1 = "application/vnd.ksql.v1+json"
DELIMITED = "application/vnd.ksqlapi.delimited.v1"
COLUMNS = (Column("ID", "STRING", key=True), Column("AMOUNT", "INTEGER"))


class FakeQuery:
    """Stands in for a PushQuery: its rows, then its end."""

    def __init__(self, rows, end_reason=push.LIMIT_REACHED, error=None):
        self._rows = [push.PushRow(r) for r in rows]
        self.end_reason, self.error = end_reason, error
        self.closed = 0

    def take_ready(self, timeout=0.0):
        rows, self._rows = self._rows, []
        return rows, True

    async def arows(self, idle=1.0):
        for row in self._rows:
            yield row

    def close(self, wait=True):
        self.closed += 1


@pytest.fixture
def authorization(django_user_model):
    user = django_user_model.objects.create_user("kim", password=None)
    api_key, secret = apikeys.create_api_key(user, "stream client")
    return "Basic " + base64.b64encode(f"{api_key.key_id}:{secret}".encode()).decode()


@pytest.fixture
def ksql_client(authorization):
    return Client(enforce_csrf_checks=True, headers={"Authorization": authorization})


@pytest.fixture
def started(monkeypatch):
    seen = {}

    def start(text, properties, user):
        seen.update(text=text, properties=properties, user=user)
        query = seen.setdefault("query", FakeQuery([["a", 1], ["b", 2]]))
        return views.Started("transient_ORDERS_123", "`ID` STRING KEY, `AMOUNT` INTEGER", COLUMNS, push=query)

    monkeypatch.setattr(views, "start_statement", start)
    return seen


def body_of(response):
    return b"".join(response.streaming_content).decode()


def test_query_streams_ksqldbs_v1_array_header_rows_and_final_message(ksql_client, started):
    response = ksql_client.post(
        "/ksqldb/query",
        {
            "ksql": "SELECT * FROM ORDERS EMIT CHANGES LIMIT 2;",
            "streamsProperties": {"auto.offset.reset": "earliest"},
        },
        content_type=KSQL_V1,
    )
    assert response.status_code == 200 and response["Content-Type"] == KSQL_V1
    text = body_of(response)
    assert text.splitlines() == [
        '[{"header":{"queryId":"transient_ORDERS_123","schema":"`ID` STRING KEY, `AMOUNT` INTEGER"}},',
        '{"row":{"columns":["a",1]}},',
        '{"row":{"columns":["b",2]}},',
        '{"finalMessage":"Limit Reached"}]',
    ]
    assert json.loads(text)[1] == {"row": {"columns": ["a", 1]}}
    assert started["properties"] == {"auto.offset.reset": "earliest"} and started["query"].closed == 1


def test_an_error_ends_the_v1_array_with_an_error_message(ksql_client, started):
    started["query"] = FakeQuery([["a", 1]], end_reason="boom", error="boom")
    text = body_of(
        ksql_client.post(
            "/ksqldb/query", {"ksql": "SELECT * FROM ORDERS EMIT CHANGES;"}, content_type=KSQL_V1
        )
    )
    assert json.loads(text)[-1] == {
        "errorMessage": {"@type": "generic_error", "error_code": 50000, "message": "boom"}
    }


def test_query_stream_is_delimited_by_default(ksql_client, started):
    response = ksql_client.post(
        "/ksqldb/query-stream", {"sql": "SELECT * FROM ORDERS EMIT CHANGES;"}, content_type="application/json"
    )
    assert response.status_code == 200 and response["Content-Type"] == DELIMITED
    lines = body_of(response).splitlines()
    assert json.loads(lines[0]) == {
        "queryId": "transient_ORDERS_123",
        "columnNames": ["ID", "AMOUNT"],
        "columnTypes": ["STRING", "INTEGER"],
    }
    assert [json.loads(line) for line in lines[1:]] == [["a", 1], ["b", 2]]


def test_query_stream_as_application_json_is_one_array(ksql_client, started):
    response = ksql_client.post(
        "/ksqldb/query-stream",
        {"sql": "SELECT * FROM ORDERS EMIT CHANGES;"},
        content_type="application/json",
        headers={"Accept": "application/json"},
    )
    assert response["Content-Type"] == "application/json"
    assert json.loads(body_of(response))[1:] == [["a", 1], ["b", 2]]


def test_a_stream_endpoint_needs_an_api_key_and_a_known_accept(started):
    response = Client().post("/ksqldb/query-stream", {"sql": "SELECT 1"}, content_type="application/json")
    assert response.status_code == 401 and response.json()["error_code"] == 40100
    response = Client().post("/ksqldb/query", {"ksql": "SELECT 1"}, content_type=KSQL_V1)
    assert response.status_code == 401


def test_query_stream_refuses_an_accept_it_cannot_meet(ksql_client, started):
    response = ksql_client.post(
        "/ksqldb/query-stream", {"sql": "x"}, content_type="application/json", headers={"Accept": "text/csv"}
    )
    assert response.status_code == 406


def test_a_bad_body_is_a_ksqldb_bad_request(ksql_client, started):
    response = ksql_client.post("/ksqldb/query", {"sql": "wrong field"}, content_type=KSQL_V1)
    assert response.status_code == 400 and response.json()["error_code"] == 40000


def test_a_statement_that_is_not_a_query_is_a_statement_error(ksql_client):
    response = ksql_client.post("/ksqldb/query", {"ksql": "SHOW STREAMS;"}, content_type=KSQL_V1)
    assert response.status_code == 400
    assert response.json()["@type"] == "statement_error" and "/ksql" in response.json()["message"]


def test_a_pull_query_on_an_unknown_table_says_so_at_its_place(ksql_client):
    response = ksql_client.post("/ksqldb/query", {"ksql": "SELECT * FROM NOWHERE;"}, content_type=KSQL_V1)
    assert (
        response.status_code == 400
        and "line 1, column 15: NOWHERE does not exist" in response.json()["message"]
    )


def test_a_pull_query_streams_its_rows_without_a_final_message(ksql_client, monkeypatch):
    totals = SourceDef("TOTALS", "TABLE", "totals", (Column("ID", "STRING", key=True), Column("N", "BIGINT")))
    monkeypatch.setattr(push, "catalog_for", lambda user: DictCatalog({"TOTALS": totals}))
    monkeypatch.setattr(pull, "materialized_rows", lambda source, user: [("a", {"N": 1}), ("b", {"N": 2})])
    response = ksql_client.post(
        "/ksqldb/query", {"ksql": "SELECT * FROM TOTALS WHERE ID = 'b';"}, content_type=KSQL_V1
    )
    body = json.loads(body_of(response))
    assert body[0]["header"]["schema"] == "`ID` STRING KEY, `N` BIGINT"
    assert body[1:] == [{"row": {"columns": ["b", 2]}}]
    stream = ksql_client.post(
        "/ksqldb/query-stream", {"sql": "SELECT ID FROM TOTALS;"}, content_type="application/json"
    )
    lines = body_of(stream).splitlines()
    assert json.loads(lines[0])["columnNames"] == ["ID"] and lines[1:] == ['["a"]', '["b"]']


def test_close_query_closes_a_running_query_and_refuses_an_unknown_id(ksql_client, monkeypatch):
    closed = []
    monkeypatch.setattr(push, "close_query", lambda query_id: closed.append(query_id) or query_id == "q1")
    assert ksql_client.post("/ksqldb/close-query", {"queryId": "q1"}, content_type=KSQL_V1).status_code == 200
    response = ksql_client.post("/ksqldb/close-query", {"queryId": "nope"}, content_type=KSQL_V1)
    assert response.status_code == 400 and "No query with id nope" in response.json()["message"]
    assert closed == ["q1", "nope"]


def test_inserts_stream_acks_each_row_and_stops_at_the_first_error(ksql_client, monkeypatch):
    orders = SourceDef("ORDERS", "STREAM", "orders", COLUMNS)
    monkeypatch.setattr(push, "catalog_for", lambda user: DictCatalog({"ORDERS": orders}))
    written = []
    monkeypatch.setattr(
        inserts,
        "insert_values",
        lambda source, columns, values: (
            written.append((columns, values)) or inserts.record_of(source, columns, values)
        ),
    )
    body = "\n".join(
        [
            json.dumps({"target": "orders"}),
            json.dumps({"id": "a", "AMOUNT": 1}),
            json.dumps({"ID": "b", "AMOUNT": "x"}),
            json.dumps({"ID": "c"}),
        ]
    )
    response = ksql_client.post("/ksqldb/inserts-stream", body, content_type=DELIMITED)
    assert response.status_code == 200 and response["Content-Type"] == DELIMITED
    acks = [json.loads(line) for line in response.content.decode().splitlines()]
    assert acks[0] == {"status": "ok", "seq": 0}
    assert acks[1]["status"] == "error" and acks[1]["seq"] == 1 and "column AMOUNT" in acks[1]["message"]
    assert len(acks) == 2 and written[0] == (["ID", "AMOUNT"], ["a", 1])


def test_inserts_stream_into_an_unknown_target_is_refused(ksql_client):
    response = ksql_client.post(
        "/ksqldb/inserts-stream", '{"target": "NOPE"}\n{"A": 1}', content_type=DELIMITED
    )
    assert response.status_code == 400 and "unknown stream or table: NOPE" in response.json()["message"]


class EndlessQuery(FakeQuery):
    """A push query without LIMIT: one row, then nothing, for ever."""

    async def arows(self, idle=1.0):
        import asyncio

        yield push.PushRow(["a", 1])
        while True:
            await asyncio.sleep(idle)
            yield None


def test_under_asgi_rows_stream_before_the_query_ends_and_leaving_closes_it(started, monkeypatch):
    import asyncio

    from django.test import AsyncClient

    from config import ksqldb

    # The key check reads the database from another thread under ASGI, where this test's
    # transaction is not visible; authentication is tested above, the framing here.
    monkeypatch.setattr(ksqldb, "authenticate_request", lambda request: object())
    started["query"] = EndlessQuery([])
    headers = {"Authorization": "Basic eDp5"}

    async def read_two_chunks():
        client = AsyncClient()
        response = await client.post(
            "/ksqldb/query",
            {"ksql": "SELECT * FROM ORDERS EMIT CHANGES;"},
            content_type=KSQL_V1,
            headers=headers,
        )
        assert response.status_code == 200, response.content
        assert response.is_async
        chunks = aiter(response.streaming_content)
        first, second = await anext(chunks), await anext(chunks)
        await chunks.aclose()
        return first + second

    text = asyncio.run(read_two_chunks()).decode()
    assert text.startswith('[{"header":{"queryId":"transient_ORDERS_123"') and text.endswith(
        '{"row":{"columns":["a",1]}}'
    )
    assert started["query"].closed == 1


def test_a_deleted_table_row_is_a_tombstone_row():
    row = push.PushRow(["a", None])
    row.tombstone = True
    assert json.loads(views.V1Framing().row(row)[2:]) == {"row": {"columns": ["a", None], "tombstone": True}}
    assert json.loads(views.V1Framing().row(push.PushRow(["a", 1]))[2:]) == {"row": {"columns": ["a", 1]}}
