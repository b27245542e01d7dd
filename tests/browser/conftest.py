"""Browser fixtures shared by the editor tests: one Debian Chromium per test module, a user,
and a page logged in as that user (with a screenshot kept when the test fails). The dashboard
tests also get a private redis-server with its own Daphne, so Redis can be killed and restarted
without touching the shared one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from tests.browser.editor_support import chromium_browser, logged_in_page, unique
from tests.conftest import PROCESS_READY_TIMEOUT_S, _http_answers, free_port, wait_for
from tests.dashboard.conftest import private_redis  # noqa: F401 - the dashboards' fixture

VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def chromium():
    with chromium_browser() as browser:
        yield browser


@pytest.fixture
def editor_user(transactional_db):
    # No password: hashing one is slow on a busy machine, and the session cookie needs none.
    return get_user_model().objects.create_user(unique("editor"), password=None)


@pytest.fixture
def page(request, chromium, live_daphne, editor_user):
    with logged_in_page(request, chromium, live_daphne, editor_user) as page:
        yield page


@pytest.fixture
def daphne_on_private_redis(private_redis, stack_process_env, stack_processes):  # noqa: F811 - pytest fixture
    port = free_port()
    env = dict(stack_process_env, REDIS_URL=private_redis.url, WEIR_HTTP_PORT=str(port))
    name = f"daphne-dashboard-{port}"
    stack_processes.start(
        name, [str(VENV_BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"], env
    )
    url = f"http://127.0.0.1:{port}"

    def answers():
        stack_processes.check_alive(name)
        return _http_answers(f"{url}/accounts/login/")

    wait_for(answers, PROCESS_READY_TIMEOUT_S, "Daphne (private Redis) to serve HTTP")
    yield url
    stack_processes.stop(name)
