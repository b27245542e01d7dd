"""SQL queries → topology documents, run through the in-memory driver: what ksqlDB answers.

Each test translates a statement against a catalog declared with CREATE STREAM/TABLE, checks
that the topology compiler accepts the document, pipes records through Weir's
TopologyTestDriver and reads the rows as ksqlDB's REST API shows them (``row_columns``).
"""

from __future__ import annotations

import pytest

from processing.runtime.testing import TopologyTestDriver
from topology import compiler
from topology.sql import SqlError, parse
from topology.sql.catalog import DictCatalog, SourceDef, define_source
from topology.sql.translate import row_columns, translate, translate_push

SOURCES = """
CREATE STREAM riderLocations (profileId VARCHAR, latitude DOUBLE, longitude DOUBLE)
  WITH (kafka_topic='locations', value_format='json', partitions=1);
CREATE STREAM pageviews (page_id BIGINT KEY, viewtime BIGINT, user_id VARCHAR)
  WITH (KAFKA_TOPIC='pv', VALUE_FORMAT='JSON');
CREATE TABLE users (id VARCHAR PRIMARY KEY, name VARCHAR, region VARCHAR)
  WITH (KAFKA_TOPIC='users', VALUE_FORMAT='JSON');
CREATE STREAM orders (id VARCHAR KEY, item VARCHAR, amount INT) WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='JSON');
CREATE STREAM shipments (id VARCHAR KEY, order_id VARCHAR, warehouse VARCHAR)
  WITH (KAFKA_TOPIC='shipments', VALUE_FORMAT='JSON');
"""


@pytest.fixture(scope="module")
def catalog() -> DictCatalog:
    catalog = DictCatalog()
    for statement in parse(SOURCES):
        catalog.add(define_source(statement))
    return catalog


def run(translation, records):
    result = compiler.compile_document(translation.document)
    assert result.ok, result.issues
    driver = TopologyTestDriver(result.plan)
    for topic, key, value, timestamp in records:
        driver.pipe_input(topic, key, value, timestamp=timestamp)
    out = [row_columns(translation.output, k, v) for k, v, _ in driver.read_output(translation.output.topic)]
    driver.close()
    return out


def persistent(sql: str, catalog) -> object:
    return translate(parse(sql)[0], catalog, name="q")


def test_latest_location_table_keeps_the_last_value_per_rider_by_offset(catalog):
    t = persistent(
        "CREATE TABLE currentLocation AS SELECT profileId, LATEST_BY_OFFSET(latitude) AS la, "
        "LATEST_BY_OFFSET(longitude) AS lo FROM riderlocations GROUP BY profileId EMIT CHANGES;",
        catalog,
    )
    assert t.output.schema_text() == "`PROFILEID` STRING PRIMARY KEY, `LA` DOUBLE, `LO` DOUBLE"
    assert t.view_node == "table" and t.reads == ("RIDERLOCATIONS",)
    rows = run(
        t,
        [
            # by offset: the later record wins although its event time is earlier
            ("locations", None, {"PROFILEID": "c2ad", "LATITUDE": 37.7, "LONGITUDE": -122.4}, 10),
            ("locations", None, {"PROFILEID": "4ab5", "LATITUDE": 37.3, "LONGITUDE": -122.0}, 11),
            ("locations", None, {"PROFILEID": "c2ad", "LATITUDE": 38.0, "LONGITUDE": -122.5}, 5),
        ],
    )
    assert rows == [["c2ad", 37.7, -122.4], ["4ab5", 37.3, -122.0], ["c2ad", 38.0, -122.5]]


def test_stream_table_left_join_rekeys_the_stream_and_names_the_joined_columns(catalog):
    t = persistent(
        "CREATE STREAM enriched AS SELECT pv.user_id, pv.viewtime, u.name FROM pageviews pv "
        "LEFT JOIN users u ON pv.user_id = u.id;",
        catalog,
    )
    assert t.output.schema_text() == "`USER_ID` STRING KEY, `VIEWTIME` BIGINT, `NAME` STRING"
    rows = run(
        t,
        [
            ("users", "u1", {"NAME": "Ann", "REGION": "eu"}, 1),
            ("pv", 7, {"VIEWTIME": 5, "USER_ID": "u1"}, 2),
            ("pv", 8, {"VIEWTIME": 6, "USER_ID": "u2"}, 3),
        ],
    )
    assert rows == [["u1", 5, "Ann"], ["u2", 6, None]]


