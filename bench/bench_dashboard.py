"""Live dashboard fan-out benchmark (not a test): produce -> browser-rendered latency.

    .venv/bin/python bench/bench_dashboard.py [--rates 1000,10000] [--clients 100,1000]
                                              [--seconds 10] [--keys 10000] [--tick-ms N]
                                              [--daphne-processes 1] [--no-deflate] [--direct]

What runs: Kafka (``KAFKA_BOOTSTRAP_SERVERS``) and the runtime in its own process, as a Celery
worker would run it (``loop.run`` with the Django sink ``DeploymentEventSink``); Daphne
(config.asgi, the real consumer and hub; ``--daphne-processes`` of them sharing one listening
socket) on a free port, the shared Redis (``REDIS_URL``, keys under a bench-only prefix), a
throwaway SQLite database, one Debian Chromium page showing the deployment's default dashboard
(a virtualised table of ``--keys`` rows), and N-1 further websocket clients in a separate
process speaking the same protocol (raw RFC 6455 as asyncio protocols, offering
permessage-deflate as Chromium does unless ``--no-deflate``; 10 of them inflate, decode and
measure, the rest only count frames). Each case records the 1-minute load average: everything
shares the machine's cores with whatever else runs.

What is produced: events at the given rate over ``--keys`` keys to a one-partition topic, each
stamped with the time it was produced (``produced_at``, epoch ms). The topology counts per key
and keeps ``LATEST(produced_at)`` into the view ``counts``; the runtime coalesces the view's
changes per key and sends one delta per tick, the tick chosen from the number of sockets
watching (dashboard/publisher.py, ``view_tick_s``; ``--tick-ms`` fixes it, for ``--direct``
only). Latency is measured per row: browser = when the table rendered the frame holding it
(requestAnimationFrame after the DOM update), socket clients = when the frame was read. So every
number includes the producer's linger, the broker, the consumer, the wait for the tick, Redis,
the hub and the rendering. ``--direct`` leaves out Kafka and the runtime: the bench coalesces
per key itself and hands the deltas to the sink.

Prints a table and writes bench/results_dashboard.json.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import secrets
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VENV_BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MEASURING_CLIENTS = 10


# ----------------------------------------------------------------------------- socket clients


def _masked_text(payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x81, 0x80 | length)
    else:
        head = struct.pack("!BBH", 0x81, 0x80 | 126, length)
    return head + mask + masked


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    head = struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


class _BenchSocket(asyncio.Protocol):
    """One websocket client as a plain asyncio protocol: frames are parsed from the bytes as
    they arrive, with no task switch per read. A thousand StreamReader clients in one process
    cost about as much CPU as the Daphne process they measure, on the same two cores."""

    def __init__(self, host, port, cookie, deployment, measure, latencies, counts, ready, deflate):
        # Like a browser, offer permessage-deflate (Chromium does by default). Only the measuring
        # clients inflate what they get; a browser would inflate on its own machine.
        extensions = (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" if deflate else ""
        )
        self.request = (
            f"GET /ws/live/ HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n"
            f"Origin: http://{host}:{port}\r\nCookie: sessionid={cookie}\r\n{extensions}\r\n"
        ).encode()
        self.compressed = False  # RSV1 of the message being read
        self.subscribe = _masked_text(
            json.dumps(
                {"v": 1, "type": "view.subscribe", "deployment": deployment, "view": "counts"}
            ).encode()
        )
        self.measure, self.latencies, self.counts, self.ready = measure, latencies, counts, ready
        self.opened = asyncio.get_running_loop().create_future()
        self.closed = asyncio.get_running_loop().create_future()
        self.buffer = bytearray()
        self.upgraded = self.subscribed = False
        self.message = bytearray()

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc):
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed during the handshake: {exc!r}"))
        if not self.closed.done():
            self.closed.set_result(exc)

    def data_received(self, data):
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in self.buffer[: self.buffer.find(b"\r\n")]:
                self.opened.set_exception(ConnectionError(f"handshake refused: {bytes(self.buffer[:80])!r}"))
                self.transport.close()
                return
            del self.buffer[: end + 4]
            self.upgraded = True
            self.opened.set_result(True)
            self.transport.write(self.subscribe)
        self._frames()

    def _frames(self):
        buffer, pos, size = self.buffer, 0, len(self.buffer)
        while size - pos >= 2:
            b0, length, head = buffer[pos], buffer[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), 10
            if size - pos < head + length:
                break
            start, pos = pos + head, pos + head + length
            self._frame(b0, buffer, start, pos)
        if pos:
            del buffer[:pos]

    def _frame(self, b0, buffer, start, end):
        opcode = b0 & 0x0F
        if opcode == 0x9:  # ping: answer, or Daphne drops us after its ping timeout
            self.transport.write(_masked(0xA, bytes(buffer[start:end])))
            return
        if opcode == 0x8:
            self.transport.close()
            return
        if opcode:  # the first frame of a message says whether it is compressed
            self.compressed = bool(b0 & 0x40)
        if not self.subscribed:
            head = bytes(buffer[start : min(end, start + 40)])
            if self.compressed:
                head = zlib.decompressobj(-15).decompress(bytes(buffer[start:end]), 40)
            if b'"view.snapshot"' in head:
                self.subscribed = True
                self.ready.release()
            return
        self.counts[0] += 1
        if not self.measure:
            return
        self.message += buffer[start:end]
        if not b0 & 0x80:
            return
        now = time.time() * 1000
        if self.compressed:
            frame = json.loads(zlib.decompressobj(-15).decompress(bytes(self.message) + b"\x00\x00\xff\xff"))
        else:
            frame = json.loads(self.message)
        self.message = bytearray()
        if frame.get("type") == "view.delta":
            # "at" is when the sink published the frame: it splits each row's latency into
            # upstream (producer, Kafka, runtime, tick, Redis script) and downstream (channel
            # layer, hub, socket).
            published = frame["at"] * 1000
            self.latencies["downstream"].append(now - published)
            for row in frame["rows"]:
                value = row["value"]
                if value and "produced_at" in value:
                    self.latencies["total"].append(now - value["produced_at"])
                    self.latencies["upstream"].append(published - value["produced_at"])


async def _client(host, port, cookie, deployment, measure, latencies, counts, ready, deflate):
    # Like the browser: a refused or timed-out handshake (Daphne gives the app 5 s to accept,
    # which a thousand simultaneous logins can exceed) is retried with backoff.
    loop = asyncio.get_running_loop()
    for attempt in range(12):
        try:
            _, client = await loop.create_connection(
                lambda: _BenchSocket(
                    host, port, cookie, deployment, measure, latencies, counts, ready, deflate
                ),
                host,
                port,
            )
            await client.opened
            break
        except (ConnectionError, OSError):
            await asyncio.sleep(min(4.0, 0.25 * 2**attempt) * (0.5 + random.random()))
    else:
        raise RuntimeError("could not open a websocket after 12 attempts")
    await client.closed


def clients_worker(args) -> None:
    """Runs in its own process: opens N sockets, reports latencies on SIGTERM."""

    async def main():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        latencies: dict[str, list[float]] = {"total": [], "upstream": [], "downstream": []}
        counts = [0]
        ready = asyncio.Semaphore(0)
        tasks = []
        for i in range(args.n):
            tasks.append(
                asyncio.create_task(
                    _client(
                        args.host,
                        args.port,
                        args.cookie,
                        args.deployment,
                        i < args.measure,
                        latencies,
                        counts,
                        ready,
                        args.deflate,
                    )
                )
            )
            # Channels resolves every login's session on one ORM thread (with SQLite and
            # conn_max_age=0, a fresh connection each time) and Daphne drops a handshake the
            # app has not accepted within 5 s: a faster login storm only queues dead handshakes.
            await asyncio.sleep(1 / args.logins_per_s)
        for _ in range(args.n):
            acquired = asyncio.ensure_future(ready.acquire())
            await asyncio.wait([acquired, *tasks], return_when=asyncio.FIRST_COMPLETED)
            failed = [t for t in tasks if t.done() and t.exception()]
            if failed:
                acquired.cancel()
                Path(args.ready_file).write_text(f"failed: {failed[0].exception()!r}")
                return
            await acquired
        Path(args.ready_file).write_text("ready")
        await stop.wait()
        for t in tasks:
            t.cancel()
        Path(args.out).write_text(json.dumps({"latencies": latencies, "frames": counts[0]}))

    asyncio.run(main())


# ----------------------------------------------------------------------------- orchestration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def setup_django(workdir: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["WEIR_REDIS_PREFIX"] = f"weir-bench-{os.getpid()}:"
    os.environ["WEIR_DATA_DIR"] = str(workdir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def bench_document(topic: str) -> dict:
    """Count per key, keeping the latest event's production time, into the view ``counts``."""
    return {
        "name": "bench-dashboard",
        "nodes": [
            {"id": "events", "type": "source", "config": {"topics": [topic]}},
            {
                "id": "by_key",
                "type": "aggregate",
                "config": {
                    "group_by": None,
                    "aggregations": {"count": "COUNT(*)", "produced_at": "LATEST(produced_at)"},
                },
            },
            {"id": "counts", "type": "view", "config": {"title": "Counts"}},
        ],
        "edges": [{"source": "events", "target": "by_key"}, {"source": "by_key", "target": "counts"}],
    }


