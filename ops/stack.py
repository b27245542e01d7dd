"""Install, start, supervise and stop Weir's local stack.

    python3 ops/stack.py setup            # idempotent: .venv + pip, redis/chromium via apt, Kafka jars
    .venv/bin/python ops/stack.py run     # `make run`: the whole stack in the foreground, Ctrl-C stops it
    .venv/bin/python ops/stack.py test    # `make test`: own Kafka + Redis, every check, then stop
    .venv/bin/python ops/stack.py bench   # `make bench`: own Kafka + Redis, `python -m bench`, then stop
    .venv/bin/python ops/stack.py up|down|status [run|test|bench]   # infrastructure only, in the background

Every process is started in its own session and recorded in ``<data dir>/pids/<name>.pid``
(pid and kernel start time, so a recycled pid is never killed). Stopping sends SIGTERM to the
process group, then SIGKILL after a timeout, so Celery's prefork children go with their parent.
A start first stops whatever a previous, crashed run of the same data dir left behind.

Ports and the data dir come from the profile and can be overridden with WEIR_BROKER_PORT,
WEIR_CONTROLLER_PORT, WEIR_REDIS_PORT, WEIR_HTTP_PORT and WEIR_DATA_DIR. An explicit
KAFKA_BOOTSTRAP_SERVERS or REDIS_URL means "use that one": the local one is not started.
(The WEIR_KAFKA_ prefix is reserved for librdkafka client settings, see docs/operations.md.)

``setup`` runs under any python3 with the standard library only; everything else runs under
.venv/bin/python because readiness is checked with confluent_kafka's AdminClient.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
KAFKA_LIBS = ROOT / "ops" / "kafka" / "libs"
POM = ROOT / "ops" / "pom.xml"
LOG4J_CONFIG = ROOT / "ops" / "log4j2.xml"
REQUIREMENTS = [ROOT / "requirements.txt", ROOT / "requirements-dev.txt"]

# Kafka's JVM: small enough that the dev, test and bench brokers fit on one laptop together.
KAFKA_HEAP = os.environ.get("WEIR_KAFKA_HEAP", "768m")
# A single-node KRaft broker is ready in ~5-15 s; two minutes covers a cold, busy 2-core machine.
KAFKA_READY_TIMEOUT_S = 120
REDIS_READY_TIMEOUT_S = 20
HTTP_READY_TIMEOUT_S = 120
# How long a process gets to exit after SIGTERM before SIGKILL. Celery's warm shutdown waits
# for running tasks; long-running topology instances are expected to stop within this.
STOP_TIMEOUT_S = {"kafka": 20.0, "redis": 5.0}
DEFAULT_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Profile:
    name: str
    broker_port: int
    controller_port: int
    redis_port: int
    http_port: int
    data_dir: Path
    wipe_on_start: bool


DEFAULT_PROFILES = {
    "run": Profile("run", 9092, 9093, 6379, 8000, ROOT / "var" / "run", wipe_on_start=False),
    "test": Profile("test", 19092, 19093, 16379, 18000, ROOT / "var" / "test", wipe_on_start=True),
    "bench": Profile("bench", 29092, 29093, 26379, 28000, ROOT / "var" / "bench", wipe_on_start=True),
}

OVERRIDE_VARS = (
    "WEIR_BROKER_PORT",
    "WEIR_CONTROLLER_PORT",
    "WEIR_REDIS_PORT",
    "WEIR_HTTP_PORT",
    "WEIR_DATA_DIR",
)


def say(message: str) -> None:
    print(f"[weir] {message}", flush=True)


class StackError(RuntimeError):
    pass


# --------------------------------------------------------------------------------- profiles


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def resolve_profile(name: str) -> Profile:
    base = DEFAULT_PROFILES[name]
    env = os.environ
    profile = Profile(
        name=name,
        broker_port=int(env.get("WEIR_BROKER_PORT", base.broker_port)),
        controller_port=int(env.get("WEIR_CONTROLLER_PORT", base.controller_port)),
        redis_port=int(env.get("WEIR_REDIS_PORT", base.redis_port)),
        http_port=int(env.get("WEIR_HTTP_PORT", base.http_port)),
        data_dir=Path(env.get("WEIR_DATA_DIR", base.data_dir)).resolve(),
        wipe_on_start=base.wipe_on_start,
    )
    overridden = any(var in env for var in OVERRIDE_VARS)
    if name != "run" and not overridden and not ports_available(profile):
        # Another `make test` (or bench) of this checkout is running: rather than fail or
        # collide, this one takes free ports and a data dir of its own.
        profile = Profile(
            name=name,
            broker_port=free_port(),
            controller_port=free_port(),
            redis_port=free_port(),
            http_port=free_port(),
            data_dir=base.data_dir.parent / f"{base.data_dir.name}-{os.getpid()}",
            wipe_on_start=True,
        )
        say(f"default {name} ports are busy; using free ports and {profile.data_dir}")
    return profile


def wanted_ports(profile: Profile) -> dict[str, int]:
    ports = {}
    if not external_kafka():
        ports["WEIR_BROKER_PORT"] = profile.broker_port
        ports["WEIR_CONTROLLER_PORT"] = profile.controller_port
    if not external_redis():
        ports["WEIR_REDIS_PORT"] = profile.redis_port
    return ports


def ports_available(profile: Profile) -> bool:
    return all(port_is_free(port) for port in wanted_ports(profile).values())


def external_kafka() -> str | None:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None


def external_redis() -> str | None:
    return os.environ.get("REDIS_URL") or None


def stack_env(profile: Profile) -> dict[str, str]:
    """The environment every Weir process of this stack gets."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "KAFKA_BOOTSTRAP_SERVERS": external_kafka() or f"127.0.0.1:{profile.broker_port}",
            "REDIS_URL": external_redis() or f"redis://127.0.0.1:{profile.redis_port}/0",
            "WEIR_DATA_DIR": str(profile.data_dir),
            "WEIR_HTTP_PORT": str(profile.http_port),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