def test_stream_stream_join_within_a_window(catalog):
    t = persistent(
        "CREATE STREAM shipped AS SELECT o.id AS order_id, o.item, s.warehouse FROM orders o "
        "JOIN shipments s WITHIN 1 HOURS ON o.id = s.order_id;",
        catalog,
    )
    join = next(n for n in t.document["nodes"] if n["type"] == "join")
    assert join["config"]["window"] == {"size": 3_600_000, "grace": 24 * 3_600_000}
    assert join["config"]["right_key"] == '"ORDER_ID"' and "left_key" not in join["config"]
    hour = 3_600_000
    rows = run(
        t,
        [
            ("orders", "o1", {"ITEM": "book", "AMOUNT": 3}, 0),
            ("shipments", "s1", {"ORDER_ID": "o1", "WAREHOUSE": "north"}, hour - 1),
            ("shipments", "s2", {"ORDER_ID": "o1", "WAREHOUSE": "late"}, 2 * hour),
        ],
    )
    assert rows == [["o1", "book", "north"]]


def test_windowed_count_with_having_and_emit_final(catalog):
    t = persistent(
        "CREATE TABLE busy AS SELECT user_id, COUNT(*) AS n, WINDOWSTART AS ws FROM pageviews "
        "WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 0 MILLISECONDS) GROUP BY user_id "
        "HAVING COUNT(*) >= 2 EMIT FINAL;",
        catalog,
    )
    assert t.output.window is not None and t.output.window.size_ms == 10
    rows = run(
        t,
        [
            ("pv", 1, {"VIEWTIME": 5, "USER_ID": "u1"}, 1),
            ("pv", 2, {"VIEWTIME": 6, "USER_ID": "u1"}, 3),
            ("pv", 3, {"VIEWTIME": 6, "USER_ID": "u2"}, 4),
            ("pv", 4, {"VIEWTIME": 6, "USER_ID": "u2"}, 30),  # closes [0, 10)
        ],
    )
    # u2's window holds one record: HAVING keeps it out (its final result is a delete).
    assert ["u1", 2, 0] in rows
    assert all(row[0] != "u2" or row[1] is None for row in rows)


def test_window_grace_defaults_to_24_hours_as_in_ksqldb(catalog):
    t = persistent(
        "CREATE TABLE c AS SELECT user_id, COUNT(*) FROM pageviews WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY user_id;",
        catalog,
    )
    aggregate = next(n for n in t.document["nodes"] if n["type"] == "aggregate")
    assert aggregate["config"]["window"] == {"type": "tumbling", "size": 60_000, "grace": 86_400_000}
    assert [c.name for c in t.output.columns] == ["USER_ID", "KSQL_COL_1"]


def test_composite_group_by_keys_the_table_by_both_columns(catalog):
    t = persistent(
        "CREATE TABLE by_item AS SELECT id, item, SUM(amount) AS total FROM orders GROUP BY id, item;",
        catalog,
    )
    assert [c.name for c in t.output.key_columns] == ["ID", "ITEM"]
    rows = run(
        t,
        [
            ("orders", "a", {"ITEM": "x", "AMOUNT": 2}, 1),
            ("orders", "a", {"ITEM": "x", "AMOUNT": 3}, 2),
            ("orders", "a", {"ITEM": "y", "AMOUNT": 1}, 3),
        ],
    )
    assert rows == [["a", "x", 2], ["a", "x", 5], ["a", "y", 1]]


def test_partition_by_rekeys_a_stream(catalog):
    t = persistent(
        "CREATE STREAM by_user AS SELECT user_id, viewtime FROM pageviews PARTITION BY user_id;", catalog
    )
    assert t.output.schema_text() == "`USER_ID` STRING KEY, `VIEWTIME` BIGINT"
    assert run(t, [("pv", 1, {"VIEWTIME": 5, "USER_ID": "u9"}, 1)]) == [["u9", 5]]


def test_push_query_rows_hold_every_projected_column(catalog):
    t = translate_push(
        parse(
            "SELECT profileId, latitude * 2 AS d FROM riderLocations WHERE latitude > 37.8 EMIT CHANGES LIMIT 3;"
        )[0],
        catalog,
        topic="push-1",
    )
    assert t.offset_reset == "latest" and t.output.schema_text() == "`PROFILEID` STRING, `D` DOUBLE"
    rows = run(
        t,
        [
            ("locations", None, {"PROFILEID": "c2ad", "LATITUDE": 37.7, "LONGITUDE": 1.0}, 1),
            ("locations", None, {"PROFILEID": "c2ad", "LATITUDE": 38.0, "LONGITUDE": 1.0}, 2),
        ],
    )
    assert rows == [["c2ad", 76.0]]


