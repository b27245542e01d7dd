"""Graphs → SQL: ``render`` writes the statement that translates back into the same plan, or
refuses with the node it cannot express; it never answers with SQL of another plan."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from topology import compiler
from topology.sql import parse
from topology.sql.catalog import DictCatalog, define_source
from topology.sql.render import duration, identifier, render
from topology.sql.translate import translate

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
CREATE TABLE stock (sku VARCHAR PRIMARY KEY, qty INT) WITH (KAFKA_TOPIC='stock', VALUE_FORMAT='JSON');
CREATE TABLE prices (sku VARCHAR PRIMARY KEY, price DOUBLE) WITH (KAFKA_TOPIC='prices', VALUE_FORMAT='JSON');
CREATE STREAM buys (id VARCHAR KEY, sku VARCHAR, amount INT) WITH (KAFKA_TOPIC='buys', VALUE_FORMAT='JSON');
CREATE TABLE customers (id VARCHAR PRIMARY KEY, name VARCHAR) WITH (KAFKA_TOPIC='c', VALUE_FORMAT='JSON');
CREATE TABLE accounts (acc VARCHAR PRIMARY KEY, customer_id VARCHAR, balance INT)
  WITH (KAFKA_TOPIC='a', VALUE_FORMAT='JSON');
CREATE STREAM baskets (id VARCHAR KEY, tags ARRAY<VARCHAR>, n INT, s STRUCT<a INT, `b c` VARCHAR>)
  WITH (KAFKA_TOPIC='b', VALUE_FORMAT='JSON');
CREATE STREAM readings (A INT, B DOUBLE, C VARCHAR, `low` INT) WITH (KAFKA_TOPIC='readings', VALUE_FORMAT='JSON');
"""


def catalog() -> DictCatalog:
    result = DictCatalog()
    for statement in parse(SOURCES):
        result.add(define_source(statement))
    location = translate(
        parse(
            "CREATE TABLE currentLocation AS SELECT profileId, LATEST_BY_OFFSET(latitude) AS la, "
            "LATEST_BY_OFFSET(longitude) AS lo FROM riderlocations GROUP BY profileId;"
        )[0],
        result,
        name="q",
    )
    result.add(location.output)
    windowed = translate(
        parse(
            "CREATE TABLE cpm AS SELECT user_id, COUNT(*) AS n FROM pageviews "
            "WINDOW TUMBLING (SIZE 1 MINUTE, GRACE PERIOD 0 SECONDS) GROUP BY user_id EMIT FINAL;"
        )[0],
        result,
        name="q",
    )
    result.add(windowed.output)
    return result


CATALOG = catalog()


def plan_hash(sql: str) -> str:
    document = translate(parse(sql)[-1], CATALOG, name="q").document
    result = compiler.compile_document(document)
    assert result.plan is not None, result.issues
    return result.plan.hash


def round_trip(sql: str) -> str:
    """SQL → document → SQL → document: the rendered SQL, checked to keep the plan hash."""
    document = translate(parse(sql)[0], CATALOG, name="q").document
    rendered = render(document, CATALOG.sources.values())
    assert rendered.sql is not None, rendered.reason
    assert rendered.reason is None
    assert plan_hash(rendered.sql) == plan_hash(sql)
    return rendered.sql


