import pytest

from processing.runtime.testing import TopologyTestDriver
from tests.processing.runtime.builders import sink, source
from topology.compiler.plan import Field, Join, Plan, SubTopology, ToTable, Window, complete_plan


def join_plan(sides, how, window=None, select=()):
    left = source("left", topics=("L",))
    right = source("right", topics=("R",))
    ops = [left, right]
    inputs = ["left", "right"]
    if sides in ("stream_table", "table_table"):
        ops.append(ToTable(id="rt", node_id="rt", inputs=("right",), store="rt-store"))
        inputs[1] = "rt"
    if sides == "table_table":
        ops.append(ToTable(id="lt", node_id="lt", inputs=("left",), store="lt-store"))
        inputs[0] = "lt"
    ops.append(
        Join(
            id="j",
            node_id="j",
            inputs=tuple(inputs),
            sides=sides,
            how=how,
            window=window,
            left_store="j-left-store",
            right_store="j-right-store",
            select=select,
        )
    )
    ops.append(sink("j"))
    return complete_plan(
        Plan(name="t", subtopologies=(SubTopology(id=0, operators=tuple(ops), source_topics=("L", "R")),))
    )


def test_stream_table_join_uses_the_table_as_of_the_stream_record():
    driver = TopologyTestDriver(join_plan("stream_table", "inner"))
    driver.pipe_input("L", "u1", {"order": 1}, timestamp=1)  # no user yet: dropped by inner
    driver.pipe_input("R", "u1", {"name": "ann"}, timestamp=2)  # table updates do not trigger
    driver.pipe_input("L", "u1", {"order": 2}, timestamp=3)
    driver.pipe_input("R", "u1", {"name": "bea"}, timestamp=4)
    driver.pipe_input("L", "u1", {"order": 3, "name": "own"}, timestamp=5)
    assert driver.read_output("out") == [
        ("u1", {"order": 2, "name": "ann"}, 3),
        ("u1", {"order": 3, "name": "own"}, 5),  # left wins on a name clash
    ]


def test_stream_table_left_join_emits_with_a_missing_table_side():
    driver = TopologyTestDriver(join_plan("stream_table", "left"))
    driver.pipe_input("L", "u1", {"order": 1}, timestamp=1)
    driver.pipe_input("R", "u1", {"name": "ann"}, timestamp=2)
    driver.pipe_input("R", "u1", None, timestamp=3)  # tombstone removes the row
    driver.pipe_input("L", "u1", {"order": 2}, timestamp=4)
    assert [v for _, v, _ in driver.read_output("out")] == [{"order": 1}, {"order": 2}]


def test_join_select_evaluates_fields_over_left_and_right():
    select = (Field("who", "right.name"), Field("what", "left.order"))
    driver = TopologyTestDriver(join_plan("stream_table", "inner", select=select))
    driver.pipe_input("R", "u1", {"name": "ann"}, timestamp=1)
    driver.pipe_input("L", "u1", {"order": 7}, timestamp=2)
    assert driver.read_output("out") == [("u1", {"who": "ann", "what": 7}, 2)]


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("inner", [{"l": 1, "r": 1}, None, {"l": 1, "r": 2}, None]),
        ("left", [{"l": 1}, {"l": 1, "r": 1}, {"l": 1}, {"l": 1, "r": 2}, None]),
        ("outer", [{"l": 1}, {"l": 1, "r": 1}, {"l": 1}, {"l": 1, "r": 2}, {"r": 2}]),
    ],
)
def test_table_table_joins_trigger_from_both_sides(how, expected):
    driver = TopologyTestDriver(join_plan("table_table", how))
    driver.pipe_input("L", "k", {"l": 1}, timestamp=1)
    driver.pipe_input("R", "k", {"r": 1}, timestamp=2)
    driver.pipe_input("R", "k", None, timestamp=3)
    driver.pipe_input("R", "k", {"r": 2}, timestamp=4)
    driver.pipe_input("L", "k", None, timestamp=5)
    values = [v for _, v, _ in driver.read_output("out")]
    if how == "inner":
        # the first left row has no partner yet: the join result is a tombstone
        assert values == [None, *expected]
    else:
        assert values == expected


