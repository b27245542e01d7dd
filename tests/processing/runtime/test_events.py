"""The event contract: one TypedDict per event type, each with a literal ``type``."""

from __future__ import annotations

import typing

from processing.runtime import events


def test_every_event_type_has_one_typed_dict_whose_type_field_is_that_literal():
    literals = [typing.get_args(typing.get_type_hints(cls)["type"]) for cls in typing.get_args(events.Event)]
    assert [literal for (literal,) in literals] == list(events.EVENT_TYPES)


def test_the_statuses_are_the_status_literal():
    assert typing.get_args(events.Status) == events.STATUSES
    status_hints = typing.get_type_hints(events.StatusEvent)
    assert typing.get_args(status_hints["status"]) == events.STATUSES


def test_a_list_sink_keeps_events_by_type():
    sink = events.ListEventSink()
    sink.emit(events.StatusEvent(type="status", status="running", error=None))
    sink.emit(events.AssignmentEvent(type="assignment", partitions=[["t", 0]]))
    assert sink.of_type("assignment") == [{"type": "assignment", "partitions": [["t", 0]]}]
