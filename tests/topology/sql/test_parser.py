"""ksqlDB statements → topology.sql.ast, with tutorial-shaped scripts written for Weir."""

import pytest

from topology.sql import SqlError, compile_clause, parse, parse_script, parse_statement
from topology.sql.ast import (
    CreateAsSelect,
    CreateSource,
    Define,
    Describe,
    Drop,
    Emit,
    Explain,
    InsertIntoSelect,
    InsertValues,
    JoinType,
    RunScript,
    Select,
    SelectItemKind,
    SetProperty,
    Show,
    ShowWhat,
    SourceKind,
    Terminate,
    Undefine,
    UnsetProperty,
    WindowType,
    property_value,
)

RIDERS = """
-- Where are the riders? (the quickstart's shape)
CREATE STREAM riderLocations (profileId VARCHAR, latitude DOUBLE, longitude DOUBLE)
  WITH (kafka_topic='locations', value_format='json', partitions=1);

/* the latest location of each rider,
   kept as a table */
CREATE TABLE currentLocation AS
  SELECT profileId,
         LATEST_BY_OFFSET(latitude) AS la,
         LATEST_BY_OFFSET(longitude) AS lo
  FROM riderLocations
  GROUP BY profileId
  EMIT CHANGES;

SELECT * FROM riderLocations
  WHERE GEO_DISTANCE(latitude, longitude, 37.4133, -122.1162) <= 5 EMIT CHANGES;
"""


def one(text, variables=None):
    return parse_statement(text, variables)


def error_of(text, variables=None):
    with pytest.raises(SqlError) as caught:
        parse(text, variables)
    return caught.value


# --- the quickstart script -------------------------------------------------------------------


def test_the_rider_locations_script_parses_into_three_statements():
    create, ctas, push = parse(RIDERS)
    assert isinstance(create, CreateSource) and isinstance(ctas, CreateAsSelect) and isinstance(push, Select)

    assert create.kind is SourceKind.STREAM and create.name.value == "RIDERLOCATIONS"
    assert create.name.text == "riderLocations"
    assert [(c.name.value, c.type.name) for c in create.columns] == [
        ("PROFILEID", "STRING"),
        ("LATITUDE", "DOUBLE"),
        ("LONGITUDE", "DOUBLE"),
    ]
    assert property_value(create.properties, "kafka_topic") == "locations"
    assert property_value(create.properties, "PARTITIONS") == 1
    assert (create.span.line, create.span.column) == (3, 1)

    assert ctas.kind is SourceKind.TABLE and ctas.name.value == "CURRENTLOCATION"
    query = ctas.query
    assert [i.expression.text for i in query.items] == [
        "profileId",
        "LATEST_BY_OFFSET(latitude)",
        "LATEST_BY_OFFSET(longitude)",
    ]
    assert [i.alias.value if i.alias else None for i in query.items] == [None, "LA", "LO"]
    assert query.items[1].expression.sql == 'LATEST_BY_OFFSET("LATITUDE")'
    assert (query.items[1].expression.span.line, query.items[1].expression.span.column) == (10, 10)
    assert query.from_.name.value == "RIDERLOCATIONS"
    assert [g.text for g in query.group_by] == ["profileId"]
    assert query.emit is Emit.CHANGES

    assert push.items[0].kind is SelectItemKind.STAR
    assert push.where.text == "GEO_DISTANCE(latitude, longitude, 37.4133, -122.1162) <= 5"
    assert (push.where.span.line, push.where.span.column) == (17, 9)


def test_statement_text_is_as_written_without_the_semicolon():
    create = parse(RIDERS)[0]
    assert create.text.startswith("CREATE STREAM riderLocations (")
    assert create.text.endswith("partitions=1)")


def test_the_last_statement_needs_no_semicolon():
    assert isinstance(one("SHOW STREAMS"), Show)


# --- CREATE STREAM / TABLE --------------------------------------------------------------------


