"""Random records and timestamps → the runtime gives the same tables as a plain model.

The models below are deliberately naive (lists, full scans after every record) and follow the
rules in docs/semantics.md: stream time = max event time seen by the task; a time window is
late once end + grace <= stream time; a session is late when its merged end < stream time -
gap - grace and closed (purged, emitted under emit final) once end + gap + grace < stream
time. Each run is also cut at a random record, its state restored into a fresh task from
the changelog, and continued there.
"""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from processing.runtime.executor import TopologyRuntime
from processing.runtime.records import InputRecord
from tests.processing.runtime.builders import aggregate, single, sink, source
from topology.compiler.binding import bind
from topology.compiler.plan import Aggregation, Window, complete_plan

AGGS = (Aggregation("count", "COUNT"), Aggregation("total", "SUM", "v"))

record_lists = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 300), st.integers(-5, 9)),
    min_size=1,
    max_size=60,
)


def run(plan, rows, cut):
    """Process rows; at ``cut`` move the state to a new task through its changelog.
    Returns (raw key, decoded value): the sink writes window keys as canonical JSON text."""
    runtime = TopologyRuntime(bind(plan, "model"))
    task = runtime.create_task(0, 0)
    outputs = []
    records = [
        InputRecord("in", 0, n, ts, key.encode(), orjson.dumps({"v": v}), None)
        for n, (key, ts, v) in enumerate(rows)
    ]
    cut = min(cut, len(records))
    task.process(records[:cut])
    outputs += task.take_output()
    log = task.take_changelog()
    task = runtime.create_task(0, 0)
    for store, topic in task.changelog_topics.items():
        task.restore(store, [(r.key, r.value) for r in log if r.topic == topic])
    task.process(records[cut:])
    outputs += task.take_output()
    return [(r.key, orjson.loads(r.value) if r.value is not None else None) for r in outputs]


def latest(outputs):
    table = {}
    for key, value in outputs:
        if value is None:
            table.pop(key, None)
        else:
            table[key] = (value["count"], value["total"])
    return table


def wkey(key, start, end):
    return orjson.dumps({"key": key, "window_start": start, "window_end": end}, option=orjson.OPT_SORT_KEYS)


@settings(max_examples=60, deadline=None)
@given(record_lists, st.integers(0, 60))
def test_count_and_sum_per_key_match_the_model(rows, cut):
    plan = single(source(), aggregate(aggregations=AGGS), sink("agg"))
    model: dict[bytes, tuple[int, int]] = {}
    for key, _ts, v in rows:
        count, total = model.get(key.encode(), (0, 0))
        model[key.encode()] = (count + 1, total + v)
    assert latest(run(plan, rows, cut)) == model


def tumbling_model(rows, size, grace):
    stream_time = -1
    windows: dict[tuple[str, int], tuple[int, int]] = {}
    closed_order: list[tuple[str, int]] = []
    for key, ts, v in rows:
        stream_time = max(stream_time, ts)
        start = ts - ts % size
        if start + size + grace <= stream_time:
            continue  # late
        count, total = windows.get((key, start), (0, 0))
        windows[(key, start)] = (count + 1, total + v)
        for k, s in sorted(windows, key=lambda w: (w[1], w[0])):
            if s + size + grace <= stream_time and (k, s) not in closed_order:
                closed_order.append((k, s))
    return windows, closed_order


@settings(max_examples=60, deadline=None)
@given(record_lists, st.integers(1, 50), st.integers(0, 30), st.integers(0, 60))
def test_tumbling_windows_with_grace_match_the_model(rows, size, grace, cut):
    windows, _ = tumbling_model(rows, size, grace)
    plan = single(
        source(),
        aggregate(aggregations=AGGS, window=Window("tumbling", size_ms=size, grace_ms=grace)),
        sink("agg"),
    )
    expected = {wkey(k, s, s + size): value for (k, s), value in windows.items()}
    assert latest(run(plan, rows, cut)) == expected


@settings(max_examples=60, deadline=None)
@given(record_lists, st.integers(1, 50), st.integers(0, 30), st.integers(0, 60))
def test_tumbling_emit_final_emits_every_closed_window_once_with_its_final_value(rows, size, grace, cut):
    windows, closed = tumbling_model(rows, size, grace)
    plan = single(
        source(),
        aggregate(aggregations=AGGS, window=Window("tumbling", size_ms=size, grace_ms=grace), emit="final"),
        sink("agg"),
    )
    outputs = run(plan, rows, cut)
    emitted = [k for k, _ in outputs]
    assert len(emitted) == len(set(emitted))
    assert latest(outputs) == {wkey(k, s, s + size): windows[(k, s)] for k, s in closed}


def session_model(rows, gap, grace):
    stream_time = -1
    live: list[list] = []  # [key, start, end, count, total]
    done: list[list] = []
    for key, ts, v in rows:
        stream_time = max(stream_time, ts)
        near = [s for s in live if s[0] == key and s[1] - gap <= ts <= s[2] + gap]
        start = min([ts] + [s[1] for s in near])
        end = max([ts] + [s[2] for s in near])
        if end < stream_time - gap - grace:
            continue  # late
        for s in near:
            live.remove(s)
        live.append([key, start, end, 1 + sum(s[3] for s in near), v + sum(s[4] for s in near)])
        for s in list(live):
            if s[2] + gap + grace < stream_time:
                live.remove(s)
                done.append(s)
    return live, done


