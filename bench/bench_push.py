"""Push-query benchmark (not a test): produce → first row at a REST client, through Daphne.

    .venv/bin/python -m bench bench_push      (or: .venv/bin/python bench/bench_push.py [--trials 30])

What runs: Kafka (``KAFKA_BOOTSTRAP_SERVERS``), a Daphne serving ``config.asgi`` (through
bench/push_asgi.py, which only declares the benchmark's stream in the catalog) on a free port
with a throwaway SQLite database and an API key, and this process as the client (httpx).

Each trial opens ``SELECT * FROM BENCH EMIT CHANGES LIMIT 1`` on ``/query`` (v1 chunked) or
``/query-stream`` (delimited), waits for the header (the query is running: its consumer is
assigned at the end offsets), produces one record (linger 0) and times until the row's bytes
arrive. So every number includes the producer, the broker, the query's consumer fetch, the
in-memory topology, the row queue, the event loop's wake-up and Daphne's write. "start" is
request → header (compile, topic metadata, end offsets, thread start). The concurrent case
opens 50 unbounded queries, produces one record, and times the first row at each.

Prints a table and writes bench/results_push.json.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results_push.json"


def percentile(values: list[float], q: float) -> float:
    from bench.bench_dashboard import percentile as shared

    return shared(values, q)


def free_port() -> int:
    from ops.stack_processes import free_port as shared

    return shared()


def start_daphne(port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "bench.push_asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=open(log, "ab"),  # noqa: SIM115 - the child owns it
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2):
                return proc
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"Daphne did not start (see {log})")


class Case:
    """One streaming request: opened, header seen, first row seen (monotonic seconds)."""

    def __init__(self, base: str, auth: tuple[str, str], endpoint: str, sql: str) -> None:
        self.base, self.auth, self.endpoint, self.sql = base, auth, endpoint, sql
        self.opened = self.header_at = self.row_at = None
        self.ready = threading.Event()
        self.done = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        import httpx

        body = {"ksql": self.sql} if self.endpoint == "query" else {"sql": self.sql}
        marker = b'"row"' if self.endpoint == "query" else b"\n["
        seen = b""
        try:
            self.opened = time.monotonic()
            with httpx.stream(
                "POST", f"{self.base}/ksqldb/{self.endpoint}", json=body, auth=self.auth, timeout=60
            ) as response:
                for chunk in response.iter_raw():
                    seen += chunk
                    if self.header_at is None and (b"header" in seen or b"queryId" in seen):
                        self.header_at = time.monotonic()
                        self.ready.set()
                    if self.header_at is not None and marker in seen:
                        self.row_at = time.monotonic()
                        break
        except Exception as exc:  # noqa: BLE001 - reported in the results
            self.error = str(exc)
        finally:
            self.ready.set()
            self.done.set()


def produce(producer, topic: str) -> float:
    sent = time.monotonic()
    producer.produce(topic, key=b"k", value=json.dumps({"N": 1, "AT": time.time()}).encode())
    producer.poll(0)
    return sent


def sequential(base, auth, producer, topic, endpoint, trials):
    first_row, start = [], []
    for _ in range(trials):
        case = Case(base, auth, endpoint, "SELECT * FROM BENCH EMIT CHANGES LIMIT 1;")
        thread = threading.Thread(target=case.run)
        thread.start()
        case.ready.wait(30)
        time.sleep(0.05)
        sent = produce(producer, topic)
        case.done.wait(30)
        thread.join(30)
        if case.row_at is None:
            raise RuntimeError(f"no row on /{endpoint}: {case.error}")
        first_row.append((case.row_at - sent) * 1000)
        start.append((case.header_at - case.opened) * 1000)
        producer.flush(10)
    return first_row, start


def concurrent(base, auth, producer, topic, queries):
    cases = [Case(base, auth, "query", "SELECT * FROM BENCH EMIT CHANGES;") for _ in range(queries)]
    threads = [threading.Thread(target=c.run, daemon=True) for c in cases]
    for thread in threads:
        thread.start()
    for case in cases:
        case.ready.wait(60)
    time.sleep(0.5)
    sent = produce(producer, topic)
    for case in cases:
        case.done.wait(30)
    missing = [c.error for c in cases if c.row_at is None]
    if missing:
        raise RuntimeError(f"{len(missing)} of {queries} queries saw no row: {missing[:3]}")
    return [(c.row_at - sent) * 1000 for c in cases]


def summary(name: str, values: list[float]) -> dict:
    return {
        "case": name,
        "n": len(values),
        "p50_ms": round(percentile(values, 0.5), 1),
        "p90_ms": round(percentile(values, 0.9), 1),
        "max_ms": round(max(values), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--concurrent", type=int, default=50)
    args = parser.parse_args(argv if argv is not None else [])
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
    workdir = Path(tempfile.mkdtemp(prefix="weir-bench-push-"))
    from bench.bench_dashboard import setup_django

    setup_django(workdir)
    from confluent_kafka import Producer
    from confluent_kafka.admin import AdminClient, NewTopic
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from topology.apikeys import create_api_key
    from topology.sql.catalog import Column, SourceDef

    kafka = dict(settings.KAFKA_CLIENT_CONFIG)
    topic = f"bench-push-{secrets.token_hex(4)}"
    admin = AdminClient(kafka)
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])[topic].result(30)
    source = SourceDef(
        "BENCH",
        "STREAM",
        topic,
        (Column("ID", "STRING", key=True), Column("N", "INTEGER"), Column("AT", "DOUBLE")),
    )
    user = get_user_model().objects.create_user(f"bench-{secrets.token_hex(3)}", password=None)
    key, secret = create_api_key(user, "bench")
    port = free_port()
    env = dict(os.environ, WEIR_HTTP_PORT=str(port), BENCH_PUSH_CATALOG=json.dumps([source.to_dict()]))
    daphne = start_daphne(port, env, workdir / "daphne.log")
    producer = Producer({**kafka, "linger.ms": 0})
    base, auth = f"http://127.0.0.1:{port}", (key.key_id, secret)
    results = []
    try:
        sequential(base, auth, producer, topic, "query", 3)  # warm-up: imports, first compile
        for endpoint in ("query", "query-stream"):
            rows, starts = sequential(base, auth, producer, topic, endpoint, args.trials)
            results.append(summary(f"/{endpoint} first row after produce", rows))
            results.append(summary(f"/{endpoint} request to header (start)", starts))
        results.append(
            summary(
                f"{args.concurrent} concurrent /query, first row after one produce",
                concurrent(base, auth, producer, topic, args.concurrent),
            )
        )
    finally:
        os.killpg(daphne.pid, signal.SIGTERM)
        daphne.wait(15)
        admin.delete_topics([topic])
    load = os.getloadavg()[0]
    print(f"{'case':<58} {'n':>4} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8}")
    for row in results:
        print(f"{row['case']:<58} {row['n']:>4} {row['p50_ms']:>8} {row['p90_ms']:>8} {row['max_ms']:>8}")
    print(f"load average (1 min): {load:.2f}; cores: {os.cpu_count()}")
    RESULTS.write_text(
        json.dumps({"results": results, "load_1m": load, "cores": os.cpu_count()}, indent=2) + "\n"
    )
    target = next(r for r in results if r["case"].startswith("/query first row"))
    return 0 if target["p50_ms"] < 1000 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
