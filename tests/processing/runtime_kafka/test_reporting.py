"""The instance reporter turns the core's view deltas into table_delta events (no broker)."""

from __future__ import annotations

import orjson

from processing.runtime.events import ListEventSink
from processing.runtime.executor import TopologyRuntime
from processing.runtime.kafka.reporting import Reporter
from processing.runtime.records import InputRecord
from topology.compiler import compile_document
from topology.compiler.binding import bind


def windowed_counts_plan():
    result = compile_document(
        {
            "name": "clicks-per-minute",
            "nodes": [
                {"id": "clicks", "type": "source", "config": {"topics": ["clicks"]}},
                {
                    "id": "per_minute",
                    "type": "aggregate",
                    "config": {
                        "group_by": None,
                        "aggregations": {"clicks": "COUNT(*)"},
                        "window": {"type": "tumbling", "size": "1m"},
                    },
                },
                {"id": "live", "type": "view", "config": {"title": "Clicks per minute"}},
            ],
            "edges": [
                {"source": "clicks", "target": "per_minute"},
                {"source": "per_minute", "target": "live"},
            ],
        }
    )
    assert result.ok, [i.to_dict() for i in result.issues]
    return result.plan


def wkey(name):
    """A windowed view's key as the core hands it over: canonical JSON text."""
    return orjson.dumps({"key": name, "window_start": 0, "window_end": 60_000}).decode()


def test_windowed_view_rows_carry_the_window_as_an_object_and_numbered_deltas():
    plan = windowed_counts_plan()
    events = ListEventSink()
    reporter = Reporter(plan, events, view_interval_s=0.25)
    task = TopologyRuntime(bind(plan, "reporting-test")).create_task(0, 0)
    records = [
        InputRecord("clicks", 0, offset, ts, key.encode(), orjson.dumps({"n": offset}), None)
        for offset, (key, ts) in enumerate([("alice", 1_000), ("alice", 2_000), ("bob", 61_000)])
    ]
    task.process(records)
    reporter.add_view_deltas(task.take_view_deltas())
    reporter.flush_views()

    (delta,) = events.of_type("table_delta")
    assert delta["view"] == "live" and delta["seq"] == 1 and delta["windowed"] is True
    rows = {
        (r["key"]["key"], r["key"]["window_start"], r["key"]["window_end"]): r["value"] for r in delta["rows"]
    }
    assert rows == {("alice", 0, 60_000): {"clicks": 2}, ("bob", 60_000, 120_000): {"clicks": 1}}

    task.process([InputRecord("clicks", 0, 3, 62_000, b"bob", b"{}", None)])
    reporter.add_view_deltas(task.take_view_deltas())
    reporter.flush_views()
    second = events.of_type("table_delta")[1]
    assert second["seq"] == 2
    assert [(r["key"]["key"], r["value"]) for r in second["rows"]] == [("bob", {"clicks": 2})]


def test_the_loop_never_waits_for_records_past_the_next_view_tick_while_rows_wait():
    reporter = Reporter(windowed_counts_plan(), ListEventSink(), view_interval_s=0.05)
    assert reporter.poll_timeout(0.2) == 0.2  # nothing waiting: the loop's usual wait
    reporter.add_view_deltas({"live": {wkey("alice"): {"clicks": 1}}})
    reporter.flush_views()
    reporter.add_view_deltas({"live": {wkey("alice"): {"clicks": 2}}})
    assert 0.02 < reporter.poll_timeout(0.2) <= 0.05
    reporter.due["live"] -= 1.0  # the tick is overdue
    assert reporter.poll_timeout(0.2) == 0.0


def test_a_quiet_views_change_goes_out_at_once_and_a_busy_view_sends_one_delta_per_tick():
    events = ListEventSink()
    reporter = Reporter(windowed_counts_plan(), events, view_interval_s=0.05)
    loop_tick = lambda: reporter.tick([], set(), None, None)  # noqa: E731 - metrics not due
    reporter.last_metrics = float("inf")
    reporter.add_view_deltas({"live": {wkey("alice"): {"clicks": 1}}})
    assert reporter.poll_timeout(0.2) == 0.0
    loop_tick()
    assert len(events.of_type("table_delta")) == 1
    for n in range(2, 6):  # changes within one tick: held back, then coalesced per key
        reporter.add_view_deltas({"live": {wkey("alice"): {"clicks": n}, wkey(f"k{n}"): {"clicks": 1}}})
        loop_tick()
    assert len(events.of_type("table_delta")) == 1
    reporter.due["live"] -= 1.0
    loop_tick()
    second = events.of_type("table_delta")[1]
    assert {r["key"]["key"]: r["value"]["clicks"] for r in second["rows"]} == {
        "alice": 5,
        "k2": 1,
        "k3": 1,
        "k4": 1,
        "k5": 1,
    }


class TickChooser:
    def __init__(self, ticks):
        self.ticks = ticks
        self.asked: list[str] = []

    def __call__(self, view):
        self.asked.append(view)
        return self.ticks[view]


def test_the_view_tick_chooses_each_views_tick_at_its_flushes():
    choose = TickChooser({"live": 0.3})
    reporter = Reporter(windowed_counts_plan(), ListEventSink(), view_interval_s=0.05, view_tick=choose)
    reporter.add_view_deltas({"live": {wkey("alice"): {"clicks": 1}}})
    reporter.flush_views()
    assert choose.asked == ["live"]
    reporter.add_view_deltas({"live": {wkey("alice"): {"clicks": 2}}})
    # The chosen 300 ms, not the instance's 50 ms.
    assert 0.25 < reporter.poll_timeout(1.0) <= 0.3
    choose.ticks["live"] = 0.02
    reporter.due["live"] -= 1.0
    reporter.flush_views(["live"])
    reporter.add_view_deltas({"live": {wkey("alice"): {"clicks": 3}}})
    assert 0 < reporter.poll_timeout(1.0) <= 0.02
