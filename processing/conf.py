"""Supervision knobs. Each can be set in Django settings or in the environment (same name).

Defaults assume one machine or a LAN: a heartbeat every 2 s, an instance is presumed dead
after 10 s without one (five missed beats, well above a long GC pause or a slow SQLite write),
three crashes in a row without a steady minute in between fail the deployment.
"""

from __future__ import annotations

import os

from django.conf import settings

DEFAULTS: dict[str, float] = {
    # How often an instance writes its heartbeat and reads the stop flag.
    "WEIR_HEARTBEAT_SECONDS": 2.0,
    # How often the stop flag (desired state, epoch, scale) is read from the database.
    "WEIR_STOP_CHECK_SECONDS": 1.0,
    # No heartbeat for this long: the instance is presumed dead and its slot is taken over.
    "WEIR_HEARTBEAT_TIMEOUT_SECONDS": 10.0,
    # Restarts after crashes, without a steady period between them, before the deployment fails.
    "WEIR_MAX_RESTARTS": 3,
    # Backoff before restart n is base * 2**(n-1), capped.
    "WEIR_RESTART_BACKOFF_SECONDS": 1.0,
    "WEIR_RESTART_BACKOFF_MAX_SECONDS": 30.0,
    # Running this long after the last restart resets the crash counter.
    "WEIR_STEADY_SECONDS": 60.0,
    # A queued task nobody claimed for this long is queued again (e.g. the broker lost it).
    "WEIR_PENDING_TIMEOUT_SECONDS": 120.0,
    "WEIR_COMMIT_INTERVAL_MS": 1000,
}


def get(name: str) -> float:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if value is None:
        return DEFAULTS[name]
    return float(value)
