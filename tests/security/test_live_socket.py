"""The live websocket refuses subscription frames of the wrong shape with a reason instead of
crashing the consumer (which would close the socket with 1011 and no explanation)."""

import asyncio
import json

import pytest

from tests.dashboard.conftest import communicator, make_deployment, session_cookie

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


@pytest.mark.parametrize("view", [["live"], {"id": "live"}, 5, None])
@pytest.mark.parametrize("kind", ["view.subscribe", "view.snapshot_request", "view.unsubscribe"])
def test_view_frames_with_a_non_string_view_are_refused_with_a_reason(django_user_model, kind, view):
    owner = django_user_model.objects.create_user("olga", password=None)
    deployment = make_deployment(owner)
    cookie = session_cookie(owner)

    async def scenario():
        ws = communicator(cookie)
        connected, _ = await ws.connect()
        assert connected
        await ws.send_to(
            text_data=json.dumps({"v": 1, "type": kind, "deployment": deployment.pk, "view": view})
        )
        error = json.loads(await ws.receive_from(timeout=5))
        assert error["type"] == "live.error" and "view" in error["reason"], error
        closed = await ws.receive_output(timeout=5)
        assert closed["type"] == "websocket.close" and closed["code"] in (4400, 4403), closed

    asyncio.run(scenario())
