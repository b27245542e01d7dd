"""The statement engine end to end: REST statements make a topology, a deployment that runs on
the stack's Celery workers against Kafka, and are listed, refused and terminated as in ksqlDB."""

from __future__ import annotations

import base64
import json
import uuid

import orjson
import pytest
from django.test import Client

from processing.models import Deployment
from processing.runtime.kafka.admin import topic_partitions
from tests.integration.runtime_harness import delete_app_topics, produce, read_all
from topology import apikeys
from topology.models import SqlQuery

pytestmark = [pytest.mark.integration]
KSQL_V1 = "application/vnd.ksql.v1+json"


@pytest.fixture
def stack(transactional_db, celery_workers, celery_beat):
    return celery_workers


def ksql(client, text):
    response = client.post("/ksqldb/ksql", json.dumps({"ksql": text}), content_type=KSQL_V1)
    return response.status_code, response.json()


def test_create_table_as_select_runs_is_listed_refuses_drop_and_terminates(
    stack, django_user_model, new_topic, kafka_config, wait_for
):
    user = django_user_model.objects.create_user("sql-e2e", password=None)
    key, secret = apikeys.create_api_key(user, "e2e")
    client = Client(
        headers={"Authorization": "Basic " + base64.b64encode(f"{key.key_id}:{secret}".encode()).decode()}
    )
    source_topic = new_topic(partitions=2, prefix="pageviews")
    table = f"VIEWS_{uuid.uuid4().hex[:8].upper()}"
    status, body = ksql(
        client,
        f"CREATE STREAM pv (userid STRING KEY, pageid STRING) WITH (KAFKA_TOPIC='{source_topic}', VALUE_FORMAT='JSON');"
        f"CREATE TABLE {table} AS SELECT userid, COUNT(*) AS n FROM pv GROUP BY userid;",
    )
    assert status == 200, body
    query_id = body[1]["commandStatus"]["queryId"]
    assert query_id.startswith(f"CTAS_{table}_")
    deployment = Deployment.objects.get(version__topology=SqlQuery.objects.get(query_id=query_id).topology)
    try:
        assert topic_partitions(kafka_config, [table]) == {table: 2}  # the sink topic, as wide as the source
        produce(
            source_topic,
            [
                (b"ada", orjson.dumps({"pageid": "home"})),
                (b"ada", orjson.dumps({"pageid": "a"})),
                (b"bob", orjson.dumps({"pageid": "b"})),
            ],
        )

        def counted():
            latest = {}
            for record in read_all(table):
                latest[record["key"]] = orjson.loads(record["value"])
            return latest if latest.get(b"ada") == {"N": 2} and latest.get(b"bob") == {"N": 1} else None

        wait_for(counted, timeout=90, message="the query's counts in its sink topic")
        _, [queries] = ksql(client, "SHOW QUERIES;")
        [listed] = queries["queries"]
        assert listed["id"] == query_id and listed["sinks"] == [table] and listed["state"] == "RUNNING"

        status, refused = ksql(client, "DROP STREAM pv;")
        assert (
            status == 400
            and f"The following queries read from this source: [{query_id}]" in refused["message"]
        )

        status, [terminated] = ksql(client, f"TERMINATE {query_id};")
        assert status == 200 and terminated["commandStatus"]["message"] == "Query terminated."
        wait_for(
            lambda: Deployment.objects.get(pk=deployment.pk).status == "stopped",
            timeout=60,
            message="stopped",
        )
        assert ksql(client, "SHOW QUERIES;")[1][0]["queries"] == []

        status, [dropped] = ksql(client, f"DROP TABLE {table} DELETE TOPIC; ")
        assert status == 200 and dropped["commandStatus"]["message"].startswith(f"Source `{table}`")
        wait_for(
            lambda: table not in topic_partitions(kafka_config, [table]), timeout=30, message="topic deleted"
        )
    finally:
        Deployment.objects.filter(pk=deployment.pk).update(desired_state="stopped")
        delete_app_topics(deployment.app_id, extra=[table])
