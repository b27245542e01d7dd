"""The statement engine without a broker: topics live in memory (MemoryTopics)."""

from __future__ import annotations

import pytest

from processing.models import Deployment, DesiredState
from processing.sqlengine import Session, StatementFailed, execute
from processing.sqlengine import results as r
from processing.sqlengine.topics import MemoryTopics, TopicsUnavailable
from tests.processing.sqlengine.conftest import PAGEVIEWS, USERS
from topology.models import SqlCommand, SqlQuery, SqlSource, Topology

pytestmark = pytest.mark.django_db

COUNTS = "CREATE TABLE views_per_user AS SELECT userid, COUNT(*) AS n FROM pageviews GROUP BY userid;"


def run(text, user, session):
    return execute(text, user, session)


def failure(text, user, session) -> StatementFailed:
    with pytest.raises(StatementFailed) as caught:
        execute(text, user, session)
    return caught.value


def test_create_stream_records_the_source_with_the_topics_partitions(ada, session):
    [result] = run(PAGEVIEWS, ada, session)
    assert isinstance(result, r.CommandResult)
    assert (result.command_id, result.message) == ("stream/`PAGEVIEWS`/create", "Stream created")
    entry = SqlSource.objects.get(name="PAGEVIEWS")
    assert entry.kind == "STREAM" and entry.owner == ada and entry.query is None
    assert entry.definition["partitions"] == 3 and entry.definition["topic"] == "pageviews"
    assert SqlCommand.objects.get(pk=result.sequence).command_id == "stream/`PAGEVIEWS`/create"


def test_a_missing_topic_without_partitions_is_refused_as_ksqldb_refuses_it(ada, session):
    failed = failure(
        "CREATE STREAM s (v STRING) WITH (KAFKA_TOPIC='nope', VALUE_FORMAT='JSON');", ada, session
    )
    assert failed.error.message.startswith("Topic 'nope' does not exist. If you want to create a new topic")
    assert "PARTITIONS" in failed.error.message
    assert (failed.error.line, failed.error.column, failed.error.token) == (1, 15, "s")
    assert not SqlSource.objects.exists() and not SqlCommand.objects.exists()


def test_partitions_create_the_missing_topic(ada, session, topics):
    run(
        "CREATE STREAM s (v STRING) WITH (KAFKA_TOPIC='fresh', PARTITIONS=4, VALUE_FORMAT='JSON');",
        ada,
        session,
    )
    assert topics.topics["fresh"] == 4 and topics.created == ["fresh"]


def test_partitions_that_differ_from_the_existing_topic_are_refused(ada, session, topics):
    failed = failure(
        "CREATE STREAM s (v STRING) WITH (KAFKA_TOPIC='pageviews', PARTITIONS=5, VALUE_FORMAT='JSON');",
        ada,
        session,
    )
    assert "KSQL expects 5 partitions (topic has 3)" in failed.error.message and failed.error.token == "5"
    assert not SqlSource.objects.exists()


def test_a_topic_that_cannot_be_created_leaves_nothing_behind(ada, session, monkeypatch):
    def refuse(name, partitions, replicas):
        raise TopicsUnavailable("Kafka at x could not create topic 'fresh': broker down")

    monkeypatch.setattr(session.topics, "create", refuse)
    failed = failure(
        "CREATE STREAM s (v STRING) WITH (KAFKA_TOPIC='fresh', PARTITIONS=1, VALUE_FORMAT='JSON');",
        ada,
        session,
    )
    assert "broker down" in failed.message and failed.error.line == 1
    assert not SqlSource.objects.exists() and not SqlCommand.objects.exists()