def test_create_table_with_every_option_and_nested_types():
    statement = one(
        "CREATE OR REPLACE TABLE `Orders` (id BIGINT PRIMARY KEY, total DECIMAL(10, 2), "
        "address STRUCT<street VARCHAR, `Zip` INT>, tags ARRAY<STRING>, attrs MAP<STRING, ARRAY<BIGINT>>, "
        "ok BOOLEAN, at TIMESTAMP, d DATE, t TIME, raw BYTES) "
        "WITH (KAFKA_TOPIC='orders', VALUE_FORMAT='AVRO', KEY_FORMAT='KAFKA', PARTITIONS=6, REPLICAS=1, "
        "TIMESTAMP='at', TIMESTAMP_FORMAT='yyyy-MM-dd''T''HH:mm:ss', WRAP_SINGLE_VALUE=false, RATIO=-1.5)"
    )
    assert isinstance(statement, CreateSource)
    assert statement.or_replace and not statement.if_not_exists and not statement.source
    assert statement.name.value == "Orders" and statement.name.quoted
    types = {c.name.value: c.type for c in statement.columns}
    assert types["ID"].name == "BIGINT" and statement.columns[0].primary_key
    assert (types["TOTAL"].precision, types["TOTAL"].scale) == (10, 2)
    assert types["ADDRESS"].text == "STRUCT<STREET STRING, Zip INTEGER>"
    assert types["TAGS"].text == "ARRAY<STRING>"
    assert types["ATTRS"].text == "MAP<STRING, ARRAY<BIGINT>>"
    assert [types[n].name for n in ("OK", "AT", "D", "T", "RAW")] == [
        "BOOLEAN",
        "TIMESTAMP",
        "DATE",
        "TIME",
        "BYTES",
    ]
    assert property_value(statement.properties, "timestamp_format") == "yyyy-MM-dd'T'HH:mm:ss"
    assert property_value(statement.properties, "WRAP_SINGLE_VALUE") is False
    assert property_value(statement.properties, "RATIO") == -1.5
    assert property_value(statement.properties, "missing") is None


def test_create_source_table_if_not_exists_and_a_stream_key():
    table = one("CREATE SOURCE TABLE IF NOT EXISTS t (k STRING PRIMARY KEY, v INT) WITH (kafka_topic='t')")
    assert table.source and table.if_not_exists and table.kind is SourceKind.TABLE
    stream = one("CREATE STREAM s (k STRING KEY, v INT) WITH (kafka_topic='s', value_format='JSON');")
    assert stream.columns[0].key and not stream.columns[0].primary_key


def test_create_without_columns_takes_its_schema_elsewhere():
    statement = one("CREATE STREAM s WITH (kafka_topic='s', value_format='AVRO')")
    assert isinstance(statement, CreateSource) and statement.columns == ()


def test_create_stream_as_select_with_properties_where_and_partition_by():
    statement = one(
        "CREATE STREAM big_orders WITH (kafka_topic='big', partitions=3) AS "
        "SELECT o.id, o.total * 2 AS doubled, o.address->street street FROM orders o "
        "WHERE o.total > 100 AND o.address->zip IS NOT NULL PARTITION BY o.id, o.address->zip EMIT CHANGES"
    )
    assert isinstance(statement, CreateAsSelect) and statement.kind is SourceKind.STREAM
    assert property_value(statement.properties, "PARTITIONS") == 3
    query = statement.query
    assert query.from_.alias.value == "O"
    assert [i.alias.value if i.alias else None for i in query.items] == [None, "DOUBLED", "STREET"]
    assert query.items[2].expression.text == "o.address->street"
    assert query.items[2].expression.sql == '"O"."ADDRESS"."STREET"'
    assert query.where.text == "o.total > 100 AND o.address->zip IS NOT NULL"
    assert [p.text for p in query.partition_by] == ["o.id", "o.address->zip"]


# --- joins -------------------------------------------------------------------------------------


def test_a_stream_stream_join_within_a_window_with_grace():
    query = one(
        "SELECT o.id, s.warehouse FROM orders o INNER JOIN shipments s WITHIN 7 DAYS GRACE PERIOD 1 HOUR "
        "ON o.id = s.order_id EMIT CHANGES;"
    )
    (join,) = query.joins
    assert join.type is JoinType.INNER and join.relation.name.value == "SHIPMENTS"
    assert join.relation.alias.value == "S"
    assert join.within.before.milliseconds == join.within.after.milliseconds == 7 * 86_400_000
    assert join.within.grace.milliseconds == 3_600_000
    assert join.on.text == "o.id = s.order_id"


