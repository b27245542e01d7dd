"""The stack's health: Kafka, Redis, the database and Celery workers per queue.

Every entry is ``{"ok": bool, "error": str | None, ...details}``; the report's ``ok`` is true
only when all are. ``/api/health`` answers without a login, so anonymous callers get
``public_summary`` of the report (verdicts only); signed-in users get all of it. Each check opens its own connection and closes it, so a Redis that died
and came back is seen as it is now, never through a cached dead connection. The checks run
in parallel and each is bounded, so the page answers within a few seconds even when
everything is down.
"""

from __future__ import annotations

import concurrent.futures
from datetime import UTC, datetime
from typing import Any

import redis
from django.conf import settings
from django.db import connection

from processing.runtime.kafka.health import cluster_health

# Long enough for a loaded single-node broker to answer DescribeCluster, short enough that
# a status page with everything down still renders promptly.
KAFKA_TIMEOUT_S = 3.0
REDIS_TIMEOUT_S = 2.0
# Workers answer a broadcast inspect within milliseconds; a second covers a busy machine.
CELERY_INSPECT_TIMEOUT_S = 1.0
# Backstop for a check that hangs in a library call despite its own timeout.
CHECK_DEADLINE_S = 8.0
CELERY_QUEUES = ("control", "streams")


def check_kafka() -> dict[str, Any]:
    return cluster_health(settings.KAFKA_CLIENT_CONFIG, timeout=KAFKA_TIMEOUT_S)


def check_redis() -> dict[str, Any]:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=REDIS_TIMEOUT_S, socket_timeout=REDIS_TIMEOUT_S
    )
    try:
        info = client.info("server")
        return {"ok": True, "error": None, "version": info.get("redis_version")}
    except redis.RedisError as exc:
        return {"ok": False, "error": f"Redis at {_redacted(settings.REDIS_URL)}: {exc}", "version": None}
    finally:
        client.close()


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return {"ok": True, "error": None, "vendor": connection.vendor}
    except Exception as exc:  # any driver error is a red entry with its message
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "vendor": connection.vendor}
    finally:
        # Checks run in pool threads: each thread's connection would otherwise stay open.
        connection.close()


def check_celery() -> dict[str, Any]:
    # The project's app (config/celery.py, loaded with Django): dashboard does not import config.
    from celery import current_app as app

    queues: dict[str, dict[str, Any]] = {name: {"ok": False, "workers": []} for name in CELERY_QUEUES}
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=REDIS_TIMEOUT_S)
            replies = (
                app.control.inspect(timeout=CELERY_INSPECT_TIMEOUT_S, connection=conn).active_queues() or {}
            )
    except Exception as exc:  # broker unreachable: kombu raises several error types
        return {"ok": False, "error": f"Celery broker unreachable: {exc}", "queues": queues}
    for node, consumed in sorted(replies.items()):
        for queue in consumed or []:
            entry = queues.setdefault(queue["name"], {"ok": False, "workers": []})
            entry["workers"].append(node)
    for entry in queues.values():
        entry["ok"] = bool(entry["workers"])
    idle = [name for name in CELERY_QUEUES if not queues[name]["ok"]]
    return {
        "ok": not idle,
        "error": f"no worker consumes queue(s): {', '.join(idle)}" if idle else None,
        "queues": queues,
    }


CHECKS = {"kafka": check_kafka, "redis": check_redis, "database": check_database, "celery": check_celery}


def collect_health() -> dict[str, Any]:
    report: dict[str, Any] = {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="health")
    try:
        futures = {name: pool.submit(check) for name, check in CHECKS.items()}
        for name, future in futures.items():
            try:
                report[name] = future.result(timeout=CHECK_DEADLINE_S)
            except concurrent.futures.TimeoutError:
                report[name] = {"ok": False, "error": f"no answer within {CHECK_DEADLINE_S:.0f} s"}
            except Exception as exc:  # a bug in one check must not hide the others
                report[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return {
        "ok": all(entry["ok"] for entry in report.values()),
        "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **report,
    }


def public_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The verdicts only: enough for a load balancer or an uptime check.

    Broker hosts, the cluster id, versions, worker names and raw error text (which names hosts,
    ports and paths) map the deployment for an attacker, so they stay behind the login.
    """
    summary: dict[str, Any] = {
        "ok": report["ok"],
        "status": "ok" if report["ok"] else "degraded",
        "checked_at": report["checked_at"],
    }
    for name in CHECKS:
        ok = bool(report[name]["ok"])
        summary[name] = {"ok": ok, "status": "ok" if ok else "down"}
    return summary


def health_for(user: Any) -> dict[str, Any]:
    """The health report as ``user`` may see it: all of it when signed in, else the summary."""
    report = collect_health()
    return report if user.is_authenticated else public_summary(report)


def _redacted(url: str) -> str:
    """The URL without its password, for error messages shown on pages."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
