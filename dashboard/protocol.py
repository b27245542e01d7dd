"""The live protocol (version 1): versioned JSON frames with prefixed types, one socket per page
at ``/ws/live/`` (dashboard/consumers.py), frames fanned out by the process's hub (dashboard/hub.py).

Server -> browser::

    {"v": 1, "type": "view.snapshot", "deployment", "view", "seq", "generation", "windowed", "rows": [{"key", "value"}]}
    {"v": 1, "type": "view.delta",    "deployment", "view", "seq", "generation", "windowed", "at", "rows": [...]}
        value null = the key was deleted (a tombstone); a delta merged by a busy hub carries
        "first_seq" and covers first_seq..seq with the latest row per key
    {"v": 1, "type": "monitor.snapshot", "deployment", "slots": {slot: state}}
    {"v": 1, "type": "monitor.event",    "deployment", "slot", "at", "event", "state"}
    {"v": 1, "type": "live.pong"}                       the answer to a live.ping
    {"v": 1, "type": "live.resync",      "reason"}     the server lost its feed: snapshots follow
    {"v": 1, "type": "live.error",       "reason", "request"}   then the socket closes (below)

Browser -> server::

    {"v": 1, "type": "view.subscribe", "deployment", "view"}    answered by a view.snapshot
    {"v": 1, "type": "view.snapshot_request", "deployment", "view"}   resync after a gap
    {"v": 1, "type": "view.unsubscribe", "deployment", "view"}
    {"v": 1, "type": "monitor.subscribe", "deployment"}          answered by a monitor.snapshot
    {"v": 1, "type": "live.ping"}                                answered by a live.pong

A subscription is confirmed by its snapshot, not by a frame of its own. The client subscribes
first, then applies the snapshot and every delta whose seq (first_seq when present) is exactly
one more than the last applied; deltas at or below the snapshot's seq are dropped; a delta
further ahead, or one of another generation (Redis lost the table and the reporters wrote it
again), is a gap and triggers a snapshot request.

Close codes: 4401 (not signed in), 4403 (not allowed to see that deployment or view) and 4400
(a malformed or unknown frame, too many subscriptions) are final; the browser does not
reconnect. Any other close — a restarted server, a lost network, or a socket dropped because
it stopped reading and its unsent bytes passed ``WEIR_LIVE_MAX_UNSENT_BYTES`` (1006,
dashboard/wire.py) — makes the browser reconnect with backoff and subscribe again, which
brings fresh snapshots.
"""

from __future__ import annotations

from typing import Any

import orjson

PROTOCOL_VERSION = 1


def encode_frame(frame: dict[str, Any]) -> str:
    return orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS).decode()


def row_key(key: Any) -> str:
    """Canonical text of a row key (windowed keys are dicts): the field name in the serving hash."""
    return orjson.dumps(key, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS).decode()