def test_asymmetric_windows_outer_joins_and_n_way_joins():
    query = one(
        "SELECT * FROM a LEFT OUTER JOIN b WITHIN (1 HOUR, 2 MINUTES) ON a.id = b.id "
        "RIGHT JOIN c AS cc WITHIN 5 SECONDS ON a.id = cc.id "
        "FULL OUTER JOIN d ON a.id = d.id JOIN e ON e.id = a.id WHERE a.x > 1 EMIT CHANGES"
    )
    assert [j.type for j in query.joins] == [JoinType.LEFT, JoinType.RIGHT, JoinType.FULL, JoinType.INNER]
    first = query.joins[0].within
    assert (first.before.milliseconds, first.after.milliseconds, first.grace) == (3_600_000, 120_000, None)
    assert query.joins[1].relation.alias.value == "CC"
    assert query.joins[2].within is None
    assert query.where.text == "a.x > 1"


def test_a_table_table_join_on_a_foreign_key():
    query = one(
        "SELECT i.id, w.name FROM items i LEFT JOIN warehouses w ON i.warehouse_id = w.id EMIT CHANGES"
    )
    assert query.joins[0].type is JoinType.LEFT and query.joins[0].within is None


# --- windows, GROUP BY, HAVING -----------------------------------------------------------------


def test_a_windowed_aggregate_with_having_and_emit_final():
    query = one(
        "SELECT region, COUNT(*) AS orders, WINDOWSTART AS ws FROM orders "
        "WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 7 DAYS, GRACE PERIOD 10 MINUTES) "
        "WHERE total > 0 GROUP BY region HAVING COUNT(*) > 10 EMIT FINAL LIMIT 5"
    )
    window = query.window
    assert window.type is WindowType.TUMBLING
    assert (window.size.milliseconds, window.retention.milliseconds, window.grace.milliseconds) == (
        3_600_000,
        7 * 86_400_000,
        600_000,
    )
    assert window.size.text == "1 HOUR" and window.advance is None
    assert query.having.text == "COUNT(*) > 10"
    assert query.emit is Emit.FINAL and query.limit == 5


@pytest.mark.parametrize(
    ("window", "kind", "size", "advance", "grace"),
    [
        ("HOPPING (SIZE 30 SECONDS, ADVANCE BY 10 SECONDS)", WindowType.HOPPING, 30_000, 10_000, None),
        ("SESSION (5 MINUTES, GRACE PERIOD 1 MINUTE)", WindowType.SESSION, 300_000, None, 60_000),
        ("SLIDING (SIZE 2 SECONDS)", WindowType.SLIDING, 2_000, None, None),
        ("TUMBLING (SIZE 500 MILLISECONDS)", WindowType.TUMBLING, 500, None, None),
        ("TUMBLING (GRACE PERIOD 1 DAY, SIZE 1 MILLISECOND)", WindowType.TUMBLING, 1, None, 86_400_000),
    ],
)
def test_every_window_type_normalises_its_durations_to_milliseconds(window, kind, size, advance, grace):
    query = one(f"SELECT k, COUNT(*) FROM s WINDOW {window} GROUP BY k EMIT CHANGES")
    assert query.window.type is kind and query.window.size.milliseconds == size
    assert (query.window.advance.milliseconds if query.window.advance else None) == advance
    assert (query.window.grace.milliseconds if query.window.grace else None) == grace


def test_group_by_several_expressions_plain_or_in_parentheses():
    plain = one("SELECT a, b, COUNT(*) FROM s GROUP BY a, b->c EMIT CHANGES")
    assert [g.text for g in plain.group_by] == ["a", "b->c"]
    parenthesised = one("SELECT a, b, COUNT(*) FROM s GROUP BY (a, UCASE(b)) EMIT CHANGES")
    assert [g.text for g in parenthesised.group_by] == ["a", "UCASE(b)"]
    one_in_parentheses = one("SELECT a + 1, COUNT(*) FROM s GROUP BY (a + 1) EMIT CHANGES")
    assert [g.text for g in one_in_parentheses.group_by] == ["(a + 1)"]


def test_pull_queries_need_no_emit():
    query = one("SELECT * FROM currentLocation WHERE profileId = 'c2309eec';")
    assert query.emit is None and query.where.text == "profileId = 'c2309eec'"


# --- projection ----------------------------------------------------------------------------------


