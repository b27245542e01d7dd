"""Pull queries read a live view's rows from the dashboards' Redis serving copy, through the
function settings.WEIR_VIEW_READER names: plain and windowed keys as the publisher writes them."""

import secrets

import pytest

from dashboard.publisher import DeploymentEventSink
from dashboard.serving import clear_deployment
from processing import pull
from topology.sql import parse_statement
from topology.sql.catalog import Column, SourceDef, WindowInfo

pytestmark = pytest.mark.integration


@pytest.fixture
def deployment_id(redis_url):
    number = 900_000 + secrets.randbelow(99_999)
    yield number
    clear_deployment(number)


def publish(deployment_id, rows, windowed=False):
    sink = DeploymentEventSink(deployment_id, 0)
    sink.emit({"type": "table_delta", "view": "table", "seq": 1, "windowed": windowed, "rows": rows})
    sink.close()


def test_a_pull_query_reads_the_served_rows_of_a_table(deployment_id):
    publish(deployment_id, [{"key": "a", "value": {"TOTAL": 3}}, {"key": "b", "value": {"TOTAL": 9}}])
    source = SourceDef("TOTALS", "TABLE", "t", (Column("ID", "STRING", key=True), Column("TOTAL", "BIGINT")))
    rows = pull.read_materialized(deployment_id, "table")
    schema, result = pull.run_pull(parse_statement("SELECT * FROM TOTALS WHERE TOTAL > 5"), source, rows)
    assert result == [["b", 9]]


def test_a_windowed_tables_served_keys_give_windowstart_and_windowend(deployment_id):
    publish(
        deployment_id,
        [
            {"key": {"key": "a", "window_start": 0, "window_end": 60_000}, "value": {"N": 1}},
            {"key": {"key": "a", "window_start": 60_000, "window_end": 120_000}, "value": {"N": 4}},
        ],
        windowed=True,
    )
    source = SourceDef(
        "PER_MINUTE",
        "TABLE",
        "t",
        (Column("ID", "STRING", key=True), Column("N", "BIGINT")),
        window=WindowInfo("TUMBLING", 60_000),
    )
    rows = pull.read_materialized(deployment_id, "table")
    _, result = pull.run_pull(
        parse_statement("SELECT * FROM PER_MINUTE WHERE ID = 'a' AND WINDOWSTART BETWEEN 30000 AND 90000"),
        source,
        rows,
    )
    assert result == [["a", 60_000, 120_000, 4]]
