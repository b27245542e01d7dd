"""Foreign-key table-table joins (Kafka Streams' ``KTable.join(other, foreignKeyExtractor,
joiner)``, KIP-213): documents → compiler → TopologyTestDriver, against results worked out by
hand from Kafka Streams 4.x's SubscriptionSendProcessorSupplier, SubscriptionJoinProcessorSupplier,
ForeignTableJoinProcessorSupplier and ResponseJoinProcessorSupplier."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from processing.runtime.executor import TopologyRuntime
from processing.runtime.records import InputRecord
from processing.runtime.testing import TopologyTestDriver
from tests.topology.compiler.documents import doc, node, sink, table
from topology.compiler import compile_document
from topology.compiler.binding import bind
from topology.compiler.plan import ForeignKeyJoin, ForeignKeyLookup

SELECT = {"item": "left.item", "name": "right.name"}


def compiled(how: str = "inner", select: dict[str, str] | None = None) -> Any:
    config: dict[str, Any] = {"how": how, "foreign_key": "customer"}
    if select is None:
        config["select"] = SELECT
    result = compile_document(
        doc(
            [table("orders", "orders"), table("customers", "customers"), node("j", "join", **config), sink()],
            [("orders", "j", None, "left"), ("customers", "j", None, "right"), ("j", "out")],
        )
    )
    assert result.ok, [i.to_dict() for i in result.issues]
    return result.plan


# (topic, key, value, timestamp)
CHANGES = [
    ("orders", "o1", {"item": "pen", "customer": "c1"}, 1),  # no customer c1 yet
    ("customers", "c1", {"name": "Ann"}, 2),  # every order of c1 is (re)joined
    ("orders", "o2", {"item": "ink", "customer": "c1"}, 3),
    ("customers", "c1", {"name": "Anna"}, 4),
    ("orders", "o1", {"item": "pen", "customer": "c2"}, 5),  # foreign key changes to a missing row
    ("customers", "c2", {"name": "Bob"}, 6),
    ("customers", "c1", None, 7),  # right tombstone
    ("orders", "o1", None, 8),  # left tombstone
    ("orders", "o3", {"item": "cap", "customer": None}, 9),  # null foreign key
    ("orders", "o2", {"item": "ink2", "customer": "c2"}, 10),
]

INNER = [
    ("o1", {"item": "pen", "name": "Ann"}, 2),
    ("o2", {"item": "ink", "name": "Ann"}, 3),  # max(order 3, customer 2)
    ("o1", {"item": "pen", "name": "Anna"}, 4),
    ("o2", {"item": "ink", "name": "Anna"}, 4),
    ("o1", None, 5),  # PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE unsets the old pairing
    ("o1", {"item": "pen", "name": "Bob"}, 6),
    ("o2", None, 7),
    ("o1", None, 8),  # max(8, customer c2's 6)
    # o3: a null foreign key is ignored by an inner join
    ("o2", {"item": "ink2", "name": "Bob"}, 10),
]

LEFT = [
    ("o1", {"item": "pen", "name": None}, 1),
    ("o1", {"item": "pen", "name": "Ann"}, 2),
    ("o2", {"item": "ink", "name": "Ann"}, 3),
    ("o1", {"item": "pen", "name": "Anna"}, 4),
    ("o2", {"item": "ink", "name": "Anna"}, 4),
    ("o1", {"item": "pen", "name": None}, 5),  # DELETE_KEY_AND_PROPAGATE to c1 ...
    ("o1", {"item": "pen", "name": None}, 5),  # ... and PROPAGATE_NULL to c2 (missing)
    ("o1", {"item": "pen", "name": "Bob"}, 6),
    ("o2", {"item": "ink", "name": None}, 7),
    ("o1", None, 8),  # two tombstones: one for the null foreign key (at once), ...
    ("o1", None, 8),  # ... one from DELETE_KEY_AND_PROPAGATE to c2
    ("o3", {"item": "cap", "name": None}, 9),
    ("o2", {"item": "ink2", "name": None}, 10),  # DELETE_KEY_AND_PROPAGATE to c1 (gone), then
    ("o2", {"item": "ink2", "name": "Bob"}, 10),  # PROPAGATE_NULL_IF_NO_FK_VAL_AVAILABLE to c2
]


def run(plan: Any, changes: list, partitions: int = 1, restart_at: int | None = None) -> list:
    driver = TopologyTestDriver(plan, partitions=partitions)
    logged: list = []
    for index, (topic, key, value, ts) in enumerate(changes):
        if index == restart_at:
            restart(driver, logged)
        driver.pipe_input(topic, key, value, timestamp=ts)
    return driver.read_output("out")


def restart(driver: TopologyTestDriver, logged: list) -> None:
    """Every task replaced by one restored from the changelogs written so far; the state must
    be the same (indexes included: the lookup's subscribers are rebuilt)."""
    logged += driver.changelog()
    for (sub, partition), task in list(driver.tasks.items()):
        fresh = driver.runtime.create_task(sub, partition, capture=True)
        for store, topic in fresh.changelog_topics.items():
            fresh.restore(
                store, [(r.key, r.value) for r in logged if r.topic == topic and r.partition == partition]
            )
        fresh._rebuild_indexes()
        assert {n: s.data for n, s in fresh.stores.items()} == {n: s.data for n, s in task.stores.items()}
        for old, new in zip(task.nodes, fresh.nodes, strict=True):
            assert getattr(old, "subscribers", None) == getattr(new, "subscribers", None)
        driver.tasks[(sub, partition)] = fresh


@pytest.mark.parametrize("partitions", [1, 4])
def test_an_inner_foreign_key_join_follows_kafka_streams_through_updates_and_tombstones(partitions):
    assert run(compiled("inner"), CHANGES, partitions) == INNER


@pytest.mark.parametrize("partitions", [1, 4])
def test_a_left_foreign_key_join_keeps_left_rows_with_a_null_right_side(partitions):
    out = run(compiled("left"), CHANGES, partitions)
    assert sorted(out, key=_order) == sorted(LEFT, key=_order)
    # Per left key, the sequence of results is Kafka Streams' (only keys may interleave).
    for key in ("o1", "o2", "o3"):
        assert [r for r in out if r[0] == key] == [r for r in LEFT if r[0] == key]


def _order(record: tuple) -> tuple:
    return (record[2], record[0], orjson.dumps(record[1], option=orjson.OPT_SORT_KEYS))


@pytest.mark.parametrize("how", ["inner", "left"])
@pytest.mark.parametrize("split", range(1, len(CHANGES)))
def test_restored_from_the_changelog_mid_stream_the_join_continues_exactly(how, split):
    assert run(compiled(how), CHANGES, 2, restart_at=split) == run(compiled(how), CHANGES, 2)


def test_without_select_the_rows_merge_left_over_right():
    out = run(
        compiled("inner", select={}),
        [
            ("customers", "c1", {"name": "Ann", "item": "x"}, 1),
            ("orders", "o1", {"item": "pen", "customer": "c1"}, 2),
        ],
    )
    assert out == [("o1", {"name": "Ann", "item": "pen", "customer": "c1"}, 2)]


def test_a_response_to_an_older_version_of_the_left_row_is_dropped():
    """The stale-response suppression of ResponseJoinProcessorSupplier, with the two halves
    driven by hand so that a left row changes while its first subscription is in flight."""
    plan = compiled("inner")
    bound = bind(plan, "app")
    runtime = TopologyRuntime(bound)
    left_sub = next(
        s.id for s in plan.subtopologies if any(isinstance(o, ForeignKeyJoin) for o in s.operators)
    )
    right_sub = next(
        s.id for s in plan.subtopologies if any(isinstance(o, ForeignKeyLookup) for o in s.operators)
    )
    left, right = runtime.create_task(left_sub, 0), runtime.create_task(right_sub, 0)
    topic = bound.repartition_topics

    def rec(name: str, offset: int, key: Any, value: Any, ts: int) -> InputRecord:
        return InputRecord(topic[name], 0, offset, ts, orjson.dumps(key), orjson.dumps(value), None)

    right.process([rec("j-right", 0, "c1", {"name": "Ann"}, 1)])
    left.process(
        [
            rec("j-left", 0, "o1", {"item": "pen", "customer": "c1"}, 2),
            rec("j-left", 1, "o1", {"item": "pen2", "customer": "c1"}, 3),
        ]
    )
    subscriptions = [r for r in left.take_output() if r.topic == topic["j-subscription"]]
    assert len(subscriptions) == 2
    right.process(
        [InputRecord(r.topic, 0, n, r.timestamp, r.key, r.value) for n, r in enumerate(subscriptions)]
    )
    responses = [r for r in right.take_output() if r.topic == topic["j-response"]]
    assert len(responses) == 2
    left.process([InputRecord(r.topic, 0, n, r.timestamp, r.key, r.value) for n, r in enumerate(responses)])
    results = [orjson.loads(r.value) for r in left.take_output() if r.topic == "out"]
    assert results == [{"item": "pen2", "name": "Ann"}]  # the first response was stale


def test_an_inner_join_row_whose_foreign_key_was_null_joins_once_it_has_one():
    """Kafka Streams' code (defaultJoinInstructions) skips every update of a row whose *old*
    foreign key was null; its documentation only ignores an update whose new key is null.
    Weir follows the documentation (docs/semantics.md)."""
    out = run(
        compiled("inner"),
        [
            ("customers", "c1", {"name": "Ann"}, 1),
            ("orders", "o1", {"item": "pen", "customer": "c1"}, 2),
            ("orders", "o1", {"item": "pen", "customer": None}, 3),  # ignored: the old result stays
            ("orders", "o1", {"item": "pen", "customer": "c1"}, 4),  # joins again
            ("orders", "o1", {"item": "pen", "customer": None}, 5),
            ("orders", "o1", None, 6),  # deletes the result
        ],
    )
    assert out == [
        ("o1", {"item": "pen", "name": "Ann"}, 2),
        ("o1", {"item": "pen", "name": "Ann"}, 4),
        ("o1", None, 6),
    ]


def test_the_tables_need_not_be_co_partitioned():
    result = compile_document(
        doc(
            [
                table("orders", "orders", partitions=6),
                table("customers", "customers", partitions=2),
                node("j", "join", foreign_key="customer"),
                sink(),
            ],
            [("orders", "j", None, "left"), ("customers", "j", None, "right"), ("j", "out")],
        )
    )
    assert result.ok, [i.to_dict() for i in result.issues]


def test_a_table_joins_itself_on_a_foreign_key():
    result = compile_document(
        doc(
            [
                table("staff", "staff"),
                node(
                    "j",
                    "join",
                    how="left",
                    foreign_key="manager",
                    select={"who": "left.name", "boss": "right.name"},
                ),
                sink(),
            ],
            [("staff", "j", None, "left"), ("staff", "j", None, "right"), ("j", "out")],
        )
    )
    assert result.ok, [i.to_dict() for i in result.issues]
    out = run(
        result.plan,
        [
            ("staff", "ann", {"name": "Ann", "manager": None}, 1),
            ("staff", "bob", {"name": "Bob", "manager": "ann"}, 2),
            ("staff", "ann", {"name": "Anne", "manager": None}, 3),
        ],
        partitions=2,
    )
    assert out == [
        ("ann", {"who": "Ann", "boss": None}, 1),
        ("bob", {"who": "Bob", "boss": "Ann"}, 2),
        ("ann", {"who": "Anne", "boss": None}, 3),
        ("bob", {"who": "Bob", "boss": "Anne"}, 3),
    ]
