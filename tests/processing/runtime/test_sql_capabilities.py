"""Broker-free runs of the capabilities SQL needs: composite keys, asymmetric join windows and
offset-ordered aggregates (documents compiled, then run by the TopologyTestDriver)."""

from __future__ import annotations

from typing import Any

import orjson

from processing.runtime import serde
from processing.runtime.testing import TopologyTestDriver
from tests.processing.runtime.test_joins import join_plan
from tests.topology.compiler.documents import doc, node, sink, source, view
from topology.compiler import compile_document
from topology.compiler.plan import Window


def compiled(document: dict[str, Any]):
    result = compile_document(document)
    assert result.ok, [i.to_dict() for i in result.issues]
    return result.plan


def counts_by(group_by: Any, **config: Any) -> dict[str, Any]:
    return doc(
        [
            source("clicks", "clicks"),
            node("agg", "aggregate", group_by=group_by, aggregations={"n": "COUNT(*)"}, **config),
            view("live"),
            sink("out", "counts"),
        ],
        [("clicks", "agg"), ("agg", "live"), ("agg", "out")],
    )


# --- composite keys -------------------------------------------------------------------------------


def test_a_multi_column_group_by_counts_per_combination_keyed_by_an_object():
    driver = TopologyTestDriver(compiled(counts_by(["region", "page"])), partitions=3)
    clicks = [("eu", "/a"), ("eu", "/b"), ("us", "/a"), ("eu", "/a"), ("eu", "/a")]
    for n, (region, page) in enumerate(clicks):
        driver.pipe_input("clicks", f"user{n}", {"region": region, "page": page}, timestamp=n)
    # A string-format sink writes a composite key as its canonical JSON.
    latest = {k: v["n"] for k, v, _ in driver.read_output("counts")}
    assert latest == {
        '{"page":"/a","region":"eu"}': 3,
        '{"page":"/b","region":"eu"}': 1,
        '{"page":"/a","region":"us"}': 1,
    }
    # The view shows a composite key as its canonical JSON text.
    assert driver.table("live")['{"page":"/a","region":"eu"}'] == {"n": 3}


def test_one_group_always_has_the_same_key_bytes_and_partition_whatever_the_column_order():
    """Keys are canonical JSON (sorted object keys), so the bytes — and so the murmur2
    partition — depend on the group only, not on the record that produced it."""
    first = serde.canonical_json(serde.key_to_json({"region": "eu", "page": "/a"}))
    second = serde.canonical_json(serde.key_to_json({"page": "/a", "region": "eu"}))
    assert first == second == b'{"page":"/a","region":"eu"}'
    driver = TopologyTestDriver(compiled(counts_by(["region", "page"])), partitions=4)
    for n in range(12):
        # The same group arrives on several input partitions.
        driver.pipe_input("clicks", f"user{n}", {"region": "eu", "page": "/a", "n": n}, partition=n % 4)
    holders = [
        partition
        for (sub, partition), task in driver.tasks.items()
        if task.stores.get("agg-store") is not None and task.stores["agg-store"].data
    ]
    assert holders == [serde.partition_for(first, 4)]
    assert driver.table("agg-store")['{"page":"/a","region":"eu"}'][1] == 12


def test_a_row_with_a_null_group_by_column_is_excluded_as_ksqldb_does():
    driver = TopologyTestDriver(compiled(counts_by(["region", "page"])))
    driver.pipe_input("clicks", "u1", {"region": "eu", "page": None}, timestamp=1)
    driver.pipe_input("clicks", "u2", {"region": "eu"}, timestamp=2)
    driver.pipe_input("clicks", "u3", {"region": "eu", "page": "/a"}, timestamp=3)
    assert [(orjson.loads(k), v) for k, v, _ in driver.read_output("counts")] == [
        ({"page": "/a", "region": "eu"}, {"n": 1})
    ]


def test_a_windowed_composite_group_nests_the_object_under_key():
    document = counts_by(["region", "page"], window={"type": "tumbling", "size": 1000})
    driver = TopologyTestDriver(compiled(document))
    driver.pipe_input("clicks", "u1", {"region": "eu", "page": "/a"}, timestamp=10)
    driver.pipe_input("clicks", "u2", {"region": "eu", "page": "/a"}, timestamp=20)
    key, value, _ = driver.read_output("counts")[-1]
    assert (orjson.loads(key), value) == (
        {"key": {"page": "/a", "region": "eu"}, "window_start": 0, "window_end": 1000},
        {"n": 2},
    )


def test_a_composite_select_key_writes_an_object_key():
    document = doc(
        [source("src", "in"), node("by", "select_key", key=["user_id", "UPPER(device)"]), sink("out", "out")],
        [("src", "by"), ("by", "out")],
    )
    driver = TopologyTestDriver(compiled(document))
    driver.pipe_input("in", "x", {"user_id": 7, "device": "ios"}, timestamp=1)
    ((key, value, _),) = driver.read_output("out")
    assert key == '{"KSQL_COL_0":"IOS","user_id":7}'
    assert value == {"user_id": 7, "device": "ios"}


