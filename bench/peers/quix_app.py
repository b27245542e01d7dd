"""Quix Streams side of the benchmark; runs in var/bench-peers/quix (its own virtualenv).

    var/bench-peers/quix/bin/python bench/peers/quix_app.py '<json spec from bench_streams>'

Settings follow Quix's docs: Application with commit_interval=1.0 (the shared interval),
W3 closes windows by partition stream time (closing_strategy="partition", Kafka Streams' rule;
the default "key" never closes a key's last window),
changelog topics on (the default) for stateful steps, RocksDB state, processing_guarantee
at-least-once or exactly-once. Outputs use the same shapes as Weir's sinks so one verifier
checks all systems.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

from quixstreams import Application


def main() -> int:
    spec = json.loads(sys.argv[1])
    topics = spec["topics"]
    stats = open(spec["stats"], "ab", buffering=0)  # noqa: SIM115 - lives as long as the process

    def mark(name: str) -> None:
        stats.write(json.dumps({"mark": name, "t": time.time(), "cpu": time.process_time()}).encode() + b"\n")

    app = Application(
        broker_address=spec["bootstrap"],
        consumer_group=spec["app_id"],
        auto_offset_reset="earliest",
        commit_interval=1.0,
        processing_guarantee="exactly-once" if spec["guarantee"] == "exactly_once" else "at-least-once",
        state_dir=tempfile.mkdtemp(prefix="quix-state-"),
        use_changelog_topics=True,
        loglevel=os.environ.get("BENCH_PEER_LOGLEVEL", "WARNING"),
    )
    events = app.topic(topics["events"], value_deserializer="json", key_deserializer="str")
    out = app.topic(topics["sink"], value_serializer="json", key_serializer="str")
    sdf = app.dataframe(events)

    started = False

    def first(_value: object) -> None:
        # One boolean check per record: the start mark is the first processed record.
        nonlocal started
        if not started:
            started = True
            mark("start")

    sdf = sdf.update(first)
    workload = spec["workload"]
    minimum = spec["filter_min"]
    if workload == "W1":
        sdf = sdf.filter(lambda v: v["amount"] >= minimum)
        sdf = sdf.apply(lambda v: {"user": v["user"], "cat": v["cat"], "doubled": v["amount"] * 2})
    elif workload == "W2":
        sdf = sdf.filter(lambda v: v["amount"] >= minimum)

        def count(_value: dict, state: object) -> dict:
            total = state.get("count", 0) + 1
            state.set("count", total)
            return {"count": total}

        sdf = sdf.apply(count, stateful=True)
    elif workload == "W3":
        sdf = sdf.apply(lambda v: v["amount"])
        sdf = (
            sdf.tumbling_window(duration_ms=spec["window_ms"], grace_ms=0)
            .sum()
            .final(closing_strategy="partition")
        )
        sdf = sdf.apply(lambda w: {"window_start": w["start"], "total": w["value"]})
    elif workload == "W4":
        users = app.dataframe(app.topic(topics["table"], value_deserializer="json", key_deserializer="str"))
        sdf = sdf.join_asof(users, how="inner", on_merge="keep-left")
    sdf.to_topic(out)
    mark("ready")
    app.run()
    mark("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
