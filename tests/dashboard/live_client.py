"""A reference client of the live protocol in Python, with the same rules as static/dashboard/live.mjs:
subscribe, apply the snapshot, apply deltas in seq order, and on a gap ask for the snapshot."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import orjson


def canonical(key: Any) -> str:
    return orjson.dumps(key, option=orjson.OPT_SORT_KEYS).decode()


class ReferenceClient:
    def __init__(self, communicator, deployment: int, view: str):
        self.communicator = communicator
        self.deployment = deployment
        self.view = view
        self.rows: dict[str, Any] = {}
        self.seq: int | None = None
        self.generation: str | None = None
        self.pending: dict[int, dict] = {}
        self.frames: list[dict] = []
        self.resyncs = 0

    async def subscribe(self) -> None:
        await self.send({"type": "view.subscribe", "deployment": self.deployment, "view": self.view})

    async def send(self, frame: dict) -> None:
        await self.communicator.send_to(text_data=json.dumps({"v": 1, **frame}))

    async def step(self, timeout: float = 5) -> dict:
        frame = json.loads(await self.communicator.receive_from(timeout=timeout))
        self.frames.append(frame)
        if frame["type"] == "view.snapshot":
            self.rows = {canonical(r["key"]): r["value"] for r in frame["rows"]}
            self.seq, self.generation = frame["seq"], frame["generation"]
            for seq in sorted(self.pending):
                await self._delta(self.pending.pop(seq))
        elif frame["type"] == "view.delta":
            await self._delta(frame)
        return frame

    async def _delta(self, frame: dict) -> None:
        if self.seq is None:
            self.pending[frame["seq"]] = frame
        elif frame["seq"] <= self.seq:
            return
        elif frame.get("first_seq", frame["seq"]) > self.seq + 1 or frame["generation"] != self.generation:
            self.resyncs += 1
            self.seq = None
            await self.send(
                {"type": "view.snapshot_request", "deployment": self.deployment, "view": self.view}
            )
        else:
            self.seq = frame["seq"]
            for row in frame["rows"]:
                if row["value"] is None:
                    self.rows.pop(canonical(row["key"]), None)
                else:
                    self.rows[canonical(row["key"])] = row["value"]

    async def until(self, condition, timeout: float = 10) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"timed out; last frames: {self.frames[-3:]}"
            await self.step(timeout=remaining)


def serving_table_at(url: str, deployment_id: int, view: str = "counts") -> tuple[int, dict[str, Any]]:
    """(seq, {canonical key: value}) of a view's serving table in the Redis at ``url``."""
    from django.test import override_settings

    from dashboard.serving import read_table_sync

    with override_settings(REDIS_URL=url):
        return read_table_sync(deployment_id, view)