def test_projection_items_stars_qualified_stars_and_aliases():
    query = one(
        "SELECT *, o.*, `Total` AS `Sum`, CASE WHEN x > 1 THEN 'big' ELSE 'small' END size, "
        "CAST(x AS DECIMAL(4, 2)) d, TRANSFORM(arr, v => v * 2) doubled, x IS NOT NULL, "
        "a IS DISTINCT FROM b, ARRAY[1, 2] arr2, MAP('k' := 1) m, STRUCT(n := 'x') st, arr[1], 'x' y "
        "FROM orders o EMIT CHANGES"
    )
    kinds = [i.kind for i in query.items]
    assert kinds[:2] == [SelectItemKind.STAR, SelectItemKind.QUALIFIED_STAR]
    assert query.items[1].qualifier.value == "O"
    aliases = [i.alias.value if i.alias else None for i in query.items[2:]]
    assert aliases == ["Sum", "SIZE", "D", "DOUBLED", None, None, "ARR2", "M", "ST", None, "Y"]
    assert query.items[2].expression.sql == '"Total"'
    assert query.items[5].expression.sql == 'TRANSFORM("ARR", "V" -> "V" * 2)'
    assert query.items[7].expression.text == "a IS DISTINCT FROM b"


def test_functions_the_compiler_does_not_know_still_parse():
    query = one(
        "SELECT TOPK(x, 3), ENCODE(s, 'hex', 'utf8'), TIMESTAMPTOSTRING(ROWTIME, 'yyyy-MM-dd', 'UTC'), "
        "NO_SUCH_FUNCTION(a, b, c, d) FROM s EMIT CHANGES"
    )
    assert len(query.items) == 4


def test_names_that_are_sql_keywords_elsewhere_are_columns_here():
    query = one(
        "SELECT key, value, timestamp, date, type, comment, `from` FROM s WHERE value > 1 EMIT CHANGES"
    )
    assert [i.expression.sql for i in query.items][:3] == ['"KEY"', '"VALUE"', '"TIMESTAMP"']


def test_compile_clause_compiles_the_expression_and_locates_its_errors():
    query = one("SELECT a FROM s\nWHERE UPPER(name) = 'X'\n  AND NOPE(a) > 1")
    with pytest.raises(SqlError) as caught:
        compile_clause(query.where)
    error = caught.value
    assert (error.line, error.column, error.code) == (3, 7, "sql.expression")
    assert "unknown function" in error.message
    ok = one("SELECT a FROM s WHERE UPPER(`name`) = 'X'").where
    assert compile_clause(ok, expected_type="boolean").predicate({"name": "x"}, None, None, None, None)


# --- INSERT ----------------------------------------------------------------------------------------


def test_insert_values_with_and_without_columns():
    statement = one(
        "INSERT INTO riderLocations (profileId, latitude, longitude) VALUES ('c2309eec', 37.7877, -122.4205);"
    )
    assert isinstance(statement, InsertValues)
    assert [c.value for c in statement.columns] == ["PROFILEID", "LATITUDE", "LONGITUDE"]
    assert [v.text for v in statement.values] == ["'c2309eec'", "37.7877", "-122.4205"]
    bare = one("INSERT INTO t VALUES (1, CONCAT('a', 'b'), ARRAY[1, 2], (1 + 2) * 3)")
    assert bare.columns == () and [v.text for v in bare.values][-1] == "(1 + 2) * 3"


def test_insert_into_select():
    statement = one("INSERT INTO all_orders WITH (QUERY_ID='merge_eu') SELECT * FROM eu_orders EMIT CHANGES")
    assert isinstance(statement, InsertIntoSelect) and statement.target.value == "ALL_ORDERS"
    assert property_value(statement.properties, "query_id") == "merge_eu"
    assert statement.query.from_.name.value == "EU_ORDERS"


# --- the other statements --------------------------------------------------------------------------


@pytest.mark.parametrize("what", list(ShowWhat))
def test_show_and_list_every_kind(what):
    show = one(f"SHOW {what.value}")
    listed = one(f"list {what.value.lower()};")
    assert show.what is listed.what is what and (show.verb, listed.verb) == ("SHOW", "LIST")


@pytest.mark.parametrize("what", ["STREAMS", "TABLES", "TOPICS", "QUERIES"])
def test_show_extended(what):
    assert one(f"SHOW {what} EXTENDED").extended


def test_describe_forms():
    plain, extended, function = parse(
        "DESCRIBE riders; DESCRIBE EXTENDED `Riders`; DESCRIBE FUNCTION geo_distance"
    )
    assert isinstance(plain, Describe) and plain.name.value == "RIDERS" and not plain.extended
    assert extended.extended and extended.name.value == "Riders"
    assert function.function and function.name.value == "GEO_DISTANCE"


