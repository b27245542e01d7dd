"""Run a topology headless against the configured Kafka until SIGTERM/SIGINT.

    python manage.py run_topology FILE.json --app-id ID [--guarantee at_least_once|exactly_once]
                                  [--error-policy dlq|skip|fail] [--instance-slot N]

FILE is a topology document (compiled here; issues are printed and the exit status is 1), or
with ``--plan`` an execution plan as written by ``plan_to_json``. Events are written to stdout
as one JSON object per line. Exit status: 0 after a clean stop, 1 when invalid or failed.

Restarting with the same application id resumes from the committed offsets and the changelog
state; several runners with the same application id (and different ``--instance-slot``) share
the partitions.

Fault injection for tests: ``--fault-after-produce-before-commit N`` (or the environment
variable ``WEIR_FAULT_AFTER_PRODUCE_BEFORE_COMMIT=N``) makes the process SIGKILL itself the N-th
time a checkpoint has produced its records but not yet committed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from processing.runtime.kafka.loop import run
from topology.compiler import naming
from topology.compiler.plan import Plan, plan_from_json

FAULT_ENV = "WEIR_FAULT_AFTER_PRODUCE_BEFORE_COMMIT"


class StdoutEventSink:
    """One JSON line per event; remembers the last status for the exit code."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.last_status: dict[str, Any] | None = None
        self.lock = threading.Lock()

    def emit(self, event: dict[str, Any]) -> None:
        if event.get("type") == "status":
            self.last_status = event
        line = orjson.dumps(event, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
        with self.lock:
            self.stream.write(line + "\n")
            self.stream.flush()


def kill_self_after(count: int, point: str = "after_produce_before_commit"):
    seen = 0

    def hook(reached: str) -> None:
        nonlocal seen
        if reached != point:
            return
        seen += 1
        if seen >= count:
            sys.stdout.flush()
            # SIGKILL, not exit: no finally blocks, no flush, no leave-group — a real crash.
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


class Command(BaseCommand):
    help = "Run a topology document against Kafka until SIGTERM/SIGINT."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", help="topology document (JSON), or an execution plan with --plan")
        parser.add_argument("--app-id", required=True, help="application id: identity of state and offsets")
        parser.add_argument("--guarantee", choices=["at_least_once", "exactly_once"], default="at_least_once")
        parser.add_argument("--error-policy", choices=["dlq", "skip", "fail"], default="fail")
        parser.add_argument("--instance-slot", type=int, default=0, help="distinct per concurrent runner")
        parser.add_argument("--commit-interval-ms", type=int, default=1000)
        parser.add_argument("--plan", action="store_true", help="FILE is an execution plan, not a document")
        parser.add_argument(
            "--fault-after-produce-before-commit", type=int, default=None, help=argparse.SUPPRESS
        )

    def handle(self, *args: Any, **options: Any) -> None:
        app_id = options["app_id"]
        if not naming.is_valid_app_id(app_id):
            raise CommandError(f"--app-id {app_id!r} must match {naming.APP_ID_PATTERN}")
        plan = self._load_plan(Path(options["file"]), as_plan=options["plan"])

        stop = threading.Event()

        def request_stop(signum: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)

        fault_after = options["fault_after_produce_before_commit"] or int(os.environ.get(FAULT_ENV, "0") or 0)
        sink = StdoutEventSink(self.stdout._out)
        run(
            plan,
            app_id=app_id,
            kafka_config=dict(settings.KAFKA_CLIENT_CONFIG),
            guarantee=options["guarantee"],
            error_policy=options["error_policy"],
            events=sink,
            should_stop=stop.is_set,
            instance_slot=options["instance_slot"],
            commit_interval_ms=options["commit_interval_ms"],
            fault_hook=kill_self_after(fault_after) if fault_after else None,
        )
        if sink.last_status and sink.last_status.get("status") == "failed":
            sys.exit(1)

    def _load_plan(self, path: Path, *, as_plan: bool) -> Plan:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc}") from exc
        if as_plan:
            try:
                return plan_from_json(raw)
            except (ValueError, KeyError, TypeError) as exc:
                raise CommandError(f"{path} is not an execution plan: {exc}") from exc
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise CommandError(f"{path} is not valid JSON: {exc}") from exc
        from topology.compiler import compile_document

        result = compile_document(document)
        if not result.ok:
            for issue in result.issues:
                data = issue.to_dict()
                where = ", ".join(
                    f"{k}={data[k]}" for k in ("node_id", "edge_id", "field", "position") if data.get(k)
                )
                self.stderr.write(
                    f"{data.get('severity', 'error')} {data['code']} [{where}]: {data['message']}"
                )
            sys.exit(1)
        return result.plan
