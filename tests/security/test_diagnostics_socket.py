"""The diagnostics socket (an operator's probe of the Celery → channel layer → websocket path)
is for staff: other signed-in users are told why and closed, like the live socket does."""

import asyncio
import json
import uuid

import pytest

from tests.dashboard.conftest import session_cookie

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.timeout(60)]


def diagnostics_communicator(cookie: str, token: str):
    from channels.testing import WebsocketCommunicator

    from config.asgi import application

    headers = [
        (b"origin", b"http://127.0.0.1"),
        (b"host", b"127.0.0.1"),
        (b"cookie", f"sessionid={cookie}".encode()),
    ]
    return WebsocketCommunicator(application, f"/ws/diagnostics/{token}/", headers=headers)


def test_a_signed_in_user_who_is_not_staff_is_refused_with_a_reason(django_user_model):
    user = django_user_model.objects.create_user("nosy", password=None)
    cookie = session_cookie(user)

    async def scenario():
        ws = diagnostics_communicator(cookie, uuid.uuid4().hex)
        connected, _ = await ws.connect(timeout=10)
        assert connected
        error = json.loads(await ws.receive_from(timeout=5))
        closed = await ws.receive_output(timeout=5)
        return error, closed

    error, closed = asyncio.run(scenario())
    assert error == {"type": "diagnostics.error", "reason": "diagnostics are for staff"}
    assert closed == {"type": "websocket.close", "code": 4403, "reason": "diagnostics are for staff"}


def test_staff_subscribe_and_receive_what_is_sent_to_their_token(django_user_model):
    from channels.layers import get_channel_layer

    from dashboard.diagnostics import EVENT_TYPE, diagnostics_group

    staff = django_user_model.objects.create_user("operator", password=None, is_staff=True)
    cookie = session_cookie(staff)
    token = uuid.uuid4().hex

    async def scenario():
        ws = diagnostics_communicator(cookie, token)
        connected, _ = await ws.connect(timeout=10)
        assert connected
        subscribed = json.loads(await ws.receive_from(timeout=5))
        await get_channel_layer().group_send(
            diagnostics_group(token), {"type": EVENT_TYPE, "payload": {"probe": token}}
        )
        message = json.loads(await ws.receive_from(timeout=10))
        await ws.disconnect()
        return subscribed, message

    subscribed, message = asyncio.run(scenario())
    assert subscribed == {"type": "diagnostics.subscribed", "group": f"diagnostics.{token}"}
    assert message == {"type": EVENT_TYPE, "payload": {"probe": token}}
