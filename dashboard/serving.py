"""Reading the serving copy of views and the monitor state from Redis (written by
dashboard/publisher.py). Snapshots are read in one MULTI so rows and seq always agree."""

from __future__ import annotations

import asyncio
import time
import weakref
from typing import Any

import orjson
import redis
import redis.asyncio as aioredis
from django.conf import settings

from dashboard import groups
from dashboard.protocol import PROTOCOL_VERSION, encode_frame

_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aioredis.Redis] = (
    weakref.WeakKeyDictionary()
)


def async_client() -> aioredis.Redis:
    """One client per event loop: a redis.asyncio pool cannot be shared between loops."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        # Reading a 10,000-row table for a reconnect storm on a busy machine can take seconds.
        client = aioredis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=30)
        _async_clients[loop] = client
    return client


def _snapshot_frame(deployment_id: int, view_id: str, rows: dict, meta: dict) -> str:
    # Values are stored as JSON already: splice them instead of decoding 10,000 rows to re-encode.
    body = ",".join(
        '{"key":' + key.decode() + ',"value":' + value.decode() + "}" for key, value in rows.items()
    )
    head = encode_frame(
        {
            "v": PROTOCOL_VERSION,
            "type": "view.snapshot",
            "deployment": int(deployment_id),
            "view": view_id,
            "seq": int(meta.get(b"seq", 0)),
            "generation": (meta.get(b"generation") or b"").decode(),
            "windowed": meta.get(b"windowed") == b"1",
        }
    )
    return head[:-1] + ',"rows":[' + body + "]}"


async def _read_snapshot(deployment_id: int, view_id: str) -> str:
    for attempt in (1, 2):
        try:
            async with async_client().pipeline(transaction=True) as pipe:
                pipe.hgetall(groups.serving_rows_key(deployment_id, view_id))
                pipe.hgetall(groups.serving_meta_key(deployment_id, view_id))
                rows, meta = await pipe.execute()
            break
        except redis.ConnectionError:
            # After a Redis restart the pool hands out a dead connection once; redis-py does
            # not retry MULTI/EXEC by itself.
            if attempt == 2:
                raise
    return _snapshot_frame(deployment_id, view_id, rows, meta)


class _Read:
    """One Redis read of a snapshot, shared by every socket that may use it."""

    def __init__(self) -> None:
        self.started: float | None = None  # when the Redis read began; None while queued
        self.task: asyncio.Task | None = None


_reads: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[int, str], list[_Read]]] = (
    weakref.WeakKeyDictionary()
)


async def _run_read(read: _Read, previous: asyncio.Task | None, deployment_id: int, view_id: str) -> str:
    if previous is not None:
        # Queue behind the running read: everyone who asks meanwhile joins this one.
        await asyncio.wait([previous])
    read.started = time.monotonic()
    return await _read_snapshot(deployment_id, view_id)


async def snapshot_frame(deployment_id: int, view_id: str, *, not_before: float | None = None) -> str:
    """The view's snapshot frame, read and serialised once for all the sockets asking at once.

    A socket may share a read only if the read began after ``not_before`` (when the socket
    joined the view's group, asked to resync, or the hub got its feed back): an older read
    could miss deltas the socket never received. Reads queue one behind the other, so a
    thousand browsers reconnecting at once cost two or three reads, not a thousand.
    """
    loop = asyncio.get_running_loop()
    not_before = time.monotonic() if not_before is None else not_before
    live = _reads.setdefault(loop, {}).setdefault((int(deployment_id), str(view_id)), [])
    live[:] = [r for r in live if r.task is not None and not r.task.done()]
    if live and (live[-1].started is None or live[-1].started >= not_before):
        read = live[-1]
    else:
        read = _Read()
        read.task = loop.create_task(_run_read(read, live[-1].task if live else None, deployment_id, view_id))
        live.append(read)
    return await asyncio.shield(read.task)


def snapshot_frame_sync(deployment_id: int, view_id: str) -> str:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        with client.pipeline(transaction=True) as pipe:
            pipe.hgetall(groups.serving_rows_key(deployment_id, view_id))
            pipe.hgetall(groups.serving_meta_key(deployment_id, view_id))
            rows, meta = pipe.execute()
    finally:
        client.close()
    return _snapshot_frame(deployment_id, view_id, rows, meta)


def read_table_sync(deployment_id: int, view_id: str) -> tuple[int, dict[str, Any]]:
    """(seq, {canonical key: value}) — what a correct client must end up showing."""
    frame = orjson.loads(snapshot_frame_sync(deployment_id, view_id))
    return frame["seq"], {
        orjson.dumps(r["key"], option=orjson.OPT_SORT_KEYS).decode(): r["value"] for r in frame["rows"]
    }


async def monitor_slots(deployment_id: int) -> dict[str, Any]:
    raw = await async_client().hgetall(groups.monitor_slots_key(deployment_id))
    return {slot.decode(): orjson.loads(state) for slot, state in raw.items()}


def clear_deployment(deployment_id: int) -> int:
    """Forget a deployment's serving tables and monitor state (it was deleted, or it starts over
    under a new application id and its old rows would be wrong). Returns the keys removed."""
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{groups.prefix()}:serving:{int(deployment_id)}:*", count=500))
        keys.append(groups.monitor_slots_key(deployment_id))
        return client.delete(*keys)
    finally:
        client.close()
