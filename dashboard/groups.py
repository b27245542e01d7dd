"""Every channel-layer group name and every Redis key of the live layer, built in one place.

Channels only accepts group names of ASCII letters, digits, ``-``, ``_`` and ``.`` shorter than
100 characters, while view ids are user-chosen node ids; anything outside that alphabet (or too
long) is replaced by a short stable hash so two views can never share a group by accident.

Redis keys start with ``settings.REDIS_KEY_PREFIX`` (one per installation or test session);
group names need no prefix of their own because the channel layer already prefixes its keys
with it (config/settings.py).

Formats::

    group    weir.view.<deployment>.<view>        deltas of one view (one member per web process)
    group    weir.deployment.<deployment>         status, metrics, lag, restore of a deployment
    key      <prefix>weir:serving:<deployment>:<view>:rows    hash  row key (canonical JSON) -> value JSON
    key      <prefix>weir:serving:<deployment>:<view>:meta    hash  seq, generation, windowed
    key      <prefix>weir:monitor:<deployment>:slots          hash  slot -> JSON of the slot's latest state
    key      <prefix>weir:watchers:<group>                    hash  hub channel -> "<sockets> <unix time>"
"""

from __future__ import annotations

import hashlib
import re

from django.conf import settings

_GROUP_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def prefix() -> str:
    return f"{getattr(settings, 'REDIS_KEY_PREFIX', '')}weir"


def _safe(part: str) -> str:
    part = str(part)
    if _GROUP_SAFE.match(part):
        return part
    return "h" + hashlib.sha1(part.encode()).hexdigest()[:16]


def view_group(deployment_id: int, view_id: str) -> str:
    return f"weir.view.{int(deployment_id)}.{_safe(view_id)}"


def deployment_group(deployment_id: int) -> str:
    return f"weir.deployment.{int(deployment_id)}"


def serving_rows_key(deployment_id: int, view_id: str) -> str:
    return f"{prefix()}:serving:{int(deployment_id)}:{view_id}:rows"


def serving_meta_key(deployment_id: int, view_id: str) -> str:
    return f"{prefix()}:serving:{int(deployment_id)}:{view_id}:meta"


def monitor_slots_key(deployment_id: int) -> str:
    return f"{prefix()}:monitor:{int(deployment_id)}:slots"


# A hub's watcher count is believed for this long after its last refresh (a process that died
# stops refreshing it); hubs refresh every second.
WATCHERS_FRESH_S = 5.0


def watchers_key(group: str) -> str:
    """How many sockets watch a group, per hub (each web process refreshes its own field)."""
    return f"{prefix()}:watchers:{group}"
