"""Install, start, supervise and stop Weir's local stack.

    python3 ops/stack.py setup            # idempotent: .venv + pip, redis/chromium via apt, Kafka jars
    .venv/bin/python ops/stack.py run     # `make run`: the whole stack in the foreground, Ctrl-C stops it
    .venv/bin/python ops/stack.py check   # `make check`: lint, types, contracts, JS and every test that needs no stack
    .venv/bin/python ops/stack.py test    # `make test`: `check`, then own Kafka + Redis, the stack suites, then stop
    .venv/bin/python ops/stack.py bench   # `make bench`: own Kafka + Redis, `python -m bench`, then stop
    .venv/bin/python ops/stack.py up|down|status [run|test|bench]   # infrastructure only, in the background

Process bookkeeping is in stack_processes.py, installation in stack_setup.py. A start first
stops whatever a previous, crashed run of the same data dir left behind.

Ports and the data dir come from the profile and can be overridden with WEIR_BROKER_PORT,
WEIR_CONTROLLER_PORT, WEIR_REDIS_PORT, WEIR_HTTP_PORT and WEIR_DATA_DIR. An explicit
KAFKA_BOOTSTRAP_SERVERS or REDIS_URL means "use that one": the local one is not started.
(The WEIR_KAFKA_ prefix is reserved for librdkafka client settings, see docs/operations.md;
the ones ops/ reads itself, WEIR_KAFKA_HEAP, are listed in processing/runtime/kafka/config.py
OPS_ONLY, so no client gets them.)

``setup`` runs under any python3 with the standard library only; everything else runs under
.venv/bin/python because readiness is checked with confluent_kafka's AdminClient.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from stack_processes import (
    CONTROL_WORKER_ARGS,
    DEFAULT_PROFILES,
    HTTP_READY_TIMEOUT_S,
    KAFKA_HEAP,
    KAFKA_LIBS,
    KAFKA_READY_TIMEOUT_S,
    LOG4J_CONFIG,
    REDIS_READY_TIMEOUT_S,
    ROOT,
    STREAMS_WORKER_ARGS,
    VENV,
    VENV_PYTHON,
    Interrupted,
    Profile,
    StackError,
    external_kafka,
    external_redis,
    free_port,
    ignore_signals,
    install_signal_handlers,
    log_dir,
    log_tail,
    port_is_free,
    port_listening,
    recorded_pids,
    resolve_profile,
    say,
    spawn,
    stack_env,
    stop_processes,
    wait_until,
    wanted_ports,
)
from stack_setup import command_setup

# --------------------------------------------------------------------------------- Kafka


def kafka_properties(profile: Profile) -> str:
    kafka_dir = profile.data_dir / "kafka"
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{profile.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{profile.broker_port},CONTROLLER://127.0.0.1:{profile.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{profile.broker_port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={kafka_dir / 'data'}",
            "num.partitions=1",
            # One broker: every internal topic has one replica.
            "offsets.topic.replication.factor=1",
            # Fewer internal partitions than the default 50 make a fresh broker ready faster.
            "offsets.topic.num.partitions=10",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "transaction.state.log.num.partitions=10",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            # No 3 s wait before the first consumer group rebalance.
            "group.initial.rebalance.delay.ms=0",
            # Weir creates every topic explicitly (partitions are the unit of parallelism).
            "auto.create.topics.enable=false",
            "",
        ]
    )


def java_command(*args: str) -> list[str]:
    return [
        "java",
        f"-Xmx{KAFKA_HEAP}",
        "-Xms256m",
        "-XX:+UseG1GC",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-Djava.awt.headless=true",
        "-cp",
        f"{KAFKA_LIBS}/*",
        *args,
    ]


def kafka_admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    # log_level 0: "connection refused" until the broker listens is expected, not news.
    return AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": 2000, "log_level": 0})


def new_cluster_id() -> str:
    """A Kafka Uuid (url-safe base64, no padding) that cannot be mistaken for a CLI option."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if cluster_id[0].isalnum():
            return cluster_id