def test_stream_stream_inner_join_matches_records_within_the_window():
    driver = TopologyTestDriver(join_plan("stream_stream", "inner", window=Window("tumbling", size_ms=10)))
    driver.pipe_input("L", "k", {"l": 1}, timestamp=100)
    driver.pipe_input("R", "k", {"r": 1}, timestamp=105)
    driver.pipe_input("R", "k", {"r": 2}, timestamp=111)  # 11 ms after the left record
    driver.pipe_input("L", "k", {"l": 2}, timestamp=101)  # out of order, within both
    assert driver.read_output("out") == [
        ("k", {"l": 1, "r": 1}, 105),
        ("k", {"l": 2, "r": 1}, 105),
        ("k", {"l": 2, "r": 2}, 111),
    ]


def test_stream_stream_left_join_emits_unmatched_records_only_after_the_window_closes():
    driver = TopologyTestDriver(
        join_plan("stream_stream", "left", window=Window("tumbling", size_ms=10, grace_ms=5))
    )
    driver.pipe_input("L", "a", {"l": "a"}, timestamp=100)
    driver.pipe_input("L", "b", {"l": "b"}, timestamp=100)
    driver.pipe_input("R", "b", {"r": "b"}, timestamp=108)
    driver.pipe_input("R", "z", {"r": "z"}, timestamp=125)  # 100 + 2*10 + 5 = 125: not yet
    assert driver.read_output("out") == [("b", {"l": "b", "r": "b"}, 108)]
    driver.pipe_input("R", "z", {"r": "z"}, timestamp=126)
    assert driver.read_output("out") == [("a", {"l": "a"}, 100)]


def test_stream_stream_outer_join_emits_unmatched_records_of_both_sides_once():
    driver = TopologyTestDriver(join_plan("stream_stream", "outer", window=Window("tumbling", size_ms=10)))
    driver.pipe_input("L", "a", {"l": 1}, timestamp=0)
    driver.pipe_input("R", "b", {"r": 1}, timestamp=1)
    driver.pipe_input("L", "c", {"l": 2}, timestamp=100)
    driver.pipe_input("L", "c", {"l": 3}, timestamp=200)
    assert sorted(driver.read_output("out"), key=repr) == [
        ("a", {"l": 1}, 0),
        ("b", {"r": 1}, 1),
        ("c", {"l": 2}, 100),
    ]


def test_stream_stream_join_drops_late_records():
    driver = TopologyTestDriver(join_plan("stream_stream", "inner", window=Window("tumbling", size_ms=10)))
    driver.pipe_input("L", "k", {"l": 1}, timestamp=50)
    driver.pipe_input("R", "z", {"r": 0}, timestamp=100)
    driver.pipe_input("R", "k", {"r": 1}, timestamp=55)  # 55 + 10 < 100: late
    assert driver.read_output("out") == []
    assert driver.metrics()["j"]["late"] == 1


def test_a_table_rekeyed_through_a_repartition_topic_is_still_the_table_side():
    from topology.compiler.plan import Repartition, SelectKey, Source

    first = SubTopology(
        id=0,
        operators=(
            source("users", topics=("users",)),
            ToTable(id="ut", node_id="ut", inputs=("users",), store="ut-store"),
            SelectKey(id="rk", node_id="rk", inputs=("ut",), key="email"),
            Repartition(id="rk.rp", node_id="rk", inputs=("rk",), name="rk"),
        ),
        source_topics=("users",),
    )
    second = SubTopology(
        id=1,
        operators=(
            Source(id="rk.src", node_id="rk", inputs=(), repartition="rk"),
            source("logins", topics=("logins",)),
            Join(
                id="j",
                node_id="j",
                inputs=("rk.src", "logins"),
                sides="stream_table",
                how="inner",
                right_store="j-store",
            ),
            sink("j"),
        ),
        source_topics=("logins",),
        repartition_inputs=("rk",),
    )
    driver = TopologyTestDriver(complete_plan(Plan(name="t", subtopologies=(first, second))))
    driver.pipe_input("users", "u1", {"email": "a@x", "name": "Ann"}, timestamp=1)
    driver.pipe_input("logins", "a@x", {"ip": "1.2.3.4"}, timestamp=2)
    assert driver.read_output("out") == [("a@x", {"email": "a@x", "name": "Ann", "ip": "1.2.3.4"}, 2)]
