"""DeploymentEventSink against real Redis: the serving table follows the runtime's deltas and
heals itself when Redis loses it."""

from __future__ import annotations

import orjson
import pytest
import redis

from dashboard import groups
from dashboard.protocol import row_key
from dashboard.publisher import DeploymentEventSink

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

DEPLOYMENT = 424242


def delta(seq, rows, view="counts"):
    return {
        "type": "table_delta",
        "view": view,
        "seq": seq,
        "windowed": False,
        "rows": [{"key": k, "value": v} for k, v in rows],
    }


def serving(url, view="counts"):
    client = redis.Redis.from_url(url)
    try:
        rows = client.hgetall(groups.serving_rows_key(DEPLOYMENT, view))
        meta = client.hgetall(groups.serving_meta_key(DEPLOYMENT, view))
    finally:
        client.close()
    return {k.decode(): v.decode() for k, v in rows.items()}, {
        k.decode(): v.decode() for k, v in meta.items()
    }


def test_deltas_upsert_and_delete_rows_and_advance_the_serving_seq(private_redis):
    sink = DeploymentEventSink(DEPLOYMENT, 0, redis_url=private_redis.url)
    sink.emit(delta(1, [("alice", {"count": 1}), ("bob", {"count": 5})]))
    sink.emit(delta(2, [("alice", {"count": 2}), ("bob", None)]))
    rows, meta = serving(private_redis.url)
    assert rows == {row_key("alice"): '{"count":2}'}
    assert meta["seq"] == "2"


def test_two_instances_share_one_dense_serving_seq(private_redis):
    first = DeploymentEventSink(DEPLOYMENT, 0, redis_url=private_redis.url)
    second = DeploymentEventSink(DEPLOYMENT, 1, redis_url=private_redis.url)
    first.emit(delta(1, [("a", 1)]))
    second.emit(delta(1, [("b", 2)]))
    first.emit(delta(2, [("a", 3)]))
    rows, meta = serving(private_redis.url)
    assert meta["seq"] == "3"
    assert rows == {row_key("a"): "3", row_key("b"): "2"}


def test_emit_never_raises_while_redis_is_down(private_redis):
    sink = DeploymentEventSink(DEPLOYMENT, 0, redis_url=private_redis.url)
    private_redis.kill()
    sink.emit(delta(1, [("alice", {"count": 1})]))
    sink.emit({"type": "status", "status": "running", "error": None})


def test_rows_written_again_after_redis_restarts_empty(private_redis):
    sink = DeploymentEventSink(DEPLOYMENT, 0, redis_url=private_redis.url)
    sink.emit(delta(1, [(f"user-{i}", i) for i in range(100)]))
    private_redis.restart()
    # Only one key changes after the restart; the serving table must still hold all of them.
    sink.emit(delta(2, [("user-5", 500)]))
    rows, _ = serving(private_redis.url)
    assert len(rows) == 100
    assert rows[row_key("user-5")] == "500"
    assert rows[row_key("user-99")] == "99"


def test_changes_made_during_an_outage_reach_redis_when_it_returns(private_redis):
    sink = DeploymentEventSink(DEPLOYMENT, 0, redis_url=private_redis.url)
    sink.emit(delta(1, [("alice", 1), ("bob", 2), ("carol", 3)]))
    private_redis.kill()
    sink.emit(delta(2, [("alice", 10), ("bob", None)]))
    private_redis.start()
    sink.emit(delta(3, [("dave", 4)]))
    rows, _ = serving(private_redis.url)
    assert rows == {row_key("alice"): "10", row_key("carol"): "3", row_key("dave"): "4"}


METRICS = {"type": "metrics", "nodes": {}, "latency_ms": 0.0, "partitions": []}


def test_a_table_lost_while_its_keys_stand_still_is_written_again_within_a_metrics_tick(private_redis):
    sink = DeploymentEventSink(DEPLOYMENT, 0, redis_url=private_redis.url)
    sink.emit(delta(1, [(f"user-{i}", i) for i in range(50)]))
    _, before = serving(private_redis.url)
    private_redis.restart()
    sink.emit(METRICS)  # the runtime reports every second, with or without changes
    rows, meta = serving(private_redis.url)
    assert len(rows) == 50 and rows[row_key("user-49")] == "49"
    assert meta["generation"] != before["generation"]  # browsers see a new table and resync
    sink.emit(METRICS)  # healthy again: nothing is rewritten
    assert serving(private_redis.url)[1]["seq"] == meta["seq"]


