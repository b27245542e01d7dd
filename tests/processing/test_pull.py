"""Pull queries over a table's rows: WHERE on keys, windows and any column; the projection; LIMIT."""

import pytest

from processing import pull
from topology.sql import SqlError, parse_statement
from topology.sql.catalog import Column, SourceDef, WindowInfo

TOTALS = SourceDef(
    name="TOTALS",
    kind="TABLE",
    topic="totals",
    columns=(Column("ID", "STRING", key=True), Column("TOTAL", "BIGINT"), Column("REGION", "STRING")),
)
ROWS = [
    ("a", {"TOTAL": 5, "REGION": "eu"}),
    ("b", {"TOTAL": 50, "REGION": "us"}),
    ("c", {"TOTAL": 7, "REGION": "eu"}),
]
WINDOWED = SourceDef(
    name="PER_MINUTE",
    kind="TABLE",
    topic="per-minute",
    columns=(Column("ID", "STRING", key=True), Column("N", "BIGINT")),
    window=WindowInfo("TUMBLING", 60_000),
)
WINDOW_ROWS = [
    ({"key": "a", "window_start": 0, "window_end": 60_000}, {"N": 1}),
    ({"key": "a", "window_start": 60_000, "window_end": 120_000}, {"N": 2}),
    ({"key": "b", "window_start": 60_000, "window_end": 120_000}, {"N": 3}),
]


def run(sql, source=TOTALS, rows=ROWS):
    return pull.run_pull(parse_statement(sql), source, rows)


def test_a_key_lookup_returns_that_row_with_every_column():
    schema, rows = run("SELECT * FROM TOTALS WHERE ID = 'b'")
    assert schema == "`ID` STRING KEY, `TOTAL` BIGINT, `REGION` STRING"
    assert rows == [["b", 50, "us"]]


def test_key_in_a_list_and_a_scan_over_any_column():
    assert run("SELECT ID FROM TOTALS WHERE ID IN ('a', 'c', 'z')")[1] == [["a"], ["c"]]
    assert run("SELECT ID, TOTAL FROM TOTALS WHERE REGION = 'eu' AND TOTAL > 6")[1] == [["c", 7]]


def test_the_projection_computes_expressions_named_by_alias_or_position():
    schema, rows = run("SELECT ID, TOTAL * 2 AS DOUBLED, UCASE(REGION) FROM TOTALS WHERE ID = 'a'")
    assert rows == [["a", 10, "EU"]]
    assert schema == "`ID` STRING KEY, `DOUBLED` INTEGER, `KSQL_COL_2` STRING"


def test_limit_stops_the_scan():
    assert len(run("SELECT * FROM TOTALS LIMIT 2")[1]) == 2


def test_a_windowed_table_has_windowstart_and_windowend_and_filters_on_them():
    schema, rows = run(
        "SELECT * FROM PER_MINUTE WHERE ID = 'a' AND WINDOWSTART >= 60000", WINDOWED, WINDOW_ROWS
    )
    assert schema == "`ID` STRING KEY, `WINDOWSTART` BIGINT KEY, `WINDOWEND` BIGINT KEY, `N` BIGINT"
    assert rows == [["a", 60_000, 120_000, 2]]
    between = run(
        "SELECT ID, N FROM PER_MINUTE WHERE WINDOWEND BETWEEN 100000 AND 130000", WINDOWED, WINDOW_ROWS
    )
    assert between[1] == [["a", 2], ["b", 3]]
    assert run("SELECT N FROM PER_MINUTE WHERE WINDOWSTART < 60000", WINDOWED, WINDOW_ROWS)[1] == [[1]]
    assert run(
        "SELECT N FROM PER_MINUTE WHERE WINDOWSTART <= 60000 AND WINDOWEND > 60000 AND ID = 'b'",
        WINDOWED,
        WINDOW_ROWS,
    )[1] == [[3]]


