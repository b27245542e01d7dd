"""Celery tasks. They take ids only and are queued on commit, by name (processing/queue.py).

``run_instance`` is a long-running task on the ``streams`` queue (routed in settings): it hosts
one instance of a deployment until its stop flag says otherwise. It is acknowledged when it
starts (``acks_late=False``): a worker lost mid-run must not make the broker redeliver it after
a visibility timeout, because the reconciler decides restarts, with a new epoch. It has no time
limits, and it is never revoked with ``terminate=True``: stopping is cooperative.
"""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="processing.tasks.run_instance",
    acks_late=False,
    time_limit=None,
    soft_time_limit=None,
    ignore_result=True,
    bind=True,
)
def run_instance(self, deployment_id: int, slot: int, epoch: int) -> str:
    from processing.runner import InstanceRunner

    return InstanceRunner(deployment_id, slot, epoch, task_id=self.request.id or "").run()


@shared_task(name="processing.tasks.reconcile", ignore_result=True)
def reconcile() -> int:
    from processing.reconcile import reconcile_all

    return reconcile_all()
