"""Per-process fan-out: one channel-layer subscription per group per web process.

With plain Channels every websocket joins the group itself, so one delta becomes one Redis
message per browser. Here each process (each event loop) owns one hub channel that joins a
group once, however many sockets watch it; the frame arrives once, already serialised by the
publisher, and is written to each local socket as the same string.

If Redis restarts empty, group memberships and queued frames are gone, and redis-py's own
retries may hide the restart from ``receive``. So a watchdog keeps a marker key with a TTL
in Redis and checks it every second: when the marker has vanished (or receive failed for good),
the hub joins its groups again and asks every local socket to resync.

The same watchdog tells the runtime how many sockets watch each view (``groups.watchers_key``:
one field per hub, refreshed every second): the publisher picks a view's tick from that number
(dashboard/publisher.py, ``view_tick_s``), short for a few sockets, longer for many.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
import weakref
from typing import Protocol

import orjson
from channels.layers import get_channel_layer
from redis.exceptions import TimeoutError as RedisTimeoutError

from dashboard.protocol import encode_frame, row_key
from dashboard.wire import PreparedFrame

log = logging.getLogger(__name__)

RECONNECT_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
# How often the watchdog looks for its marker; a restart is noticed within about this long.
WATCHDOG_INTERVAL_S = 1.0
# The marker outlives many missed checks (a busy machine), yet goes with its process.
MARKER_TTL_S = 60
REJOIN_TIMEOUT_S = 3.0
# Sockets written through Channels between two chances for the receiver to run (~80 µs each);
# a direct write of pre-framed bytes (dashboard/wire.py) costs about a tenth of one.
DELIVER_BATCH = 25
DIRECT_WRITES_PER_SEND = 10


class Subscriber(Protocol):
    def write_frame(self, frame: PreparedFrame) -> bool:
        """Write the frame's pre-built wire form now; False when ``deliver`` must be used."""
        ...

    async def deliver(self, group: str, frame: str) -> None: ...

    async def feed_lost(self, since: float) -> None: ...