def test_a_single_key_keeps_its_scalar_shape():
    driver = TopologyTestDriver(compiled(counts_by(["page"])))
    driver.pipe_input("clicks", "u1", {"page": "/a"}, timestamp=1)
    assert driver.read_output("counts") == [("/a", {"n": 1}, 1)]


# --- asymmetric join windows ----------------------------------------------------------------------


def asymmetric(how: str = "inner", before: int = 10, after: int = 100, grace: int = 0) -> TopologyTestDriver:
    window = Window(type="sliding", before_ms=before, after_ms=after, grace_ms=grace)
    return TopologyTestDriver(join_plan("stream_stream", how, window))


def test_a_left_record_joins_right_records_from_before_to_after():
    driver = asymmetric(grace=1000)  # the bounds, not lateness, decide here
    for ts in (989, 990, 1100, 1101):
        driver.pipe_input("R", "k", {"r": ts}, timestamp=ts)
    driver.pipe_input("L", "k", {"l": 1000}, timestamp=1000)
    assert [(v["r"], ts) for _, v, ts in driver.read_output("out")] == [(990, 1000), (1100, 1100)]


def test_a_right_record_joins_left_records_from_after_before_it_to_before_after_it():
    """Seen from the right: left records in [t - after, t + before]."""
    driver = asymmetric(grace=1000)
    for ts in (1899, 1900, 2010, 2011):
        driver.pipe_input("L", "k", {"l": ts}, timestamp=ts)
    driver.pipe_input("R", "k", {"r": 2000}, timestamp=2000)
    assert [v["l"] for _, v, _ in driver.read_output("out")] == [1900, 2010]


def test_each_side_is_late_once_its_own_window_has_closed():
    driver = asymmetric(grace=5)
    driver.pipe_input("L", "other", {"x": 0}, timestamp=5000)  # stream time 5000
    driver.pipe_input("L", "k", {"l": 1}, timestamp=4895)  # 4895 + 100 + 5 = 5000: still open
    driver.pipe_input("L", "k", {"l": 2}, timestamp=4894)  # 4999 < 5000: late
    driver.pipe_input("R", "k", {"r": 1}, timestamp=4985)  # 4985 + 10 + 5 = 5000: still open
    driver.pipe_input("R", "k", {"r": 2}, timestamp=4984)  # late
    assert driver.metrics()["j"]["late"] == 2
    # The accepted right record (4985) joins the accepted left one (4895 + 100 >= 4985).
    assert [(v["l"], v["r"]) for _, v, _ in driver.read_output("out")] == [(1, 1)]


def test_a_left_join_emits_an_unmatched_record_once_no_partner_can_arrive():
    """Retention is before + after + grace: the left record at 1000 waits until stream time
    passes 1000 + 10 + 100 + 5, because a right record at 1100 is accepted until 1115."""
    driver = asymmetric("left", grace=5)
    driver.pipe_input("L", "k", {"l": 1000}, timestamp=1000)
    driver.pipe_input("L", "k2", {"l": 1000}, timestamp=1000)
    driver.pipe_input("L", "other", {"x": 0}, timestamp=1115)
    assert [k for k, _, _ in driver.read_output("out") if k != "other"] == []
    driver.pipe_input("R", "k", {"r": 1100}, timestamp=1100)  # still in time: joins
    assert [(k, v) for k, v, _ in driver.read_output("out")] == [("k", {"l": 1000, "r": 1100})]
    driver.pipe_input("L", "other", {"x": 1}, timestamp=1116)  # k2 can no longer be met
    out = [(k, v, ts) for k, v, ts in driver.read_output("out") if k != "other"]
    assert out == [("k2", {"l": 1000}, 1000)]


def test_a_symmetric_window_is_before_and_after_equal_to_its_size():
    symmetric = TopologyTestDriver(join_plan("stream_stream", "inner", Window(type="sliding", size_ms=50)))
    explicit = asymmetric(before=50, after=50)
    for driver in (symmetric, explicit):
        for ts in (949, 950, 1050, 1051):
            driver.pipe_input("R", "k", {"r": ts}, timestamp=ts)
        driver.pipe_input("L", "k", {"l": 1000}, timestamp=1000)
    assert symmetric.read_output("out") == explicit.read_output("out")


def test_a_compiled_asymmetric_join_runs_with_the_bounds_of_its_document():
    document = doc(
        [
            source("orders", "orders"),
            source("shipments", "shipments"),
            node("within", "join", window={"before": "1s", "after": "1h"}),
            sink("out", "shipped"),
        ],
        [("orders", "within", None, "left"), ("shipments", "within", None, "right"), ("within", "out")],
    )
    driver = TopologyTestDriver(compiled(document))
    driver.pipe_input("orders", "o1", {"item": "book"}, timestamp=10_000)
    driver.pipe_input("shipments", "o1", {"ship": "early"}, timestamp=9_000)  # before: joins
    driver.pipe_input("shipments", "o1", {"ship": "too early"}, timestamp=8_999)  # before + 1
    driver.pipe_input("shipments", "o1", {"ship": "too late"}, timestamp=10_000 + 3_600_001)  # after + 1
    driver.pipe_input("orders", "o2", {"item": "pen"}, timestamp=3_620_000)
    driver.pipe_input("shipments", "o2", {"ship": "ok"}, timestamp=3_620_000 + 3_600_000)
    assert [(k, v["ship"]) for k, v, _ in driver.read_output("shipped")] == [("o1", "early"), ("o2", "ok")]


