"""Round-trip probes through the real stack: a Celery ping task, and a channel-layer
broadcast from a Celery task to a websocket consumer. Used by the integration tests and
handy when a deployment's live updates do not arrive (is the relay path itself alive?)."""

import json
import socket

from asgiref.sync import async_to_sync
from celery import shared_task
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer

EVENT_TYPE = "diagnostics.message"
# The same close codes as the live socket (dashboard/consumers.py).
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
FORBIDDEN_REASON = "diagnostics are for staff"


def diagnostics_group(token: str) -> str:
    # Channel layer group names allow only ASCII alphanumerics, hyphens, underscores and periods.
    safe = "".join(ch for ch in token if ch.isalnum() or ch in "-_.")[:80]
    return f"diagnostics.{safe}"


@shared_task(name="dashboard.diagnostics.ping")
def ping(token: str) -> dict:
    return {"pong": token, "host": socket.gethostname()}


@shared_task(name="dashboard.diagnostics.broadcast")
def broadcast(token: str, payload: dict) -> bool:
    async_to_sync(get_channel_layer().group_send)(
        diagnostics_group(token), {"type": EVENT_TYPE, "payload": payload}
    )
    return True


class DiagnosticsConsumer(AsyncWebsocketConsumer):
    """ws/diagnostics/<token>/: relays every broadcast for the token to the client, as JSON.

    Staff only: it is an operator's probe of the relay path, and any token may be named, so a
    subscriber would receive whatever an operator's probe sends. Others are accepted only to be
    told why, then closed with 4403 and the reason, as the live socket does.
    """

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not user.is_staff:
            await self.accept()
            await self.send(text_data=json.dumps({"type": "diagnostics.error", "reason": FORBIDDEN_REASON}))
            await self.close(code=CLOSE_FORBIDDEN, reason=FORBIDDEN_REASON)
            return
        self.group = diagnostics_group(self.scope["url_route"]["kwargs"]["token"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send(text_data=json.dumps({"type": "diagnostics.subscribed", "group": self.group}))

    async def disconnect(self, code):
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def diagnostics_message(self, event):
        await self.send(text_data=json.dumps({"type": EVENT_TYPE, "payload": event["payload"]}))