def test_a_taken_name_is_refused_if_not_exists_passes_and_or_replace_replaces(ada, session):
    run(PAGEVIEWS, ada, session)
    failed = failure(PAGEVIEWS, ada, session)
    assert failed.error.message == "Cannot add stream 'PAGEVIEWS': A stream with the same name already exists"
    [quiet] = run(PAGEVIEWS.replace("CREATE STREAM", "CREATE STREAM IF NOT EXISTS"), ada, session)
    assert "already exists" in quiet.message
    run(
        PAGEVIEWS.replace("CREATE STREAM", "CREATE OR REPLACE STREAM").replace(
            "pageid STRING", "pageid STRING, x INT"
        ),
        ada,
        session,
    )
    assert [c["name"] for c in SqlSource.objects.get(name="PAGEVIEWS").definition["columns"]][-1] == "X"


def test_create_table_as_select_makes_a_topology_a_deployment_and_the_sink(ada, session, topics):
    run(PAGEVIEWS, ada, session)
    [result] = run(COUNTS, ada, session)
    query_id = f"CTAS_VIEWS_PER_USER_{result.sequence}"
    assert result.query_id == query_id and result.message == f"Created query with ID {query_id}"
    query = SqlQuery.objects.get(query_id=query_id)
    assert query.reads == ["PAGEVIEWS"] and query.owner == ada
    assert query.topology.latest_version() is not None
    deployment = Deployment.objects.get(version__topology=query.topology)
    assert (
        deployment.app_id.startswith(f"weir_query_{query_id}_")
        and deployment.desired_state == DesiredState.RUNNING
    )
    sink = SqlSource.objects.get(name="VIEWS_PER_USER")
    assert sink.kind == "TABLE" and sink.query == query and query.sink == sink
    assert topics.topics["VIEWS_PER_USER"] == 3  # the source's partitions


def test_show_and_describe_list_the_query_and_its_sources(ada, session):
    run(PAGEVIEWS + USERS + COUNTS, ada, session)
    streams, tables, queries, description = run(
        "SHOW STREAMS; LIST TABLES; SHOW QUERIES; DESCRIBE EXTENDED views_per_user;", ada, session
    )
    assert [s.definition.name for s in streams.sources] == ["PAGEVIEWS"]
    assert [s.definition.name for s in tables.sources] == ["USERS", "VIEWS_PER_USER"]
    [query] = queries.queries
    assert query.sinks == ("VIEWS_PER_USER",) and query.reads == ("PAGEVIEWS",) and query.state == "RUNNING"
    assert description.extended and [q.query_id for q in description.source.write_queries] == [query.query_id]
    [explained] = run(f"EXPLAIN {query.query_id};", ada, session)
    assert "Sub-topology" in explained.query.plan_description and explained.query.app_id.startswith(
        "weir_query_"
    )


def test_drop_is_refused_while_a_query_reads_or_writes_and_allowed_after_terminate(ada, session, topics):
    run(PAGEVIEWS + COUNTS, ada, session)
    query_id = SqlQuery.objects.get().query_id
    failed = failure("DROP STREAM pageviews;", ada, session)
    assert f"The following queries read from this source: [{query_id}]" in failed.error.message
    failed = failure("DROP TABLE views_per_user;", ada, session)
    assert f"The following queries write into this source: [{query_id}]" in failed.error.message
    [terminated] = run(f"TERMINATE {query_id};", ada, session)
    assert (
        terminated.message == "Query terminated." and terminated.command_id == f"terminate/{query_id}/execute"
    )
    deployment = Deployment.objects.get()
    assert deployment.desired_state == DesiredState.STOPPED
    assert run("SHOW QUERIES;", ada, session)[0].queries == ()
    [dropped] = run("DROP TABLE views_per_user DELETE TOPIC;", ada, session)
    assert dropped.message == "Source `VIEWS_PER_USER` (topic: VIEWS_PER_USER) was dropped."
    assert "VIEWS_PER_USER" in topics.deleted and not SqlSource.objects.filter(name="VIEWS_PER_USER").exists()