# --------------------------------------------------------------------------------- processes


def pid_dir(profile: Profile) -> Path:
    return profile.data_dir / "pids"


def log_dir(profile: Profile) -> Path:
    return profile.data_dir / "logs"


def process_start_time(pid: int) -> str | None:
    """Kernel start time of a live (non-zombie) process, None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return None
    return fields[19]


def record_pid(profile: Profile, name: str, pid: int) -> None:
    pid_dir(profile).mkdir(parents=True, exist_ok=True)
    (pid_dir(profile) / f"{name}.pid").write_text(f"{pid} {process_start_time(pid) or ''}\n")


def recorded_pids(profile: Profile) -> dict[str, int]:
    """Processes recorded for this data dir that are still the ones we started."""
    alive = {}
    if not pid_dir(profile).is_dir():
        return alive
    for pid_file in sorted(pid_dir(profile).glob("*.pid")):
        parts = pid_file.read_text().split()
        if not parts:
            continue
        pid, started = int(parts[0]), parts[1] if len(parts) > 1 else None
        current = process_start_time(pid)
        if current is not None and (started is None or current == started):
            alive[pid_file.stem] = pid
        else:
            pid_file.unlink(missing_ok=True)
    return alive


def spawn(
    profile: Profile, name: str, argv: list[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.Popen:
    log_dir(profile).mkdir(parents=True, exist_ok=True)
    log = open(log_dir(profile) / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        # Own session: the process and its children form one group that we stop together,
        # and a Ctrl-C in the terminal reaches only the supervisor, which stops them in order.
        start_new_session=True,
    )
    log.close()
    record_pid(profile, name, proc.pid)
    return proc


def signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def stop_processes(profile: Profile, names: list[str] | None = None) -> None:
    """SIGTERM each recorded process group, then SIGKILL what is left after its timeout."""
    alive = recorded_pids(profile)
    targets = {name: pid for name, pid in alive.items() if names is None or name in names}
    if not targets:
        return
    for name, pid in targets.items():
        say(f"stopping {name} (pid {pid})")
        signal_group(pid, signal.SIGTERM)
    deadline = {name: time.monotonic() + STOP_TIMEOUT_S.get(name, DEFAULT_STOP_TIMEOUT_S) for name in targets}
    pending = dict(targets)
    while pending:
        for name, pid in list(pending.items()):
            reap(pid)
            if process_start_time(pid) is None and not group_members(pid):
                del pending[name]
            elif time.monotonic() > deadline[name]:
                say(f"{name} (pid {pid}) ignored SIGTERM; killing it")
                signal_group(pid, signal.SIGKILL)
                for member in group_members(pid):
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(member, signal.SIGKILL)
                deadline[name] = time.monotonic() + 5
        time.sleep(0.1)
    for name in targets:
        (pid_dir(profile) / f"{name}.pid").unlink(missing_ok=True)


def reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def wait_until(
    condition, timeout: float, what: str, proc: subprocess.Popen | None = None, log: Path | None = None
):
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode}{log_tail(log)}")
        try:
            result = condition()
            if result:
                return result
        except Exception as exc:  # readiness probes fail in many ways until the service is up
            last_error = exc
        time.sleep(0.25)
    raise StackError(f"{what} was not ready after {timeout:.0f} s (last error: {last_error}){log_tail(log)}")


def log_tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    tail = log.read_text(errors="replace").splitlines()[-lines:]
    return f"\n--- last lines of {log} ---\n" + "\n".join(tail)


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


def start_kafka(profile: Profile, env: dict[str, str]) -> subprocess.Popen:
    kafka_dir = profile.data_dir / "kafka"
    kafka_dir.mkdir(parents=True, exist_ok=True)
    properties = kafka_dir / "server.properties"
    properties.write_text(kafka_properties(profile))
    if not (kafka_dir / "data" / "meta.properties").exists():
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
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
        lambda: redis_ping(profile.redis_port),
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


# --------------------------------------------------------------------------------- signals


class Interrupted(Exception):
    pass


def raise_interrupted(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    signal.signal(signal.SIGINT, raise_interrupted)
    signal.signal(signal.SIGTERM, raise_interrupted)
    signal.signal(signal.SIGHUP, raise_interrupted)


def ignore_signals() -> None:
    """While stopping, a second Ctrl-C must not abandon half-stopped processes."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


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


