"""Fixtures shared by every test. Integration tests use the real stack, never mocks.

Where the stack is: ``KAFKA_BOOTSTRAP_SERVERS`` (default 127.0.0.1:9092) and ``REDIS_URL``
(default redis://127.0.0.1:6379/0). ``make test`` starts its own Kafka + Redis on other
ports and sets both. Each pytest process has its own Redis key prefix
(``settings.REDIS_KEY_PREFIX``, exported here as ``WEIR_REDIS_PREFIX``) and its own SQLite
test database file, so concurrent test sessions on one Redis never steal each other's
Celery tasks or channel-layer messages.

Kafka
    ``kafka_config``   dict of librdkafka settings: ``bootstrap.servers`` plus any
                       ``WEIR_KAFKA_*`` client settings (session; ``settings.KAFKA_CLIENT_CONFIG``,
                       processing/runtime/kafka/config.py says how a client picks from it).
    ``kafka_admin``    a confluent_kafka AdminClient on it (session).
    ``new_topic``      factory: ``new_topic(partitions=1, prefix="t", config=None) -> name``
                       creates a uniquely named topic, waits until every partition has a
                       leader, and deletes it after the test.
Redis
    ``redis_url``      the Redis URL (session).
Real processes (session-scoped; started once, AFTER pytest-django created the test DB)
    ``celery_workers`` a Celery worker for queue ``control`` and one for ``streams`` (prefork,
                       concurrency 4, ``--prefetch-multiplier=1 --max-tasks-per-child=1``, as in
                       ``make run``). Returns ``CeleryWorkers`` (``.nodes`` = {queue: node
                       name}, ``.pids``, ``.log_dir``). Test-only tasks: put them in a module
                       named ``celery_test_tasks.py`` anywhere under tests/ (in a package, i.e.
                       with ``__init__.py``); the workers import every such module via
                       ``WEIR_CELERY_EXTRA_IMPORTS``.
    ``celery_beat``    celery beat (the periodic reconcile), on top of ``celery_workers``.
    ``live_daphne``    base URL (``http://127.0.0.1:<port>``) of a Daphne serving
                       ``config.asgi:application`` on a free port.
    ``daphne_with``    factory: ``daphne_with(name, WEIR_SETTING="...") -> base URL`` of a
                       further Daphne with extra environment (log: ``<name>.log``).
    All three get the test DB (``DATABASE_URL`` of the test database file), ``REDIS_URL``,
    ``KAFKA_BOOTSTRAP_SERVERS`` and ``WEIR_REDIS_PREFIX`` through their environment; their
    logs are in ``<data dir>/logs/pytest-<pid>/``. Tests that use them must use the
    ``transactional_db`` fixture (not ``db``): rows written inside a rolled-back test
    transaction are invisible to other processes. They are stopped at session end, and die
    with the pytest process if it is killed without its teardown.
    ``stack_process_env`` that environment as a dict, for tests that start processes of their
                       own (e.g. ``manage.py run_topology``) against this session's test DB.
Marks
    A test that uses any of the fixtures above (or ``chromium``/``page``), directly or through
    another fixture, is marked ``integration`` (browser ones also ``browser``) at collection
    (``STACK_FIXTURES`` below); `make check` runs everything else with no stack.
Helpers (fixtures of the same names, or import them from tests.conftest)
    ``wait_for(condition, timeout, message)`` polls until ``condition()`` is truthy and returns
    its value, or fails the test with ``message``.
    ``free_port()`` returns a free TCP port on 127.0.0.1, below the ephemeral port range (so
                       no client probing a server that is not up yet can self-connect on it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

# Worker options, free ports and the parent-death signal are the same as in `make run`:
# ops/stack_processes.py (standard library only) is the one place they are written.
from ops.stack_processes import (
    CONTROL_WORKER_ARGS,
    STREAMS_WORKER_ARGS,
    free_port,
    start_logged_process,
)

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent

os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", settings.KAFKA_BOOTSTRAP_SERVERS)
os.environ.setdefault("REDIS_URL", settings.REDIS_URL)
os.environ["WEIR_REDIS_PREFIX"] = settings.REDIS_KEY_PREFIX

# A cold Celery worker imports Django and every app; Daphne likewise. On a busy 2-core
# machine that takes a few seconds each, rarely more than a minute.
PROCESS_READY_TIMEOUT_S = 90
PROCESS_STOP_TIMEOUT_S = 10


# ------------------------------------------------------------------------------- marks

# Fixtures that reach a server (Kafka, Redis, or a process that needs them). A test using one,
# directly or through another fixture, is marked ``integration``; one using Chromium also
# ``browser``. `make check` runs the rest with nothing listening (`-m "not integration and not
# browser"`); a test that needs a server without using one of these says so with its own mark.
STACK_FIXTURES = frozenset(
    {
        "kafka_config",
        "kafka_admin",
        "new_topic",
        "redis_url",
        "celery_workers",
        "celery_beat",
        "live_daphne",
        "daphne_with",
        "stack_processes",
        "stack_process_env",
        # tests/dashboard/conftest.py and tests/browser/conftest.py
        "clear_serving",
        "private_redis",
        "daphne_on_private_redis",
    }
)
BROWSER_FIXTURES = frozenset({"chromium", "page"})


@pytest.hookimpl(tryfirst=True)  # before pytest's own hook deselects by mark
def pytest_collection_modifyitems(config, items):
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & BROWSER_FIXTURES and item.get_closest_marker("browser") is None:
            item.add_marker(pytest.mark.browser)
        if used & (STACK_FIXTURES | BROWSER_FIXTURES) and item.get_closest_marker("integration") is None:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(autouse=True)
def _fast_password_hashing(request):
    """Users of a test that needs no stack get MD5 hashes: Django's PBKDF2 costs ~0.25 s per
    user (a third of `make check`). Processes started for integration tests check passwords
    with the default hashers, so users of integration tests keep them."""
    if request.node.get_closest_marker("integration") is not None:
        yield
        return
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


# ------------------------------------------------------------------------------- helpers


def wait_for(condition, timeout: float = 30.0, message: str = "condition", interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception as exc:  # the thing waited for fails in many ways until it is ready
            last_error = exc
            value = None
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {message} (last error: {last_error})")


@pytest.fixture(name="wait_for")
def wait_for_fixture():
    return wait_for


@pytest.fixture(name="free_port")
def free_port_fixture():
    return free_port


# ------------------------------------------------------------------------------- Kafka, Redis


@pytest.fixture(scope="session")
def kafka_config() -> dict:
    return dict(settings.KAFKA_CLIENT_CONFIG)


@pytest.fixture(scope="session")
def kafka_admin(kafka_config):
    from processing.runtime.kafka.admin import admin_client

    return admin_client(kafka_config)


@pytest.fixture
def new_topic(kafka_admin):
    from confluent_kafka.admin import NewTopic

    created: list[str] = []

    def create(partitions: int = 1, prefix: str = "t", config: dict | None = None) -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        futures = kafka_admin.create_topics(
            [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config or {})],
            operation_timeout=15,
        )
        futures[name].result(timeout=30)
        created.append(name)

        def ready():
            topic = kafka_admin.list_topics(topic=name, timeout=5).topics.get(name)
            return (
                topic is not None
                and topic.error is None
                and len(topic.partitions) == partitions
                and all(p.leader >= 0 for p in topic.partitions.values())
            )

        wait_for(ready, 30, f"topic {name} to have {partitions} partitions with leaders")
        return name

    yield create
    if created:
        for future in kafka_admin.delete_topics(created, operation_timeout=15).values():
            with contextlib.suppress(Exception):
                future.result(timeout=30)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return settings.REDIS_URL


# ------------------------------------------------------------------------------- real processes


def _test_database_url() -> str:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    scheme = {"django.db.backends.postgresql": "postgres", "django.db.backends.mysql": "mysql"}[db["ENGINE"]]
    auth = f"{db['USER']}:{db['PASSWORD']}@" if db.get("USER") else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"{scheme}://{auth}{db.get('HOST') or 'localhost'}{port}/{db['NAME']}"


def _test_task_modules() -> list[str]:
    modules = []
    for path in sorted((ROOT / "tests").rglob("celery_test_tasks.py")):
        modules.append(".".join(path.relative_to(ROOT).with_suffix("").parts))
    return modules


@pytest.fixture(scope="session")
def process_log_dir() -> Path:
    path = Path(settings.DATA_DIR) / "logs" / f"pytest-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def stack_process_env(django_db_setup, process_log_dir) -> dict[str, str]:
    """Environment for processes that must see this session's test DB and Redis prefix."""
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": _test_database_url(),
            "KAFKA_BOOTSTRAP_SERVERS": settings.KAFKA_BOOTSTRAP_SERVERS,
            "REDIS_URL": settings.REDIS_URL,
            "WEIR_REDIS_PREFIX": settings.REDIS_KEY_PREFIX,
            "WEIR_DATA_DIR": str(settings.DATA_DIR),
            "WEIR_CELERY_EXTRA_IMPORTS": ",".join(_test_task_modules()),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


