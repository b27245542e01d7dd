"""The Redis health entry follows the real server: red with the reason while it is down, green again after."""

import shutil
import subprocess

import pytest

from dashboard import health

pytestmark = pytest.mark.integration


def start_redis(port: int, data_dir) -> subprocess.Popen:
    argv = [
        shutil.which("redis-server") or "/usr/bin/redis-server",
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(data_dir)]
    return subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


@pytest.mark.timeout(90)
def test_stopping_redis_turns_its_health_red_and_restarting_it_turns_it_green(
    client, db, settings, free_port, tmp_path, wait_for, django_user_model
):
    # The reason (host, port, error text) is shown to signed-in users only.
    client.force_login(django_user_model.objects.create_user("operator", password="x"))
    # A Redis of this test's own: the shared one serves the rest of the suite.
    port = free_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    server = start_redis(port, tmp_path)
    try:
        wait_for(
            lambda: client.get("/api/health").json()["redis"]["ok"], 20, "the new Redis to be reported green"
        )

        server.terminate()
        server.wait(10)
        red = client.get("/api/health").json()["redis"]
        assert red["ok"] is False
        assert f"Redis at redis://127.0.0.1:{port}/0" in red["error"]
        assert "refused" in red["error"].lower()

        server = start_redis(port, tmp_path)
        green = wait_for(
            lambda: (entry := client.get("/api/health").json()["redis"])["ok"] and entry,
            20,
            "Redis to be reported green again after the restart",
        )
        assert green["error"] is None and green["version"]
    finally:
        server.kill()
        server.wait(10)


@pytest.mark.timeout(60)
def test_the_overall_health_is_red_while_any_entry_is_red(client, db, settings, free_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["ok"] is False
    assert response.json()["redis"]["ok"] is False
    assert health.collect_health()["ok"] is False
