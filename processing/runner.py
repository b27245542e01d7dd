"""One deployment instance inside a Celery worker process.

``InstanceRunner.run()`` claims the slot's lease, starts a *warden* thread, and runs the Kafka
loop in the calling thread until the warden raises the stop flag. The warden keeps every
database write off the hot loop: it writes the heartbeat (with the latest status and assigned
partitions the runtime reported through the event sink) and reads the stop flag about once a
second. The runtime thread only flips in-memory fields.

Kafka clients are created inside ``run()`` by the loop, i.e. in the worker child after the
fork: librdkafka is not fork-safe.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils.module_loading import import_string

from processing import conf, leases
from processing.models import Deployment, InstanceStatus
from processing.status import refresh_status

log = logging.getLogger(__name__)

RUNTIME_STATUSES = {s.value for s in InstanceStatus}


class InstanceState:
    """What the runtime last reported; written by the runtime thread, read by the warden."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.status: str = InstanceStatus.STARTING
        self.partitions: list = []
        self.error: str | None = None
        self.dirty = threading.Event()

    def update(self, *, status: str | None = None, partitions: list | None = None, error: str | None = None):
        with self.lock:
            if status is not None and status != self.status:
                self.status = status
                self.dirty.set()
            if partitions is not None and partitions != self.partitions:
                self.partitions = partitions
                self.dirty.set()
            if error:
                self.error = error

    def read(self) -> tuple[str, list, str | None]:
        with self.lock:
            return self.status, list(self.partitions), self.error


