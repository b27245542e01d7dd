"""INSERT VALUES: values evaluated, checked against column types (errors name the column), encoded as ksqlDB writes them."""

import json

import pytest

from processing import inserts
from processing.runtime import serde
from topology.sql import SqlError, parse_statement
from topology.sql.catalog import Column, SourceDef

ORDERS = SourceDef(
    name="ORDERS",
    kind="STREAM",
    topic="orders",
    columns=(
        Column("ID", "STRING", key=True),
        Column("AMOUNT", "INTEGER"),
        Column("PRICE", "DOUBLE"),
        Column("TAGS", "ARRAY<STRING>"),
        Column("ADDRESS", "STRUCT<CITY STRING, ZIP INTEGER>"),
    ),
)


def values_of(sql):
    return inserts.evaluate_values(parse_statement(sql).values)


def test_values_expressions_are_evaluated():
    assert values_of("INSERT INTO ORDERS (ID, AMOUNT) VALUES (UCASE('a'), 1 + 2)") == ["A", 3]


def test_a_column_reference_in_values_is_a_located_error():
    with pytest.raises(SqlError) as caught:
        values_of("INSERT INTO ORDERS (ID) VALUES (AMOUNT)")
    assert caught.value.column == 33


def test_one_key_column_is_the_record_key_and_value_columns_a_json_object():
    key, value, timestamp = inserts.record_of(ORDERS, ["ID", "AMOUNT", "ROWTIME"], ["k1", 5, 1234])
    assert key == b"k1" and timestamp == 1234
    assert json.loads(value) == {"AMOUNT": 5, "PRICE": None, "TAGS": None, "ADDRESS": None}


def test_no_column_list_means_every_column_in_order():
    key, value, _ = inserts.record_of(ORDERS, [], ["k", 1, 2, ["x"], {"CITY": "Oslo", "ZIP": 1}])
    assert key == b"k"
    assert json.loads(value) == {
        "AMOUNT": 1,
        "PRICE": 2.0,
        "TAGS": ["x"],
        "ADDRESS": {"CITY": "Oslo", "ZIP": 1},
    }


def test_several_key_columns_make_a_json_key_and_a_numeric_kafka_key_a_long():
    two = SourceDef(
        "T",
        "STREAM",
        "t",
        (Column("A", "STRING", key=True), Column("B", "INTEGER", key=True), Column("V", "STRING")),
    )
    assert json.loads(inserts.record_of(two, ["A", "B", "V"], ["x", 2, "v"])[0]) == {"A": "x", "B": 2}
    numeric = SourceDef("N", "STREAM", "n", (Column("ID", "BIGINT", key=True), Column("V", "STRING")))
    assert serde.decoder("long")(inserts.record_of(numeric, ["ID", "V"], [7, "v"])[0]) == 7


@pytest.mark.parametrize(
    ("columns", "values", "message"),
    [
        (["ID", "AMOUNT"], ["k", "five"], "column AMOUNT: expected an INTEGER"),
        (["ID", "AMOUNT"], ["k", 2**40], "column AMOUNT: 1099511627776 is out of range for INTEGER"),
        (["ID", "PRICE"], ["k", True], "column PRICE: expected a DOUBLE"),
        (["ID", "TAGS"], ["k", ["a", 1]], r"column TAGS\[1\]: expected a STRING"),
        (
            ["ID", "ADDRESS"],
            ["k", {"CITY": "x", "STREET": "y"}],
            "column ADDRESS: the struct has no field STREET",
        ),
        (["ID", "ADDRESS"], ["k", {"ZIP": "x"}], "column ADDRESS->ZIP: expected an INTEGER"),
        (["ID", "COLOUR"], ["k", "red"], "ORDERS has no column COLOUR"),
        (["ID", "ROWTIME"], ["k", "yesterday"], "column ROWTIME: expected epoch milliseconds"),
        (["ID"], ["k", 1], "1 column"),
        (["ID", "ID"], ["k", "k"], "column ID is given twice"),
    ],
)
def test_values_that_do_not_fit_are_refused_naming_the_column(columns, values, message):
    with pytest.raises(inserts.InsertError, match=message):
        inserts.record_of(ORDERS, columns, values)


def test_a_table_needs_its_primary_key():
    table = SourceDef("USERS", "TABLE", "users", (Column("ID", "STRING", key=True), Column("NAME", "STRING")))
    with pytest.raises(inserts.InsertError, match="primary key column ID is required"):
        inserts.record_of(table, ["NAME"], ["kim"])


def test_the_statement_form_locates_a_refused_value_at_its_expression():
    from topology.sql.catalog import DictCatalog

    # The value is refused before any producer is made: no broker is needed.
    catalog = DictCatalog({"ORDERS": ORDERS})
    text = "INSERT INTO ORDERS (ID, AMOUNT) VALUES ('k', 'five')"
    with pytest.raises(SqlError) as caught:
        inserts.run_insert_values(parse_statement(text), catalog)
    assert caught.value.column == text.index("'five'") + 1 and "column AMOUNT" in caught.value.message
    with pytest.raises(SqlError, match="NOPE does not exist") as caught:
        inserts.run_insert_values(parse_statement("INSERT INTO NOPE (A) VALUES (1)"), catalog)
    assert caught.value.column == 13


def test_the_statement_form_writes_through_insert_values(monkeypatch):
    from topology.sql.catalog import DictCatalog

    written = []
    monkeypatch.setattr(
        inserts, "insert_values", lambda source, columns, values: written.append((columns, values))
    )
    inserts.run_insert_values(
        parse_statement("INSERT INTO ORDERS (ID, AMOUNT) VALUES ('k', 2 * 3)"),
        DictCatalog({"ORDERS": ORDERS}),
    )
    assert written == [(["ID", "AMOUNT"], ["k", 6])]


def test_a_read_only_source_takes_no_inserts():
    from dataclasses import replace

    from topology.sql.catalog import DictCatalog

    catalog = DictCatalog({"ORDERS": replace(ORDERS, source=True)})
    with pytest.raises(SqlError, match="read-only"):
        inserts.run_insert_values(parse_statement("INSERT INTO ORDERS (ID) VALUES ('k')"), catalog)


def test_an_integer_kafka_key_is_four_bytes_as_ksqldb_writes_it():
    source = SourceDef("N", "STREAM", "n", (Column("ID", "INTEGER", key=True), Column("V", "STRING")))
    key = inserts.record_of(source, ["ID", "V"], [7, "v"])[0]
    assert key == (7).to_bytes(4, "big")
