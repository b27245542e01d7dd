"""The instance's phases and what run() hands to the reporter, broker-free (no client is
created before Instance.run())."""

from __future__ import annotations

import pytest

from processing.runtime.events import ListEventSink
from processing.runtime.kafka.loop import Instance
from processing.runtime.kafka.phases import ALLOWED_PHASES, IllegalPhaseChange, Phase
from tests.processing.runtime_kafka.test_reporting import windowed_counts_plan, wkey


def instance(**kwargs):
    options = dict(
        app_id="app",
        kafka_config={"bootstrap.servers": "127.0.0.1:1"},
        guarantee="at_least_once",
        error_policy="fail",
        events=ListEventSink(),
        should_stop=lambda: True,
        instance_slot=0,
        commit_interval_ms=1000,
        fault_hook=None,
        view_interval_ms=50,
    )
    return Instance(windowed_counts_plan(), **{**options, **kwargs})


def test_an_instance_runs_then_shuts_down_then_stops():
    inst = instance()
    assert inst.phase is Phase.STARTING and not inst.closing
    inst.enter(Phase.RUNNING)
    inst.enter(Phase.SHUTTING_DOWN)
    assert inst.closing
    inst.enter(Phase.STOPPED)


@pytest.mark.parametrize(
    ("current", "target"),
    [(Phase.STARTING, Phase.STOPPED), (Phase.STOPPED, Phase.RUNNING), (Phase.FAILED, Phase.RUNNING)],
)
def test_an_illegal_phase_change_raises(current, target):
    inst = instance()
    inst.phase = current
    assert target not in ALLOWED_PHASES[current]
    with pytest.raises(IllegalPhaseChange, match="not allowed"):
        inst.enter(target)


def test_the_view_tick_given_to_the_loop_chooses_the_reporters_ticks():
    asked = []
    inst = instance(view_tick=lambda view: asked.append(view) or 0.3)
    inst.reporter.add_view_deltas({"live": {wkey("alice"): {"clicks": 1}}})
    inst.reporter.flush_views()
    assert asked == ["live"] and inst.reporter.intervals == {"live": 0.3}


def test_status_events_are_reported_once_per_change():
    events = ListEventSink()
    inst = instance(events=events)
    inst._set_status("running")
    inst._set_status("running")
    inst._set_status("failed", error="boom", topic="t", partition=0, offset=3)
    assert events.events == [
        {"type": "status", "status": "running", "error": None},
        {"type": "status", "status": "failed", "error": "boom", "topic": "t", "partition": 0, "offset": 3},
    ]
