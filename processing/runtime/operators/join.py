"""joins (placeholder until the join operators land)."""

from __future__ import annotations

from typing import Any


def make_join(op: Any, ctx: Any, stores: dict, sides: tuple) -> Any:
    raise ValueError(f"join {op.id!r}: joins are not supported by the runtime yet")