def test_changes_made_during_an_outage_reach_redis_with_the_next_metrics_even_without_changes(private_redis):
    sink = DeploymentEventSink(DEPLOYMENT, 0, redis_url=private_redis.url)
    sink.emit(delta(1, [("alice", 1), ("bob", 2)]))
    private_redis.kill()
    sink.emit(delta(2, [("alice", 10), ("bob", None)]))
    sink.emit(METRICS)
    private_redis.start()
    sink.emit(METRICS)
    rows, _ = serving(private_redis.url)
    assert rows == {row_key("alice"): "10"}


def test_another_instances_rows_are_rewritten_by_that_instance_after_a_restart(private_redis):
    first = DeploymentEventSink(DEPLOYMENT, 0, redis_url=private_redis.url)
    second = DeploymentEventSink(DEPLOYMENT, 1, redis_url=private_redis.url)
    first.emit(delta(1, [("a", 1), ("b", 1)]))
    second.emit(delta(1, [("x", 1), ("y", 1)]))
    private_redis.restart()
    first.emit(delta(2, [("a", 2)]))
    second.emit(delta(2, [("x", 2)]))
    rows, _ = serving(private_redis.url)
    assert rows == {row_key("a"): "2", row_key("b"): "1", row_key("x"): "2", row_key("y"): "1"}


@pytest.mark.django_db
def test_deleting_a_deployment_forgets_its_serving_tables(clear_serving):
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from tests.dashboard.conftest import WINDOWED_COUNTS, make_deployment

    owner = get_user_model().objects.create_user("gone")
    deployment = make_deployment(owner, WINDOWED_COUNTS)
    pk = deployment.pk
    sink = DeploymentEventSink(pk, 0)
    sink.emit(
        {
            "type": "table_delta",
            "view": "counts",
            "seq": 1,
            "windowed": False,
            "rows": [{"key": "a", "value": 1}],
        }
    )
    sink.emit({"type": "status", "status": "running", "error": None})
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert client.exists(groups.serving_rows_key(pk, "counts"), groups.monitor_slots_key(pk)) == 2
    deployment.delete()
    assert (
        client.exists(
            groups.serving_rows_key(pk, "counts"),
            groups.serving_meta_key(pk, "counts"),
            groups.monitor_slots_key(pk),
        )
        == 0
    )
    client.close()


def test_keys_and_values_with_unicode_quotes_and_big_numbers_are_stored_exactly(private_redis):
    sink = DeploymentEventSink(DEPLOYMENT, 0, redis_url=private_redis.url)
    key = {"key": 'Zoë "the" \\ best ☃', "window_start": 0, "window_end": 60_000}
    value = {"sum": 2**60 + 1, "avg": 0.1 + 0.2, "name": "naïve\n"}
    sink.emit(delta(1, [(key, value)]))
    rows, _ = serving(private_redis.url)
    assert [(orjson.loads(k), orjson.loads(v)) for k, v in rows.items()] == [(key, value)]


def test_a_views_tick_grows_with_its_watchers_and_is_long_when_nobody_watches():
    from dashboard.publisher import MAX_VIEW_TICK_S, MIN_VIEW_TICK_S, UNWATCHED_VIEW_TICK_S, view_tick_s

    ticks = [view_tick_s(n) for n in (1, 100, 400, 600, 1_000, 5_000)]
    assert ticks == sorted(ticks)
    assert ticks[0] == ticks[1] == MIN_VIEW_TICK_S == 0.02
    assert ticks[-2] == ticks[-1] == MAX_VIEW_TICK_S == 0.05
    assert MIN_VIEW_TICK_S < view_tick_s(600) < MAX_VIEW_TICK_S
    assert view_tick_s(0) == UNWATCHED_VIEW_TICK_S > MAX_VIEW_TICK_S


def test_watcher_counts_of_hubs_that_stopped_refreshing_are_ignored():
    from dashboard.publisher import count_watchers

    now = 1_000_000.0
    fields = [b"3 999999.5", b"40 999990.0", "7 1000000.0", b"garbage"]
    assert count_watchers(fields, now) == 10  # 40 was last refreshed 10 s ago: that hub is gone