def test_explain_a_query_id_or_a_statement():
    by_id = one("EXPLAIN CTAS_CURRENTLOCATION_3")
    assert (
        isinstance(by_id, Explain)
        and by_id.query_id.value == "CTAS_CURRENTLOCATION_3"
        and by_id.statement is None
    )
    by_statement = one("EXPLAIN CREATE TABLE t AS SELECT k, COUNT(*) FROM s GROUP BY k EMIT CHANGES")
    assert isinstance(by_statement.statement, CreateAsSelect) and by_statement.query_id is None
    assert isinstance(one("EXPLAIN SELECT * FROM s EMIT CHANGES").statement, Select)
    assert isinstance(one("EXPLAIN INSERT INTO t SELECT * FROM s").statement, InsertIntoSelect)


def test_terminate_drop_set_unset_run_script():
    terminate, terminate_all, drop, drop_plain, set_, unset, run = parse(
        "TERMINATE CTAS_T_1; TERMINATE ALL; DROP TABLE IF EXISTS t DELETE TOPIC; DROP STREAM s;"
        "SET 'auto.offset.reset' = 'earliest'; UNSET 'auto.offset.reset'; RUN SCRIPT '/tmp/setup.sql'"
    )
    assert isinstance(terminate, Terminate) and terminate.query_id.value == "CTAS_T_1" and not terminate.all
    assert terminate_all.all and terminate_all.query_id is None
    assert isinstance(drop, Drop) and drop.kind is SourceKind.TABLE and drop.if_exists and drop.delete_topic
    assert drop_plain.kind is SourceKind.STREAM and not drop_plain.if_exists and not drop_plain.delete_topic
    assert isinstance(set_, SetProperty) and (set_.name, set_.value) == ("auto.offset.reset", "earliest")
    assert isinstance(unset, UnsetProperty) and unset.name == "auto.offset.reset"
    assert isinstance(run, RunScript) and run.path == "/tmp/setup.sql"


# --- variables ---------------------------------------------------------------------------------------


def test_define_substitutes_in_later_statements_names_and_strings():
    script = parse_script(
        "DEFINE streamName = 'riderLocations';\n"
        "DEFINE format = 'JSON';\n"
        "CREATE STREAM ${streamName} (profileId VARCHAR) WITH (kafka_topic='${streamName}_topic', value_format='${format}');\n"
        "UNDEFINE format;\n"
        "SELECT * FROM ${STREAMNAME} WHERE profileId = ${id} EMIT CHANGES;",
        {"id": "'c2309eec'"},
    )
    define, _, create, undefine, select = script.statements
    assert isinstance(define, Define) and (define.name, define.value) == ("STREAMNAME", "riderLocations")
    assert create.name.value == "RIDERLOCATIONS" and (create.name.span.line, create.name.span.column) == (
        3,
        15,
    )
    assert property_value(create.properties, "KAFKA_TOPIC") == "riderLocations_topic"
    assert property_value(create.properties, "VALUE_FORMAT") == "JSON"
    assert isinstance(undefine, Undefine) and undefine.name == "FORMAT"
    assert select.where.text == "profileId = 'c2309eec'"
    assert script.variables == {"ID": "'c2309eec'", "STREAMNAME": "riderLocations"}


def test_an_undefined_variable_is_an_error_naming_it():
    error = error_of("DEFINE a = 'x';\nUNDEFINE a;\nSELECT * FROM ${a};")
    assert (error.line, error.column, error.code) == (3, 15, "sql.variable")
    assert "variable ${a} is not defined" in error.message
    assert error.statement == "SELECT * FROM ${a}"


def test_a_syntax_error_inside_a_value_points_at_the_reference():
    error = error_of("SELECT * FROM s WHERE ${cond}", {"cond": "a >"})
    assert (error.line, error.column) == (1, 23)
    assert "(from ${cond})" in error.message


def test_bad_initial_variables_are_refused():
    assert error_of("SHOW STREAMS", {"1x": "a"}).code == "sql.variable"
    assert error_of("SHOW STREAMS", {"x": 1}).code == "sql.variable"


# --- one statement ---------------------------------------------------------------------------------


def test_parse_statement_wants_exactly_one():
    with pytest.raises(SqlError) as caught:
        parse_statement("SHOW STREAMS; SHOW TABLES")
    assert (caught.value.line, caught.value.column) == (1, 15)
    with pytest.raises(SqlError):
        parse_statement("  -- nothing\n")
    assert parse("") == []