def make_deployment(topic: str):
    from django.contrib.auth import get_user_model
    from django.test import Client

    from processing.models import Deployment
    from topology.compiler import compile_document
    from topology.compiler.plan import plan_to_dict
    from topology.models import Topology, TopologyVersion

    user = get_user_model().objects.create_user(
        f"bench-{secrets.token_hex(3)}", password=secrets.token_hex(8)
    )
    topology = Topology.objects.create(name=f"bench-{secrets.token_hex(3)}", owner=user)
    document = bench_document(topic)
    # The dashboards read the views from the version's plan.
    plan = compile_document(document).plan
    version = TopologyVersion.objects.create(
        topology=topology, number=1, document=document, plan=plan_to_dict(plan), plan_hash=plan.hash
    )
    deployment = Deployment.objects.create(version=version, app_id=f"{topology.name}-app", created_by=user)
    client = Client()
    client.force_login(user)
    return deployment, client.cookies["sessionid"].value


def start_daphne(port: int, log: Path, processes: int = 1) -> list[subprocess.Popen]:
    """Daphne on ``port``; with several processes they share one listening socket (``--fd``),
    each with its own hub, and the kernel hands each connection to whichever accepts first."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    procs = [
        subprocess.Popen(
            [str(VENV_BIN / "daphne"), "--fd", str(listener.fileno()), "config.asgi:application"],
            cwd=ROOT,
            env=dict(os.environ, WEIR_HTTP_PORT=str(port)),
            stdout=open(log.with_suffix(f".{n}.log"), "ab"),  # noqa: SIM115 - the child owns it
            stderr=subprocess.STDOUT,
            start_new_session=True,
            pass_fds=(listener.fileno(),),
        )
        for n in range(processes)
    ]
    listener.close()  # each child adopted its own copy
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/accounts/login/", timeout=2):
                return procs
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("Daphne did not start")


def emit_deltas(sink, rate, args):
    """Without Kafka (``--direct``): coalesce per key here and hand one delta per tick to the
    sink, as the runtime's reporter does. Returns (events, seconds, ticks ms, emit ms)."""
    carry = 0.0
    ticks: list[float] = []
    emit_ms: list[float] = []
    seq = 1
    emitted = 0
    started = time.monotonic()
    next_tick = started
    while time.monotonic() - started < args.seconds:
        # The runtime's rule (dashboard/publisher.py, view_tick_s): the tick follows the number
        # of sockets the hubs count on the view, unless --tick-ms fixes it.
        tick = args.tick_ms / 1000 if args.tick_ms else sink.view_interval_s("counts")
        ticks.append(tick * 1000)
        next_tick += tick
        carry += rate * tick
        n, carry = int(carry), carry - int(carry)
        now_ms = time.time() * 1000
        rows = {}
        for i in range(n):
            # Spread the events' production times over the tick that just passed.
            key = f"k{random.randrange(args.keys):05d}"
            rows[key] = {
                "count": seq * 1000 + i,
                "produced_at": now_ms - (n - i) * (tick * 1000 / max(n, 1)),
            }
        t0 = time.perf_counter()
        sink.emit(
            {
                "type": "table_delta",
                "view": "counts",
                "seq": seq,
                "windowed": False,
                "rows": [{"key": k, "value": v} for k, v in rows.items()],
            }
        )
        emit_ms.append((time.perf_counter() - t0) * 1000)
        emitted += n
        seq += 1
        delay = next_tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return emitted, time.monotonic() - started, ticks, emit_ms