@pytest.mark.parametrize(
    ("sql", "line", "column", "token", "words"),
    [
        ("CREATE STREAM x AS SELECT * FROM nope;", 1, 34, "nope", "NOPE does not exist"),
        (
            "CREATE STREAM x AS SELECT profileId,\n  speed FROM riderLocations;",
            2,
            3,
            "SPEED",
            "cannot be resolved",
        ),
        (
            "CREATE STREAM x AS SELECT id, item FROM orders o JOIN shipments s WITHIN 1 HOUR ON o.id = s.order_id;",
            1,
            27,
            "ID",
            "ambiguous",
        ),
        ("CREATE TABLE x AS SELECT COUNT(*) AS n FROM orders GROUP BY item;", 1, 61, "item", "Key missing"),
        (
            "CREATE TABLE x AS SELECT item, amount, COUNT(*) FROM orders GROUP BY item;",
            1,
            32,
            "AMOUNT",
            "neither in GROUP BY",
        ),
        (
            "CREATE STREAM x AS SELECT o.id FROM orders o JOIN shipments s ON o.id = s.order_id;",
            1,
            46,
            "JOIN",
            "WITHIN",
        ),
        ("CREATE STREAM x AS SELECT viewtime FROM pageviews;", 1, 20, "SELECT", "Key missing"),
        ("INSERT INTO users SELECT * FROM orders;", 1, 13, "users", "only streams"),
    ],
)
def test_errors_name_line_column_and_token(catalog, sql, line, column, token, words):
    with pytest.raises(SqlError) as raised:
        statement = parse(sql)[0]
        translate(statement, catalog, name="q")
    error = raised.value
    assert words in error.message
    assert (error.line, error.column, error.token) == (line, column, token)


def test_insert_into_select_writes_the_target_topic(catalog):
    local = DictCatalog(catalog.sources)
    local.add(
        SourceDef.from_dict(
            {
                "name": "ALL_ORDERS",
                "kind": "STREAM",
                "topic": "all_orders",
                "columns": [
                    {"name": "ID", "type": "STRING", "key": True},
                    {"name": "ITEM", "type": "STRING"},
                ],
            }
        )
    )
    t = translate(parse("INSERT INTO all_orders SELECT id, item FROM orders;")[0], local, name="q")
    assert t.output.name == "ALL_ORDERS"
    assert run(t, [("orders", "o1", {"ITEM": "pen", "AMOUNT": 1}, 1)]) == [["o1", "pen"]]


def test_a_table_cannot_be_joined_on_a_column_other_than_its_key(catalog):
    with pytest.raises(SqlError, match="PRIMARY KEY"):
        persistent(
            "CREATE STREAM x AS SELECT pv.user_id FROM pageviews pv JOIN users u ON pv.user_id = u.name;",
            catalog,
        )


def warehouse_catalog() -> DictCatalog:
    catalog = DictCatalog()
    for statement in parse(
        """
        CREATE TABLE stock (sku VARCHAR PRIMARY KEY, qty INT) WITH (KAFKA_TOPIC='stock', VALUE_FORMAT='JSON');
        CREATE TABLE prices (sku VARCHAR PRIMARY KEY, price DOUBLE) WITH (KAFKA_TOPIC='prices', VALUE_FORMAT='JSON');
        CREATE STREAM buys (id VARCHAR KEY, sku VARCHAR, amount INT) WITH (KAFKA_TOPIC='buys', VALUE_FORMAT='JSON');
        """
    ):
        catalog.add(define_source(statement))
    return catalog


def test_table_table_outer_join_on_the_primary_key_follows_both_sides_and_deletes():
    t = persistent(
        "CREATE TABLE w AS SELECT s.sku, s.qty, p.price FROM stock s FULL OUTER JOIN prices p ON s.sku = p.sku;",
        warehouse_catalog(),
    )
    assert t.output.kind == "TABLE" and t.view_node == "table"
    rows = run(
        t,
        [
            ("stock", "a", {"QTY": 1}, 1),
            ("prices", "a", {"PRICE": 2.0}, 2),
            ("prices", "b", {"PRICE": 3.0}, 3),
            ("stock", "a", None, 4),
        ],
    )
    assert rows == [["a", 1, None], ["a", 1, 2.0], ["b", None, 3.0], ["a", None, 2.0]]


