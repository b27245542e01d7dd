"""Receivers of processing's model signals, connected in ``DashboardConfig.ready()``.

processing knows nothing of dashboards; the dashboards follow its deployments from here:

- a new deployment gets its default dashboard (one table widget per view);
- a deleted deployment's live state (serving tables, monitor hash) leaves Redis.
"""

from __future__ import annotations

import logging

from django.db.models.signals import post_delete, post_save

from dashboard.actions import ensure_default_dashboard
from dashboard.serving import clear_deployment

log = logging.getLogger(__name__)


def create_default_dashboard(sender, instance, created, raw=False, **kwargs) -> None:
    # Fixtures (raw) load dashboards themselves.
    if created and not raw:
        ensure_default_dashboard(instance)


def forget_live_state(sender, instance, **kwargs) -> None:
    try:
        clear_deployment(instance.pk)
    except Exception:  # Redis down: the keys are only a cache of the runtime's state
        log.warning("could not clear live state of deployment %s", instance.pk)


def connect() -> None:
    post_save.connect(
        create_default_dashboard, sender="processing.Deployment", dispatch_uid="weir-default-dashboard"
    )
    post_delete.connect(
        forget_live_state, sender="processing.Deployment", dispatch_uid="weir-forget-live-state"
    )