class LiveHub:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        self.channel: str | None = None
        self.subscribers: dict[str, set[Subscriber]] = {}
        self._task: asyncio.Task | None = None
        self._watchdog: asyncio.Task | None = None
        self._backlog: dict[str, list[str]] = {}
        self._delivering: set[str] = set()
        self._lock = asyncio.Lock()
        self._counted: set[str] = set()  # groups whose watcher count this hub has published

    async def subscribe(self, group: str, subscriber: Subscriber) -> None:
        async with self._lock:
            if self.channel is None:
                _freeze_startup_heap()
                self.channel = await self.layer.new_channel(prefix="weirhub")
                loop = asyncio.get_running_loop()
                self._task = loop.create_task(self._receive_forever())
                self._watchdog = loop.create_task(self._watch_for_redis_restarts())
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
            except RedisTimeoutError:
                # A slow read, not a lost connection: memberships are intact. A frame popped but
                # not read is a seq gap that the browsers heal with a resync.
                log.info("live hub: slow read from the channel layer; receiving again")
                continue
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
            group = message["group"]
            self._backlog.setdefault(group, []).append(message["frame"])
            if group not in self._delivering:
                self._delivering.add(group)
                asyncio.get_running_loop().create_task(self._deliver(group))

    async def _deliver(self, group: str) -> None:
        """Write a group's frames to its sockets; what piles up meanwhile goes out merged.

        Receiving never waits for sockets. When a thousand sockets take longer to write than
        the runtime's tick, the deltas that arrived meanwhile are merged into one frame (latest
        value per key), serialised once: the browsers see fewer, larger frames instead of an
        ever-growing delay, and the layer's per-channel queue never overflows.
        """
        try:
            while self._backlog.get(group):
                frames, self._backlog[group] = self._backlog[group], []
                for frame in coalesce(frames):
                    prepared = PreparedFrame(frame)  # framed (and deflated) once for every socket
                    budget = 0
                    for subscriber in list(self.subscribers.get(group, ())):
                        try:
                            if subscriber.write_frame(prepared):
                                budget += 1
                            else:
                                budget += DIRECT_WRITES_PER_SEND
                                await subscriber.deliver(group, frame)
                        except Exception:  # one broken socket must not starve the others
                            log.debug("deliver to a subscriber failed", exc_info=True)
                        if budget >= DELIVER_BATCH * DIRECT_WRITES_PER_SEND:
                            # A socket write never suspends: yield so receiving keeps up.
                            budget = 0
                            await asyncio.sleep(0)
        finally:
            self._delivering.discard(group)
            self._backlog.pop(group, None)

    async def _watch_for_redis_restarts(self) -> None:
        from dashboard import groups
        from dashboard.serving import async_client

        marker = f"{groups.prefix()}:hub:{self.channel}"
        placed = False
        joined = True  # subscribe() has just joined; only a lost marker means joining again
        while True:
            try:
                client = async_client()
                if placed and not await client.exists(marker):
                    log.warning("live hub: Redis lost its data (restart?); joining groups again")
                    joined = placed = False
                if not joined and not await self._rejoin():
                    await asyncio.sleep(WATCHDOG_INTERVAL_S)
                    continue
                joined = True
                await client.set(marker, "1", ex=MARKER_TTL_S)
                placed = True
                await self._publish_watchers(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis down: keep looking; the marker tells us what came back
                log.info("live hub watchdog: %r", exc)
            await asyncio.sleep(WATCHDOG_INTERVAL_S)

    async def _publish_watchers(self, client) -> None:
        """Write this hub's number of sockets per group; forget groups nobody here watches."""
        from dashboard import groups

        now = time.time()
        watched = {group: len(members) for group, members in self.subscribers.items() if members}
        async with client.pipeline(transaction=False) as pipe:
            for group, count in watched.items():
                key = groups.watchers_key(group)
                pipe.hset(key, self.channel, f"{count} {now:.3f}")
                pipe.expire(key, int(groups.WATCHERS_FRESH_S * 2))  # gone when no hub refreshes it
            for group in self._counted - watched.keys():
                pipe.hdel(groups.watchers_key(group), self.channel)
            await pipe.execute()
        self._counted = set(watched)

    async def _rejoin(self) -> bool:
        """Join every group again and tell every socket that frames may have been lost."""
        try:
            for group in list(self.subscribers):
                # Pooled connections that died with Redis are retried with backoff by redis-py;
                # bound the wait so the watchdog tries again instead of hanging.
                await asyncio.wait_for(self.layer.group_add(group, self.channel), REJOIN_TIMEOUT_S)
        except Exception as exc:
            log.info("live hub: joining groups failed (%r); will retry", exc)
            return False
        since = time.monotonic()
        everyone = {s for members in self.subscribers.values() for s in members}
        # Concurrently, so the sockets share snapshot reads (dashboard/serving.py).
        results = await asyncio.gather(*(s.feed_lost(since) for s in everyone), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.warning("resync of a subscriber failed: %r", result)
        return True


def _freeze_startup_heap() -> None:
    """Under Daphne, take what the process has built so far out of the cyclic collector.

    Everything a server loads (Django, Twisted, the app: hundreds of thousands of objects) lives
    as long as the process, yet every full collection walks it: measured here, a gen-2
    collection in Daphne paused the one event loop, and so every socket, for 100-200 ms, the
    p99 of the whole benchmark. Frozen objects are still freed by reference counting. Only a
    running Twisted reactor (Daphne) does this; test event loops leave the collector alone.
    """
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not getattr(reactor, "running", False):
        return
    gc.collect()
    gc.freeze()


def coalesce(frames: list[str]) -> list[str]:
    """Merge runs of consecutive view deltas (same generation, contiguous seqs) into one frame
    covering ``first_seq..seq`` with the latest row per key; anything else passes unchanged."""
    if len(frames) == 1:
        return frames
    out: list[str] = []
    run: list[dict] = []

    def flush() -> None:
        if len(run) == 1:
            out.append(encode_frame(run[0]))
        elif run:
            rows: dict[str, dict] = {}
            for delta in run:
                for row in delta["rows"]:
                    rows[row_key(row["key"])] = row
            merged = dict(run[-1], first_seq=run[0].get("first_seq", run[0]["seq"]), rows=list(rows.values()))
            out.append(encode_frame(merged))
        run.clear()

    for text in frames:
        frame = orjson.loads(text)
        if frame.get("type") != "view.delta":
            flush()
            out.append(text)
            continue
        if run and (
            frame.get("generation") != run[-1].get("generation")
            or frame.get("first_seq", frame["seq"]) != run[-1]["seq"] + 1
        ):
            flush()
        run.append(frame)
    flush()
    return out


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LiveHub] = weakref.WeakKeyDictionary()


def get_hub() -> LiveHub:
    """The hub of the running event loop (Daphne has one; each test's asyncio.run has its own)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None:
        hub = LiveHub()
        _hubs[loop] = hub
    return hub