def test_three_way_join_and_select_star_order_columns_as_ksqldb():
    catalog = warehouse_catalog()
    t = persistent(
        "CREATE STREAM o AS SELECT b.sku, b.amount, s.qty, p.price FROM buys b JOIN stock s ON b.sku = s.sku "
        "LEFT JOIN prices p ON b.sku = p.sku;",
        catalog,
    )
    rows = run(
        t,
        [
            ("stock", "a", {"QTY": 1}, 1),
            ("prices", "a", {"PRICE": 2.0}, 2),
            ("buys", "o1", {"SKU": "a", "AMOUNT": 3}, 3),
            ("buys", "o2", {"SKU": "b", "AMOUNT": 3}, 4),  # no stock row: the inner join drops it
        ],
    )
    assert rows == [["a", 3, 1, 2.0]]
    star = persistent("CREATE STREAM o2 AS SELECT * FROM buys b JOIN stock s ON b.sku = s.sku;", catalog)
    assert star.output.schema_text() == (
        "`B_SKU` STRING KEY, `B_ID` STRING, `B_AMOUNT` INTEGER, `S_SKU` STRING, `S_QTY` INTEGER"
    )


def test_explode_emits_one_row_per_array_element():
    catalog = DictCatalog()
    for statement in parse(
        "CREATE STREAM baskets (id VARCHAR KEY, tags ARRAY<VARCHAR>, n INT) WITH (KAFKA_TOPIC='b', VALUE_FORMAT='JSON');"
    ):
        catalog.add(define_source(statement))
    t = persistent("CREATE STREAM e AS SELECT id, EXPLODE(tags) AS tag, n FROM baskets;", catalog)
    assert t.output.schema_text() == "`ID` STRING KEY, `TAG` STRING, `N` INTEGER"
    assert run(t, [("b", "k", {"TAGS": ["x", "y"], "N": 1}, 1)]) == [["k", "x", 1], ["k", "y", 1]]
    with pytest.raises(SqlError, match="whole projection item"):
        persistent("CREATE STREAM e2 AS SELECT id, UCASE(EXPLODE(tags)) FROM baskets;", catalog)


def test_a_source_table_is_materialized_into_a_view_without_writing_kafka():
    from topology.sql.translate import translate_materialize

    source = define_source(
        parse(
            "CREATE SOURCE TABLE t (id VARCHAR PRIMARY KEY, v INT) WITH (KAFKA_TOPIC='t', VALUE_FORMAT='JSON');"
        )[0]
    )
    t = translate_materialize(source, name="SOURCE_T")
    assert [n["type"] for n in t.document["nodes"]] == ["table_source", "map", "map", "view"]
    result = compiler.compile_document(t.document)
    assert result.ok, result.issues
    driver = TopologyTestDriver(result.plan)
    driver.pipe_input("t", "a", {"V": 1}, timestamp=1)
    driver.pipe_input("t", "b", {"V": 2}, timestamp=2)
    driver.pipe_input("t", "a", None, timestamp=3)
    assert driver.table("table") == {"b": {"V": 2}}


def test_push_query_over_a_windowed_table_and_alias_rowtime_in_joins(catalog):
    local = DictCatalog(catalog.sources)
    ctas = persistent(
        "CREATE TABLE cpm AS SELECT user_id, COUNT(*) AS n FROM pageviews "
        "WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 0 SECONDS) GROUP BY user_id EMIT FINAL;",
        local,
    )
    local.add(ctas.output)
    push = translate_push(
        parse("SELECT * FROM cpm EMIT CHANGES;")[0], local, topic="p", offset_reset="earliest"
    )
    assert push.output.schema_text() == (
        "`USER_ID` STRING PRIMARY KEY, `WINDOWSTART` BIGINT, `WINDOWEND` BIGINT, `N` BIGINT"
    )
    rows = run(push, [("CPM", {"key": "ann", "window_start": 0, "window_end": 60_000}, {"N": 2}, 5)])
    assert rows == [["ann", 0, 60_000, 2]]
    joined = persistent(
        "CREATE STREAM lag AS SELECT o.id, s.rowtime - o.rowtime AS dt FROM orders o "
        "JOIN shipments s WITHIN 1 HOUR ON o.id = s.order_id;",
        catalog,
    )
    assert joined.output.schema_text() == "`ID` STRING KEY, `DT` BIGINT"
    rows = run(
        joined,
        [
            ("orders", "o1", {"ITEM": "a", "AMOUNT": 1}, 1_000),
            ("shipments", "s1", {"ORDER_ID": "o1", "WAREHOUSE": "w"}, 5_000),
        ],
    )
    assert rows == [["o1", 4_000]]


