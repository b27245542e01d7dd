"""The hub merges deltas that pile up while its sockets are slow (dashboard/hub.py:coalesce)."""

from __future__ import annotations

import json

from dashboard.hub import coalesce


def delta(seq, rows, generation="g1", **extra):
    return json.dumps(
        {
            "v": 1,
            "type": "view.delta",
            "deployment": 1,
            "view": "counts",
            "seq": seq,
            "generation": generation,
            "windowed": False,
            "rows": [{"key": k, "value": v} for k, v in rows],
            **extra,
        }
    )


def test_contiguous_deltas_merge_into_one_frame_with_the_latest_row_per_key():
    merged = [
        json.loads(f)
        for f in coalesce([delta(4, [("a", 1), ("b", 1)]), delta(5, [("a", 2)]), delta(6, [("b", None)])])
    ]
    assert len(merged) == 1
    assert merged[0]["first_seq"] == 4 and merged[0]["seq"] == 6
    assert {r["key"]: r["value"] for r in merged[0]["rows"]} == {"a": 2, "b": None}


def test_a_new_generation_or_a_gap_starts_a_new_frame():
    frames = [
        json.loads(f)
        for f in coalesce([delta(4, [("a", 1)]), delta(1, [("a", 9)], "g2"), delta(3, [("b", 1)], "g2")])
    ]
    assert [(f.get("first_seq", f["seq"]), f["seq"], f["generation"]) for f in frames] == [
        (4, 4, "g1"),
        (1, 1, "g2"),
        (3, 3, "g2"),
    ]


def test_monitor_frames_pass_through_unchanged_and_in_order():
    monitor = json.dumps({"v": 1, "type": "monitor.event", "slot": 0})
    frames = coalesce([delta(1, [("a", 1)]), monitor, delta(2, [("a", 2)])])
    assert frames[1] == monitor
    assert [json.loads(f)["type"] for f in frames] == ["view.delta", "monitor.event", "view.delta"]


def test_outside_daphne_the_hub_leaves_the_garbage_collector_alone():
    import gc

    from dashboard.hub import _freeze_startup_heap

    frozen = gc.get_freeze_count()
    _freeze_startup_heap()  # no running Twisted reactor here (only Daphne runs one)
    assert gc.get_freeze_count() == frozen