STATEMENTS = {
    "group_by_latest_by_offset": "CREATE TABLE currentLocation2 AS SELECT profileId, LATEST_BY_OFFSET(latitude) AS la, "
    "LATEST_BY_OFFSET(longitude) AS lo FROM riderlocations GROUP BY profileId EMIT CHANGES;",
    "stream_table_left_join": "CREATE STREAM enriched AS SELECT pv.user_id, pv.viewtime, u.name FROM pageviews pv "
    "LEFT JOIN users u ON pv.user_id = u.id;",
    "stream_stream_join": "CREATE STREAM shipped AS SELECT o.id AS order_id, o.item, s.warehouse FROM orders o "
    "JOIN shipments s WITHIN 1 HOURS ON o.id = s.order_id;",
    "stream_stream_join_before_after_grace": "CREATE STREAM shipped2 AS SELECT o.id, o.item, s.warehouse "
    "FROM orders o JOIN shipments s WITHIN (1 SECOND, 2 HOURS) GRACE PERIOD 5 MINUTES ON o.id = s.order_id;",
    "table_table_outer_join": "CREATE TABLE w AS SELECT s.sku, s.qty, p.price FROM stock s "
    "FULL OUTER JOIN prices p ON s.sku = p.sku;",
    "foreign_key_join": "CREATE TABLE named AS SELECT a.acc, a.balance, c.name FROM accounts a "
    "LEFT JOIN customers c ON a.customer_id = c.id;",
    "three_way_join": "CREATE STREAM o AS SELECT b.sku, b.amount, s.qty, p.price FROM buys b "
    "JOIN stock s ON b.sku = s.sku LEFT JOIN prices p ON b.sku = p.sku;",
    "select_star_join": "CREATE STREAM o2 AS SELECT * FROM buys b JOIN stock s ON b.sku = s.sku;",
    "select_star": "CREATE STREAM all_orders AS SELECT * FROM orders;",
    "join_rowtimes": "CREATE STREAM lag AS SELECT o.id, s.rowtime - o.rowtime AS dt FROM orders o "
    "JOIN shipments s WITHIN 1 HOUR ON o.id = s.order_id;",
    "windowed_having_emit_final": "CREATE TABLE busy AS SELECT user_id, COUNT(*) AS n, WINDOWSTART AS ws "
    "FROM pageviews WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 0 MILLISECONDS) GROUP BY user_id "
    "HAVING COUNT(*) >= 2 EMIT FINAL;",
    "default_grace": "CREATE TABLE c AS SELECT user_id, COUNT(*) FROM pageviews WINDOW TUMBLING (SIZE 1 MINUTE) "
    "GROUP BY user_id;",
    "hopping": "CREATE TABLE hop AS SELECT item, SUM(amount) AS total, WINDOWEND AS we FROM orders "
    "WINDOW HOPPING (SIZE 1 HOUR, ADVANCE BY 10 MINUTES) GROUP BY item;",
    "session": "CREATE TABLE sess AS SELECT item, COUNT(*) FROM orders WINDOW SESSION (5 MINUTES) GROUP BY item;",
    "sliding": "CREATE TABLE sl AS SELECT item, MAX(amount) AS top FROM orders "
    "WINDOW SLIDING (SIZE 30 SECONDS, GRACE PERIOD 2 SECONDS) GROUP BY item;",
    "composite_group_by": "CREATE TABLE by_item AS SELECT id, item, SUM(amount) AS total FROM orders GROUP BY id, item;",
    "windowed_composite_group_by": "CREATE TABLE wc AS SELECT item, id, COUNT(*) AS n, WINDOWEND AS we FROM orders "
    "WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY item, id;",
    "group_by_expression": "CREATE TABLE rnear AS SELECT ROUND(GEO_DISTANCE(la, lo, 37.4133, -122.1162), -1) AS d, "
    "COLLECT_LIST(profileId) AS riders, COUNT(*) AS count FROM currentLocation "
    "GROUP BY ROUND(GEO_DISTANCE(la, lo, 37.4133, -122.1162), -1);",
    "group_by_expression_reused": "CREATE TABLE g AS SELECT amount + 1 AS k, (amount + 1) * 2 AS twice, COUNT(*) AS n "
    "FROM orders GROUP BY amount + 1;",
    "aggregate_of_a_table": "CREATE TABLE by_qty AS SELECT qty, COUNT(*) AS skus FROM stock GROUP BY qty;",
    "partition_by": "CREATE STREAM by_user AS SELECT user_id, viewtime FROM pageviews PARTITION BY user_id;",
    "explode": "CREATE STREAM e AS SELECT id, EXPLODE(tags) AS tag, n FROM baskets;",
    "explode_first": "CREATE STREAM e3 AS SELECT EXPLODE(tags) AS tag, id, n FROM baskets;",
    "struct_access": "CREATE STREAM st AS SELECT id, s->a AS a, s->`b c` AS bc FROM baskets WHERE s->a > 1;",
    "integer_division": "CREATE STREAM half AS SELECT id, amount / 2 AS half, amount * 1.0 / 3 AS third FROM orders;",
    "case_and_quoted_strings": "CREATE STREAM x AS SELECT profileId, CASE WHEN latitude > 1 THEN 'it''s north' "
    "ELSE 'south' END AS k, 'a''b' AS s FROM riderLocations WHERE profileId <> 'o''neil';",
    "lower_case_names": "CREATE STREAM `lower out` WITH (KAFKA_TOPIC='lower-out') AS SELECT `low` AS `myCol`, "
    "a FROM readings;",
    "group_by_call_reused": "CREATE TABLE g2 AS SELECT UCASE(item) AS u, CONCAT(UCASE(item), 'x') AS ux, "
    "LEN(UCASE(item)) * 2 AS l, COUNT(*) AS n FROM orders GROUP BY UCASE(item);",
    "having_only_aggregate": "CREATE TABLE h AS SELECT item, COUNT(*) AS n FROM orders GROUP BY item "
    "HAVING SUM(amount) > 10;",
    "cast": "CREATE STREAM m1 AS SELECT id, CAST(n AS VARCHAR) AS s FROM baskets;",
    "in_and_between": "CREATE STREAM m2 AS SELECT id, n IN (1, 2) AS i, n BETWEEN 1 AND 3 AS b FROM baskets;",
    "functions_and_negation": "CREATE STREAM m4 AS SELECT id, COALESCE(n, 0) AS c, IFNULL(n, 1) AS d, -n AS neg FROM baskets;",
    "functions_of_struct_fields": "CREATE STREAM m5 AS SELECT id, UCASE(s->`b c`) AS u, LEN(s->`b c`) + 1 AS l FROM baskets;",
    "boolean_precedence": "CREATE STREAM m6 AS SELECT id, n FROM baskets WHERE n % 2 = 0 AND (n > 1 OR n < -1);",
    "rowtime": "CREATE STREAM m7 AS SELECT id, ROWTIME AS t, TIMESTAMPTOSTRING(ROWTIME, 'yyyy-MM-dd') AS day FROM baskets;",
    "more_aggregates": "CREATE TABLE m8 AS SELECT item, COUNT_DISTINCT(id) AS ids, TOPK(amount, 2) AS top, AVG(amount) AS avg FROM orders GROUP BY item;",
    "latest_keeping_nulls": "CREATE TABLE m9 AS SELECT item, LATEST_BY_OFFSET(amount, FALSE) AS last FROM orders GROUP BY item;",
    "alias_of_one_source": "CREATE STREAM m10 AS SELECT o.id, o.item FROM orders o WHERE o.amount > 3;",
    "join_then_where": "CREATE STREAM m11 AS SELECT pv.user_id, u.name FROM pageviews pv JOIN users u ON pv.user_id = u.id WHERE u.region = 'eu';",
    "join_then_group_by": "CREATE TABLE m12 AS SELECT u.region, COUNT(*) AS n FROM pageviews pv JOIN users u ON pv.user_id = u.id GROUP BY u.region;",
    "partition_by_expression": "CREATE STREAM m13 AS SELECT amount + 1 AS k, id FROM orders PARTITION BY amount + 1;",
    "select_star_keyed_stream": "CREATE STREAM m14 AS SELECT * FROM pageviews;",
    "select_star_table": "CREATE TABLE m15 AS SELECT * FROM users;",
    "filtered_table": "CREATE TABLE m16 AS SELECT id, name FROM users WHERE region = 'eu';",
    "stream_stream_select_star_left": "CREATE STREAM m18 AS SELECT * FROM orders o LEFT JOIN shipments s WITHIN 10 SECONDS GRACE PERIOD 0 SECONDS ON o.id = s.order_id;",
    "stream_stream_outer": "CREATE STREAM m19 AS SELECT o.id, o.item FROM orders o FULL OUTER JOIN shipments s WITHIN 1 MINUTE ON o.id = s.order_id;",
    "group_by_over_a_windowed_table": "CREATE TABLE m20 AS SELECT user_id, COUNT(*) AS n FROM cpm GROUP BY user_id;",
    "windowed_table_columns": "CREATE TABLE m25 AS SELECT user_id, n, WINDOWSTART AS ws FROM cpm WHERE WINDOWEND > 10;",
    "like_and_is_not_null": "CREATE STREAM m21 AS SELECT id, item FROM orders WHERE item LIKE 'a%' AND item IS NOT NULL;",
    "aggregates_in_arithmetic_and_having": "CREATE TABLE m22 AS SELECT item, SUM(amount) / COUNT(*) AS mean FROM orders GROUP BY item HAVING COUNT(*) > 1 AND SUM(amount) > 2;",
    "windowed_composite_emit_final": "CREATE TABLE m23 AS SELECT id, item, COUNT(*) AS n, WINDOWSTART AS ws FROM orders WINDOW TUMBLING (SIZE 1 MINUTE) GROUP BY id, item EMIT FINAL;",
    "keyword_named_columns": "CREATE STREAM m24 AS SELECT `low` + 1 AS `value`, a FROM readings;",
}


