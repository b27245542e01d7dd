"""Faust (faust-streaming) side of the benchmark; runs in var/bench-peers/faust (own virtualenv).

    var/bench-peers/faust/bin/python bench/peers/faust_app.py '<json spec from bench_streams>'

Settings follow Faust's docs: broker_commit_interval=1.0 (the shared interval), tables are
changelogged (always, in Faust) in the in-memory store, topic_partitions matching the input,
at-least-once (Faust's exactly-once needs the transactional producer per partition; the issue
asks for EOS only from Weir and Quix). W3 emits each window once from on_window_close;
W4 reads the users topic as a Table whose changelog is that topic, recovered before the
agent starts (Faust's documented way to join against a table).
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta

import faust


def main() -> int:
    spec = json.loads(sys.argv[1])
    topics = spec["topics"]
    stats = open(spec["stats"], "ab", buffering=0)  # noqa: SIM115 - lives as long as the process

    def mark(name: str) -> None:
        stats.write(json.dumps({"mark": name, "t": time.time(), "cpu": time.process_time()}).encode() + b"\n")

    app = faust.App(
        spec["app_id"],
        broker=f"kafka://{spec['bootstrap']}",
        store="memory://",
        broker_commit_interval=1.0,
        topic_partitions=spec["partitions"],
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        table_cleanup_interval=1.0,
        stream_buffer_maxsize=65536,
        broker_max_poll_records=10000,
        web_enabled=False,
        key_serializer="raw",
        value_serializer="json",
    )
    events = app.topic(topics["events"], key_type=bytes, value_serializer="json", key_serializer="raw")
    out = app.topic(topics["sink"], key_serializer="raw", value_serializer="json")
    workload = spec["workload"]
    minimum = spec["filter_min"]
    started = False

    def first() -> None:
        nonlocal started
        if not started:
            started = True
            mark("start")

    if workload == "W1":

        @app.agent(events)
        async def w1(stream):  # noqa: ANN001 - Faust's agent signature
            async for key, value in stream.items():
                first()
                if value["amount"] >= minimum:
                    await out.send(
                        key=key,
                        value={"user": value["user"], "cat": value["cat"], "doubled": value["amount"] * 2},
                    )

    elif workload == "W2":
        counts = app.Table("counts", default=int, partitions=spec["partitions"])

        @app.agent(events)
        async def w2(stream):  # noqa: ANN001
            async for key, value in stream.items():
                first()
                if value["amount"] >= minimum:
                    counts[key] += 1
                    await out.send(key=key, value={"count": counts[key]})

    elif workload == "W3":
        size = spec["window_ms"] / 1000

        def closed(key, total):  # noqa: ANN001 - Faust's on_window_close signature
            user, (start, _end) = key
            out.send_soon(key=user, value={"window_start": round(start * 1000), "total": total})

        sums = (
            app.Table("sums", default=int, partitions=spec["partitions"], on_window_close=closed)
            .tumbling(size, expires=timedelta(seconds=size))
            .relative_to_stream()
        )

        @app.agent(events)
        async def w3(stream):  # noqa: ANN001
            async for key, value in stream.items():
                first()
                sums[key] += value["amount"]

    elif workload == "W4":
        users = app.Table(
            "users",
            partitions=spec["partitions"],
            changelog_topic=app.topic(topics["table"], key_serializer="raw", value_serializer="json"),
        )

        @app.agent(events)
        async def w4(stream):  # noqa: ANN001
            async for key, value in stream.items():
                first()
                row = users.get(key)
                if row is not None:
                    await out.send(key=key, value={**value, **row})

    mark("ready")
    faust.Worker(app, loglevel="warning", quiet=True).execute_from_commandline()
    mark("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