PRODUCE_STEP_S = 0.005


def produce_events(producer, topic, rate, args, sink):
    """Through Kafka (the default): produce events at ``rate``, each stamped with its production
    time; the runtime (``runtime_worker``, its own process) counts them into the view. Returns
    (events, seconds, ticks ms as the sink's rule chose them, no emit times)."""
    import orjson

    carry = 0.0
    emitted = 0
    ticks: list[float] = []
    started = time.monotonic()
    next_step = started
    while time.monotonic() - started < args.seconds:
        next_step += PRODUCE_STEP_S
        carry += rate * PRODUCE_STEP_S
        n, carry = int(carry), carry - int(carry)
        for _ in range(n):
            key = f"k{random.randrange(args.keys):05d}"
            producer.produce(topic, orjson.dumps({"produced_at": time.time() * 1000}), key.encode())
        producer.poll(0)
        emitted += n
        if len(ticks) < args.seconds / 0.5 and (time.monotonic() - started) >= len(ticks) * 0.5:
            ticks.append(sink.view_interval_s("counts") * 1000)
        delay = next_step - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    producer.flush(10)
    return emitted, time.monotonic() - started, ticks, []


def start_runtime(args, deployment, topic, workdir):
    """Create the source topic, fill the table (one event per key), start the runtime process
    and wait until the view holds every key. Returns (producer, runtime process)."""
    import orjson
    from confluent_kafka import Producer

    from processing.runtime.kafka import admin
    from processing.runtime.records import TopicSpec

    admin.ensure_topics({"bootstrap.servers": _bootstrap()}, [TopicSpec(topic, 1, {})])
    producer = Producer({"bootstrap.servers": _bootstrap(), "linger.ms": 5})
    for i in range(args.keys):
        producer.produce(topic, orjson.dumps({"produced_at": time.time() * 1000}), f"k{i:05d}".encode())
        if i % 10_000 == 0:
            producer.poll(0)
    producer.flush(30)
    runtime = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--runtime-worker",
            "--deployment",
            str(deployment.pk),
            "--topic",
            topic,
            "--app-id",
            f"{topic}-app",
        ],
        cwd=ROOT,
        stdout=open(workdir / "runtime.log", "ab"),  # noqa: SIM115 - the child owns it
        stderr=subprocess.STDOUT,
    )
    import redis
    from django.conf import settings

    from dashboard import groups

    client = redis.Redis.from_url(settings.REDIS_URL)
    deadline = time.monotonic() + 120
    while client.hlen(groups.serving_rows_key(deployment.pk, "counts")) < args.keys:
        if runtime.poll() is not None or time.monotonic() > deadline:
            runtime.kill()
            raise RuntimeError(f"the runtime did not fill the view (see {workdir / 'runtime.log'})")
        time.sleep(0.25)
    client.close()
    return producer, runtime