class StateSink:
    """Event sink feeding InstanceState: status transitions and assigned partitions."""

    def __init__(self, state: InstanceState) -> None:
        self.state = state

    def emit(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "status":
            status = event.get("status")
            if status in RUNTIME_STATUSES:
                self.state.update(status=status, error=event.get("error"))
        elif kind == "metrics" and "partitions" in event:
            self.state.update(partitions=sorted([str(t), int(p)] for t, p in event["partitions"]))
        elif kind == "assignment" and "partitions" in event:
            self.state.update(partitions=sorted([str(t), int(p)] for t, p in event["partitions"]))
        elif kind == "error" and event.get("policy") == "fail":
            self.state.update(
                error=f"{event.get('error_class')}: {event.get('message')} "
                f"at {event.get('topic')}[{event.get('partition')}]@{event.get('offset')}"
                f" (node {event.get('node_id')})"
            )


class FanOutSink:
    def __init__(self, *sinks) -> None:
        self.sinks = [s for s in sinks if s is not None]

    def emit(self, event: dict[str, Any]) -> None:
        for sink in self.sinks:
            try:
                sink.emit(event)
            except Exception:  # a broken reporter must never stop processing
                log.exception("event sink %r failed on %s", sink, event.get("type"))

    def close(self) -> None:
        for sink in self.sinks:
            close = getattr(sink, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception:
                log.exception("event sink %r failed to close", sink)


def event_sinks(deployment_id: int, slot: int) -> list:
    """The sinks ``settings.WEIR_EVENT_SINKS`` names, one per instance.

    Each entry is a dotted path to a class (or factory) called with ``(deployment_id, slot)``,
    imported here, when an instance starts: processing names no app above it (the dashboards'
    publisher is ``dashboard.publisher.DeploymentEventSink``). A sink that cannot be created is
    logged and left out; the instance runs without it.
    """
    sinks = []
    for path in getattr(settings, "WEIR_EVENT_SINKS", ()):
        try:
            sinks.append(import_string(path)(deployment_id, slot))
        except Exception:
            log.exception("could not create the event sink %s", path)
    return sinks


@runtime_checkable
class ViewTickChooser(Protocol):
    """A configured event sink that also chooses each view's tick (the dashboards' publisher
    does, by how many sockets watch the view)."""

    def view_interval_s(self, view: str) -> float | None: ...


def view_tick_of(sinks) -> Callable[[str], float | None] | None:
    """The view tick the loop asks at every flush of a view: the first configured sink that is
    a ``ViewTickChooser`` chooses it; None (no such sink) leaves the runtime's default."""
    chooser = next((sink for sink in sinks if isinstance(sink, ViewTickChooser)), None)
    if chooser is None:
        return None

    def view_tick(view: str) -> float | None:
        try:
            return chooser.view_interval_s(view)
        except Exception:
            log.exception("the dashboards could not choose a tick for view %s", view)
            return None

    return view_tick


class Warden(threading.Thread):
    def __init__(self, lease: leases.Lease, state: InstanceState) -> None:
        super().__init__(name=f"warden-{lease.deployment_id}-{lease.slot}", daemon=True)
        self.lease = lease
        self.state = state
        self.stop_requested = threading.Event()
        self.finished = threading.Event()
        self.reason: str | None = None
        self.heartbeat_every = conf.get("WEIR_HEARTBEAT_SECONDS")
        self.check_every = conf.get("WEIR_STOP_CHECK_SECONDS")

    def run(self) -> None:
        last_beat = 0.0
        last_check = 0.0
        try:
            while not self.finished.is_set():
                now = time.monotonic()
                dirty = self.state.dirty.is_set()
                try:
                    if dirty or now - last_beat >= self.heartbeat_every:
                        self.state.dirty.clear()
                        status, partitions, _ = self.state.read()
                        if not leases.beat(self.lease, status=status, partitions=partitions):
                            self.request_stop("the slot was taken over")
                        last_beat = now
                        if dirty:
                            refresh_status(self.lease.deployment_id)
                    if now - last_check >= self.check_every:
                        reason = leases.stop_reason(self.lease)
                        if reason:
                            self.request_stop(reason)
                        last_check = now
                except Exception:  # the database may be briefly locked; try again next round
                    log.exception("warden round failed")
                self.state.dirty.wait(min(self.heartbeat_every, self.check_every) / 2)
        finally:
            connection.close()

    def request_stop(self, reason: str) -> None:
        if not self.stop_requested.is_set():
            log.info("instance %s stopping: %s", self.lease, reason)
            self.reason = reason
            self.stop_requested.set()


def kafka_config() -> dict[str, str]:
    return dict(settings.KAFKA_CLIENT_CONFIG)


class InstanceRunner:
    def __init__(self, deployment_id: int, slot: int, epoch: int, task_id: str = "", run_loop=None) -> None:
        """``run_loop`` defaults to the Kafka loop; anything with its signature fits (tests pass
        a broker-free loop to exercise leases and the warden)."""
        self.lease = leases.Lease(deployment_id, slot, epoch)
        self.task_id = task_id or ""
        self.run_loop = run_loop

    def run(self) -> str:
        """Returns how the instance ended: "stale", "stopped" or "failed"."""
        from topology.compiler.plan import plan_from_dict

        close_old_connections()
        if not leases.claim(self.lease, host=socket.gethostname(), pid=os.getpid(), task_id=self.task_id):
            log.info("instance %s: stale epoch or already claimed, exiting", self.lease)
            return "stale"
        deployment = Deployment.objects.select_related("version").get(pk=self.lease.deployment_id)
        refresh_status(deployment.pk)
        state = InstanceState()
        warden = Warden(self.lease, state)
        warden.start()
        outcome, error = "stopped", ""
        sinks = event_sinks(deployment.pk, self.lease.slot)
        events = FanOutSink(StateSink(state), *sinks)
        try:
            plan = plan_from_dict(_plan_data(deployment.version))
            run_loop = self.run_loop
            if run_loop is None:
                from processing.runtime.kafka.loop import run as run_loop

            run_loop(
                plan,
                app_id=deployment.app_id,
                kafka_config=kafka_config(),
                guarantee=deployment.guarantee,
                error_policy=deployment.error_policy,
                events=events,
                should_stop=warden.stop_requested.is_set,
                instance_slot=self.lease.slot,
                commit_interval_ms=int(conf.get("WEIR_COMMIT_INTERVAL_MS")),
                view_tick=view_tick_of(sinks),
            )
            status, _, reported = state.read()
            if status == InstanceStatus.FAILED:
                outcome, error = "failed", reported or "the runtime stopped in a failed state"
        except Exception as exc:
            log.exception("instance %s crashed", self.lease)
            outcome, error = "failed", state.read()[2] or f"{type(exc).__name__}: {exc}"
        finally:
            events.close()
            warden.finished.set()
            warden.state.dirty.set()
            warden.join(timeout=10)
        leases.release(
            self.lease,
            status=InstanceStatus.FAILED if outcome == "failed" else InstanceStatus.STOPPED,
            error=error[:4000],
        )
        refresh_status(self.lease.deployment_id)
        return outcome


def _plan_data(version) -> dict:
    plan = version.plan
    if isinstance(plan, str | bytes):
        import orjson

        plan = orjson.loads(plan)
    return plan