def test_drop_of_the_wrong_kind_or_a_missing_source(ada, session):
    run(PAGEVIEWS, ada, session)
    failed = failure("DROP TABLE pageviews;", ada, session)
    assert failed.error.message == "Incompatible data source type is STREAM, but statement was DROP TABLE"
    assert failure("DROP STREAM nothing;", ada, session).error.message == "Source NOTHING does not exist."
    assert (
        run("DROP STREAM IF EXISTS nothing;", ada, session)[0].message == "Source `NOTHING` does not exist."
    )


def test_terminate_all_and_an_unknown_query(ada, session):
    run(PAGEVIEWS + COUNTS, ada, session)
    assert failure("TERMINATE nope;", ada, session).error.message == "Unknown queryId: NOPE"
    run("TERMINATE ALL;", ada, session)
    assert not SqlQuery.objects.active().exists()


def test_a_compatible_replace_upgrades_in_place_and_says_so(ada, session):
    run(PAGEVIEWS + COUNTS, ada, session)
    query = SqlQuery.objects.get()
    [result] = run(
        COUNTS.replace("CREATE TABLE", "CREATE OR REPLACE TABLE").replace(
            "GROUP BY userid", "GROUP BY userid HAVING COUNT(*) > 1"
        ),
        ada,
        session,
    )
    assert result.query_id == query.query_id
    assert result.warnings and "'compatible'" in result.warnings[0]
    deployment = Deployment.objects.get()
    assert deployment.version.number == 2 and deployment.app_id.startswith(f"weir_query_{query.query_id}_")


def test_an_incompatible_replace_is_refused_with_its_reasons_unless_confirmed(ada, session):
    run(PAGEVIEWS + COUNTS, ada, session)
    changed = COUNTS.replace("CREATE TABLE", "CREATE OR REPLACE TABLE").replace(
        "FROM pageviews", "FROM pageviews WHERE pageid <> 'home'"
    )
    failed = failure(changed, ada, session)
    assert "is 'reprocess'" in failed.error.message and "weir.upgrade.confirm" in failed.error.message
    assert failed.error.code == "sql.upgrade"
    assert Topology.objects.get().versions.count() == 1  # the new version was rolled back
    run("SET 'weir.upgrade.confirm'='true';" + changed, ada, session)
    deployment = Deployment.objects.get()
    assert deployment.version.number == 2 and not deployment.app_id.startswith("weir_query_")


def test_replacing_with_the_same_statement_changes_nothing(ada, session):
    run(PAGEVIEWS + COUNTS, ada, session)
    [result] = run(COUNTS.replace("CREATE TABLE", "CREATE OR REPLACE TABLE"), ada, session)
    assert "unchanged" in result.message and Topology.objects.get().versions.count() == 1


def test_insert_into_select_runs_an_insert_query(ada, session):
    run(
        PAGEVIEWS
        + "CREATE STREAM copy (userid STRING KEY, pageid STRING, viewtime BIGINT) WITH (KAFKA_TOPIC='users', VALUE_FORMAT='JSON');",
        ada,
        session,
    )
    [result] = run("INSERT INTO copy SELECT userid, pageid, viewtime FROM pageviews;", ada, session)
    assert result.query_id == f"INSERTQUERY_{result.sequence}"
    query = SqlQuery.objects.get(query_id=result.query_id)
    assert query.sink.name == "COPY" and query.reads == ["PAGEVIEWS"]
    assert failure("DROP STREAM copy;", ada, session).error.message.count(result.query_id) == 1


def test_a_failing_statement_keeps_what_ran_before_and_runs_nothing_after(ada, session):
    failed = failure(
        PAGEVIEWS + "CREATE TABLE bad AS SELECT nope FROM pageviews GROUP BY nope;" + USERS, ada, session
    )
    assert [type(x) for x in failed.results] == [r.CommandResult]
    assert failed.statement_text.startswith("CREATE TABLE bad")
    assert failed.error.token and failed.error.line == 1
    assert list(SqlSource.objects.values_list("name", flat=True)) == ["PAGEVIEWS"]
    assert not Topology.objects.exists()


