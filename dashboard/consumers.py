"""The live websocket: one socket per page, multiplexing view and monitor subscriptions.

Protocol in dashboard/protocol.py. Authentication comes from the session (AuthMiddlewareStack)
and the Origin check from AllowedHostsOriginValidator (config/asgi.py). Frames from the hub are
already serialised; this consumer only forwards them.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.db import close_old_connections

from dashboard import groups, selectors, serving
from dashboard.hub import get_hub
from dashboard.protocol import PROTOCOL_VERSION, encode_frame
from dashboard.wire import PreparedFrame, direct_writer

log = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_BAD_REQUEST = 4400
# A page watches a handful of views; a socket asking for hundreds is a bug or abuse.
MAX_SUBSCRIPTIONS = 64


def _in_own_thread(function, *args):
    close_old_connections()
    try:
        return function(*args)
    finally:
        close_old_connections()


async def _read_db(function, *args):
    """A read-only permission check off the one thread Channels serialises ORM calls on: a
    thousand browsers subscribing at once would otherwise queue behind each other for longer
    than Daphne waits for a handshake."""
    return await sync_to_async(_in_own_thread, thread_sensitive=False)(function, *args)


class _LastSharedFrame:
    """The wire forms of the last shared frame: sockets sharing a snapshot read receive the very
    same string object, one after the other."""

    def __init__(self) -> None:
        self.last: PreparedFrame | None = None

    def get(self, text: str) -> PreparedFrame:
        if self.last is None or self.last.text is not text:
            self.last = PreparedFrame(text)
        return self.last


_shared_frame = _LastSharedFrame()


class LiveConsumer(AsyncWebsocketConsumer):
    # No channel of its own on the layer: frames come from the process's hub (dashboard/hub.py),
    # so a socket costs Redis nothing. An alias absent from CHANNEL_LAYERS makes Channels skip it.
    channel_layer_alias = "weir-live-sockets-use-the-hub"

    async def connect(self) -> None:
        self.views: dict[str, tuple[int, str]] = {}  # group -> (deployment, view)
        self.monitors: dict[str, int] = {}  # group -> deployment
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.accept()
        # Frames from the hub skip Channels' per-socket send path where Daphne allows it.
        self._direct = direct_writer(self)

    async def disconnect(self, code: int) -> None:
        hub = get_hub()
        for group in list(getattr(self, "views", {})) + list(getattr(self, "monitors", {})):
            await hub.unsubscribe(group, self)

    # -- browser -> server -----------------------------------------------------------------
    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            request = orjson.loads(text_data or bytes_data or b"")
        except orjson.JSONDecodeError as exc:
            await self._refuse(CLOSE_BAD_REQUEST, f"frame is not JSON: {exc}", None)
            return
        if not isinstance(request, dict) or request.get("v") != PROTOCOL_VERSION:
            await self._refuse(
                CLOSE_BAD_REQUEST, f"unsupported protocol version (expected v={PROTOCOL_VERSION})", request
            )
            return
        kind = request.get("type")
        if kind == "view.subscribe":
            await self._subscribe_view(request)
        elif kind == "view.snapshot_request":
            await self._snapshot_request(request)
        elif kind == "view.unsubscribe":
            if not isinstance(request.get("view"), str):
                await self._refuse(
                    CLOSE_BAD_REQUEST, "view must be the id of a view node (a string)", request
                )
                return
            try:
                group = groups.view_group(int(request.get("deployment")), request["view"])
            except (TypeError, ValueError):
                await self._refuse(CLOSE_BAD_REQUEST, "deployment must be an integer id", request)
                return
            if self.views.pop(group, None) is not None:
                await get_hub().unsubscribe(group, self)
        elif kind == "monitor.subscribe":
            await self._subscribe_monitor(request)
        elif kind == "live.ping":
            await self.send(text_data=encode_frame({"v": PROTOCOL_VERSION, "type": "live.pong"}))
        else:
            await self._refuse(CLOSE_BAD_REQUEST, f"unknown frame type {kind!r}", request)

    async def _subscribe_view(self, request: dict[str, Any]) -> None:
        deployment, view = request.get("deployment"), request.get("view")
        reason = await _read_db(selectors.check_view_access, self.scope["user"], deployment, view)
        if reason is not None:
            await self._refuse(CLOSE_FORBIDDEN, reason, request)
            return
        if len(self.views) + len(self.monitors) >= MAX_SUBSCRIPTIONS:
            await self._refuse(
                CLOSE_BAD_REQUEST, f"at most {MAX_SUBSCRIPTIONS} subscriptions per socket", request
            )
            return
        deployment = int(deployment)
        group = groups.view_group(deployment, view)
        # Join before reading the snapshot, so no delta falls between the two.
        self.views[group] = (deployment, view)
        await get_hub().subscribe(group, self)
        joined = time.monotonic()
        await self._send_shared(await serving.snapshot_frame(deployment, view, not_before=joined))

    async def _snapshot_request(self, request: dict[str, Any]) -> None:
        try:
            group = groups.view_group(int(request.get("deployment")), str(request.get("view")))
        except (TypeError, ValueError):
            group = None
        if group not in self.views:
            await self._refuse(
                CLOSE_BAD_REQUEST, "snapshot requested for a view this socket did not subscribe to", request
            )
            return
        deployment, view = self.views[group]
        await self._send_shared(await serving.snapshot_frame(deployment, view))

    async def _subscribe_monitor(self, request: dict[str, Any]) -> None:
        deployment = request.get("deployment")
        reason = await _read_db(selectors.check_deployment_access, self.scope["user"], deployment)
        if reason is not None:
            await self._refuse(CLOSE_FORBIDDEN, reason, request)
            return
        deployment = int(deployment)
        group = groups.deployment_group(deployment)
        self.monitors[group] = deployment
        await get_hub().subscribe(group, self)
        await self._send_monitor_snapshot(deployment)

    async def _send_monitor_snapshot(self, deployment: int) -> None:
        frame = {
            "v": PROTOCOL_VERSION,
            "type": "monitor.snapshot",
            "deployment": deployment,
            "slots": await serving.monitor_slots(deployment),
        }
        await self.send(text_data=encode_frame(frame))

    async def _refuse(self, code: int, reason: str, request: Any) -> None:
        await self.send(
            text_data=encode_frame(
                {"v": PROTOCOL_VERSION, "type": "live.error", "reason": reason, "request": request}
            )
        )
        await self.close(code=code, reason=reason[:120])

    # -- hub -> browser --------------------------------------------------------------------
    def write_frame(self, frame: PreparedFrame) -> bool:
        direct = getattr(self, "_direct", None)
        return direct is not None and direct.write(frame)

    async def _send_shared(self, text: str) -> None:
        """Send a frame that other sockets send too (a snapshot read shared by everyone who asked
        at once): framed and compressed once, not once per socket."""
        prepared = _shared_frame.get(text)
        if not self.write_frame(prepared):
            await self.send(text_data=text)

    async def deliver(self, group: str, frame: str) -> None:
        await self.send(text_data=frame)

    async def feed_lost(self, since: float) -> None:
        """The hub reconnected to Redis at ``since``: frames may be lost, so send fresh snapshots."""
        await self.send(
            text_data=encode_frame(
                {"v": PROTOCOL_VERSION, "type": "live.resync", "reason": "feed reconnected"}
            )
        )
        for deployment, view in list(self.views.values()):
            await self._send_shared(await serving.snapshot_frame(deployment, view, not_before=since))
        for deployment in list(self.monitors.values()):
            await self._send_monitor_snapshot(deployment)