def test_foreign_key_table_join_is_keyed_by_the_left_table_and_follows_both_sides():
    catalog = DictCatalog()
    for statement in parse(
        """
        CREATE TABLE customers (id VARCHAR PRIMARY KEY, name VARCHAR) WITH (KAFKA_TOPIC='c', VALUE_FORMAT='JSON');
        CREATE TABLE accounts (acc VARCHAR PRIMARY KEY, customer_id VARCHAR, balance INT)
          WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');
        """
    ):
        catalog.add(define_source(statement))
    t = persistent(
        "CREATE TABLE named AS SELECT a.acc, a.balance, c.name FROM accounts a "
        "LEFT JOIN customers c ON a.customer_id = c.id;",
        catalog,
    )
    join = next(n for n in t.document["nodes"] if n["type"] == "join")
    assert join["config"]["foreign_key"] == '"CUSTOMER_ID"' and join["config"]["how"] == "left"
    assert t.output.schema_text() == "`ACC` STRING PRIMARY KEY, `BALANCE` INTEGER, `NAME` STRING"
    rows = run(
        t,
        [
            ("a", "a1", {"CUSTOMER_ID": "c1", "BALANCE": 5}, 1),
            ("c", "c1", {"NAME": "Ann"}, 2),
            ("c", "c1", {"NAME": "Annie"}, 3),
        ],
    )
    assert rows[0] == ["a1", 5, None] and rows[-1] == ["a1", 5, "Annie"]
    with pytest.raises(SqlError, match="INNER or LEFT"):
        persistent(
            "CREATE TABLE n2 AS SELECT a.acc FROM accounts a FULL OUTER JOIN customers c ON a.customer_id = c.id;",
            catalog,
        )


def test_a_table_is_aggregated_with_a_subtractor_when_grouped():
    catalog = warehouse_catalog()
    t = persistent(
        "CREATE TABLE by_qty AS SELECT qty, COUNT(*) AS skus FROM stock GROUP BY qty;",
        catalog,
    )
    rows = run(
        t, [("stock", "a", {"QTY": 1}, 1), ("stock", "b", {"QTY": 1}, 2), ("stock", "a", {"QTY": 2}, 3)]
    )
    assert rows == [[1, 1], [1, 2], [1, 1], [2, 1]]


def test_quickstart_riders_near_mountain_view_aggregates_the_latest_locations_table():
    catalog = DictCatalog()
    catalog.add(
        define_source(
            parse(
                "CREATE STREAM riderLocations (profileId VARCHAR, latitude DOUBLE, longitude DOUBLE) "
                "WITH (kafka_topic='locations', value_format='json', partitions=1);"
            )[0]
        )
    )
    latest = persistent(
        "CREATE TABLE currentLocation AS SELECT profileId, LATEST_BY_OFFSET(latitude) AS la, "
        "LATEST_BY_OFFSET(longitude) AS lo FROM riderlocations GROUP BY profileId EMIT CHANGES;",
        catalog,
    )
    catalog.add(latest.output)
    near = persistent(
        "CREATE TABLE ridersNearMountainView AS SELECT ROUND(GEO_DISTANCE(la, lo, 37.4133, -122.1162), -1) "
        "AS distanceInMiles, COLLECT_LIST(profileId) AS riders, COUNT(*) AS count FROM currentLocation "
        "GROUP BY ROUND(GEO_DISTANCE(la, lo, 37.4133, -122.1162), -1);",
        catalog,
    )
    riders = [
        ("c2309eec", 37.7877, -122.4205),
        ("18f4ea86", 37.3903, -122.0643),
        ("4ab5cbad", 37.3952, -122.0813),
        ("8b6eae59", 37.3944, -122.0813),
        ("4a7c7b41", 37.4049, -122.0822),
        ("4ddad000", 37.7857, -122.4011),
    ]
    first = compiler.compile_document(latest.document)
    second = compiler.compile_document(near.document)
    assert first.ok and second.ok, (first.issues, second.issues)
    upstream, downstream = TopologyTestDriver(first.plan), TopologyTestDriver(second.plan)
    for offset, (profile, latitude, longitude) in enumerate(riders):
        upstream.pipe_input(
            "locations",
            None,
            {"PROFILEID": profile, "LATITUDE": latitude, "LONGITUDE": longitude},
            timestamp=offset,
        )
    for key, value, timestamp in upstream.read_output("CURRENTLOCATION"):
        downstream.pipe_input("CURRENTLOCATION", key, value, timestamp=timestamp)
    table = {}
    for key, value, _ in downstream.read_output("RIDERSNEARMOUNTAINVIEW"):
        table[key] = row_columns(near.output, key, value)
    assert table[0.0] == [0.0, ["4ab5cbad", "8b6eae59", "4a7c7b41"], 3]
    assert table[10.0] == [10.0, ["18f4ea86"], 1]
    # a rider who moves leaves its old group: the subtractor takes it out of the list
    upstream.pipe_input(
        "locations", None, {"PROFILEID": "4ab5cbad", "LATITUDE": 37.7877, "LONGITUDE": -122.4205}, timestamp=9
    )
    for key, value, timestamp in upstream.read_output("CURRENTLOCATION"):
        downstream.pipe_input("CURRENTLOCATION", key, value, timestamp=timestamp)
    for key, value, _ in downstream.read_output("RIDERSNEARMOUNTAINVIEW"):
        table[key] = row_columns(near.output, key, value)
    assert table[0.0] == [0.0, ["8b6eae59", "4a7c7b41"], 2]