def test_left_as_a_function_is_not_a_join_and_grace_is_not_an_alias():
    query = one("SELECT LEFT(name, 2) AS initials FROM s LEFT JOIN t ON s.id = t.id EMIT CHANGES")
    assert query.items[0].expression.text == "LEFT(name, 2)" and query.joins[0].type is JoinType.LEFT
    with pytest.raises(SqlError) as caught:
        parse("SELECT * FROM a JOIN b GRACE PERIOD 1 HOUR ON a.k = b.k")
    assert "GRACE PERIOD of a join comes after its WITHIN window" in caught.value.message


def test_an_implicit_alias_follows_only_a_complete_operand():
    query = one("SELECT a total, a + b, x IS NULL, CASE WHEN a THEN 1 END c, COUNT(*) n FROM s EMIT CHANGES")
    assert [i.alias.value if i.alias else None for i in query.items] == ["TOTAL", None, None, "C", "N"]


def test_comments_inside_a_statement_are_ignored_and_positions_stay_true():
    query = one("SELECT a, -- first\n  /* second */ b\nFROM s")
    assert [(i.expression.text, i.expression.span.line, i.expression.span.column) for i in query.items] == [
        ("a", 1, 8),
        ("b", 2, 16),
    ]


def test_the_compiler_form_of_struct_access_and_quoted_names_evaluates_as_ksqldb_means():
    query = one("SELECT address->city, `Mixed`, UCASE(name) FROM s EMIT CHANGES")
    city, mixed, upper = (compile_clause(i.expression) for i in query.items)
    record = {"ADDRESS": {"CITY": "Paris"}, "Mixed": 1, "NAME": "ada"}
    assert (city(record), mixed(record), upper(record)) == ("Paris", 1, "ADA")


CALL_CENTRE = """
SET 'auto.offset.reset' = 'earliest';
DEFINE topic = 'calls';

-- every call, as it happens
CREATE STREAM calls (name VARCHAR KEY, reason VARCHAR, duration_seconds INT, at VARCHAR)
  WITH (kafka_topic='${topic}', value_format='json', partitions=1,
        timestamp='at', timestamp_format='yyyy-MM-dd HH:mm:ss');

/* one row per caller */
CREATE TABLE support_view AS
  SELECT name AS name,
         COUNT_DISTINCT(reason) AS distinct_reasons,
         LATEST_BY_OFFSET(reason) AS last_reason,
         SUM(duration_seconds) / 60 AS minutes_engaged
  FROM calls
  GROUP BY name
  EMIT CHANGES;

CREATE TABLE calls_per_hour AS
  SELECT reason, COUNT(*) AS n
  FROM calls WINDOW TUMBLING (SIZE 1 HOUR, GRACE PERIOD 5 MINUTES)
  GROUP BY reason
  HAVING COUNT(*) >= 2
  EMIT FINAL;

INSERT INTO calls (name, reason, duration_seconds, at) VALUES ('derek', 'refund', 120, '2026-01-01 10:00:00');
SELECT * FROM support_view WHERE name = 'derek';
"""


def test_a_call_centre_script_with_set_define_windows_and_a_pull_query():
    set_, define, calls, view, per_hour, insert, pull = parse(CALL_CENTRE)
    assert isinstance(set_, SetProperty) and isinstance(define, Define)
    assert property_value(calls.properties, "KAFKA_TOPIC") == "calls"
    assert property_value(calls.properties, "TIMESTAMP_FORMAT") == "yyyy-MM-dd HH:mm:ss"
    assert calls.columns[0].key and (calls.span.line, calls.span.column) == (6, 1)
    assert [i.alias.value for i in view.query.items] == [
        "NAME",
        "DISTINCT_REASONS",
        "LAST_REASON",
        "MINUTES_ENGAGED",
    ]
    assert view.query.items[3].expression.text == "SUM(duration_seconds) / 60"
    assert per_hour.query.window.grace.milliseconds == 300_000 and per_hour.query.emit is Emit.FINAL
    assert per_hour.query.having.text == "COUNT(*) >= 2"
    assert isinstance(insert, InsertValues) and len(insert.values) == 4
    assert isinstance(pull, Select) and pull.emit is None


def test_pseudo_columns_stay_pseudo_columns_for_the_compiler():
    query = one("SELECT ROWTIME, `ROWTIME`, WINDOWSTART FROM s WHERE ROWTIME > 1000")
    assert [i.expression.sql for i in query.items] == ["ROWTIME", '"ROWTIME"', "WINDOWSTART"]
    where = compile_clause(query.where)
    assert where({"ROWTIME": 0}, None, 5000, 0, 0) is True
    assert where({"ROWTIME": 5000}, None, 0, 0, 0) is False
