"""Queueing Celery tasks on commit, by name.

Leaf module: callers (processing/actions.py, processing/reconcile.py) queue work without
importing processing/tasks.py, whose tasks import the runner and the supervisor in turn. A
task is sent once the transaction that wrote the rows it reads commits, so it never reads a
row that is not there yet (or that a rollback removed). Tasks take ids only.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction

# The names processing/tasks.py registers (and settings.CELERY_TASK_ROUTES routes).
RUN_INSTANCE = "processing.tasks.run_instance"
RECONCILE = "processing.tasks.reconcile"


def _send(name: str, args: tuple = ()) -> None:
    # The project's app (config/celery.py, loaded with Django); routes apply to names too.
    current_app.send_task(name, args=args)


def queue_instance(deployment_id: int, slot: int, epoch: int) -> None:
    """Queue the instance task once the transaction that gave the slot its epoch commits."""
    transaction.on_commit(lambda: _send(RUN_INSTANCE, (deployment_id, slot, epoch)))


def queue_reconcile() -> None:
    """Ask for a reconcile pass now instead of at the next beat (actions call this)."""
    transaction.on_commit(lambda: _send(RECONCILE))