def test_a_syntax_error_anywhere_runs_nothing(ada, session):
    failed = failure(PAGEVIEWS + "SHOW STRAEMS;", ada, session)
    assert failed.results == [] and failed.error.token == "STRAEMS" and not SqlSource.objects.exists()


def test_session_properties_and_variables(ada, session):
    results = run(
        "SET 'auto.offset.reset'='latest'; DEFINE topic = 'pageviews'; SHOW PROPERTIES; SHOW VARIABLES;"
        "CREATE STREAM v (x INT) WITH (KAFKA_TOPIC='${topic}', VALUE_FORMAT='JSON'); UNDEFINE topic; UNSET 'auto.offset.reset';",
        ada,
        session,
    )
    properties, variables = results[2], results[3]
    assert properties.properties["auto.offset.reset"] == "latest" and properties.overwritten == (
        "auto.offset.reset",
    )
    assert variables.variables == {"TOPIC": "pageviews"}
    assert SqlSource.objects.get(name="V").definition["topic"] == "pageviews"
    assert session.variables == {} and session.properties == {}
    failed = failure("SET 'auto.offset.reset'='soon';", ada, session)
    assert "earliest, latest" in failed.error.message


def test_the_sessions_offset_reset_reaches_the_querys_sources(ada, session):
    run(PAGEVIEWS + "SET 'auto.offset.reset'='latest';" + COUNTS, ada, session)
    document = SqlQuery.objects.get().topology.latest_version().document
    resets = {
        n["config"].get("offset_reset") for n in document["nodes"] if n["type"] in ("source", "table_source")
    }
    assert resets == {"latest"}


def test_queries_belong_on_the_query_endpoint(ada, session):
    run(PAGEVIEWS, ada, session)
    failed = failure("SELECT * FROM pageviews EMIT CHANGES;", ada, session)
    assert "should be issued to the websocket endpoint '/query'" in failed.error.message


def test_run_script_is_for_the_cli_only(ada, session, tmp_path):
    script = tmp_path / "s.sql"
    script.write_text(PAGEVIEWS)
    failed = failure(f"RUN SCRIPT '{script}';", ada, session)
    assert "RUN SCRIPT cannot be used with the REST API" in failed.error.message
    cli = Session(topics=MemoryTopics({"pageviews": 1}), cli=True, script_dir=tmp_path)
    [created] = run("RUN SCRIPT 's.sql';", ada, cli)
    assert created.message == "Stream created"


def test_others_see_nothing_of_anothers_catalog_but_the_names_stay_taken(ada, bob, session):
    run(PAGEVIEWS + COUNTS, ada, session)
    assert run("SHOW STREAMS; SHOW QUERIES;", bob, session)[0].sources == ()
    assert run("SHOW QUERIES;", bob, session)[0].queries == ()
    assert failure("DROP STREAM pageviews;", bob, session).error.message == "Source PAGEVIEWS does not exist."
    assert (
        "Unknown queryId"
        in failure(f"TERMINATE {SqlQuery.objects.get().query_id};", bob, session).error.message
    )
    assert "already exists" in failure(PAGEVIEWS, bob, session).error.message


def test_explain_a_statement_creates_nothing(ada, session):
    run(PAGEVIEWS, ada, session)
    [explained] = run("EXPLAIN " + COUNTS, ada, session)
    assert explained.query.query_id == "" and "aggregate" in explained.query.plan_description
    assert not Topology.objects.exists() and not SqlQuery.objects.exists()


def test_functions_come_from_the_expression_compilers_whitelist(ada, session):
    [listed, described] = run("SHOW FUNCTIONS; DESCRIBE FUNCTION count;", ada, session)
    names = {f.name: f.type for f in listed.functions}
    assert names["COUNT"] == "AGGREGATE" and names["ABS"] == "SCALAR"
    assert described.function.name == "COUNT"
    assert "Can't find any functions" in failure("DESCRIBE FUNCTION nope;", ada, session).error.message


