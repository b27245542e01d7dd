"""Profiles (ports, data dir) and process bookkeeping for ops/stack.py. Standard library only.

Every process is started in its own session and recorded in ``<data dir>/pids/<name>.pid``
(pid and kernel start time, so a recycled pid is never killed). Stopping sends SIGTERM to the
process group, then SIGKILL after a timeout, so Celery's prefork children go with their parent.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
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

# Topology instances run for hours: one task per prefork child (a fresh process per instance,
# no leaked state), and a child reserves no second task while it runs one. tests/conftest.py
# starts its workers with these same options, so tests exercise what users run.
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


def port_listening(port: int) -> bool:
    """Whether something listens on the TCP port, read from /proc without connecting.

    Probing a port that nobody listens on yet by connecting to it can make the kernel pick
    that very port as the probe's source port (a TCP self-connect, when the port is in the
    ephemeral range as free ports are), and then the server cannot bind it. So readiness
    probes connect only once the server is listening.
    """
    wanted = f":{port:04X}"
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[1].endswith(wanted) and fields[3] == "0A":  # 0A = LISTEN
                return True
    return False


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A free port below the kernel's ephemeral range, so no outgoing connection (a probe of
    a server that is not listening yet) can take it as its source port."""
    import random

    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, max(low, 20001))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
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


# Supervising commands (run, test, bench) set this: if the supervisor itself is killed
# (SIGKILL, a CI timeout), the kernel sends SIGTERM to the processes it started, so nothing is
# orphaned. `up` leaves it off: its processes outlive the command on purpose.
DIE_WITH_SUPERVISOR = {"enabled": False}
PR_SET_PDEATHSIG = 1


def terminate_when_parent_dies() -> None:
    """Runs in the child between fork and exec."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_logged_process(
    argv: list[str], env: dict[str, str], log_path: Path, *, die_with_parent: bool, cwd: Path = ROOT
) -> subprocess.Popen:
    """Start argv in its own session with stdout and stderr appended to log_path.

    Own session: the process and its children form one group that is stopped together, and a
    Ctrl-C in the terminal reaches only the supervisor, which stops them in order. The test
    fixtures (tests/conftest.py) start their processes through this too.
    """
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=terminate_when_parent_dies if die_with_parent else None,
    )
    log.close()
    return proc


def spawn(
    profile: Profile, name: str, argv: list[str], env: dict[str, str], cwd: Path = ROOT
) -> subprocess.Popen:
    log_dir(profile).mkdir(parents=True, exist_ok=True)
    proc = start_logged_process(
        argv,
        env,
        log_dir(profile) / f"{name}.log",
        die_with_parent=DIE_WITH_SUPERVISOR["enabled"],
        cwd=cwd,
    )
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


# --------------------------------------------------------------------------------- signals


class Interrupted(Exception):
    pass


def raise_interrupted(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def install_signal_handlers() -> None:
    DIE_WITH_SUPERVISOR["enabled"] = True
    signal.signal(signal.SIGINT, raise_interrupted)
    signal.signal(signal.SIGTERM, raise_interrupted)
    signal.signal(signal.SIGHUP, raise_interrupted)


def ignore_signals() -> None:
    """While stopping, a second Ctrl-C must not abandon half-stopped processes."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
