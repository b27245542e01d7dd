"""Bad records through the dead-letter topic, and windows with disorder and lateness."""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest

from processing.runtime.executor import H_CLASS, H_MESSAGE, H_NODE, H_OFFSET, H_PARTITION, H_TOPIC
from tests.integration.runtime_harness import (
    Runner,
    count_plan,
    counts_by_key,
    create_topics,
    delete_app_topics,
    lag,
    produce,
    read_all,
    unique,
    wait_until,
    write_plan,
)
from topology.compiler import naming
from topology.compiler.plan import (
    Aggregate,
    Aggregation,
    Plan,
    Sink,
    Source,
    Store,
    SubTopology,
    Window,
    complete_plan,
)

pytestmark = pytest.mark.integration


@pytest.mark.timeout(120)
def test_one_percent_poison_pills_land_in_the_dead_letter_topic_with_their_origin(tmp_path):
    source, out, app_id = unique("events"), unique("counts"), unique("poison")
    create_topics({source: 4, out: 4})
    rng = random.Random(3)
    records, valid_keys, poisoned = [], [], 0
    for i in range(20_000):
        key = f"key-{rng.randrange(200):03d}"
        if i % 100 == 37:
            trace = [("trace-id", b"t%d" % i), ("origin", b"sensor")]
            records.append((key.encode(), b"{not json #" + str(i).encode(), None, trace))
            poisoned += 1
        else:
            records.append((key.encode(), orjson.dumps({"n": i})))
            valid_keys.append(key)
    try:
        produce(source, records)
        runner = Runner(write_plan(tmp_path, count_plan([source], out)), app_id, error_policy="dlq")
        wait_until(lambda: lag(app_id, [source]) == 0, 60, "the runner to drain")
        assert runner.stop() == 0, runner.describe()

        dead = read_all(naming.dlq_topic(app_id))
        assert len(dead) == poisoned == 200
        by_position = {(r["partition"], r["offset"]): r["value"] for r in read_all(source)}
        for record in dead:
            # The record's own headers come first and unchanged, then the error headers.
            number = record["value"].removeprefix(b"{not json #")
            assert record["headers"][:2] == [("trace-id", b"t" + number), ("origin", b"sensor")]
            headers = dict(record["headers"])
            assert headers[H_TOPIC].decode() == source
            position = (int(headers[H_PARTITION]), int(headers[H_OFFSET]))
            assert by_position[position] == record["value"]
            assert record["value"].startswith(b"{not json")
            assert headers[H_NODE].decode() == "events"
            assert headers[H_CLASS] and headers[H_MESSAGE]

        series = counts_by_key(read_all(out))
        assert {k: v[-1] for k, v in series.items()} == dict(Counter(valid_keys))
    finally:
        delete_app_topics(app_id, [source, out])


@pytest.mark.timeout(60)
def test_a_poison_pill_under_fail_stops_the_runner_before_committing_past_it(tmp_path):
    source, out, app_id = unique("events"), unique("counts"), unique("fail")
    create_topics({source: 1, out: 1})
    good = [(b"k", orjson.dumps({"n": i})) for i in range(500)]
    try:
        produce(source, [*good, (b"k", b"garbage"), *good])
        runner = Runner(write_plan(tmp_path, count_plan([source], out)), app_id, error_policy="fail")
        assert runner.wait_exit(60) == 1, runner.describe()
        failed = [e for e in runner.of_type("status") if e["status"] == "failed"][-1]
        assert (failed["topic"], failed["partition"], failed["offset"]) == (source, 0, 500)
        assert "500" in failed["error"]
        assert lag(app_id, [source]) >= 501  # nothing at or after the bad record is committed
    finally:
        delete_app_topics(app_id, [source, out])


# --- windows -------------------------------------------------------------------------------

T0 = 1_700_000_000_000  # a multiple of every window size below
SIZE, GRACE = 10_000, 2_000
GAP, SESSION_GRACE = 3_000, 1_000
FLUSH_KEY = "zz-flush"


def _window_plan(source: str, tumbling_out: str, session_out: str) -> Plan:
    ops = (
        Source(id="clicks", node_id="clicks", inputs=(), topics=(source,)),
        Aggregate(
            id="per_window",
            node_id="per_window",
            inputs=("clicks",),
            store=naming.store_name("per_window"),
            aggregations=(Aggregation("count", "COUNT"),),
            window=Window("tumbling", size_ms=SIZE, grace_ms=GRACE),
            emit="final",
        ),
        Sink(id="tumbling_out", node_id="tumbling_out", inputs=("per_window",), topic=tumbling_out),
        Aggregate(
            id="per_session",
            node_id="per_session",
            inputs=("clicks",),
            store=naming.store_name("per_session"),
            aggregations=(Aggregation("count", "COUNT"),),
            window=Window("session", gap_ms=GAP, grace_ms=SESSION_GRACE),
            emit="final",
        ),
        Sink(id="session_out", node_id="session_out", inputs=("per_session",), topic=session_out),
    )
    return complete_plan(
        Plan(
            name="windows",
            subtopologies=(SubTopology(0, ops, source_topics=(source,)),),
            stores=(
                Store.of(naming.store_name("per_window"), "window", "per_window", 0, None),
                Store.of(naming.store_name("per_session"), "session", "per_session", 0, None),
            ),
        )
    )