# --- offset-ordered aggregates --------------------------------------------------------------------


def latest_of(window: dict[str, Any] | None = None) -> dict[str, Any]:
    aggregations = {
        "by_offset": "LATEST_BY_OFFSET(status)",
        "first_by_offset": "EARLIEST_BY_OFFSET(status)",
        "by_time": "LATEST(status)",
        "first_by_time": "EARLIEST(status)",
    }
    config: dict[str, Any] = {"aggregations": aggregations}
    if window is not None:
        config["window"] = window
    return doc(
        [source("events", "events"), node("agg", "aggregate", **config), sink("out", "latest")],
        [("events", "agg"), ("agg", "out")],
    )


def test_by_offset_follows_arrival_where_latest_follows_event_time_and_both_skip_nulls():
    driver = TopologyTestDriver(compiled(latest_of()))
    driver.pipe_input("events", "k", {"status": "shipped"}, timestamp=300)
    driver.pipe_input("events", "k", {"status": "ordered"}, timestamp=100)  # out of order
    driver.pipe_input("events", "k", {"status": None}, timestamp=400)  # null: ignored
    driver.pipe_input("events", "k", {}, timestamp=500)  # missing: null, ignored
    assert driver.read_output("latest")[-1][1] == {
        "by_offset": "ordered",
        "first_by_offset": "shipped",
        "by_time": "shipped",
        "first_by_time": "ordered",
    }


def test_by_offset_is_null_until_a_non_null_value_arrives():
    driver = TopologyTestDriver(compiled(latest_of()))
    driver.pipe_input("events", "k", {"status": None}, timestamp=1)
    assert driver.read_output("latest")[-1][1]["by_offset"] is None
    driver.pipe_input("events", "k", {"status": "x"}, timestamp=2)
    assert driver.read_output("latest")[-1][1]["by_offset"] == "x"


def test_by_offset_in_a_tumbling_window_is_per_window():
    driver = TopologyTestDriver(compiled(latest_of({"type": "tumbling", "size": 1000})))
    driver.pipe_input("events", "k", {"status": "b"}, timestamp=900)
    driver.pipe_input("events", "k", {"status": "a"}, timestamp=100)
    driver.pipe_input("events", "k", {"status": "c"}, timestamp=1500)
    latest = {orjson.loads(k)["window_start"]: v["by_offset"] for k, v, _ in driver.read_output("latest")}
    assert latest == {0: "a", 1000: "c"}


def test_a_session_merge_keeps_the_latest_and_earliest_arrival():
    driver = TopologyTestDriver(compiled(latest_of({"type": "session", "gap": 100, "grace": 1000})))
    driver.pipe_input("events", "k", {"status": "first"}, timestamp=0)
    driver.pipe_input("events", "k", {"status": "second"}, timestamp=150)  # its own session
    driver.pipe_input("events", "k", {"status": "bridge"}, timestamp=80)  # merges both
    merged = [v for k, v, _ in driver.read_output("latest") if v is not None][-1]
    assert merged == {
        "by_offset": "bridge",
        "first_by_offset": "first",
        "by_time": "second",
        "first_by_time": "first",
    }


def test_by_offset_after_a_group_by_follows_the_repartition_topic_order():
    document = doc(
        [
            source("events", "events"),
            node("agg", "aggregate", group_by="user", aggregations={"last": "LATEST_BY_OFFSET(status)"}),
            sink("out", "latest"),
        ],
        [("events", "agg"), ("agg", "out")],
    )
    driver = TopologyTestDriver(compiled(document), partitions=2)
    for n, (status, ts) in enumerate([("a", 50), ("b", 10), ("c", 30)]):
        driver.pipe_input("events", f"e{n}", {"user": "u", "status": status}, timestamp=ts, partition=n % 2)
    assert driver.read_output("latest")[-1][:2] == ("u", {"last": "c"})


def test_ignore_nulls_false_lets_a_null_be_the_latest_or_the_earliest_value():
    document = doc(
        [
            source("events", "events"),
            node(
                "agg",
                "aggregate",
                aggregations={
                    "last": "LATEST_BY_OFFSET(status, FALSE)",
                    "first": "EARLIEST_BY_OFFSET(status, FALSE)",
                    "last_set": "LATEST_BY_OFFSET(status)",
                },
            ),
            sink("out", "latest"),
        ],
        [("events", "agg"), ("agg", "out")],
    )
    driver = TopologyTestDriver(compiled(document))
    driver.pipe_input("events", "k", {"status": None}, timestamp=1)
    driver.pipe_input("events", "k", {"status": "a"}, timestamp=2)
    assert driver.read_output("latest")[-1][1] == {"last": "a", "first": None, "last_set": "a"}
    driver.pipe_input("events", "k", {}, timestamp=3)
    assert driver.read_output("latest")[-1][1] == {"last": None, "first": None, "last_set": "a"}
