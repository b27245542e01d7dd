"""Run Weir's benchmarks: ``python -m bench [name ...]`` (``make bench`` starts a stack first).

Each benchmark is a module in this package listed in BENCHMARKS with a ``main() -> int``
(0 = ran fine); it prints its own measurements. Add yours by appending its module name.
Benchmarks read ``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL`` like the tests do.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHMARKS: list[str] = []
BENCHMARKS += ["compile_bench"]  # compiler: 1,000-node document compile time
BENCHMARKS += ["bench_dashboard"]  # live views: produce -> browser-rendered latency, 100/1,000 sockets
BENCHMARKS += ["bench_push"]  # push queries: produce -> first row at a REST client, 1 and 50 queries
BENCHMARKS += [
    "bench_streams"
]  # issue 8: Weir vs Quix Streams vs Faust, W1-W4, EOS, restore (bench/RESULTS.md)


def main(argv: list[str]) -> int:
    wanted = argv or BENCHMARKS
    unknown = sorted(set(wanted) - set(BENCHMARKS))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BENCHMARKS) or 'none'}")
        return 2
    if not wanted:
        print("no benchmarks are listed in bench/__main__.py yet")
        return 0
    failed = []
    for name in wanted:
        print(f"=== bench.{name}", flush=True)
        started = time.monotonic()
        module = importlib.import_module(f"bench.{name}")
        code = module.main()
        print(f"=== bench.{name}: exit {code} after {time.monotonic() - started:.1f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
