"""manage.py sql and manage.py apply_sql, through call_command (topics in memory)."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from processing.sqlengine import cli
from processing.sqlengine.topics import MemoryTopics
from tests.processing.sqlengine.conftest import PAGEVIEWS
from topology.models import SqlQuery, SqlSource, Topology

pytestmark = pytest.mark.django_db
COUNTS = "CREATE TABLE views AS SELECT userid, COUNT(*) AS n FROM pageviews GROUP BY userid;"


@pytest.fixture(autouse=True)
def topics(monkeypatch):
    memory = MemoryTopics({"pageviews": 2})
    real = cli.new_session

    def new_session(defines, script=None):
        made = real(defines, script)
        made.topics = memory
        return made

    monkeypatch.setattr(cli, "new_session", new_session)
    for module in ("processing.management.commands.sql", "processing.management.commands.apply_sql"):
        monkeypatch.setattr(f"{module}.new_session", new_session)
    return memory


def sql(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("sql", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_execute_prints_tables_as_ksqldbs_cli_does(ada):
    out, _ = sql("--user", ada.username, "--execute", PAGEVIEWS + "SHOW STREAMS;")
    lines = out.splitlines()
    assert lines[0:4] == [" Message        ", "----------------", " Stream created ", "----------------"]
    assert lines[4].split("|")[0].strip() == "Stream Name"
    assert [c.strip() for c in lines[4].split("|")] == [
        "Stream Name",
        "Kafka Topic",
        "Key Format",
        "Value Format",
        "Windowed",
    ]
    assert [c.strip() for c in lines[6].split("|")] == ["PAGEVIEWS", "pageviews", "KAFKA", "JSON", "false"]
    assert set(lines[5]) == {"-"} and len(lines[5]) == len(lines[4])


def test_json_output_is_ksqldbs_entities(ada):
    out, _ = sql("--user", ada.username, "--output", "json", "--execute", PAGEVIEWS)
    assert json.loads(out)[0]["@type"] == "currentStatus"


def test_a_failure_exits_non_zero_and_says_where(ada):
    out = io.StringIO()
    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "sql",
            "--user",
            ada.username,
            "--execute",
            "SHOW STREAMS;\nDROP STREAM nope;",
            stdout=out,
            stderr=err,
        )
    assert "line 2, column 13, at 'nope': Source NOPE does not exist." in err.getvalue()
    assert "Statement: DROP STREAM nope" in err.getvalue()


def test_a_file_runs_with_defines_and_run_script_relative_to_it(ada, tmp_path):
    (tmp_path / "inner.sql").write_text(
        "CREATE STREAM ${name} (v INT) WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON');"
    )
    (tmp_path / "outer.sql").write_text("RUN SCRIPT 'inner.sql';\nSHOW VARIABLES;")
    out, _ = sql("--user", ada.username, "--file", str(tmp_path / "outer.sql"), "--define", "name=clicks")
    assert SqlSource.objects.filter(name="CLICKS").exists() and "NAME" in out


def test_the_user_must_be_named_unless_there_is_one_superuser(ada, django_user_model):
    with pytest.raises(CommandError, match="--user"):
        sql("--execute", "SHOW STREAMS;")
    django_user_model.objects.create_superuser("root", password="x")
    out, _ = sql("--execute", "SHOW TABLES;")
    assert "Table Name" in out


def test_the_interactive_prompt_reads_statements_across_lines(ada, monkeypatch):
    lines = iter(
        [
            "CREATE STREAM pageviews (viewtime BIGINT, userid STRING KEY)",
            " WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON');",
            "SHOW STREAMS;",
            "exit",
        ]
    )
    monkeypatch.setattr("builtins.input", lambda prompt: next(lines))
    out, _ = sql("--user", ada.username)
    assert "Stream created" in out and "PAGEVIEWS" in out


def apply(path, user):
    out = io.StringIO()
    call_command("apply_sql", str(path), "--user", user.username, stdout=out)
    return out.getvalue()


def test_apply_sql_is_idempotent_and_a_changed_query_is_an_upgrade(ada, tmp_path):
    script = tmp_path / "app.sql"
    script.write_text("SET 'auto.offset.reset'='earliest';\n" + PAGEVIEWS + "\n" + COUNTS)
    first = apply(script, ada)
    assert "Applied 2 statement(s)." in first and SqlQuery.objects.count() == 1
    again = apply(script, ada)
    assert "Nothing to apply" in again and again.count("unchanged:") == 2
    assert Topology.objects.get().versions.count() == 1
    script.write_text(PAGEVIEWS + "\n" + COUNTS.replace("userid;", "userid HAVING COUNT(*) > 1;"))
    changed = apply(script, ada)
    assert "'compatible'" in changed and "Applied 1 statement(s)." in changed
    assert Topology.objects.get().versions.count() == 2 and SqlQuery.objects.count() == 1


def test_apply_sql_refuses_other_statements_before_running_any(ada, tmp_path):
    script = tmp_path / "bad.sql"
    script.write_text(PAGEVIEWS + "\nSHOW STREAMS;")
    with pytest.raises(CommandError, match="line 2, column 1, at 'SHOW': apply_sql takes only"):
        apply(script, ada)
    assert not SqlSource.objects.exists()


def test_a_pull_query_in_the_cli_prints_its_rows_in_a_bordered_table(ada, monkeypatch):
    from processing import pull

    monkeypatch.setattr(pull, "materialized_rows", lambda source, user: [("a", {"N": 1}), ("b", {"N": 22})])
    out, err = sql(
        "--user",
        ada.username,
        "--execute",
        "CREATE TABLE totals (id STRING PRIMARY KEY, n BIGINT) WITH (KAFKA_TOPIC='pageviews', VALUE_FORMAT='JSON');\n"
        "SELECT * FROM totals WHERE n > 1;",
    )
    assert err == ""
    lines = out.splitlines()
    table = lines[lines.index("+------------+------------+") :]
    assert table == [
        "+------------+------------+",
        "|ID          |N           |",
        "+------------+------------+",
        "|b           |22          |",
        "+------------+------------+",
        "1 row returned",
    ]


def test_a_query_error_in_a_file_names_its_line_in_the_file(ada, tmp_path):
    script = tmp_path / "q.sql"
    script.write_text(PAGEVIEWS + "\n\nSELECT nope FROM pageviews\n  EMIT CHANGES;\n")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("sql", "--user", ada.username, "--file", str(script), stdout=out, stderr=err)
    assert "line 3, column 8" in err.getvalue() and "NOPE" in err.getvalue()
