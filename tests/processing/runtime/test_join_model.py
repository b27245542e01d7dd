"""Stream-stream joins against a plain model: random records on both sides, random order."""

from __future__ import annotations

from collections import Counter

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from processing.runtime.executor import TopologyRuntime
from processing.runtime.records import InputRecord
from tests.processing.runtime.test_joins import join_plan
from topology.compiler.binding import bind
from topology.compiler.plan import Window

rows = st.lists(
    st.tuples(st.sampled_from(["L", "R"]), st.sampled_from(["a", "b"]), st.integers(0, 200)),
    min_size=1,
    max_size=40,
)


def model(records, size, grace, how):
    """Accepted = not late on arrival; joined pairs = accepted records of one key on opposite
    sides within size of each other; left/outer add the accepted records that never joined."""
    stream_time = -1
    accepted = []
    for n, (side, key, ts) in enumerate(records):
        stream_time = max(stream_time, ts)
        if ts + size + grace >= stream_time:
            accepted.append((n, side, key, ts))
    out = Counter()
    joined = set()
    for n, side, key, ts in accepted:
        if side != "L":
            continue
        for m, other, other_key, other_ts in accepted:
            if other == "R" and other_key == key and abs(ts - other_ts) <= size:
                out[(key, (("l", n), ("r", m)))] += 1
                joined |= {n, m}
    for n, side, key, _ts in accepted:
        if n in joined:
            continue
        if side == "L" and how in ("left", "outer"):
            out[(key, (("l", n),))] += 1
        if side == "R" and how == "outer":
            out[(key, (("r", n),))] += 1
    return out


@settings(max_examples=80, deadline=None)
@given(rows, st.integers(0, 30), st.integers(0, 30), st.sampled_from(["inner", "left", "outer"]))
def test_stream_stream_joins_match_the_model(records, size, grace, how):
    plan = join_plan("stream_stream", how, window=Window("sliding", size_ms=size, grace_ms=grace))
    task = TopologyRuntime(bind(plan, "m")).create_task(0, 0)
    inputs = [
        InputRecord(side, 0, n, ts, key.encode(), orjson.dumps({side.lower(): n}), None)
        for n, (side, key, ts) in enumerate(records)
    ]
    # A far-future record on a key of its own closes every window of the data.
    flush = InputRecord("L", 0, len(records), 10_000, b"flush", b'{"l":-1}', None)
    task.process([*inputs, flush])
    got = Counter((r.key.decode(), tuple(sorted(orjson.loads(r.value).items()))) for r in task.take_output())
    assert got == model(records, size, grace, how)