def test_a_composite_key_is_read_from_the_key_object():
    source = SourceDef(
        name="T",
        kind="TABLE",
        topic="t",
        columns=(Column("A", "STRING", key=True), Column("B", "INTEGER", key=True), Column("V", "STRING")),
    )
    schema, rows = run(
        "SELECT * FROM T WHERE B = 2",
        source,
        [({"A": "x", "B": 1}, {"V": "one"}), ({"A": "y", "B": 2}, {"V": "two"})],
    )
    assert rows == [["y", 2, "two"]]


def test_an_unknown_column_is_an_error_at_its_place():
    with pytest.raises(SqlError) as caught:
        run("SELECT * FROM TOTALS WHERE COLOUR = 'red'")
    assert caught.value.column == 28 and "COLOUR" in caught.value.message


def test_clauses_a_pull_query_does_not_take_are_refused():
    with pytest.raises(SqlError, match="takes no GROUP BY"):
        run("SELECT REGION, COUNT(*) FROM TOTALS GROUP BY REGION")


def test_read_materialized_reads_through_the_function_settings_names(settings):
    calls = []

    def reader(deployment_id, view_id):
        calls.append((deployment_id, view_id))
        return 7, {'"a"': {"TOTAL": 1}, '{"key":"b","window_end":2,"window_start":1}': {"TOTAL": 2}}

    settings.WEIR_VIEW_READER = "tests.processing.test_pull.READER"
    global READER
    READER = reader
    assert pull.read_materialized(3, "table") == [
        ("a", {"TOTAL": 1}),
        ({"key": "b", "window_end": 2, "window_start": 1}, {"TOTAL": 2}),
    ]
    assert calls == [(3, "table")]


READER = None


def test_the_settings_name_the_dashboards_redis_reader(settings):
    from dashboard import serving

    assert settings.WEIR_VIEW_READER == "dashboard.serving.read_table_sync"
    assert callable(serving.read_table_sync)


def test_without_the_catalog_model_no_table_is_materialized(monkeypatch):
    from topology import models

    monkeypatch.delattr(models, "SqlSource", raising=False)
    assert pull.materialized_rows(TOTALS) is None


@pytest.mark.django_db
def test_a_table_is_read_from_the_view_of_the_deployment_of_the_query_that_writes_it(
    monkeypatch, settings, django_user_model
):
    from types import SimpleNamespace

    from processing.models import Deployment
    from tests.topology.compiler.documents import page_views
    from topology import models
    from topology.compiler import compile_document
    from topology.compiler.plan import plan_to_dict

    user = django_user_model.objects.create_user("pull-user", password=None)
    topology = models.Topology.objects.create(name="ctas-totals", owner=user)
    plan = compile_document(page_views()).plan
    version = models.TopologyVersion.objects.create(
        topology=topology, number=1, document=page_views(), plan=plan_to_dict(plan), plan_hash=plan.hash
    )
    deployment = Deployment.objects.create(
        version=version, app_id="weir_query_CTAS_TOTALS_1", created_by=user
    )
    entry = SimpleNamespace(query=SimpleNamespace(topology_id=topology.pk))

    class Entries:
        def all(self):
            return self

        def filter(self, name):
            self.name = name
            return self

        def first(self):
            return entry if self.name == "TOTALS" else None

    monkeypatch.setattr(models, "SqlSource", SimpleNamespace(objects=Entries()), raising=False)
    calls = []

    def reader(deployment_id, view_id):
        calls.append((deployment_id, view_id))
        return 1, {'"a"': {"TOTAL": 3}}

    global READER
    READER = reader
    settings.WEIR_VIEW_READER = "tests.processing.test_pull.READER"
    assert pull.materialized_rows(TOTALS) == [("a", {"TOTAL": 3})]
    assert calls == [(deployment.pk, "table")]
    other = SourceDef("OTHER", "TABLE", "o", TOTALS.columns)
    assert pull.materialized_rows(other) is None
