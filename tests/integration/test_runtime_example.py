"""The talk's example through the headless runner and a real broker: A and B → count by key."""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest

from processing.runtime.kafka.admin import topic_partitions
from tests.integration.runtime_harness import (
    Runner,
    count_document,
    count_plan,
    counts_by_key,
    create_topics,
    delete_app_topics,
    json_events,
    kafka_config,
    lag,
    produce,
    read_all,
    unique,
    wait_until,
    write_document,
    write_plan,
)
from topology.compiler import naming

pytestmark = pytest.mark.integration


@pytest.mark.timeout(120)
def test_count_by_key_of_two_topics_matches_an_offline_count(tmp_path):
    topic_a, topic_b, out, app_id = unique("A"), unique("B"), unique("group-by-counts"), unique("talk")
    create_topics({topic_a: 2, topic_b: 2, out: 2})
    try:
        rng = random.Random(7)
        keys_a = [f"user-{rng.randrange(40)}" for _ in range(3000)]
        keys_b = [f"user-{rng.randrange(40)}" for _ in range(2000)]
        produce(topic_a, json_events(keys_a))
        produce(topic_b, json_events(keys_b))
        expected = Counter(keys_a + keys_b)

        document = write_document(tmp_path, count_document([topic_a, topic_b], out))
        runner = Runner(document, app_id, plan=False)
        runner.wait_for_status("running")
        wait_until(lambda: lag(app_id, [topic_a, topic_b]) == 0, 60, "the runner to drain A and B")
        assert runner.stop() == 0, runner.describe()
        assert runner.statuses()[-1] == "stopped"

        series = counts_by_key(read_all(out))
        latest = {key: values[-1] for key, values in series.items()}
        assert latest == dict(expected)
    finally:
        delete_app_topics(app_id, [topic_a, topic_b, out])


@pytest.mark.timeout(60)
def test_a_missing_source_topic_fails_with_a_clear_reason_instead_of_crash_looping(tmp_path):
    missing, out, app_id = unique("nowhere"), unique("out"), unique("missing")
    try:
        runner = Runner(write_plan(tmp_path, count_plan([missing], out)), app_id)
        assert runner.wait_exit(60) == 1
        failed = [e for e in runner.of_type("status") if e["status"] == "failed"]
        assert failed and missing in failed[0]["error"] and "does not exist" in failed[0]["error"]
    finally:
        delete_app_topics(app_id, [out])


@pytest.mark.timeout(120)
def test_count_grouped_by_a_field_goes_through_a_repartition_topic_and_stays_exact(tmp_path):
    source, out, app_id = unique("views"), unique("views-by-region"), unique("regions")
    create_topics({source: 3, out: 2})
    try:
        rng = random.Random(8)
        regions = [rng.choice(["eu", "us", "apac", "latam"]) for _ in range(4000)]
        produce(
            source, [(f"user-{i % 97}".encode(), orjson.dumps({"region": r})) for i, r in enumerate(regions)]
        )
        document = write_document(tmp_path, count_document([source], out, group_by="region"))
        runner = Runner(document, app_id, plan=False, guarantee="exactly_once")
        repartition = naming.repartition_topic(app_id, "counts")
        wait_until(lambda: runner.processed() > 0, 60, "processing to start")
        wait_until(
            lambda: lag(app_id, [source]) == 0 and lag(app_id, [repartition]) == 0,
            60,
            "both sub-topologies to drain",
        )
        assert runner.stop() == 0, runner.describe()
        assert topic_partitions(kafka_config(), [repartition]) == {repartition: 3}

        latest = {key: values[-1] for key, values in counts_by_key(read_all(out)).items()}
        assert latest == dict(Counter(regions))
    finally:
        delete_app_topics(app_id, [source, out])


@pytest.mark.timeout(60)
def test_an_invalid_document_prints_its_issues_and_exits_1(tmp_path):
    document = count_document([unique("in")], unique("out"))
    document["edges"].append({"source": "out", "target": "nowhere"})
    runner = Runner(write_document(tmp_path, document), unique("invalid"), plan=False)
    assert runner.wait_exit(60) == 1
    assert any("nowhere" in line for line in runner.stderr_lines), runner.stderr_lines
    assert runner.statuses() == []


@pytest.mark.timeout(120)
def test_view_deltas_are_numbered_per_view_and_end_at_the_latest_counts(tmp_path):
    source, out, app_id = unique("events"), unique("counts"), unique("view")
    create_topics({source: 2, out: 2})
    try:
        keys = [f"user-{i % 25}" for i in range(3000)]
        produce(source, json_events(keys))
        document = count_document([source], out)
        document["nodes"].append(
            {"id": "live", "type": "view", "config": {"title": "Counts"}, "position": {"x": 0, "y": 0}}
        )
        document["edges"].append({"source": "counts", "target": "live"})
        runner = Runner(write_document(tmp_path, document), app_id, plan=False)
        wait_until(lambda: lag(app_id, [source]) == 0, 60, "the runner to drain")
        assert runner.stop() == 0, runner.describe()

        deltas = [e for e in runner.of_type("table_delta") if e["view"] == "live"]
        assert [d["seq"] for d in deltas] == list(range(1, len(deltas) + 1))
        for delta in deltas:  # coalesced: one row per key per delta
            assert len({row["key"] for row in delta["rows"]}) == len(delta["rows"])
        latest = {}
        for delta in deltas:
            latest.update({row["key"]: row["value"]["count"] for row in delta["rows"]})
        assert latest == dict(Counter(keys))
        assert sum(len(d["rows"]) for d in deltas) < len(keys)
    finally:
        delete_app_topics(app_id, [source, out])