def test_show_topics_hides_internal_topics(ada, session, topics):
    topics.topics.update({"_schemas": 1, "weir_query_CTAS_X_1-store-changelog": 1})
    [listed] = run("SHOW TOPICS;", ada, session)
    assert [name for name, _ in listed.topics] == ["pageviews", "users"]


def test_a_cluster_that_does_not_answer_is_a_statement_error(ada, session, monkeypatch):
    def down(names):
        raise TopicsUnavailable("Kafka at 127.0.0.1:1 could not list topics: timed out")

    monkeypatch.setattr(session.topics, "partitions", down)
    failed = failure(PAGEVIEWS, ada, session)
    assert failed.message.startswith(
        "line 1, column 1, at 'CREATE': Kafka at 127.0.0.1:1 could not list topics"
    )


def test_statements_need_a_signed_in_user(session):
    from django.contrib.auth.models import AnonymousUser

    assert "signed-in user" in failure("SHOW STREAMS;", AnonymousUser(), session).error.message


def test_insert_values_hands_the_row_to_processing_inserts(ada, session, monkeypatch):
    from processing import inserts

    calls = []
    monkeypatch.setattr(
        inserts, "insert_values", lambda source, columns, values: calls.append((source.name, columns, values))
    )
    run(PAGEVIEWS, ada, session)
    [result] = run("INSERT INTO pageviews (userid, viewtime) VALUES ('ada', 1 + 2);", ada, session)
    assert (
        calls == [("PAGEVIEWS", ["USERID", "VIEWTIME"], ["ada", 3])] and result.message == "Inserted 1 row."
    )


def test_insert_values_that_kafka_does_not_take_is_a_statement_error(ada, session, monkeypatch):
    from processing import inserts
    from processing.runtime.kafka.transient import TailError

    def refuse(source, columns, values):
        raise TailError("writing to topic 'pageviews' failed: Local: Message timed out")

    monkeypatch.setattr(inserts, "insert_values", refuse)
    run(PAGEVIEWS, ada, session)
    failed = failure("INSERT INTO pageviews (userid) VALUES ('ada');", ada, session)
    assert failed.error.message.startswith("Kafka did not take the row") and failed.error.line == 1


def test_a_source_table_is_materialized_by_its_own_query_that_goes_with_a_drop(ada, session):
    [created] = run(USERS.replace("CREATE TABLE", "CREATE SOURCE TABLE"), ada, session)
    assert created.message == "Table created" and created.query_id == f"CST_USERS_{created.sequence}"
    query = SqlQuery.objects.get(query_id=created.query_id)
    assert SqlSource.objects.get(name="USERS").query == query and query.sink.name == "USERS"
    document = query.topology.latest_version().document
    assert {n["type"] for n in document["nodes"]} >= {"table_source", "view"}
    assert Deployment.objects.get(version__topology=query.topology).app_id.startswith(
        f"weir_query_{created.query_id}_"
    )
    replaced = USERS.replace("CREATE TABLE", "CREATE OR REPLACE SOURCE TABLE")
    assert "cannot be replaced" in failure(replaced, ada, session).error.message
    run("DROP TABLE users;", ada, session)
    assert Deployment.objects.get().desired_state == DesiredState.STOPPED
    assert not SqlQuery.objects.active().exists()


def test_an_existing_sink_topic_keeps_its_partitions_and_must_agree_with_with(ada, session, topics):
    topics.topics["VIEWS_PER_USER"] = 5
    run(PAGEVIEWS + COUNTS, ada, session)
    assert SqlSource.objects.get(name="VIEWS_PER_USER").definition["partitions"] == 5
    assert topics.created == []
    failed = failure(
        "CREATE TABLE other WITH (KAFKA_TOPIC='VIEWS_PER_USER', PARTITIONS=2) AS "
        "SELECT userid, COUNT(*) AS n FROM pageviews GROUP BY userid;",
        ada,
        session,
    )
    assert "KSQL expects 2 partitions (topic has 5)" in failed.error.message
    assert not SqlSource.objects.filter(name="OTHER").exists() and Topology.objects.count() == 1