@pytest.mark.parametrize("sql", STATEMENTS.values(), ids=STATEMENTS.keys())
def test_every_statement_form_round_trips_with_the_same_plan_hash(sql):
    round_trip(sql)


def test_the_rendered_statement_reads_as_ksqldb_writes_it():
    sql = round_trip(STATEMENTS["windowed_having_emit_final"])
    assert sql == (
        "CREATE TABLE BUSY WITH (KAFKA_TOPIC='BUSY') AS SELECT\n  USER_ID,\n  COUNT(*) AS N,\n"
        "  WINDOWSTART AS WS\nFROM PAGEVIEWS\n"
        "WINDOW TUMBLING (SIZE 10 MILLISECONDS, GRACE PERIOD 0 MILLISECONDS)\nGROUP BY USER_ID\n"
        "HAVING COUNT(*) >= 2\nEMIT FINAL;"
    )
    joined = round_trip(STATEMENTS["stream_stream_join"])
    assert "JOIN SHIPMENTS S WITHIN 1 HOURS GRACE PERIOD 1 DAYS ON O.ID = S.ORDER_ID" in joined
    struct = round_trip(STATEMENTS["struct_access"])
    assert "S->`b c` AS BC" in struct and "WHERE S->A > 1" in struct
    assert "AMOUNT / 2 AS HALF" in round_trip(STATEMENTS["integer_division"])
    assert "`low` AS `myCol`" in round_trip(STATEMENTS["lower_case_names"])