def _reference_tumbling(records: list[tuple[str, int]]) -> dict[tuple[str, int, int], int]:
    """Kafka Streams' rule: late when window end <= stream time - grace."""
    stream_time, counts = -1, Counter()
    for key, ts in records:
        stream_time = max(stream_time, ts)
        start = ts // SIZE * SIZE
        if start + SIZE <= stream_time - GRACE:
            continue
        counts[(key, start, start + SIZE)] += 1
    return {k: v for k, v in counts.items() if k[0] != FLUSH_KEY}


def _reference_sessions(records: list[tuple[str, int]]) -> dict[tuple[str, int, int], int]:
    """Sessions merge within the gap; late when the merged session ends before
    stream time - gap - grace."""
    stream_time = -1
    sessions: dict[str, list[list[int]]] = {}
    for key, ts in records:
        stream_time = max(stream_time, ts)
        mine = sessions.setdefault(key, [])
        touching = [s for s in mine if s[0] - GAP <= ts <= s[1] + GAP]
        start = min([ts, *[s[0] for s in touching]])
        end = max([ts, *[s[1] for s in touching]])
        if end < stream_time - GAP - SESSION_GRACE:
            continue
        count = 1 + sum(s[2] for s in touching)
        mine[:] = [s for s in mine if s not in touching] + [[start, end, count]]
    return {(k, s[0], s[1]): s[2] for k, ss in sessions.items() for s in ss if k != FLUSH_KEY}


def _clicks(seed: int) -> list[tuple[str, int]]:
    """Mostly ordered clicks with disorder inside the grace and some far-late stragglers."""
    rng = random.Random(seed)
    records, now = [], T0
    for _ in range(600):
        now += rng.choice([50, 200, 400, 900, 4_500])
        ts = now
        roll = rng.random()
        if roll < 0.15:
            ts = now - rng.randrange(1, 1_500)  # out of order, within the grace
        elif roll < 0.20:
            ts = now - rng.randrange(15_000, 40_000)  # late
        records.append((rng.choice(["alice", "bob", "carol"]), ts))
    records.append((FLUSH_KEY, now + 10 * (SIZE + GRACE + GAP)))  # closes every window
    return records


def _windowed(records: list[dict]) -> list[tuple[str, int, int, int]]:
    out = []
    for record in records:
        key = orjson.loads(record["key"])
        out.append(
            (key["key"], key["window_start"], key["window_end"], orjson.loads(record["value"])["count"])
        )
    return out


@pytest.mark.timeout(90)
def test_tumbling_and_session_windows_with_disorder_match_the_reference_and_emit_once(tmp_path):
    source, tumbling_out, session_out, app_id = (
        unique("clicks"),
        unique("tumbling"),
        unique("sessions"),
        unique("win"),
    )
    create_topics({source: 1, tumbling_out: 1, session_out: 1})
    clicks = _clicks(seed=17)
    expected_tumbling = _reference_tumbling(clicks)
    expected_sessions = _reference_sessions(clicks)
    assert len(expected_sessions) > 10 and len(expected_tumbling) > 10
    real_clicks = len(clicks) - 1
    assert sum(expected_tumbling.values()) < real_clicks and sum(expected_sessions.values()) < real_clicks
    try:
        produce(source, [(k.encode(), orjson.dumps({"user": k}), ts) for k, ts in clicks])
        runner = Runner(write_plan(tmp_path, _window_plan(source, tumbling_out, session_out)), app_id)
        wait_until(lambda: lag(app_id, [source]) == 0, 60, "the runner to drain")
        assert runner.stop() == 0, runner.describe()

        tumbling = _windowed(read_all(tumbling_out))
        sessions = _windowed(read_all(session_out))
        # emit final: every window exactly once
        assert len({w[:3] for w in tumbling}) == len(tumbling)
        assert len({w[:3] for w in sessions}) == len(sessions)
        assert {w[:3]: w[3] for w in tumbling} == expected_tumbling
        assert {w[:3]: w[3] for w in sessions} == expected_sessions
        late = runner.of_type("metrics")[-1]["nodes"]
        assert late["per_window"]["late"] > 0 and late["per_session"]["late"] > 0
    finally:
        delete_app_topics(app_id, [source, tumbling_out, session_out])
