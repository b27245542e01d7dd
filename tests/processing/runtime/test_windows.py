import orjson

from processing.runtime.executor import STREAM_TIME_KEY
from processing.runtime.testing import TopologyTestDriver
from tests.processing.runtime.builders import counting_plan
from topology.compiler.binding import bind
from topology.compiler.plan import Window


def counts(driver):
    return [(orjson.loads(k), v["count"] if v else None) for k, v, _ in driver.read_output("out")]


def wkey(key, start, end):
    return {"key": key, "window_start": start, "window_end": end}


def test_tumbling_windows_count_out_of_order_records_within_grace():
    driver = TopologyTestDriver(counting_plan(Window("tumbling", size_ms=10, grace_ms=5)))
    for ts in (1, 12, 3):  # 3 is out of order, but its window [0,10) closes at 15
        driver.pipe_input("in", "a", {}, timestamp=ts)
    assert counts(driver) == [(wkey("a", 0, 10), 1), (wkey("a", 10, 20), 1), (wkey("a", 0, 10), 2)]


def test_records_later_than_window_end_plus_grace_are_counted_late_and_dropped():
    driver = TopologyTestDriver(counting_plan(Window("tumbling", size_ms=10, grace_ms=5)))
    driver.pipe_input("in", "a", {}, timestamp=1)
    driver.pipe_input("in", "a", {}, timestamp=15)  # stream time 15 = end 10 + grace 5: closed
    driver.pipe_input("in", "a", {}, timestamp=9)
    assert counts(driver) == [(wkey("a", 0, 10), 1), (wkey("a", 10, 20), 1)]
    assert driver.metrics()["agg"]["late"] == 1


def test_stream_time_is_per_task_so_other_keys_advance_it():
    driver = TopologyTestDriver(counting_plan(Window("tumbling", size_ms=10)))
    driver.pipe_input("in", "a", {}, timestamp=100)
    driver.pipe_input("in", "b", {}, timestamp=5)
    assert counts(driver) == [(wkey("a", 100, 110), 1)]
    assert driver.metrics()["agg"]["late"] == 1


def test_hopping_windows_put_a_record_in_every_window_that_contains_it():
    driver = TopologyTestDriver(counting_plan(Window("hopping", size_ms=10, advance_ms=5)))
    driver.pipe_input("in", "a", {}, timestamp=7)
    assert [k for k, _ in counts(driver)] == [wkey("a", 0, 10), wkey("a", 5, 15)]


def test_emit_final_closes_a_window_when_stream_time_reaches_end_plus_grace():
    driver = TopologyTestDriver(counting_plan(Window("tumbling", size_ms=10, grace_ms=5), emit="final"))
    for ts in (1, 4, 2, 14):
        driver.pipe_input("in", "a", {}, timestamp=ts)
    assert counts(driver) == []
    driver.pipe_input("in", "b", {}, timestamp=15)
    assert counts(driver) == [(wkey("a", 0, 10), 3)]
    for ts in (3, 30, 31):  # 3 is late; 30 closes [10, 20) for a
        driver.pipe_input("in", "a", {}, timestamp=ts)
    assert counts(driver) == [(wkey("a", 10, 20), 1), (wkey("b", 10, 20), 1)]
    driver.pipe_input("in", "a", {}, timestamp=100)
    assert counts(driver) == [(wkey("a", 30, 40), 2)]
    assert driver.metrics()["agg"]["late"] == 1


def test_closed_windows_are_purged_and_tombstoned_in_the_changelog():
    driver = TopologyTestDriver(counting_plan(Window("tumbling", size_ms=10)))
    driver.pipe_input("in", "a", {}, timestamp=1)
    log = driver.changelog()
    assert [(orjson.loads(r.key), orjson.loads(r.value)) for r in log if r.key != STREAM_TIME_KEY] == [
        (wkey("a", 0, 10), [1, 1])
    ]
    assert [int(r.value) for r in log if r.key == STREAM_TIME_KEY] == [1]
    driver.pipe_input("in", "a", {}, timestamp=25)
    log = {r.key: r.value for r in driver.changelog()}
    assert log[orjson.dumps(wkey("a", 0, 10), option=orjson.OPT_SORT_KEYS)] is None
    assert driver.table("agg-store") == {("a", 20): [25, 1]}


