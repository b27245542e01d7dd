"""Per-process fan-out: one channel-layer subscription per group per web process.

With plain Channels every websocket joins the group itself, so one delta becomes one Redis
message per browser. Here each process (each event loop) owns one hub channel that joins a
group once, however many sockets watch it; the frame arrives once, already serialised by the
reporter, and is written to each local socket as the same string.

If the layer's Redis connection breaks (Redis restarted, memberships and queued frames lost),
the hub reconnects with backoff, joins its groups again and asks every local socket to resync.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import Protocol

from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)


class Subscriber(Protocol):
    async def deliver(self, group: str, frame: str) -> None: ...

    async def feed_lost(self, since: float) -> None: ...


class LiveHub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.subscribers: dict[str, set[Subscriber]] = {}
        self._task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def subscribe(self, group: str, subscriber: Subscriber) -> None:
        async with self._lock:
            if self.channel is None:
                self.channel = await self.layer.new_channel(prefix="weirhub")
                self._task = asyncio.get_running_loop().create_task(self._receive_forever())
            members = self.subscribers.setdefault(group, set())
            if not members:
                await self.layer.group_add(group, self.channel)
            members.add(subscriber)

    async def unsubscribe(self, group: str, subscriber: Subscriber) -> None:
        async with self._lock:
            members = self.subscribers.get(group)
            if members is None:
                return
            members.discard(subscriber)
            if not members:
                del self.subscribers[group]
                try:
                    await self.layer.group_discard(group, self.channel)
                except Exception:  # membership expires on its own; a dead Redis loses it anyway
                    log.debug("group_discard %s failed", group, exc_info=True)

    async def _receive_forever(self) -> None:
        failures = 0
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = RECONNECT_BACKOFF_S[min(failures, len(RECONNECT_BACKOFF_S) - 1)]
                failures += 1
                log.warning("live hub lost the channel layer (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                await self._rejoin()
                continue
            if failures:
                failures = 0
            if message.get("type") != "live.frame":
                continue
            group, frame = message["group"], message["frame"]
            for subscriber in list(self.subscribers.get(group, ())):
                try:
                    await subscriber.deliver(group, frame)
                except Exception:  # one broken socket must not starve the others
                    log.debug("deliver to a subscriber failed", exc_info=True)

    async def _rejoin(self) -> None:
        """Join every group again and tell every socket that frames may have been lost."""
        try:
            for group in list(self.subscribers):
                await self.layer.group_add(group, self.channel)
        except Exception:
            return  # still down; the next failed receive comes back here
        since = time.monotonic()
        everyone = {s for members in self.subscribers.values() for s in members}
        # Concurrently, so the sockets share snapshot reads (dashboard/serving.py).
        results = await asyncio.gather(*(s.feed_lost(since) for s in everyone), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.debug("resync of a subscriber failed: %s", result)


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LiveHub] = weakref.WeakKeyDictionary()


def get_hub() -> LiveHub:
    """The hub of the running event loop (Daphne has one; each test's asyncio.run has its own)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = LiveHub()
        _hubs[loop] = hub
    return hub