def start_kafka(profile: Profile, env: dict[str, str]) -> subprocess.Popen:
    kafka_dir = profile.data_dir / "kafka"
    kafka_dir.mkdir(parents=True, exist_ok=True)
    properties = kafka_dir / "server.properties"
    properties.write_text(kafka_properties(profile))
    if not (kafka_dir / "data" / "meta.properties").exists():
        cluster_id = new_cluster_id()
        result = subprocess.run(
            java_command("kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(properties)),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise StackError(f"formatting Kafka storage failed:\n{result.stdout}\n{result.stderr}")
    say(f"starting Kafka on 127.0.0.1:{profile.broker_port} (controller {profile.controller_port})")
    return spawn(profile, "kafka", java_command("kafka.Kafka", str(properties)), env)


def wait_kafka(profile: Profile, proc: subprocess.Popen) -> None:
    bootstrap = f"127.0.0.1:{profile.broker_port}"
    started = time.monotonic()
    # The AdminClient starts connecting as soon as it exists, so it is created only once the
    # broker listens (see port_listening).
    wait_until(
        lambda: port_listening(profile.broker_port),
        KAFKA_READY_TIMEOUT_S,
        "Kafka's listener",
        proc,
        log_dir(profile) / "kafka.log",
    )
    admin = kafka_admin(bootstrap)
    wait_until(
        lambda: bool(admin.list_topics(timeout=2).brokers),
        KAFKA_READY_TIMEOUT_S,
        "Kafka",
        proc,
        log_dir(profile) / "kafka.log",
    )
    say(f"Kafka ready in {time.monotonic() - started:.1f} s")


# --------------------------------------------------------------------------------- Redis


def redis_ping(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


def start_redis(profile: Profile, env: dict[str, str]) -> subprocess.Popen:
    redis_dir = profile.data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    # Tests and benchmarks need no persistence; `make run` keeps its data between runs.
    persistence = ["--save", "300 1"] if profile.name == "run" else ["--save", "", "--appendonly", "no"]
    argv = [
        shutil.which("redis-server") or "/usr/bin/redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(profile.redis_port),
        "--dir",
        str(redis_dir),
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
        *persistence,
    ]
    say(f"starting Redis on 127.0.0.1:{profile.redis_port}")
    proc = spawn(profile, "redis", argv, env)
    wait_until(
        lambda: port_listening(profile.redis_port) and redis_ping(profile.redis_port),
        REDIS_READY_TIMEOUT_S,
        "Redis",
        proc,
        log_dir(profile) / "redis.log",
    )
    return proc


# --------------------------------------------------------------------------------- infrastructure


def prepare_data_dir(profile: Profile) -> None:
    leftovers = recorded_pids(profile)
    if leftovers:
        say(f"stopping processes left over from an earlier run: {', '.join(leftovers)}")
        stop_processes(profile)
    if profile.wipe_on_start and profile.data_dir.exists():
        shutil.rmtree(profile.data_dir)
    profile.data_dir.mkdir(parents=True, exist_ok=True)


def check_ports(profile: Profile) -> None:
    busy = [f"{var}={port}" for var, port in wanted_ports(profile).items() if not port_is_free(port)]
    if busy:
        raise StackError(
            f"port(s) already in use: {', '.join(busy)}. Stop what uses them, choose other ports with "
            "these variables, or point Weir at running services with KAFKA_BOOTSTRAP_SERVERS / REDIS_URL."
        )


def start_infrastructure(profile: Profile, env: dict[str, str]) -> None:
    prepare_data_dir(profile)
    check_ports(profile)
    kafka = None
    if external_kafka():
        say(f"using Kafka at {external_kafka()} (KAFKA_BOOTSTRAP_SERVERS is set)")
    else:
        kafka = start_kafka(profile, env)
    if external_redis():
        say(f"using Redis at {external_redis()} (REDIS_URL is set)")
    else:
        start_redis(profile, env)
    if kafka is not None:
        wait_kafka(profile, kafka)


def stop_all(profile: Profile) -> None:
    """Applications first (they flush to Kafka and Redis on the way out), then the infrastructure."""
    infrastructure = {"kafka", "redis"}
    applications = [name for name in recorded_pids(profile) if name not in infrastructure]
    stop_processes(profile, applications)
    stop_processes(profile)


# --------------------------------------------------------------------------------- make run


def manage(*args: str) -> list[str]:
    return [str(VENV_PYTHON), str(ROOT / "manage.py"), *args]


def celery(*args: str) -> list[str]:
    return [str(VENV / "bin" / "celery"), "-A", "config", *args]


def application_processes(profile: Profile) -> dict[str, list[str]]:
    """The Weir processes of `make run` (tests start the same commands from tests/conftest.py)."""
    return {
        "demo-generator": manage("weir_demo", "generate"),
        "celery-streams": celery(*STREAMS_WORKER_ARGS, "-n", "streams@%h"),
        "celery-control": celery(*CONTROL_WORKER_ARGS, "-n", "control@%h"),
        "celery-beat": celery("beat", "--loglevel=INFO", "-s", str(profile.data_dir / "celerybeat-schedule")),
        "daphne": [
            str(VENV / "bin" / "daphne"),
            "-b",
            "127.0.0.1",
            "-p",
            str(profile.http_port),
            "config.asgi:application",
        ],
    }


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status < 600
    except urllib.error.HTTPError:
        return True  # any answer means Daphne is serving


def run_checked(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, cwd=ROOT, env=env)
    if result.returncode != 0:
        raise StackError(f"{' '.join(argv[1:])} failed with exit code {result.returncode}")


def command_run() -> int:
    profile = resolve_profile("run")
    env = stack_env(profile)
    install_signal_handlers()
    exit_code = 0
    try:
        start_infrastructure(profile, env)
        run_checked(manage("migrate", "--noinput", "-v", "0"), env)
        run_checked(manage("weir_demo", "setup"), env)
        processes = {}
        for name, argv in application_processes(profile).items():
            processes[name] = spawn(profile, name, argv, env)
        url = f"http://127.0.0.1:{profile.http_port}/"
        wait_until(
            lambda: port_listening(profile.http_port) and http_answers(url + "api/health"),
            HTTP_READY_TIMEOUT_S,
            "Daphne",
            processes["daphne"],
            log_dir(profile) / "daphne.log",
        )
        say(f"Weir is running at {url}  (health: {url}api/health)")
        say(f"logs: {log_dir(profile)}   data: {profile.data_dir}")
        say("press Ctrl-C to stop every process started here")
        while True:
            for name, proc in processes.items():
                if proc.poll() is not None:
                    raise StackError(
                        f"{name} exited unexpectedly (code {proc.returncode}){log_tail(log_dir(profile) / f'{name}.log')}"
                    )
            time.sleep(0.5)
    except Interrupted:
        say("interrupted")
    except StackError as exc:
        say(f"error: {exc}")
        exit_code = 1
    finally:
        ignore_signals()
        stop_all(profile)
        say("stopped")
    return exit_code


# --------------------------------------------------------------------------------- make check / test

# `make check` selects the tests that need no server; tests/conftest.py marks the others (every
# test using a Kafka, Redis or process fixture, and every browser test) at collection.
NO_STACK = "not integration and not browser"
STACK_SUITES = "integration or browser"


def js_tests() -> list[str]:
    paths = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "static").glob("**/tests/*.test.mjs"))
    return [path for path in paths if "/vendor/" not in path and "node_modules" not in path]


def check_steps() -> list[tuple[str, list[str]]]:
    """Everything that needs no Kafka, Redis or browser, fastest first."""
    bin_dir = VENV / "bin"
    steps = [
        ("ruff", [str(bin_dir / "ruff"), "check", "."]),
        ("ruff format", [str(bin_dir / "ruff"), "format", "--check", "."]),
        ("import contracts", [str(bin_dir / "lint-imports")]),
        # The pure cores (pyproject.toml [tool.mypy] files: the compiler and the runtime).
        ("mypy", [str(bin_dir / "mypy")]),
        ("django check", manage("check")),
        ("migrations are up to date", manage("makemigrations", "--check", "--dry-run")),
    ]
    js = js_tests()
    if js:
        steps.append(("node --test", ["node", "--test", *js]))
    steps.append(("pytest (no stack)", [str(bin_dir / "pytest"), "-q", "-m", NO_STACK, "tests"]))
    return steps


def test_checks() -> list[tuple[str, list[str]]]:
    """The suites `make test` runs on top of `make check`, against its own Kafka and Redis."""
    return [("pytest (stack)", [str(VENV / "bin" / "pytest"), "-m", STACK_SUITES, "tests"])]


def no_stack_env() -> dict[str, str]:
    """`make check`'s environment: Kafka and Redis on ports nothing listens on, so a test that
    needs a server fails here, whatever runs on this machine (a `make run`, a shared broker)."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}",
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def run_steps(steps: list[tuple[str, list[str]]], env: dict[str, str]) -> list[str]:
    """Run every step (a failure does not stop the others); the labels of those that failed."""
    failures = []
    for label, argv in steps:
        shown = " ".join(argv) if label == "node --test" else " ".join(argv[1:])
        say(f"--- {label}: {shown}")
        started = time.monotonic()
        if subprocess.run(argv, cwd=ROOT, env=env).returncode != 0:
            failures.append(label)
        say(f"    {label}: {time.monotonic() - started:.1f} s")
    return failures


def report(failures: list[str], started: float) -> int:
    elapsed = time.monotonic() - started
    if failures:
        say(f"FAILED: {', '.join(failures)} ({elapsed:.0f} s)")
        return 1
    say(f"all checks passed ({elapsed:.0f} s)")
    return 0


def command_check() -> int:
    """`make check`: the fast loop. Starts nothing; passes with nothing listening."""
    started = time.monotonic()
    install_signal_handlers()
    try:
        failures = run_steps(check_steps(), no_stack_env())
    except Interrupted:
        failures = ["interrupted"]
    return report(failures, started)


def command_test() -> int:
    """`make test`: `make check`, then the integration and browser suites on a stack of its own."""
    started = time.monotonic()
    install_signal_handlers()
    try:
        failures = run_steps(check_steps(), no_stack_env())
    except Interrupted:
        return report(["interrupted"], started)
    profile = resolve_profile("test")
    env = stack_env(profile)
    try:
        start_infrastructure(profile, env)
        failures += run_steps(test_checks(), env)
    except Interrupted:
        failures.append("interrupted")
    except StackError as exc:
        say(f"error: {exc}")
        failures.append("stack")
    finally:
        ignore_signals()
        stop_all(profile)
        if profile.data_dir.name.startswith("test-"):
            shutil.rmtree(profile.data_dir, ignore_errors=True)
    return report(failures, started)


def command_bench() -> int:
    profile = resolve_profile("bench")
    env = stack_env(profile)
    install_signal_handlers()
    code = 1
    try:
        start_infrastructure(profile, env)
        run_checked(manage("migrate", "--noinput", "-v", "0"), env)
        code = subprocess.run([str(VENV_PYTHON), "-m", "bench", *sys.argv[2:]], cwd=ROOT, env=env).returncode
    except Interrupted:
        pass
    except StackError as exc:
        say(f"error: {exc}")
    finally:
        ignore_signals()
        stop_all(profile)
    return code


def command_up(profile_name: str) -> int:
    profile = resolve_profile(profile_name)
    env = stack_env(profile)
    try:
        start_infrastructure(profile, env)
    except StackError as exc:
        say(f"error: {exc}")
        stop_all(profile)
        return 1
    print(f"export KAFKA_BOOTSTRAP_SERVERS={env['KAFKA_BOOTSTRAP_SERVERS']} REDIS_URL={env['REDIS_URL']}")
    return 0


def command_down(profile_name: str) -> int:
    stop_all(resolve_profile_for_stop(profile_name))
    return 0


def command_status(profile_name: str) -> int:
    profile = resolve_profile_for_stop(profile_name)
    alive = recorded_pids(profile)
    for name, pid in alive.items():
        print(f"{name}\t{pid}")
    return 0 if alive else 1


def resolve_profile_for_stop(profile_name: str) -> Profile:
    base = DEFAULT_PROFILES[profile_name]
    data_dir = Path(os.environ.get("WEIR_DATA_DIR", base.data_dir)).resolve()
    return Profile(profile_name, 0, 0, 0, 0, data_dir, wipe_on_start=False)


# --------------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "help"
    profile_name = argv[2] if len(argv) > 2 and argv[2] in DEFAULT_PROFILES else "test"
    commands = {
        "setup": command_setup,
        "run": command_run,
        "check": command_check,
        "test": command_test,
        "bench": command_bench,
        "up": lambda: command_up(profile_name),
        "down": lambda: command_down(profile_name),
        "status": lambda: command_status(profile_name),
    }
    if command not in commands:
        print(__doc__)
        return 2
    os.chdir(ROOT)
    return commands[command]()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