def test_sessions_merge_when_a_record_bridges_the_gap():
    driver = TopologyTestDriver(counting_plan(Window("session", gap_ms=10, grace_ms=100)))
    driver.pipe_input("in", "a", {}, timestamp=0)
    driver.pipe_input("in", "a", {}, timestamp=30)
    driver.pipe_input("in", "a", {}, timestamp=15)  # within 10 of 0? no; of 30? no: a new session
    driver.pipe_input("in", "a", {}, timestamp=8)  # bridges [0,0] and [15,15]
    assert counts(driver) == [
        (wkey("a", 0, 0), 1),
        (wkey("a", 30, 30), 1),
        (wkey("a", 15, 15), 1),
        (wkey("a", 0, 0), None),
        (wkey("a", 15, 15), None),
        (wkey("a", 0, 15), 3),
    ]
    driver.pipe_input("in", "a", {}, timestamp=22)  # joins [0,15] and [30,30]
    assert counts(driver)[-1] == (wkey("a", 0, 30), 5)


def test_session_emit_final_emits_each_merged_session_once():
    driver = TopologyTestDriver(counting_plan(Window("session", gap_ms=10, grace_ms=0), emit="final"))
    for ts in (0, 5, 40):
        driver.pipe_input("in", "a", {}, timestamp=ts)
    # [0, 5] is final once 5 + gap 10 + grace 0 < stream time 40
    assert counts(driver) == [(wkey("a", 0, 5), 2)]
    driver.pipe_input("in", "a", {}, timestamp=12)  # would have extended [0, 5]: late now
    driver.pipe_input("in", "a", {}, timestamp=45)
    driver.pipe_input("in", "a", {}, timestamp=52)
    assert counts(driver) == []
    driver.pipe_input("in", "a", {}, timestamp=100)
    assert counts(driver) == [(wkey("a", 40, 52), 3)]
    assert driver.metrics()["agg"]["late"] == 1


def test_session_late_records_are_dropped():
    driver = TopologyTestDriver(counting_plan(Window("session", gap_ms=10, grace_ms=5)))
    driver.pipe_input("in", "a", {}, timestamp=100)
    driver.pipe_input("in", "a", {}, timestamp=84)  # ends 84 < 100 - 10 - 5: late
    driver.pipe_input("in", "a", {}, timestamp=85)  # 85 is not < 85: accepted
    assert counts(driver) == [(wkey("a", 100, 100), 1), (wkey("a", 85, 85), 1)]
    assert driver.metrics()["agg"]["late"] == 1


def test_sliding_windows_start_or_end_at_records_like_kafka_streams_sliding_windows():
    driver = TopologyTestDriver(counting_plan(Window("sliding", size_ms=10, grace_ms=0)))
    driver.pipe_input("in", "a", {}, timestamp=20)  # left window [10, 20]
    driver.pipe_input("in", "a", {}, timestamp=25)  # [15, 25]; [10, 20] gets nothing; right of 20: [21, 31]
    assert counts(driver) == [(wkey("a", 10, 20), 1), (wkey("a", 15, 25), 2), (wkey("a", 21, 31), 1)]
    driver.pipe_input("in", "a", {}, timestamp=15)  # its left window [5, 15] is closed (15 < 25)...
    # ...but it still falls in [15, 25], and its right window [16, 26] holds 20 and 25
    assert counts(driver) == [(wkey("a", 15, 25), 3), (wkey("a", 16, 26), 2)]
    driver.pipe_input("in", "a", {}, timestamp=4)  # every window that could hold it has closed
    assert counts(driver) == []
    assert driver.metrics()["agg"]["late"] == 1


def test_windowed_changelog_keys_are_the_canonical_json_of_the_windowed_key_and_restore():
    from processing.runtime.operators.windows import window_codec
    from processing.runtime.serde import canonical_json, hashable_key, key_to_json

    encode, decode = window_codec(10_000)
    keys = ["a", 'ü"quote', 7, -3, 2.5, True, None, b"\x00raw", {"z": 1, "a": [2, {"y": 0, "b": 1}]}]
    for key in keys:
        for start in (0, 1_700_000_000_000):
            hkey = hashable_key(key)
            # twice: the second call is served from the codec's per-key cache
            for _ in range(2):
                raw = encode((hkey, start))
                expected = canonical_json(
                    {"key": key_to_json(key), "window_start": start, "window_end": start + 10_000}
                )
                assert raw == expected
                assert decode(raw) == (hkey, start)


