"""``manage.py validate_topology FILE.json``: compile a document and report, for people or CI.

Exit status 0 when the document compiles (describe() is printed), 1 when it does not (every
issue is printed with its code, node id, field and message).
"""

import json
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from topology import actions


def read_document(path: str) -> tuple[Any, list[dict[str, Any]]]:
    """Load a JSON document from ``path`` (``-`` for stdin).

    Returns ``(document, [])``, or ``(None, [issue])`` when the text is not JSON, so a syntax
    error is reported like any other issue, with its line and column.
    """
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if path == "-":
        raw = sys.stdin.buffer.read(limit + 1)
    else:
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"{path}: no such file.")
        with file.open("rb") as handle:
            raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise CommandError(f"{path}: larger than the limit of {limit} bytes.")
    try:
        return json.loads(raw), []
    except UnicodeDecodeError as exc:
        message = f"The file is not UTF-8: invalid byte at position {exc.start}."
        return None, [_file_issue("json_encoding", message, exc.start)]
    except json.JSONDecodeError as exc:
        message = f"Malformed JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        return None, [_file_issue("json_syntax", message, exc.pos)]


def _file_issue(code: str, message: str, position: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "node_id": None,
        "edge_id": None,
        "field": None,
        "position": position,
        "severity": "error",
    }


def format_issue(issue: dict[str, Any]) -> str:
    where = []
    for label, key in (
        ("node", "node_id"),
        ("edge", "edge_id"),
        ("field", "field"),
        ("position", "position"),
    ):
        if issue.get(key) is not None:
            where.append(f"{label}={issue[key]}")
    location = f" [{' '.join(where)}]" if where else ""
    return f"{issue.get('severity', 'error')} {issue['code']}{location}: {issue['message']}"


class Command(BaseCommand):
    help = "Compile a topology document. Exit 0 and print the plan when valid; exit 1 and print every issue."

    def add_arguments(self, parser):
        parser.add_argument("file", help="Path to the topology document (JSON), or - for stdin.")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, **options):
        document, issues = read_document(options["file"])
        if issues:
            result = {"ok": False, "issues": issues, "describe": None, "plan_hash": None}
        else:
            validation = actions.validate_document(document)
            result = {
                "ok": validation.ok,
                "issues": validation.issues,
                "describe": validation.describe(),
                "plan_hash": validation.plan_hash,
            }
        if options["format"] == "json":
            self.stdout.write(json.dumps(result, indent=2))
        else:
            for issue in result["issues"]:
                self.stdout.write(format_issue(issue))
            if result["ok"]:
                self.stdout.write(result["describe"])
            else:
                errors = sum(1 for i in result["issues"] if i.get("severity", "error") == "error")
                self.stderr.write(f"{options['file']}: {errors} error(s); the document does not compile.")
        if not result["ok"]:
            sys.exit(1)
