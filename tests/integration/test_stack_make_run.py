"""`make run` brings the whole stack up (the demo feeder too, with the broker's heap set), and Ctrl-C
takes every process it started down again."""

import json
import os
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
# Kafka, migrate, two Celery workers, beat and Daphne cold on a shared 2-core machine.
STARTUP_TIMEOUT_S = 150
SHUTDOWN_TIMEOUT_S = 60


def process_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def processes_in_group(pgid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                members.append(int(entry.name))
    return members


def health(url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    except (OSError, ValueError):
        return None


@pytest.mark.timeout(STARTUP_TIMEOUT_S + SHUTDOWN_TIMEOUT_S + 60)
def test_ctrl_c_on_make_run_leaves_no_stack_process_running(tmp_path, free_port, wait_for):
    data_dir = tmp_path / "run"
    http_port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        # A stack of its own: nothing of this test session's stack, test DB or Redis prefix.
        if key
        not in {"KAFKA_BOOTSTRAP_SERVERS", "REDIS_URL", "DATABASE_URL", "WEIR_REDIS_PREFIX", "PYTEST_VERSION"}
        and not key.startswith(("PYTEST_", "WEIR_KAFKA_"))
    }
    env.update(
        WEIR_BROKER_PORT=str(free_port()),
        WEIR_CONTROLLER_PORT=str(free_port()),
        WEIR_REDIS_PORT=str(free_port()),
        WEIR_HTTP_PORT=str(http_port),
        WEIR_DATA_DIR=str(data_dir),
        # The local broker's heap, read by ops/ only: the demo feeder must not take it for a
        # librdkafka setting (it died of "No such configuration property" before).
        WEIR_KAFKA_HEAP="512m",
    )
    output = open(tmp_path / "make-run.log", "wb")  # noqa: SIM115 - closed below
    make = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )
    pids: dict[str, int] = {}
    try:
        url = f"http://127.0.0.1:{http_port}/api/health"
        wait_for(
            lambda: make.poll() is None and (health(url) or {}).get("ok"),
            STARTUP_TIMEOUT_S,
            f"make run to serve an all-green {url} (log: {tmp_path / 'make-run.log'})",
            interval=1.0,
        )
        for pid_file in (data_dir / "pids").glob("*.pid"):
            pids[pid_file.stem] = int(pid_file.read_text().split()[0])
        assert set(pids) == {
            "kafka",
            "redis",
            "demo-generator",
            "celery-streams",
            "celery-control",
            "celery-beat",
            "daphne",
        }
        assert all(process_alive(pid) for pid in pids.values())

        os.killpg(make.pid, signal.SIGINT)
        make.wait(SHUTDOWN_TIMEOUT_S)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(10)
        output.close()
        log = (tmp_path / "make-run.log").read_text(errors="replace")

    still_running = {name: pid for name, pid in pids.items() if process_alive(pid) or processes_in_group(pid)}
    for pid in still_running.values():
        os.killpg(pid, signal.SIGKILL)
    assert still_running == {}, log[-3000:]
    assert "demo admin user: admin  password:" in log
    assert f"Weir is running at http://127.0.0.1:{http_port}/" in log
    assert list((data_dir / "pids").glob("*.pid")) == []