def test_a_window_opened_and_closed_between_two_changelog_takes_writes_no_tombstone():
    # Both records in one commit interval, as the loop batches them between two checkpoints.
    driver = TopologyTestDriver(counting_plan(Window("tumbling", size_ms=10)), commit_every_record=False)
    driver.pipe_input("in", "a", {}, timestamp=1)
    driver.pipe_input("in", "a", {}, timestamp=25)  # closes [0, 10) before any take
    log = [r for r in driver.changelog() if r.key != STREAM_TIME_KEY]
    assert [(orjson.loads(r.key), orjson.loads(r.value)) for r in log] == [(wkey("a", 20, 30), [25, 1])]
    driver.pipe_input("in", "a", {}, timestamp=45)  # closes [20, 30), which is in the changelog
    log = [r for r in driver.changelog() if r.key != STREAM_TIME_KEY]
    assert [(orjson.loads(r.key), r.value) for r in log if r.value is None] == [(wkey("a", 20, 30), None)]


def test_a_restored_window_is_tombstoned_when_it_closes():
    from processing.runtime.executor import TopologyRuntime
    from processing.runtime.records import InputRecord

    runtime = TopologyRuntime(bind(counting_plan(Window("tumbling", size_ms=10)), "app"))
    first = runtime.create_task(0, 0)
    first.process([InputRecord("in", 0, 0, 1, b"a", b"{}", None)])
    store = next(iter(first.stores))
    restored = runtime.create_task(0, 0)
    restored.restore(store, [(r.key, r.value) for r in first.take_changelog()])
    restored.process([InputRecord("in", 0, 1, 25, b"a", b"{}", None)])
    tombstones = [orjson.loads(r.key) for r in restored.take_changelog() if r.value is None]
    assert tombstones == [wkey("a", 0, 10)]


def _final_windows_with_a_restore_at(window, clicks, split):
    """Emit-final results of ``clicks`` through one task, or through a task that stops after
    ``split`` records and a new task restored from its changelog (a rebalance, a crash)."""
    from processing.runtime.executor import TopologyRuntime
    from processing.runtime.records import InputRecord

    runtime = TopologyRuntime(bind(counting_plan(window, emit="final"), "app"))
    records = [
        InputRecord("in", 0, offset, ts, key.encode(), b"{}", None) for offset, (key, ts) in enumerate(clicks)
    ]
    task = runtime.create_task(0, 0)
    outputs, changelog = [], []
    for start in range(0, len(records), 7):  # batches, as the loop hands them over
        if start == split:
            task = runtime.create_task(0, 0)
            for store in task.stores:
                logged = [(r.key, r.value) for r in changelog if r.topic.endswith(f"-{store}-changelog")]
                assert logged, f"nothing to restore {store} from"
                task.restore(store, logged)
        task.process(records[start : start + 7])
        outputs += task.take_output()
        changelog += task.take_changelog()
    return sorted((orjson.loads(r.key)["key"], orjson.loads(r.key)["window_start"], r.value) for r in outputs)


def test_emit_final_session_and_tumbling_windows_give_the_same_results_across_a_restore():
    import random

    rng = random.Random(17)
    clicks, now = [], 1_000
    for _ in range(400):
        now += rng.choice([5, 20, 40, 90, 450])
        late = rng.random() < 0.2
        clicks.append((rng.choice(["alice", "bob", "carol"]), now - rng.randrange(1, 150) if late else now))
    clicks.append(("flush", now + 10_000))
    for window in (
        Window("session", gap_ms=300, grace_ms=100),
        Window("tumbling", size_ms=500, grace_ms=100),
    ):
        whole = _final_windows_with_a_restore_at(window, clicks, split=-1)
        assert len(whole) > 10
        for split in (7, 140, 301):  # multiples of the batch size
            assert _final_windows_with_a_restore_at(window, clicks, split) == whole, (window.type, split)