@settings(max_examples=60, deadline=None)
@given(record_lists, st.integers(1, 30), st.integers(0, 30), st.integers(0, 60))
def test_session_windows_with_grace_match_the_model(rows, gap, grace, cut):
    live, done = session_model(rows, gap, grace)
    plan = single(
        source(),
        aggregate(aggregations=AGGS, window=Window("session", gap_ms=gap, grace_ms=grace)),
        sink("agg"),
    )
    expected = {wkey(s[0], s[1], s[2]): (s[3], s[4]) for s in live + done}
    assert latest(run(plan, rows, cut)) == expected


@settings(max_examples=60, deadline=None)
@given(record_lists, st.integers(1, 30), st.integers(0, 30), st.integers(0, 60))
def test_session_emit_final_emits_each_closed_session_once(rows, gap, grace, cut):
    _, done = session_model(rows, gap, grace)
    plan = single(
        source(),
        aggregate(aggregations=AGGS, window=Window("session", gap_ms=gap, grace_ms=grace), emit="final"),
        sink("agg"),
    )
    outputs = run(plan, rows, cut)
    emitted = [k for k, _ in outputs]
    assert len(emitted) == len(set(emitted))
    assert all(value is not None for _, value in outputs)
    assert latest(outputs) == {wkey(s[0], s[1], s[2]): (s[3], s[4]) for s in done}


def sliding_model(rows, size):
    """Kafka Streams' sliding windows by definition: a left window per record, a right window
    per record that has a later record within size + 1; content = records inside."""
    result = {}
    for key in {k for k, _, _ in rows}:
        times = [(ts, v) for k, ts, v in rows if k == key]
        starts = {max(0, ts - size) for ts, _ in times}
        starts |= {ts + 1 for ts, _ in times if any(ts + 1 <= o <= ts + 1 + size for o, _ in times)}
        for start in starts:
            inside = [v for ts, v in times if start <= ts <= start + size]
            result[wkey(key, start, start + size)] = (len(inside), sum(inside))
    return result


@settings(max_examples=60, deadline=None)
@given(record_lists, st.integers(1, 40), st.integers(0, 60))
def test_sliding_windows_hold_exactly_the_records_inside_them(rows, size, cut):
    window = Window("sliding", size_ms=size, grace_ms=10_000)  # nothing late, nothing closes
    plan = single(source(), aggregate(aggregations=AGGS, window=window), sink("agg"))
    assert latest(run(plan, rows, cut)) == sliding_model(rows, size)


@settings(max_examples=60, deadline=None)
@given(record_lists, st.integers(1, 40), st.integers(0, 60))
def test_sliding_emit_final_emits_each_window_once_after_it_closes(rows, size, cut):
    window = Window("sliding", size_ms=size, grace_ms=400)  # all rows are within grace
    plan = single(source(), aggregate(aggregations=AGGS, window=window, emit="final"), sink("agg"))
    outputs = run(plan, [*rows, ("flush", 10_000, 0)], cut)
    emitted = [k for k, _ in outputs]
    assert len(emitted) == len(set(emitted))
    assert latest(outputs) == sliding_model(rows, size)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=3), st.sampled_from(["ann", "bob", 7, None])), max_size=40
    ),
    st.integers(1, 4),
)
def test_group_by_a_field_through_a_repartition_matches_the_model(rows, partitions):
    from processing.runtime.testing import TopologyTestDriver
    from topology.compiler.plan import Plan, Repartition, SelectKey, Source, SubTopology

    first = SubTopology(
        id=0,
        operators=(
            source(),
            SelectKey(id="g.key", node_id="g", inputs=("src",), key="user"),
            Repartition(id="g.rp", node_id="g", inputs=("g.key",), name="g"),
        ),
        source_topics=("in",),
    )
    second = SubTopology(
        id=1,
        operators=(
            Source(id="g.src", node_id="g", inputs=(), repartition="g"),
            aggregate("g.src"),
            sink("agg"),
        ),
        repartition_inputs=("g",),
    )
    driver = TopologyTestDriver(
        complete_plan(Plan(name="t", subtopologies=(first, second))), partitions=partitions
    )
    for n, (key, user) in enumerate(rows):
        driver.pipe_input("in", key, {"user": user}, timestamp=n)
    model: dict = {}
    for _, user in rows:
        if user is not None:  # no group key, no group (dropped at the repartition)
            written = str(user)  # the sink's string format writes the number 7 as "7"
            model[written] = model.get(written, 0) + 1
    got = {}
    for key, value, _ in driver.read_output("out"):
        got[key] = value["count"]
    assert got == model
    # every group lives in exactly one task
    owners = [k for (sub, _), t in driver.tasks.items() if sub == 1 for k in t.stores["agg-store"].data]
    assert len(owners) == len(set(owners))
