"""Read-side queries shared by the deployment pages, their API, the admin and the dashboards.

Reads that ask Kafka (``parallelism``) take their timeout as an argument: the caller knows how
long its page may wait. Write actions (processing/actions.py) never ask Kafka; they take what
they need from these reads as arguments.
"""

from __future__ import annotations

from typing import Any

from processing.models import Deployment

# How long a page (deployment detail, admin change page, a scale's warning) waits for Kafka's
# metadata answer: long enough for a broker on a LAN, short enough that a page with Kafka down
# still renders (with "partition counts unavailable") in a few seconds.
PAGE_METADATA_TIMEOUT_S = 3.0


def visible_deployments(user):
    """The deployments ``user`` may see: those of the topologies they own; staff see all."""
    deployments = Deployment.objects.select_related("version__topology")
    if user.is_staff:
        return deployments
    return deployments.filter(version__topology__owner=user)


def load_plan(version):
    """The version's stored execution plan, or None when it did not compile."""
    from topology.compiler.plan import plan_from_dict

    data = version.plan
    if not data:
        return None
    if isinstance(data, str | bytes):
        import orjson

        data = orjson.loads(data)
    return plan_from_dict(data)


def idle_instances_warning(instances: int, source_partitions: dict[str, int]) -> str | None:
    """Says how many instances will sit idle when they outnumber the widest source topic's
    partitions; None when they do not, or when no partition count is known."""
    counts = [n for n in source_partitions.values() if n]
    if not counts or instances <= max(counts):
        return None
    useful = max(counts)
    return (
        f"{instances} instances but the source topics have at most {useful} partition(s): "
        f"{instances - useful} instance(s) will sit idle. Add partitions to scale further."
    )


def parallelism(deployment: Deployment, *, timeout: float) -> dict[str, Any]:
    """Source partitions and a warning when instances outnumber them (extra instances idle).

    One Kafka metadata request that waits at most ``timeout`` seconds; Kafka down or slow
    gives no warning and an ``error`` that says why.
    """
    plan = load_plan(deployment.version)
    topics = list(plan.source_topics()) if plan else []
    info: dict[str, Any] = {"source_partitions": {}, "max_useful_instances": None, "warning": None}
    if not topics:
        return info
    try:
        from django.conf import settings

        from processing.runtime.kafka import admin

        partitions = admin.topic_partitions(dict(settings.KAFKA_CLIENT_CONFIG), topics, timeout=timeout)
    except Exception as exc:  # Kafka down or unreachable: no warning, say why
        info["error"] = f"partition counts unavailable: {exc}"
        return info
    partitions = {t: n for t, n in (partitions or {}).items() if n}
    info["source_partitions"] = partitions
    if partitions:
        info["max_useful_instances"] = max(partitions.values())
        info["warning"] = idle_instances_warning(deployment.instances, partitions)
    return info
