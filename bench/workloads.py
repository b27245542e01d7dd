"""The benchmark's inputs, workloads and offline truth, shared by Weir and the peer apps.

Inputs are generated deterministically from a seed, so the harness can compute the truth
without reading the topics back. The same definitions drive Weir's documents and the peer
apps (bench/peers/*), which receive topic names and parameters as JSON on argv.

Event value (~100 bytes of JSON): ``{"user": "u01234", "amount": 0..999, "cat": "c0".."c9",
"ts": <ms>, "pad": "..."}``; key = user. Event time = the record timestamp, advancing 1 ms per
event from BASE_TS, so 1,000,000 events span 1,000 s = 100 tumbling windows of 10 s.
The table topic holds one row per user: ``{"region": "r0".."r4", "tier": 0..2}``, timestamped
before every event (a stream-table join then finds every row).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson

# Set by the harness to a recent time (see bench_streams.main); the default is for tests.
BASE_TS = 1_700_000_000_000
WINDOW_MS = 10_000
PARTITIONS = 4
# W1/W2 keep events with amount >= FILTER_MIN (about 90 %).
FILTER_MIN = 100
PAD = "x" * 38


def user(index: int) -> str:
    return f"u{index:05d}"


def partition_of(key_index: int) -> int:
    # Explicit partitions (not a hash) so the event and table topics are co-partitioned for
    # every client, whatever its default partitioner.
    return key_index % PARTITIONS


def events(count: int, keys: int, seed: int = 8) -> Iterator[tuple[int, int, int, bytes]]:
    """(key index, partition, timestamp, value bytes) of every input event, in produce order."""
    rng = random.Random(seed)
    randrange = rng.randrange
    dumps = orjson.dumps
    for i in range(count):
        k = randrange(keys)
        amount = randrange(1000)
        ts = BASE_TS + i
        yield (
            k,
            k % PARTITIONS,
            ts,
            dumps({"user": user(k), "amount": amount, "cat": f"c{i % 10}", "ts": ts, "pad": PAD}),
        )


def table_rows(keys: int) -> Iterator[tuple[int, int, bytes]]:
    for k in range(keys):
        yield k, k % PARTITIONS, orjson.dumps({"region": f"r{k % 5}", "tier": k % 3})


def truth(count: int, keys: int, seed: int = 8) -> dict[str, Any]:
    """What every correct run must produce, computed from the generator."""
    rng = random.Random(seed)
    randrange = rng.randrange
    w1_count = 0
    w1_sum = 0
    counts = [0] * keys
    windows: dict[tuple[int, int], int] = {}
    max_ts = [0] * PARTITIONS
    for i in range(count):
        k = randrange(keys)
        amount = randrange(1000)
        ts = BASE_TS + i
        if amount >= FILTER_MIN:
            w1_count += 1
            w1_sum += amount * 2
            counts[k] += 1
        start = ts - ts % WINDOW_MS
        windows[(k, start)] = windows.get((k, start), 0) + amount
        p = k % PARTITIONS
        if ts > max_ts[p]:
            max_ts[p] = ts
    return {
        "events": count,
        "w1_count": w1_count,
        "w1_sum_doubled": w1_sum,
        "w2_counts": {user(k): c for k, c in enumerate(counts) if c},
        "w3_windows": {(user(k), start): total for (k, start), total in windows.items()},
        "w3_max_ts": max_ts,
        "w4_count": count,
    }


# --------------------------------------------------------------------------- Weir documents


def _node(node_id: str, type_: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": type_, "config": config, "position": {"x": 0, "y": 0}}


def weir_document(workload: str, topics: dict[str, str]) -> dict[str, Any]:
    """The topology of ``workload`` as the editor would send it."""
    src = _node("events", "source", topics=[topics["events"]], value_format="json")
    out = _node("out", "sink", topic=topics["sink"])
    if workload == "W1":
        nodes = [
            src,
            _node("big", "filter", where=f"amount >= {FILTER_MIN}"),
            _node("shape", "map", fields={"doubled": "amount * 2"}, keep=["user", "cat"]),
            out,
        ]
        edges = [("events", "big"), ("big", "shape"), ("shape", "out")]
    elif workload == "W2":
        nodes = [
            src,
            _node("big", "filter", where=f"amount >= {FILTER_MIN}"),
            _node("per_user", "aggregate", aggregations={"count": "COUNT(*)"}),
            out,
        ]
        edges = [("events", "big"), ("big", "per_user"), ("per_user", "out")]
    elif workload == "W3":
        nodes = [
            src,
            _node(
                "per_window",
                "aggregate",
                aggregations={"total": "SUM(amount)"},
                window={"type": "tumbling", "size": WINDOW_MS, "grace": 0},
                emit="final",
            ),
            _node("to_stream", "to_stream"),
            out,
        ]
        edges = [("events", "per_window"), ("per_window", "out")]
        nodes = [n for n in nodes if n["id"] != "to_stream"]
    elif workload == "W4":
        nodes = [
            src,
            _node("users", "table_source", topic=topics["table"], value_format="json"),
            _node("enrich", "join", how="inner"),
            out,
        ]
        edges = [("events", "enrich", None, "left"), ("users", "enrich", None, "right"), ("enrich", "out")]
    else:
        raise ValueError(workload)
    built = []
    for edge in edges:
        item: dict[str, Any] = {"source": edge[0], "target": edge[1]}
        if len(edge) > 3 and edge[3]:
            item["target_port"] = edge[3]
        built.append(item)
    return {"name": f"bench-{workload.lower()}", "nodes": nodes, "edges": built}