def test_a_latest_offset_reset_is_written_as_a_set_statement():
    document = translate(
        parse(STATEMENTS["select_star"])[0], CATALOG, name="q", offset_reset="latest"
    ).document
    rendered = render(document, CATALOG.sources.values())
    assert rendered.sql is not None and rendered.sql.startswith("SET 'auto.offset.reset' = 'latest';\n")


# --- generated queries ---------------------------------------------------------------------------

NUMBERS = ("A", "B", "`low`")
number = st.recursive(
    st.one_of(st.sampled_from(NUMBERS), st.integers(0, 99).map(str)),
    lambda inner: st.tuples(inner, st.sampled_from(("+", "-", "*", "/")), inner).map(
        lambda t: f"({t[0]} {t[1]} {t[2]})"
    ),
    max_leaves=5,
)
condition = st.one_of(
    st.tuples(number, st.sampled_from(("<", ">", "=", "<>", ">=")), number).map(" ".join),
    st.sampled_from(("C = 'x''y'", "C IS NULL", "C LIKE 'a%'")),
)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.one_of(number, st.just("C")), min_size=1, max_size=4),
    where=st.lists(condition, max_size=2),
    conjunction=st.sampled_from((" AND ", " OR ")),
)
def test_generated_queries_round_trip(items, where, conjunction):
    select = ", ".join(f"{item} AS F{index}" for index, item in enumerate(items))
    sql = f"CREATE STREAM gen AS SELECT {select} FROM readings"
    if where:
        sql += " WHERE " + conjunction.join(f"({c})" for c in where)
    round_trip(sql + ";")