def stop_runtime(runtime, topic, app_id) -> None:
    from processing.runtime.kafka import admin

    runtime.send_signal(signal.SIGTERM)
    try:
        runtime.wait(30)
    except subprocess.TimeoutExpired:
        runtime.kill()
    config = {"bootstrap.servers": _bootstrap()}
    names = admin.admin_client(config).list_topics(timeout=10).topics
    admin.delete_topics(config, [topic, *(t for t in names if t.startswith(f"{app_id}-"))])


def runtime_worker(args) -> None:
    """Runs in its own process, as a Celery worker would: one runtime instance of the bench
    topology with the Django event sink, until SIGTERM."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from dashboard.publisher import DeploymentEventSink
    from processing.runtime.kafka import loop
    from topology.compiler import compile_document

    stopping = [False]
    signal.signal(signal.SIGTERM, lambda *_: stopping.__setitem__(0, True))
    result = compile_document(bench_document(args.topic))
    assert result.ok, [issue.to_dict() for issue in result.issues]

    class TimedSink(DeploymentEventSink):
        """Notes, per view delta, how long emit took, the gap since the previous one and the
        oldest row's age (produced -> handed to the sink); printed to runtime.log at the end."""

        stats: dict[str, list[float]] = {"emit": [], "gap": [], "age": []}  # noqa: RUF012
        last = None

        def emit(self, event):
            if event.get("type") != "table_delta":
                return super().emit(event)
            started = time.perf_counter()
            now_ms = time.time() * 1000
            ages = [now_ms - r["value"]["produced_at"] for r in event["rows"] if r.get("value")]
            if ages:
                self.stats["age"].append(max(ages))
            if self.last is not None:
                self.stats["gap"].append((started - self.last) * 1000)
            self.last = started
            super().emit(event)
            self.stats["emit"].append((time.perf_counter() - started) * 1000)

    sink = TimedSink(args.deployment, 0)
    try:
        loop.run(
            result.plan,
            app_id=args.app_id,
            kafka_config={"bootstrap.servers": _bootstrap()},
            events=sink,
            should_stop=lambda: stopping[0],
            view_tick=sink.view_interval_s,
        )
    finally:
        sink.close()
        for name, values in sink.stats.items():
            if values:
                print(
                    f"runtime {name} ms: p50 {percentile(values, 0.5):.1f} p99 {percentile(values, 0.99):.1f} "
                    f"max {max(values):.1f} n {len(values)}",
                    flush=True,
                )