# Topology instances run for hours: one task per prefork child (a fresh process per instance,
# no leaked state), and a child reserves no second task while it runs one.
STREAMS_WORKER_ARGS = [
    "worker",
    "-Q",
    "streams",
    "-P",
    "prefork",
    "--concurrency=4",
    "--prefetch-multiplier=1",
    "--max-tasks-per-child=1",
    "--loglevel=INFO",
]
CONTROL_WORKER_ARGS = ["worker", "-Q", "control", "--concurrency=2", "--loglevel=INFO"]


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
            lambda: http_answers(url + "api/health"),
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


# --------------------------------------------------------------------------------- make test / bench


def test_checks() -> list[tuple[str, list[str]]]:
    bin_dir = VENV / "bin"
    checks = [
        ("ruff", [str(bin_dir / "ruff"), "check", "."]),
        ("import contracts", [str(bin_dir / "lint-imports")]),
        ("django check", manage("check")),
        ("migrations are up to date", manage("makemigrations", "--check", "--dry-run")),
        ("pytest", [str(bin_dir / "pytest"), "tests"]),
    ]
    js_tests = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "static").glob("**/tests/*.test.mjs"))
    js_tests = [path for path in js_tests if "/vendor/" not in path and "node_modules" not in path]
    if js_tests:
        checks.append(("node --test", ["node", "--test", *js_tests]))
    return checks


def command_test() -> int:
    profile = resolve_profile("test")
    env = stack_env(profile)
    install_signal_handlers()
    failures: list[str] = []
    try:
        start_infrastructure(profile, env)
        for label, argv in test_checks():
            say(f"--- {label}: {' '.join(argv[1:]) if label != 'node --test' else ' '.join(argv)}")
            if subprocess.run(argv, cwd=ROOT, env=env).returncode != 0:
                failures.append(label)
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
    if failures:
        say(f"FAILED: {', '.join(failures)}")
        return 1
    say("all checks passed")
    return 0


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


# --------------------------------------------------------------------------------- setup


def requirements_hash() -> str:
    digest = hashlib.sha256()
    for path in REQUIREMENTS:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_root() -> bool:
    return os.geteuid() == 0


def apt_install(packages: list[str]) -> None:
    prefix: list[str] = [] if is_root() else (["sudo"] if shutil.which("sudo") else [])
    if not is_root() and not prefix:
        raise StackError(
            f"missing system packages: {' '.join(packages)}. Install them as root: apt-get install -y {' '.join(packages)}"
        )
    say(f"installing with apt: {' '.join(packages)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*prefix, "apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(
        [*prefix, "apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], check=True, env=env
    )


def command_setup() -> int:
    VENV.parent.mkdir(exist_ok=True)
    lock_path = ROOT / ".setup.lock" if not VENV.exists() else VENV / ".weir-setup.lock"
    with open(lock_path, "w") as lock:
        # Several `make` invocations may run setup at once; one installs, the others wait.
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            setup_system_packages()
            setup_venv()
            setup_kafka_jars()
        except (StackError, subprocess.CalledProcessError) as exc:
            say(f"setup failed: {exc}")
            return 1
        finally:
            if lock_path.name == ".setup.lock":
                lock_path.unlink(missing_ok=True)
    return 0


def setup_system_packages() -> None:
    wanted = {
        "redis-server": "redis-server",
        "chromium": "chromium",
        "java": "openjdk-17-jre-headless",
        "mvn": "maven",
        "node": "nodejs",
    }
    missing = [package for binary, package in wanted.items() if shutil.which(binary) is None]
    if not (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "venv"
    ).exists():
        missing.append(f"python{sys.version_info.major}.{sys.version_info.minor}-venv")
    if missing:
        apt_install(missing)


def setup_venv() -> None:
    if not VENV_PYTHON.exists():
        if sys.version_info[:2] != (3, 11):
            raise StackError(
                f"Weir needs Python 3.11 for its .venv; this python3 is {sys.version.split()[0]}"
            )
        say("creating .venv")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    stamp = VENV / ".weir-requirements.sha256"
    wanted = requirements_hash()
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return
    say("installing Python packages into .venv")
    pip = [str(VENV_PYTHON), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-r", str(ROOT / "requirements-dev.txt")], check=True, cwd=ROOT)
    stamp.write_text(wanted + "\n")


def setup_kafka_jars() -> None:
    stamp = KAFKA_LIBS / ".pom.sha256"
    wanted = hashlib.sha256(POM.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text().strip() == wanted:
        return
    say("fetching the Kafka broker jars from Maven Central (first run only)")
    if KAFKA_LIBS.exists():
        shutil.rmtree(KAFKA_LIBS)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={KAFKA_LIBS}",
        ],
        check=True,
        cwd=ROOT,
    )
    stamp.write_text(wanted + "\n")


# --------------------------------------------------------------------------------- main


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "help"
    profile_name = argv[2] if len(argv) > 2 and argv[2] in DEFAULT_PROFILES else "test"
    commands = {
        "setup": command_setup,
        "run": command_run,
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