# --- graphs SQL does not make ----------------------------------------------------------------------


def document(nodes, edges):
    return {"name": "drawn", "nodes": nodes, "edges": edges}


SOURCE = {"id": "src", "type": "source", "config": {"topics": ["readings"]}}
OUT = {"id": "out", "type": "sink", "config": {"topic": "out"}}


def test_a_branch_is_refused_naming_the_node():
    drawn = document(
        [
            SOURCE,
            {"id": "split", "type": "branch", "config": {"branches": [{"name": "big", "where": '"A" > 1'}]}},
            OUT,
        ],
        [{"source": "src", "target": "split"}, {"source": "split", "source_port": "big", "target": "out"}],
    )
    result = render(drawn, CATALOG.sources.values())
    assert result.sql is None and "split" in result.reason


def test_a_merge_is_refused_naming_the_node():
    other = {"id": "src2", "type": "source", "config": {"topics": ["locations"]}}
    drawn = document(
        [SOURCE, other, {"id": "both", "type": "merge", "config": {}}, OUT],
        [
            {"source": "src", "target": "both"},
            {"source": "src2", "target": "both"},
            {"source": "both", "target": "out"},
        ],
    )
    result = render(drawn, CATALOG.sources.values())
    assert result.sql is None and "both" in result.reason and "merge" in result.reason


def test_two_sinks_are_refused_naming_both():
    second = {"id": "copy", "type": "sink", "config": {"topic": "copy"}}
    project = {"id": "project", "type": "map", "config": {"fields": {"A": '"A"'}, "keep": []}}
    drawn = document(
        [SOURCE, project, OUT, second],
        [
            {"source": "src", "target": "project"},
            {"source": "project", "target": "out"},
            {"source": "project", "target": "copy"},
        ],
    )
    result = render(drawn, CATALOG.sources.values())
    assert result.sql is None and "out" in result.reason and "copy" in result.reason


def test_a_source_no_catalog_entry_reads_is_refused():
    drawn = document(
        [
            {"id": "src", "type": "source", "config": {"topics": ["unknown"]}},
            {"id": "project", "type": "map", "config": {"fields": {"A": '"A"'}, "keep": []}},
            OUT,
        ],
        [{"source": "src", "target": "project"}, {"source": "project", "target": "out"}],
    )
    result = render(drawn, CATALOG.sources.values())
    assert result.sql is None and "node src" in result.reason and "unknown" in result.reason


def test_a_graph_in_the_shape_but_not_the_plan_gets_no_sql():
    """The renderer reads no ``_row`` map: a changed one still gives SQL text, which the check
    finds to be another plan, so no SQL comes out."""
    doc = copy.deepcopy(translate(parse(STATEMENTS["stream_table_left_join"])[0], CATALOG, name="q").document)
    row = next(n for n in doc["nodes"] if n["id"] == "pv_row")
    row["config"]["fields"]["EXTRA"] = "ROWTIME + 1"
    result = render(doc, CATALOG.sources.values())
    assert result.sql is None and "outside the form" in result.reason and "node pv_row" in result.reason


# The value schema the translator declares for READINGS (its columns' types, for the compiler).
READINGS_FIELDS = {"A": "integer", "B": "double", "C": "string", "low": "integer"}