def test_json_fields_match_columns_ignoring_case_as_in_ksqldb():
    catalog = DictCatalog()
    catalog.add(
        define_source(
            parse(
                "CREATE STREAM s (profileId VARCHAR, `exact` INT, speed DOUBLE) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');"
            )[0]
        )
    )
    assert catalog.source("S").columns[0].json_names() == ("PROFILEID", "profileId", "profileid")
    t = translate_push(parse("SELECT profileId, `exact`, speed FROM s EMIT CHANGES;")[0], catalog, topic="p")
    rows = run(
        t,
        [
            ("s", None, {"profileId": "a", "exact": 1, "speed": 2.5}, 1),  # as declared, lower case
            ("s", None, {"PROFILEID": "b", "EXACT": 1, "SPEED": 3.0}, 2),  # as ksqlDB writes
        ],
    )
    # a quoted column is read by its exact name only
    assert rows == [["a", 1, 2.5], ["b", None, 3.0]]


@pytest.mark.parametrize(
    ("sql", "line", "column", "token", "words"),
    [
        (
            "CREATE STREAM o AS SELECT id, item\nFROM orders\nWHERE amount > 1 AND NOPE(amount) > 1;",
            3,
            22,
            "NOPE",
            "unknown function NOPE",
        ),
        (
            "CREATE TABLE o AS SELECT id,\n  SUM(item) FROM orders GROUP BY id;",
            2,
            7,
            "ITEM",
            "SUM needs a numeric argument",
        ),
    ],
)
def test_compiler_errors_point_at_the_function_or_column_in_the_statement(
    catalog, sql, line, column, token, words
):
    with pytest.raises(SqlError) as raised:
        persistent(sql, catalog)
    error = raised.value
    assert words in error.message
    assert (error.line, error.column, error.token) == (line, column, token)


def test_right_join_reads_each_column_from_its_own_side():
    t = persistent(
        "CREATE TABLE r AS SELECT p.sku, s.qty, p.price FROM stock s RIGHT JOIN prices p ON s.sku = p.sku;",
        warehouse_catalog(),
    )
    rows = run(
        t,
        [
            ("stock", "a", {"QTY": 1}, 1),
            ("prices", "a", {"PRICE": 2.0}, 2),
            ("prices", "b", {"PRICE": 3.0}, 3),
        ],
    )
    # the latest row per key (a stock row without a price is a delete: no row of r yet)
    assert {row[0]: row for row in rows} == {"a": ["a", 1, 2.0], "b": ["b", None, 3.0]}


def test_composite_partition_by_keys_the_stream_by_both_columns(catalog):
    t = persistent("CREATE STREAM x AS SELECT id, item, amount FROM orders PARTITION BY id, item;", catalog)
    assert [c.name for c in t.output.key_columns] == ["ID", "ITEM"]
    assert run(t, [("orders", "o1", {"ITEM": "pen", "AMOUNT": 2}, 1)]) == [["o1", "pen", 2]]
