"""The phases of one instance, and which follows which.

STARTING → RUNNING → SHUTTING_DOWN → STOPPED, or FAILED from any of them. What a rebalance
callback does depends on the phase (rebalance.py): while RUNNING a revoke checkpoints and
reports ``rebalancing``; SHUTTING_DOWN (the consumer's close() revokes everything) it still
checkpoints but reports no status; FAILED it must not checkpoint a half-processed batch.
"""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    STARTING = "starting"  # creating clients and topics; not yet subscribed
    RUNNING = "running"  # the loop runs: a rebalance checkpoints and reports its status
    SHUTTING_DOWN = "shutting_down"  # clean stop: a revoke still checkpoints, reports no status
    FAILED = "failed"  # stopping on a failure: a revoke must not checkpoint a half-processed batch
    STOPPED = "stopped"


ALLOWED_PHASES: dict[Phase, frozenset[Phase]] = {
    Phase.STARTING: frozenset({Phase.RUNNING, Phase.FAILED}),
    Phase.RUNNING: frozenset({Phase.SHUTTING_DOWN, Phase.FAILED}),
    Phase.SHUTTING_DOWN: frozenset({Phase.STOPPED, Phase.FAILED}),
    Phase.FAILED: frozenset(),
    Phase.STOPPED: frozenset(),
}


class IllegalPhaseChange(RuntimeError):
    pass


def check_phase(current: Phase, target: Phase) -> Phase:
    if target not in ALLOWED_PHASES[current]:
        raise IllegalPhaseChange(f"instance phase {current.name} → {target.name} is not allowed")
    return target
