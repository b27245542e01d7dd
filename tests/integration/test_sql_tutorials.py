"""ksqlDB's documented tutorials, written from their documented behaviour, run against Weir.

Each tutorial runs twice: through a real Daphne's ``/ksqldb`` with a ksqlDB client from PyPI
(ksql-python-ng, unchanged), and through ``manage.py sql``. CREATE STREAM / TABLE, CREATE TABLE ... AS SELECT (a topology
and a deployment on the real Celery workers and Kafka), INSERT INTO ... VALUES, push queries
over ``/query`` and pull queries on the materialized tables. Topics get a per-run suffix so
reruns on a long-lived broker start empty; every query is terminated at the end.
"""

from __future__ import annotations

import io
import json
import threading
import uuid
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from ksql import KSQLAPI

from processing.models import DeploymentInstance
from tests.conftest import wait_for
from topology.apikeys import create_api_key

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


class Cli:
    """``manage.py sql --output json`` behind the two calls the tutorials make of a ksqlDB
    client: ``ksql(statements)`` → ksqlDB's entities, ``query(select)`` → the text of
    ``/query``'s JSON array. A push query runs in this process, as the CLI runs it."""

    def __init__(self, user) -> None:
        self.user = user

    def _run(self, text: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        call_command(
            "sql", "--user", self.user.username, "--output", "json", "--execute", text, stdout=out, stderr=err
        )
        assert err.getvalue() == "", err.getvalue()
        return out.getvalue()

    def ksql(self, text: str, stream_properties: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        return json.loads(self._run(text))

    def query(self, text: str, stream_properties: dict[str, Any] | None = None):
        sets = "".join(f"SET '{k}' = '{v}';\n" for k, v in (stream_properties or {}).items())
        lines = [
            line for line in self._run(sets + text).splitlines() if line.startswith(('{"header', '{"row'))
        ]
        yield "[" + ",\n".join(lines) + "]"


@pytest.fixture(params=["rest", "cli"])
def client(request, transactional_db, live_daphne, celery_workers, celery_beat):
    """The tutorials' ksqlDB client: the PyPI ``ksql`` client over /ksqldb, or manage.py sql."""
    user = get_user_model().objects.create_user(f"tutorial-{uuid.uuid4().hex[:6]}", password=None)
    if request.param == "rest":
        key, secret = create_api_key(user, "tutorials")
        ksql: Any = KSQLAPI(f"{live_daphne}/ksqldb", api_key=key.key_id, secret=secret, timeout=60)
    else:
        ksql = Cli(user)
    yield ksql
    ksql.ksql("TERMINATE ALL;")
    # The streams worker has four children: the next tutorial needs them back.
    wait_for(
        lambda: not DeploymentInstance.objects.filter(claimed=True).exists(),
        60,
        "the tutorial's query instances to leave the streams worker",
    )


def suffix() -> str:
    return uuid.uuid4().hex[:8]


def rows_of(client: KSQLAPI, sql: str, properties: dict[str, Any] | None = None) -> list[list[Any]]:
    """A query's rows through POST /query (ksqlDB's chunked JSON array)."""
    text = "".join(client.query(sql, stream_properties=properties or {}))
    body = json.loads(text)
    assert "header" in body[0], body[0]
    return [item["row"]["columns"] for item in body if "row" in item]


def eventually(client: KSQLAPI, sql: str, expected, key=None, timeout: float = 90.0):
    """A pull query repeated until its rows are ``expected`` (tables follow their inputs)."""
    seen: list[Any] = []

    def matches() -> bool:
        nonlocal seen
        seen = rows_of(client, sql)
        got = sorted(seen, key=key or json.dumps)
        return got == sorted(expected, key=key or json.dumps)

    try:
        wait_for(matches, timeout, f"{sql!r} to answer {expected!r}")
    except pytest.fail.Exception:
        pytest.fail(f"{sql!r} answered {seen!r}, expected {expected!r}")


def status(entities: list[dict[str, Any]]) -> str:
    assert entities and entities[0]["@type"] == "currentStatus", entities
    return entities[0]["commandStatus"]["status"]


RIDERS = [
    ("c2309eec", 37.7877, -122.4205),
    ("18f4ea86", 37.3903, -122.0643),
    ("4ab5cbad", 37.3952, -122.0813),
    ("8b6eae59", 37.3944, -122.0813),
    ("4a7c7b41", 37.4049, -122.0822),
    ("4ddad000", 37.7857, -122.4011),
]
NEAR_MOUNTAIN_VIEW = [rider for rider in RIDERS if rider[0] in ("4ab5cbad", "8b6eae59", "4a7c7b41")]


def test_quickstart_rider_locations_push_query_and_pull_queries(client):
    run = suffix()
    assert (
        status(
            client.ksql(
                "CREATE STREAM riderLocations (profileId VARCHAR, latitude DOUBLE, longitude DOUBLE) "
                f"WITH (kafka_topic='locations_{run}', value_format='json', partitions=1);"
            )
        )
        == "SUCCESS"
    )
    client.ksql(
        "CREATE TABLE currentLocation WITH (KAFKA_TOPIC='currentLocation_" + run + "') AS "
        "SELECT profileId, LATEST_BY_OFFSET(latitude) AS la, LATEST_BY_OFFSET(longitude) AS lo "
        "FROM riderlocations GROUP BY profileId EMIT CHANGES;"
    )
    client.ksql(
        "CREATE TABLE ridersNearMountainView WITH (KAFKA_TOPIC='ridersNear_" + run + "') AS "
        "SELECT ROUND(GEO_DISTANCE(la, lo, 37.4133, -122.1162), -1) AS distanceInMiles, "
        "COLLECT_LIST(profileId) AS riders, COUNT(*) AS count FROM currentLocation "
        "GROUP BY ROUND(GEO_DISTANCE(la, lo, 37.4133, -122.1162), -1);"
    )
    push: dict[str, Any] = {}

    def watch() -> None:
        try:
            push["rows"] = rows_of(
                client,
                "SELECT * FROM riderLocations WHERE GEO_DISTANCE(latitude, longitude, 37.4133, -122.1162) <= 5 "
                "EMIT CHANGES LIMIT 3;",
            )
        except Exception as error:  # reported by the assertion below
            push["error"] = error

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    wait_for(
        lambda: any(q.get("queryType") == "PUSH" for q in client.ksql("SHOW QUERIES;")[0]["queries"]),
        30,
        "the push query to be running",
    )
    for profile, latitude, longitude in RIDERS:
        client.ksql(
            f"INSERT INTO riderLocations (profileId, latitude, longitude) VALUES ('{profile}', {latitude}, {longitude});"
        )
    watcher.join(60)
    assert "error" not in push, push.get("error")
    assert push["rows"] == [list(rider) for rider in NEAR_MOUNTAIN_VIEW]

    eventually(
        client,
        "SELECT * FROM currentLocation WHERE profileId = '4ab5cbad';",
        [["4ab5cbad", 37.3952, -122.0813]],
    )
    eventually(
        client,
        "SELECT * from ridersNearMountainView WHERE distanceInMiles <= 10;",
        [[0.0, ["4ab5cbad", "8b6eae59", "4a7c7b41"], 3], [10.0, ["18f4ea86"], 1]],
    )


def test_changelog_to_table_keeps_the_latest_value_by_offset(client):
    run = suffix()
    client.ksql(
        "CREATE STREAM movements (person VARCHAR KEY, location VARCHAR) "
        f"WITH (KAFKA_TOPIC='movements_{run}', VALUE_FORMAT='JSON', PARTITIONS=1);"
    )
    client.ksql(
        f"CREATE TABLE person_location WITH (KAFKA_TOPIC='person_location_{run}') AS "
        "SELECT person, LATEST_BY_OFFSET(location) AS location FROM movements GROUP BY person EMIT CHANGES;"
    )
    for person, location in [
        ("robin", "York"),
        ("robin", "Leeds"),
        ("allison", "Denver"),
        ("robin", "Ilkley"),
    ]:
        client.ksql(f"INSERT INTO movements VALUES ('{person}', '{location}');")
    eventually(client, "SELECT * FROM person_location;", [["robin", "Ilkley"], ["allison", "Denver"]])


def test_call_centre_materialized_views_with_count_distinct_and_integer_division(client):
    run = suffix()
    client.ksql(
        "CREATE STREAM calls (name VARCHAR, reason VARCHAR, duration_seconds INT) "
        f"WITH (KAFKA_TOPIC='calls_{run}', VALUE_FORMAT='JSON', PARTITIONS=1);"
    )
    client.ksql(
        f"CREATE TABLE support_view WITH (KAFKA_TOPIC='support_view_{run}') AS SELECT name, "
        "COUNT_DISTINCT(reason) AS distinct_reasons, LATEST_BY_OFFSET(reason) AS last_reason "
        "FROM calls GROUP BY name EMIT CHANGES;"
    )
    client.ksql(
        f"CREATE TABLE lifetime_view WITH (KAFKA_TOPIC='lifetime_view_{run}') AS SELECT name, "
        "COUNT(reason) AS total_calls, (SUM(duration_seconds) / 60) AS minutes_engaged "
        "FROM calls GROUP BY name EMIT CHANGES;"
    )
    calls = [
        ("derek", "reboot_router", 82),
        ("michael", "help_with_login", 30),
        ("derek", "help_with_login", 40),
        ("michael", "help_with_login", 21),
        ("michael", "reboot_router", 190),
        ("derek", "reboot_router", 37),
        ("derek", "help_with_login", 53),
        ("michael", "cancel_subscription", 61),
    ]
    for name, reason, seconds in calls:
        client.ksql(
            f"INSERT INTO calls (name, reason, duration_seconds) VALUES ('{name}', '{reason}', {seconds});"
        )
    eventually(
        client,
        "SELECT name, distinct_reasons, last_reason FROM support_view WHERE name = 'derek';",
        [["derek", 2, "help_with_login"]],
    )
    # 82 + 40 + 37 + 53 = 212 s: 212 / 60 is 3 (INT / INT), 30 + 21 + 190 + 61 = 302 s → 5
    eventually(
        client,
        "SELECT name, total_calls, minutes_engaged FROM lifetime_view;",
        [["derek", 4, 3], ["michael", 4, 5]],
    )


def test_orders_and_shipments_stream_stream_join_with_a_custom_timestamp(client):
    run = suffix()
    client.ksql(
        "CREATE STREAM orders (id INT KEY, order_ts VARCHAR, total_amount DOUBLE, customer_name VARCHAR) "
        f"WITH (KAFKA_TOPIC='orders_{run}', VALUE_FORMAT='JSON', PARTITIONS=1, TIMESTAMP='order_ts', "
        "TIMESTAMP_FORMAT='yyyy-MM-dd''T''HH:mm:ssX');"
    )
    client.ksql(
        "CREATE STREAM shipments (id VARCHAR KEY, ship_ts VARCHAR, order_id INT, warehouse VARCHAR) "
        f"WITH (KAFKA_TOPIC='shipments_{run}', VALUE_FORMAT='JSON', PARTITIONS=1, TIMESTAMP='ship_ts', "
        "TIMESTAMP_FORMAT='yyyy-MM-dd''T''HH:mm:ssX');"
    )
    client.ksql(
        f"CREATE STREAM shipped_orders WITH (KAFKA_TOPIC='shipped_orders_{run}') AS SELECT o.id AS order_id, "
        "TIMESTAMPTOSTRING(o.rowtime, 'yyyy-MM-dd HH:mm:ss', 'UTC') AS order_ts, o.total_amount, "
        "o.customer_name, s.id AS shipment_id, TIMESTAMPTOSTRING(s.rowtime, 'yyyy-MM-dd HH:mm:ss', 'UTC') AS ship_ts, "
        "s.warehouse, (s.rowtime - o.rowtime) / 1000 / 60 AS ship_time FROM orders o "
        "INNER JOIN shipments s WITHIN 7 DAYS ON o.id = s.order_id;"
    )
    client.ksql(
        "INSERT INTO orders (id, order_ts, total_amount, customer_name) VALUES (1, '2019-03-29T06:01:18Z', 133.84, 'Ricardo Ferreira');"
    )
    client.ksql(
        "INSERT INTO orders (id, order_ts, total_amount, customer_name) VALUES (2, '2019-03-29T17:02:20Z', 164.31, 'Tim Berglund');"
    )
    client.ksql(
        "INSERT INTO shipments (id, ship_ts, order_id, warehouse) VALUES ('ship-ch83360', '2019-03-31T18:13:39Z', 1, 'UPS');"
    )
    client.ksql(
        "INSERT INTO shipments (id, ship_ts, order_id, warehouse) VALUES ('ship-xf72808', '2019-04-10T12:00:00Z', 2, 'UPS');"
    )
    rows = rows_of(
        client,
        "SELECT order_id, order_ts, shipment_id, ship_ts, warehouse, ship_time FROM shipped_orders EMIT CHANGES LIMIT 1;",
        {"auto.offset.reset": "earliest"},
    )
    # order 2 shipped 11 days later: outside WITHIN 7 DAYS, so only order 1 joins
    assert rows == [[1, "2019-03-29 06:01:18", "ship-ch83360", "2019-03-31 18:13:39", "UPS", 3612]]


def test_warehouse_table_table_join(client):
    run = suffix()
    client.ksql(
        "CREATE TABLE stock (sku VARCHAR PRIMARY KEY, qty INT) "
        f"WITH (KAFKA_TOPIC='stock_{run}', VALUE_FORMAT='JSON', PARTITIONS=1);"
    )
    client.ksql(
        "CREATE TABLE prices (sku VARCHAR PRIMARY KEY, price DOUBLE) "
        f"WITH (KAFKA_TOPIC='prices_{run}', VALUE_FORMAT='JSON', PARTITIONS=1);"
    )
    client.ksql(
        f"CREATE TABLE stock_value WITH (KAFKA_TOPIC='stock_value_{run}') AS SELECT s.sku, s.qty, p.price, "
        "s.qty * p.price AS value FROM stock s LEFT JOIN prices p ON s.sku = p.sku;"
    )
    for statement in [
        "INSERT INTO stock (sku, qty) VALUES ('pen', 10);",
        "INSERT INTO stock (sku, qty) VALUES ('ink', 2);",
        "INSERT INTO prices (sku, price) VALUES ('pen', 1.5);",
        "INSERT INTO stock (sku, qty) VALUES ('pen', 4);",
    ]:
        client.ksql(statement)
    eventually(client, "SELECT * FROM stock_value;", [["pen", 4, 1.5, 6.0], ["ink", 2, None, None]])


def test_windows_with_and_without_grace_emit_final_and_having(client):
    run = suffix()
    client.ksql(
        "CREATE STREAM clicks (user_id VARCHAR KEY, page VARCHAR) "
        f"WITH (KAFKA_TOPIC='clicks_{run}', VALUE_FORMAT='JSON', PARTITIONS=1);"
    )
    client.ksql(
        f"CREATE TABLE clicks_per_minute WITH (KAFKA_TOPIC='cpm_{run}') AS SELECT user_id, COUNT(*) AS n, "
        "WINDOWSTART AS ws FROM clicks WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 0 SECONDS) "
        "GROUP BY user_id HAVING COUNT(*) > 1 EMIT FINAL;"
    )
    client.ksql(
        f"CREATE TABLE clicks_with_grace WITH (KAFKA_TOPIC='cwg_{run}') AS SELECT user_id, COUNT(*) AS n "
        "FROM clicks WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY user_id EMIT CHANGES;"
    )
    minute = 60_000
    base = 1_700_000_000_000 - 1_700_000_000_000 % minute
    events = [("ann", 1_000), ("ann", 2_000), ("bob", 3_000), ("ann", minute + 1_000), ("ann", 5_000)]
    for user, offset in events:
        client.ksql(
            f"INSERT INTO clicks (user_id, page, ROWTIME) VALUES ('{user}', 'home', {base + offset});"
        )
    # EMIT FINAL with no grace: the first minute closes at the record one minute later; the
    # late record at +5 s is dropped (and counted); bob's window had one click: HAVING drops it.
    eventually(client, "SELECT user_id, n, ws FROM clicks_per_minute;", [["ann", 2, base]])
    # With ksqlDB's default 24 h grace the late record still counts.
    eventually(
        client,
        f"SELECT user_id, n FROM clicks_with_grace WHERE user_id = 'ann' AND WINDOWSTART = {base};",
        [["ann", 3]],
    )
