"""A table aggregated by a group key, and a foreign-key join of two tables, through a real
broker: the final tables equal what the final input rows give."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from tests.integration.runtime_harness import (
    Runner,
    create_topics,
    delete_app_topics,
    lag,
    produce,
    read_all,
    unique,
    wait_until,
    write_document,
)
from topology.compiler import naming

pytestmark = pytest.mark.integration


def _node(node_id: str, node_type: str, config: dict[str, Any]) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "config": config, "position": {"x": 0, "y": 0}}


def _final_table(topic: str) -> dict[str, Any]:
    """The latest value per key of a table's topic (tombstones delete)."""
    table: dict[str, Any] = {}
    for record in sorted(read_all(topic), key=lambda r: (r["partition"], r["offset"])):
        key = record["key"].decode()
        if record["value"] is None:
            table.pop(key, None)
        else:
            table[key] = orjson.loads(record["value"])
    return table


def _run_until_drained(
    tmp_path: Any, document: dict, app_id: str, topics: list[str], repartitions: list[str]
):
    runner = Runner(write_document(tmp_path, document), app_id, plan=False, guarantee="exactly_once")
    internal = [naming.repartition_topic(app_id, name) for name in repartitions]
    wait_until(lambda: runner.processed() > 0, 60, "processing to start")

    def drained() -> bool:
        return lag(app_id, topics) == 0 and lag(app_id, internal) == 0 and lag(app_id, topics + internal) == 0

    wait_until(drained, 90, "every sub-topology to drain")
    assert runner.stop() == 0, runner.describe()


def _rows(rng: random.Random, n: int, make: Any) -> tuple[list[tuple[bytes, bytes | None]], dict[str, Any]]:
    """n random upserts and deletes over a few keys, and the table they leave."""
    records: list[tuple[bytes, bytes | None]] = []
    final: dict[str, Any] = {}
    for _ in range(n):
        key = f"k{rng.randint(0, 59)}"
        value = None if rng.random() < 0.15 else make(rng)
        records.append((key.encode(), None if value is None else orjson.dumps(value)))
        if value is None:
            final.pop(key, None)
        else:
            final[key] = value
    return records, final


@pytest.mark.timeout(180)
def test_counting_and_summing_a_table_by_region_takes_updated_and_deleted_rows_back_out(tmp_path):
    users, out, app_id = unique("users"), unique("users-by-region"), unique("tableagg")
    create_topics({users: 3, out: 2})
    try:
        rng = random.Random(5)
        records, final = _rows(
            rng, 2000, lambda r: {"region": r.choice(["eu", "us", "apac"]), "age": r.randint(1, 90)}
        )
        produce(users, records)
        document = {
            "name": "users-by-region",
            "nodes": [
                _node("users", "table_source", {"topic": users}),
                _node(
                    "by_region",
                    "aggregate",
                    {"group_by": "region", "aggregations": {"n": "COUNT(*)", "age": "SUM(age)"}},
                ),
                _node("out", "sink", {"topic": out}),
            ],
            "edges": [{"source": "users", "target": "by_region"}, {"source": "by_region", "target": "out"}],
        }
        _run_until_drained(tmp_path, document, app_id, [users], ["by_region"])
        expected = {region: {"n": 0, "age": 0} for region in ("eu", "us", "apac")}
        for row in final.values():
            expected[row["region"]]["n"] += 1
            expected[row["region"]]["age"] += row["age"]
        assert _final_table(out) == expected
    finally:
        delete_app_topics(app_id, [users, out])


@pytest.mark.timeout(180)
def test_a_foreign_key_join_of_tables_with_different_partition_counts_ends_as_the_final_rows_join(tmp_path):
    orders, customers, out, app_id = (
        unique("orders"),
        unique("customers"),
        unique("enriched"),
        unique("fkjoin"),
    )
    create_topics({orders: 3, customers: 2, out: 2})
    try:
        rng = random.Random(11)
        customer_rows, final_customers = _rows(rng, 300, lambda r: {"name": f"n{r.randint(0, 999)}"})
        order_rows, final_orders = _rows(
            rng, 1500, lambda r: {"item": r.randint(0, 99), "customer": f"k{r.randint(0, 59)}"}
        )
        # Interleaved, so right changes and left changes race through the round trip.
        produce(customers, customer_rows[:150])
        produce(orders, order_rows[:700])
        produce(customers, customer_rows[150:])
        produce(orders, order_rows[700:])
        document = {
            "name": "enrich-orders",
            "nodes": [
                _node("orders", "table_source", {"topic": orders}),
                _node("customers", "table_source", {"topic": customers}),
                _node(
                    "j",
                    "join",
                    {"foreign_key": "customer", "select": {"item": "left.item", "name": "right.name"}},
                ),
                _node("out", "sink", {"topic": out}),
            ],
            "edges": [
                {"source": "orders", "target": "j", "target_port": "left"},
                {"source": "customers", "target": "j", "target_port": "right"},
                {"source": "j", "target": "out"},
            ],
        }
        _run_until_drained(
            tmp_path,
            document,
            app_id,
            [orders, customers],
            ["j-left", "j-right", "j-subscription", "j-response"],
        )
        expected = {
            key: {"item": row["item"], "name": final_customers[row["customer"]]["name"]}
            for key, row in final_orders.items()
            if row["customer"] in final_customers
        }
        assert _final_table(out) == expected
    finally:
        delete_app_topics(app_id, [orders, customers, out])