def test_a_drawn_graph_in_the_normal_form_renders_when_its_ids_are_the_translators():
    nodes = [
        {
            "id": "readings",
            "type": "source",
            "config": {"topics": ["readings"], "key_format": "string", "fields": READINGS_FIELDS},
        },
        {"id": "where", "type": "filter", "config": {"where": '"A" > 3'}},
        {
            "id": "aggregate",
            "type": "aggregate",
            "config": {"group_by": '"C"', "aggregations": {"KSQL_AGG_0": "COUNT(*)"}},
        },
        {"id": "project", "type": "map", "config": {"fields": {"N": '"KSQL_AGG_0"'}, "keep": []}},
        {"id": "sink", "type": "sink", "config": {"topic": "counts", "key_format": "string"}},
        {"id": "table", "type": "view", "config": {"title": "COUNTS"}},
    ]
    edges = [
        {"source": "readings", "target": "where"},
        {"source": "where", "target": "aggregate"},
        {"source": "aggregate", "target": "project"},
        {"source": "project", "target": "sink"},
        {"source": "project", "target": "table"},
    ]
    result = render(document(nodes, edges), CATALOG.sources.values())
    assert result.sql is not None, result.reason
    assert "WHERE A > 3" in result.sql and "GROUP BY C" in result.sql
    # The same graph with its own node ids: node ids name state and enter the plan hash, so
    # the SQL (whose nodes get the translator's ids) is another plan, and is not given.
    renamed = {"where": "big_only", "aggregate": "count_by_c"}
    for node in nodes:
        node["id"] = renamed.get(node["id"], node["id"])
    for edge in edges:
        edge["source"] = renamed.get(edge["source"], edge["source"])
        edge["target"] = renamed.get(edge["target"], edge["target"])
    result = render(document(nodes, edges), CATALOG.sources.values())
    assert result.sql is None
    assert "but for node ids (big_only → where, count_by_c → aggregate)" in result.reason


def test_a_drawn_aggregate_is_refused_at_what_sql_would_make_otherwise_until_it_matches():
    nodes = [
        {"id": "readings", "type": "source", "config": {"topics": ["readings"], "fields": READINGS_FIELDS}},
        {
            "id": "aggregate",
            "type": "aggregate",
            "config": {"group_by": '"C"', "aggregations": {"n": "COUNT(*)"}},
        },
        {"id": "project", "type": "map", "config": {"fields": {"N": '"n"'}, "keep": []}},
        {"id": "sink", "type": "sink", "config": {"topic": "counts"}},
    ]
    edges = [
        {"source": "readings", "target": "aggregate"},
        {"source": "aggregate", "target": "project"},
        {"source": "project", "target": "sink"},
    ]
    result = render(document(nodes, edges), CATALOG.sources.values())
    assert result.sql is None and "node aggregate: its aggregations" in result.reason
    nodes[1]["config"]["aggregations"] = {"KSQL_AGG_0": "COUNT(*)"}
    nodes[2]["config"]["fields"] = {"N": '"KSQL_AGG_0"'}
    result = render(document(nodes, edges), CATALOG.sources.values())
    assert result.sql is None and "a view node beside the sink" in result.reason
    nodes.append({"id": "table", "type": "view", "config": {"title": "COUNTS"}})
    edges.append({"source": "project", "target": "table"})
    result = render(document(nodes, edges), CATALOG.sources.values())
    assert result.sql is not None and result.sql.startswith("CREATE TABLE COUNTS WITH (KAFKA_TOPIC='counts')")


def test_a_graph_that_does_not_compile_is_refused_with_its_issue():
    drawn = document([SOURCE, OUT], [{"source": "src", "target": "nowhere"}])
    result = render(drawn, CATALOG.sources.values())
    assert result.sql is None and "does not compile" in result.reason


def test_identifiers_and_durations_are_written_as_ksqldb_reads_them():
    assert identifier("AMOUNT") == "AMOUNT"
    assert identifier("amount") == "`amount`"
    assert identifier("FROM") == "`FROM`" and identifier("ROWTIME") == "`ROWTIME`"
    assert identifier("a`b") == "`a``b`"
    assert duration(86_400_000) == "1 DAYS" and duration(90_000) == "90 SECONDS"
    assert duration(1500) == "1500 MILLISECONDS" and duration(0) == "0 MILLISECONDS"


