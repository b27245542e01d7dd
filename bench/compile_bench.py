"""Compile a 1,000-node topology document; report the median time (target: ≤ 200 ms).

The document is realistic rather than trivial: 20 sources, each feeding a chain of filters,
maps, re-keys and windowed aggregates, ending in sinks and views. Every expression text is
distinct, so the "cold" runs (expression cache cleared) parse each one with sqlglot; "warm"
runs show re-validating a document the process has seen (the editor's case). Also measures expression evaluation speed, since
filters run per record (the runtime targets 1M events/s across the cluster).

    python -m bench compile_bench        (or: python -m bench.compile_bench)
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from topology.compiler import compile_document
from topology.compiler.expressions import clear_cache, compile_expression

TARGET_MS = 200.0
RUNS = 15
RESULTS = Path(__file__).with_name("results_compile.json")


def thousand_node_document(chains: int = 20, per_chain: int = 50) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for chain in range(chains):
        previous = f"src{chain}"
        nodes.append(
            {
                "id": previous,
                "type": "source",
                "config": {"topics": [f"events-{chain}"]},
                "position": {"x": 0, "y": chain * 100},
            }
        )
        for step in range(per_chain - 4):  # plus source, aggregate, sink, view
            node_id = f"c{chain}_s{step}"
            kind = step % 6
            if kind in (0, 3):
                config: dict[str, Any] = {"where": f"amount > {chain * 100 + step} AND region <> 'r{step}'"}
                type_ = "filter"
            elif kind in (1, 4):
                config = {
                    "fields": {f"f{step}": f"amount * {chain * 100 + step + 1} + COALESCE(bonus, 0)"},
                    "drop": ["tmp"],
                }
                type_ = "map"
            elif kind == 2:
                config = {"key": f"CONCAT(user_id, '-{chain}-{step}')"}
                type_ = "select_key"
            else:
                config = {"where": f"LOWER(name) LIKE 'a{chain}-{step}%' OR ROWTIME > {step}"}
                type_ = "filter"
            nodes.append(
                {"id": node_id, "type": type_, "config": config, "position": {"x": step * 50, "y": chain}}
            )
            edges.append({"source": previous, "target": node_id})
            previous = node_id
        aggregate = f"agg{chain}"
        nodes.append(
            {
                "id": aggregate,
                "type": "aggregate",
                "config": {
                    "group_by": f"page_{chain}",
                    "aggregations": {
                        "n": "COUNT(*)",
                        "total": f"SUM(amount + {chain})",
                        "last": "LATEST(status)",
                    },
                    "window": {"type": "tumbling", "size": "1m", "grace": "10s"},
                },
            }
        )
        edges.append({"source": previous, "target": aggregate})
        nodes.append({"id": f"out{chain}", "type": "sink", "config": {"topic": f"out-{chain}"}})
        nodes.append({"id": f"live{chain}", "type": "view", "config": {"title": f"Chain {chain}"}})
        edges.append({"source": aggregate, "target": f"out{chain}"})
        edges.append({"source": aggregate, "target": f"live{chain}"})
    return {"name": "bench-1000", "nodes": nodes, "edges": edges}


def _timed_runs(
    document: dict[str, Any], expected_hash: str, *, cold: bool
) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds per run. CPU time (this process only) is the fair figure
    on a shared machine: wall time also counts waiting for a core."""
    wall, cpu = [], []
    for _ in range(RUNS):
        if cold:
            clear_cache()
        started, started_cpu = time.perf_counter(), time.process_time()
        result = compile_document(document)
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert result.plan is not None and result.plan.hash == expected_hash
    return wall, cpu


def measure_compile() -> dict[str, Any]:
    document = thousand_node_document()
    assert len(document["nodes"]) == 1000
    first = compile_document(document)
    assert first.ok, [str(issue) for issue in first.issues[:5]]
    numbers: dict[str, Any] = {
        "nodes": len(document["nodes"]),
        "edges": len(document["edges"]),
        "expressions": sum(
            1 for n in document["nodes"] if n["type"] in ("filter", "map", "select_key", "aggregate")
        ),
        "operators": len(first.plan.operators()),
        "subtopologies": len(first.plan.subtopologies),
        "runs": RUNS,
        "target_ms": TARGET_MS,
    }
    # cold: every expression parsed by sqlglot (a new process, or a document never seen);
    # warm: the per-process expression cache holds them (the editor re-validating a document).
    for label, cold in (("cold", True), ("warm", False)):
        wall, cpu = _timed_runs(document, first.plan.hash, cold=cold)
        numbers[label] = {
            "median_ms": round(statistics.median(wall), 1),
            "min_ms": round(min(wall), 1),
            "max_ms": round(max(wall), 1),
            "cpu_median_ms": round(statistics.median(cpu), 1),
        }
    return numbers


def measure_evaluation(records: int = 200_000) -> dict[str, Any]:
    predicate = compile_expression("region = 'eu' AND duration_ms > 100").fn
    values = [
        {"region": "eu" if i % 3 else "us", "duration_ms": i % 500, "page": f"/p{i % 50}"}
        for i in range(1000)
    ]
    started = time.perf_counter()
    passed = 0
    for index in range(records):
        if predicate(values[index % 1000], None, index, 0, index) is True:
            passed += 1
    elapsed = time.perf_counter() - started
    return {
        "expression": "region = 'eu' AND duration_ms > 100",
        "records": records,
        "per_second": int(records / elapsed),
    }


def main() -> int:
    compile_numbers = measure_compile()
    evaluation = measure_evaluation()
    for label in ("cold", "warm"):
        run = compile_numbers[label]
        print(
            f"compile 1,000-node document ({label} expression cache): median {run['median_ms']} ms wall, "
            f"{run['cpu_median_ms']} ms CPU (wall min {run['min_ms']}, max {run['max_ms']}, {RUNS} runs); "
            f"target ≤ {TARGET_MS:.0f} ms"
        )
    print(
        f"  {compile_numbers['expressions']} expression nodes → {compile_numbers['operators']} operators "
        f"in {compile_numbers['subtopologies']} sub-topologies"
    )
    print(f"evaluate {evaluation['expression']!r}: {evaluation['per_second']:,} records/s on one core")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    RESULTS.write_text(json.dumps({"compile": compile_numbers, "evaluate": evaluation}, indent=2) + "\n")
    return 0 if compile_numbers["cold"]["cpu_median_ms"] <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
