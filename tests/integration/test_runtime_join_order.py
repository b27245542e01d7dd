"""A stream–table join started on a backlog: every event finds its table row.

The table rows are bulky (a few KB) and the events small, so the consumer fetches events far
faster than rows: without timestamp order across a task's partitions (ordering.py), events are
joined before their rows arrive and an inner join drops them.
"""

from __future__ import annotations

import random

import orjson
import pytest

from tests.integration.runtime_harness import (
    Runner,
    create_topics,
    delete_app_topics,
    lag,
    produce,
    read_all,
    unique,
    wait_until,
    write_document,
)

pytestmark = pytest.mark.integration

USERS = 3_000
EVENTS = 30_000
T0 = 1_700_000_000_000


def _node(node_id: str, type_: str, **config) -> dict:
    return {"id": node_id, "type": type_, "config": config, "position": {"x": 0, "y": 0}}


@pytest.mark.timeout(180)
def test_a_stream_table_join_on_a_backlog_finds_every_table_row(tmp_path):
    events, users, out, app_id = unique("clicks"), unique("users"), unique("enriched"), unique("join-order")
    create_topics({events: 2, users: 2, out: 2})
    rng = random.Random(5)
    padding = "x" * 3000
    try:
        # Rows are older than every event, as a table loaded before the traffic starts.
        produce(
            users,
            (
                (f"u{k}".encode(), orjson.dumps({"region": f"r{k % 7}", "pad": padding}), T0)
                for k in range(USERS)
            ),
        )
        produce(
            events,
            (
                (f"u{rng.randrange(USERS)}".encode(), orjson.dumps({"n": i}), T0 + 1_000 + i)
                for i in range(EVENTS)
            ),
        )
        document = {
            "name": "join-order",
            "nodes": [
                _node("clicks", "source", topics=[events]),
                _node("users", "table_source", topic=users),
                _node("enrich", "join", how="inner"),
                _node("out", "sink", topic=out),
            ],
            "edges": [
                {"source": "clicks", "target": "enrich", "target_port": "left"},
                {"source": "users", "target": "enrich", "target_port": "right"},
                {"source": "enrich", "target": "out"},
            ],
        }
        runner = Runner(write_document(tmp_path, document), app_id, plan=False)
        wait_until(lambda: lag(app_id, [events, users]) == 0, 120, "the join to drain both topics")
        assert runner.stop() == 0, runner.describe()
        joined = read_all(out)
        assert len(joined) == EVENTS, runner.describe()
        assert all(orjson.loads(r["value"])["region"].startswith("r") for r in joined[:100])
        # Ownership is reported at every rebalance, not only with the next metrics.
        owned = [sorted(tuple(tp) for tp in e["partitions"]) for e in runner.of_type("assignment")]
        assert sorted((t, p) for t in (events, users) for p in (0, 1)) in owned
        assert owned[-1] == []  # a clean stop hands its partitions back
    finally:
        delete_app_topics(app_id, [events, users, out])
