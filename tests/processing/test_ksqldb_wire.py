"""processing/ksqldb.py: statement splitting and content negotiation, without HTTP."""

import pytest

from processing import ksqldb
from processing.ksqldb import Statement, split_statements


def test_statements_split_at_semicolons_with_where_each_starts():
    text = "SHOW STREAMS;\n  LIST TOPICS ;SHOW QUERIES"
    assert split_statements(text) == [
        Statement("SHOW STREAMS;", 1, 1),
        Statement("LIST TOPICS ;", 2, 3),
        Statement("SHOW QUERIES", 2, 16),
    ]


def test_semicolons_inside_strings_identifiers_and_comments_do_not_split():
    text = "SELECT 'a;''b', `x;y`, \"p;q\" /* c; d */ FROM s; -- e; f\nSHOW TABLES;"
    statements = split_statements(text)
    assert [s.text for s in statements] == [
        "SELECT 'a;''b', `x;y`, \"p;q\" /* c; d */ FROM s;",
        "SHOW TABLES;",
    ]
    assert (statements[1].line, statements[1].column) == (2, 1)


@pytest.mark.parametrize("text", ["", "   \n", "-- only a comment", "/* open comment"])
def test_text_of_comments_and_space_holds_no_statement(text):
    assert split_statements(text) == []


def test_an_unterminated_string_runs_to_the_end():
    assert split_statements("SELECT 'oops; FROM s;") == [Statement("SELECT 'oops; FROM s;", 1, 1)]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, ksqldb.KSQL_V1_JSON),
        ("*/*", ksqldb.KSQL_V1_JSON),
        ("application/json", ksqldb.JSON),
        ("application/json;q=0.5, application/vnd.ksql.v1+json", ksqldb.KSQL_V1_JSON),
        ("application/vnd.ksql.v1+json;q=0.1, application/json", ksqldb.JSON),
        ("text/html,application/xhtml+xml,*/*;q=0.8", ksqldb.KSQL_V1_JSON),
        ("text/csv", None),
        ("application/json;q=0", None),
    ],
)
def test_the_response_type_follows_accept(accept, chosen):
    assert ksqldb.response_media_type(accept) == chosen


def test_the_entity_shapes_are_ksqldbs():
    assert ksqldb.statement_error("m", "SHOW STREAMS;") == {
        "@type": "statement_error",
        "error_code": 40001,
        "message": "m",
        "statementText": "SHOW STREAMS;",
        "entities": [],
    }
    assert ksqldb.generic_error("m", ksqldb.ErrorCode.NOT_FOUND) == {
        "@type": "generic_error",
        "error_code": 40400,
        "message": "m",
    }
    assert ksqldb.ErrorCode.UNAUTHORIZED.http_status == 401


def test_a_request_reads_ksqldbs_field_names_and_null_properties():
    request = ksqldb.KsqlRequest.model_validate(
        {"ksql": "SHOW STREAMS;", "streamsProperties": None, "sessionVariables": {"a": "1"}, "extra": 1}
    )
    assert request.streams_properties == {} and request.session_variables == {"a": "1"}


@pytest.mark.django_db
def test_execute_names_the_failing_statement_with_the_entities_before_it(django_user_model, monkeypatch):
    from processing.sqlengine.topics import MemoryTopics

    monkeypatch.setattr(ksqldb, "new_topics", MemoryTopics)
    user = django_user_model.objects.create_user("wire", password=None)
    request = ksqldb.KsqlRequest.model_validate({"ksql": "SHOW QUERIES;\n\n   TERMINATE q1; SHOW QUERIES;"})
    with pytest.raises(ksqldb.ExecutionError) as caught:
        ksqldb.execute(request, user=user)
    assert caught.value.statement == Statement("TERMINATE q1;", 3, 14)
    assert caught.value.message == "line 3, column 14, at 'q1': Unknown queryId: Q1"
    assert caught.value.code == ksqldb.ErrorCode.BAD_STATEMENT
    assert [e["@type"] for e in caught.value.entities] == ["queries"]