class StackProcesses:
    """Processes started for this session; each is its own process group, stopped together."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        # A pytest killed without its teardown (a `timeout`, SIGKILL) takes them along.
        proc = start_logged_process(argv, env, self.log_dir / f"{name}.log", die_with_parent=True, cwd=ROOT)
        self.procs[name] = proc
        return proc

    def check_alive(self, name: str) -> None:
        proc = self.procs[name]
        if proc.poll() is not None:
            pytest.fail(f"{name} exited with code {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int | None = 40) -> str:
        """The last ``lines`` lines of a process's log (all of it when None)."""
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        text = path.read_text(errors="replace").splitlines()
        return "\n".join(text if lines is None else text[-lines:])

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(PROCESS_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        # Prefork children share the group; whatever is left of it goes now.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


@dataclass
class CeleryWorkers:
    nodes: dict[str, str]
    pids: dict[str, int]
    log_dir: Path
    processes: StackProcesses = field(repr=False)


@pytest.fixture(scope="session")
def stack_processes(process_log_dir):
    processes = StackProcesses(process_log_dir)
    yield processes
    processes.stop_all()
    _delete_session_redis_keys()


def _delete_session_redis_keys() -> None:
    """Celery's queue bindings and results of this session go with it (shared dev Redis)."""
    import redis

    if not settings.REDIS_KEY_PREFIX:
        return
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session")
def celery_workers(stack_process_env, stack_processes) -> CeleryWorkers:
    from config.celery import app

    suffix = uuid.uuid4().hex[:8]
    celery = [str(VENV_BIN / "celery"), "-A", "config"]
    nodes = {
        "control": f"control-{suffix}@{socket.gethostname()}",
        "streams": f"streams-{suffix}@{socket.gethostname()}",
    }
    args = {"control": CONTROL_WORKER_ARGS, "streams": STREAMS_WORKER_ARGS}
    pids = {}
    for queue, node in nodes.items():
        proc = stack_processes.start(
            f"celery-{queue}", [*celery, *args[queue], "-n", node], stack_process_env
        )
        pids[queue] = proc.pid

    def all_answer():
        for queue in nodes:
            stack_processes.check_alive(f"celery-{queue}")
        replies = app.control.ping(destination=list(nodes.values()), timeout=1.0)
        answered = {name for reply in replies for name in reply}
        return answered >= set(nodes.values())

    wait_for(all_answer, PROCESS_READY_TIMEOUT_S, "the Celery workers to answer a ping")
    return CeleryWorkers(nodes=nodes, pids=pids, log_dir=stack_processes.log_dir, processes=stack_processes)


@pytest.fixture(scope="session")
def celery_beat(celery_workers, stack_process_env, stack_processes, process_log_dir) -> int:
    schedule = process_log_dir / "celerybeat-schedule"
    proc = stack_processes.start(
        "celery-beat",
        [str(VENV_BIN / "celery"), "-A", "config", "beat", "--loglevel=INFO", "-s", str(schedule)],
        stack_process_env,
    )
    wait_for(
        lambda: (
            stack_processes.check_alive("celery-beat")
            or "beat: Starting" in stack_processes.log_tail("celery-beat", 200)
        ),
        PROCESS_READY_TIMEOUT_S,
        "celery beat to start",
    )
    return proc.pid


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True


def _start_daphne(stack_processes: StackProcesses, env: dict[str, str], name: str) -> str:
    port = free_port()
    stack_processes.start(
        name,
        [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        dict(env, WEIR_HTTP_PORT=str(port)),
    )
    url = f"http://127.0.0.1:{port}"

    def answers():
        stack_processes.check_alive(name)
        return _http_answers(f"{url}/accounts/login/")

    wait_for(answers, PROCESS_READY_TIMEOUT_S, f"{name} to serve HTTP")
    return url


@pytest.fixture(scope="session")
def live_daphne(stack_process_env, stack_processes) -> str:
    return _start_daphne(stack_processes, stack_process_env, "daphne")


@pytest.fixture(scope="session")
def daphne_with(stack_process_env, stack_processes):
    """``daphne_with(name, **environment) -> base URL``: a Daphne of its own with extra
    environment variables (settings), logging to ``<name>.log``; stopped at session end."""

    def start(name: str, **environment: str) -> str:
        return _start_daphne(stack_processes, {**stack_process_env, **environment}, name)

    return start


@pytest.fixture(autouse=True)
def kafka_is_down_in_broker_free_tests(request, monkeypatch):
    """A test that is not marked integration has no broker: its pages read partition counts as
    they do when Kafka is down ("partition counts unavailable"), at once instead of after the
    metadata timeout. Integration tests ask the real broker."""
    if request.node.get_closest_marker("integration") is not None:
        return
    from processing.runtime.kafka import admin

    def no_broker(kafka_config, topics, *args, **kwargs):
        raise ConnectionError("no Kafka broker in a broker-free test")

    monkeypatch.setattr(admin, "topic_partitions", no_broker)