def test_the_editors_example_graph_is_refused_at_the_node_before_its_sink():
    from tests.topology.compiler.documents import page_views

    result = render(page_views(), CATALOG.sources.values())
    assert result.sql is None and "node by_page" in result.reason


MUTATIONS = ("drop_node", "drop_edge", "rename_node", "second_sink", "retarget_topic")


def mutate(doc: dict, mutation: str, index: int) -> dict:
    doc = copy.deepcopy(doc)
    nodes, edges = doc["nodes"], doc["edges"]
    target = nodes[index % len(nodes)]
    if mutation == "drop_node":
        nodes.remove(target)
        doc["edges"] = [e for e in edges if target["id"] not in (e["source"], e["target"])]
    elif mutation == "drop_edge":
        edges.pop(index % len(edges))
    elif mutation == "rename_node":
        old, new = target["id"], target["id"] + "_x"
        target["id"] = new
        for edge in edges:
            edge["source"] = new if edge["source"] == old else edge["source"]
            edge["target"] = new if edge["target"] == old else edge["target"]
    elif mutation == "second_sink":
        nodes.append({"id": "copy", "type": "sink", "config": {"topic": "copy"}})
        edges.append({"source": target["id"], "target": "copy"})
    else:
        for node in nodes:
            if node["type"] == "source":
                node["config"]["topics"] = ["orders"]
    return doc


@settings(max_examples=150, deadline=None)
@given(
    sql=st.sampled_from(sorted(STATEMENTS.values())),
    mutation=st.sampled_from(MUTATIONS),
    index=st.integers(0, 50),
)
def test_a_changed_graph_gets_sql_of_its_own_plan_or_a_reason_never_an_exception(sql, mutation, index):
    changed = mutate(translate(parse(sql)[0], CATALOG, name="q").document, mutation, index)
    result = render(changed, CATALOG.sources.values())
    assert (result.sql is None) != (result.reason is None)
    if result.sql is not None:
        compiled = compiler.compile_document(changed)
        assert compiled.plan is not None and plan_hash(result.sql) == compiled.plan.hash
    else:
        assert result.reason


def test_kind_and_name_choose_the_statement_and_a_wrong_kind_is_refused():
    doc = translate(parse(STATEMENTS["select_star"])[0], CATALOG, name="q").document
    named = render(doc, CATALOG.sources.values(), kind="STREAM", name="orders copy")
    assert named.sql is not None and named.sql.startswith(
        "CREATE STREAM `orders copy` WITH (KAFKA_TOPIC='ALL_ORDERS')"
    )
    as_table = render(doc, CATALOG.sources.values(), kind="TABLE")
    assert as_table.sql is None and "does not translate back" in as_table.reason
    assert "not 'VIEW'" in render(doc, CATALOG.sources.values(), kind="VIEW").reason


def test_a_graph_writing_a_catalog_streams_topic_renders_as_insert_into():
    local = DictCatalog(CATALOG.sources)
    local.add(
        define_source(
            parse(
                "CREATE STREAM all_orders (id VARCHAR KEY, item VARCHAR) "
                "WITH (KAFKA_TOPIC='all_orders', VALUE_FORMAT='JSON');"
            )[0]
        )
    )
    translation = translate(parse("INSERT INTO all_orders SELECT id, item FROM orders;")[0], local, name="q")
    rendered = render(translation.document, local.sources.values())
    assert rendered.sql == "INSERT INTO ALL_ORDERS SELECT\n  ID,\n  ITEM\nFROM ORDERS;"
    # Asked for a named CREATE, it writes one (the same plan: same topic, same nodes).
    created = render(translation.document, local.sources.values(), name="COPY")
    assert created.sql is not None and created.sql.startswith(
        "CREATE STREAM COPY WITH (KAFKA_TOPIC='all_orders')"
    )