def _bootstrap() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")


def _serving_seq(deployment) -> int:
    """Deltas published so far for the view (its serving seq): every socket should get each."""
    import redis
    from django.conf import settings

    from dashboard import groups

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        return int(client.hget(groups.serving_meta_key(deployment.pk, "counts"), "seq") or 0)
    finally:
        client.close()


def _renderer_busy(cdp) -> dict[str, float]:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {
        "task": metrics.get("TaskDuration", 0.0),
        "script": metrics.get("ScriptDuration", 0.0),
        "layout": metrics.get("LayoutDuration", 0.0),
        "style": metrics.get("RecalcStyleDuration", 0.0),
    }


def run_case(rate, clients, args, deployment, cookie, port, sink, page, workdir, producer, topic):
    from dashboard.publisher import DeploymentEventSink  # noqa: F401 - sink passed in

    others = clients - 1  # the browser page is one client
    out = workdir / f"clients-{rate}-{clients}.json"
    ready = workdir / f"ready-{rate}-{clients}"
    ready.unlink(missing_ok=True)
    worker = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--clients-worker",
            "--n",
            str(others),
            "--measure",
            str(MEASURING_CLIENTS),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--cookie",
            cookie,
            "--deployment",
            str(deployment.pk),
            "--out",
            str(out),
            "--ready-file",
            str(ready),
            "--logins-per-s",
            str(args.logins_per_s),
            *([] if args.deflate else ["--no-deflate"]),
        ],
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60 + others / args.logins_per_s * 2
    while not ready.exists():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            raise RuntimeError(f"socket clients did not connect ({others})")
        time.sleep(0.2)
    if ready.read_text() != "ready":
        worker.kill()
        raise RuntimeError(f"socket clients did not connect ({others}): {ready.read_text()}")
    # The hubs count a case's sockets within a second or two; measure only once the tick knows them.
    counted_by = time.monotonic() + 15
    while sink.watchers("counts") != clients and time.monotonic() < counted_by:
        time.sleep(0.25)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    busy_before = _renderer_busy(cdp)
    page.evaluate(
        "() => { window.weirLatencies.length = 0; window.weirMeasure = true; window.weirFrames = 0; }"
    )
    page.evaluate(
        """() => { window.weirRaf = 0; window.weirLongest = 0; let last = performance.now();
            const tick = (t) => { window.weirLongest = Math.max(window.weirLongest, t - last); last = t; window.weirRaf++;
                                  if (window.weirMeasure) requestAnimationFrame(tick); };
            requestAnimationFrame(tick); }"""
    )
    frames_before = _serving_seq(deployment)
    if producer is not None:
        emitted, elapsed, ticks, emit_ms = produce_events(producer, topic, rate, args, sink)
    else:
        emitted, elapsed, ticks, emit_ms = emit_deltas(sink, rate, args)
    achieved = emitted / elapsed
    busy = {k: (v - busy_before[k]) / elapsed for k, v in _renderer_busy(cdp).items()}
    cdp.detach()
    time.sleep(1.0)  # let the tail render
    frames = _serving_seq(deployment) - frames_before

    browser = page.evaluate(
        "() => { window.weirMeasure = false; return {lat: window.weirLatencies.slice(), raf: window.weirRaf, longest: window.weirLongest}; }"
    )
    watchers = sink.watchers("counts")
    worker.send_signal(signal.SIGTERM)
    worker.wait(60)
    socket_result = json.loads(out.read_text())
    result = {
        "rate": rate,
        "achieved_rate": round(achieved),
        "clients": clients,
        "tick_ms": round(statistics.median(ticks), 1),
        "watchers_counted": watchers,
        "browser_rendered_p50_ms": round(percentile(browser["lat"], 0.5), 1),
        "browser_rendered_p99_ms": round(percentile(browser["lat"], 0.99), 1),
        "browser_rows_measured": len(browser["lat"]),
        "browser_fps": round(browser["raf"] / (args.seconds + 1.0), 1),
        "browser_longest_frame_ms": round(browser["longest"], 1),
        "sockets_received_p50_ms": round(percentile(socket_result["latencies"]["total"], 0.5), 1),
        "sockets_received_p99_ms": round(percentile(socket_result["latencies"]["total"], 0.99), 1),
        # Of which: produced -> published by the sink (per row), published -> read (per frame).
        "sockets_upstream_p50_p99_ms": [
            round(percentile(socket_result["latencies"]["upstream"], q), 1) for q in (0.5, 0.99)
        ],
        "sockets_downstream_p50_p99_ms": [
            round(percentile(socket_result["latencies"]["downstream"], q), 1) for q in (0.5, 0.99)
        ],
        "socket_frames_received": socket_result["frames"],
        "socket_frames_expected": frames * others,
        "through_kafka": producer is not None,
        "emit_p50_ms": round(statistics.median(emit_ms), 2) if emit_ms else None,
        # Share of one core the page's main thread spent, by kind (Chromium's own counters).
        "browser_main_thread": {k: round(v, 3) for k, v in busy.items()},
        "daphne_processes": args.daphne_processes,
        "socket_clients_offer_deflate": args.deflate,
        # Everything shares two cores with whatever else runs: say how busy the machine was.
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result), flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    """Entry for ``python -m bench bench_dashboard``: runs in its own process, since it sets up
    Django with a throwaway database of its own."""
    if argv is None:
        return subprocess.call([sys.executable, __file__], cwd=ROOT)
    return run(argv)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="1000,10000")
    parser.add_argument("--clients", default="100,1000")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument(
        "--tick-ms", type=float, default=None, help="fixed tick (default: the runtime's rule)"
    )
    parser.add_argument(
        "--daphne-processes", type=int, default=1, help="Daphne processes sharing the port, one hub each"
    )
    parser.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="socket clients do not offer permessage-deflate (the browser page still does)",
    )
    parser.add_argument("--logins-per-s", type=float, default=20, help="connect rate of the socket clients")
    parser.add_argument(
        "--direct",
        action="store_true",
        help="no Kafka: hand coalesced deltas straight to the sink (default: produce to Kafka and run the runtime)",
    )
    parser.add_argument("--clients-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--runtime-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--app-id", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int)
    parser.add_argument("--measure", type=int)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--cookie")
    parser.add_argument("--deployment", type=int)
    parser.add_argument("--out")
    parser.add_argument("--ready-file")
    args = parser.parse_args(argv)
    if args.clients_worker:
        clients_worker(args)
        return 0
    if args.runtime_worker:
        runtime_worker(args)
        return 0

    workdir = Path(tempfile.mkdtemp(prefix="weir-bench-dashboard-"))
    setup_django(workdir)
    from playwright.sync_api import sync_playwright

    from dashboard.publisher import DeploymentEventSink

    topic = f"bench-dashboard-{secrets.token_hex(4)}"
    deployment, cookie = make_deployment(topic)
    sink = DeploymentEventSink(deployment.pk, 0)
    producer = runtime = None
    if args.direct:
        # The table starts full: every key has a row, as a long-running view would.
        for start in range(0, args.keys, 2000):
            sink.emit(
                {
                    "type": "table_delta",
                    "view": "counts",
                    "seq": 0,
                    "windowed": False,
                    "rows": [
                        {"key": f"k{i:05d}", "value": {"count": 0}}
                        for i in range(start, min(args.keys, start + 2000))
                    ],
                }
            )
    else:
        producer, runtime = start_runtime(args, deployment, topic, workdir)
    port = free_port()
    daphnes = start_daphne(port, workdir / "daphne.log", args.daphne_processes)
    results = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True
            )
            context = browser.new_context(viewport={"width": 1400, "height": 900})
            context.add_cookies([{"name": "sessionid", "value": cookie, "url": f"http://127.0.0.1:{port}"}])
            page = context.new_page()
            page.goto(f"http://127.0.0.1:{port}/deployments/{deployment.pk}/dashboard/")
            page.wait_for_function(
                f"() => window.weirDashboard && window.weirDashboard.widgets[0].state.rows.size >= {args.keys}",
                timeout=60_000,
            )
            for clients in [int(c) for c in args.clients.split(",")]:
                for rate in [int(r) for r in args.rates.split(",")]:
                    results.append(
                        run_case(
                            rate,
                            clients,
                            args,
                            deployment,
                            cookie,
                            port,
                            sink,
                            page,
                            workdir,
                            producer,
                            topic,
                        )
                    )
            browser.close()
    finally:
        for daphne in daphnes:
            os.killpg(daphne.pid, signal.SIGTERM)
        for daphne in daphnes:
            daphne.wait(10)
        if runtime is not None:
            stop_runtime(runtime, topic, f"{topic}-app")
        import redis
        from django.conf import settings

        client = redis.Redis.from_url(settings.REDIS_URL)
        keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)
    print()
    print(
        "| events/s | clients | tick ms | browser rendered p50 / p99 ms | sockets received p50 / p99 ms | browser fps | frames delivered | load |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['achieved_rate']} | {r['clients']} | {r['tick_ms']} | {r['browser_rendered_p50_ms']} / {r['browser_rendered_p99_ms']} | "
            f"{r['sockets_received_p50_ms']} / {r['sockets_received_p99_ms']} | {r['browser_fps']} | "
            f"{r['socket_frames_received']}/{r['socket_frames_expected']} | {r['load_avg_1m']} |"
        )
    (ROOT / "bench" / "results_dashboard.json").write_text(
        json.dumps({"tick_ms": args.tick_ms, "keys": args.keys, "cases": results}, indent=2)
    )
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
