"""What ``manage.py sql`` and ``manage.py apply_sql`` share: the user, the session, printing.

Errors are printed as ksqlDB's CLI prints them, with where: ``line 2, column 15, at 'FOO':
...`` and the statement.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from processing.ksqldb_entities import entity
from processing.sqlengine.results import Result, StatementFailed
from processing.sqlengine.session import Session
from processing.sqlengine.tabular import render

OUTPUTS = ("tabular", "json")


def resolve_user(username: str | None) -> Any:
    """``--user``, or the only superuser when there is exactly one."""
    users = get_user_model().objects
    if username:
        user = users.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user named {username!r}")
        return user
    superusers = list(users.filter(is_superuser=True, is_active=True)[:2])
    if len(superusers) != 1:
        raise CommandError("say which user runs the statements: --user USERNAME")
    return superusers[0]


def parse_defines(defines: list[str] | None) -> dict[str, str]:
    variables = {}
    for item in defines or []:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise CommandError(f"--define takes NAME=VALUE, not {item!r}")
        variables[name.strip().upper()] = value
    return variables


def new_session(defines: list[str] | None, script: str | None = None) -> Session:
    return Session(
        variables=parse_defines(defines),
        cli=True,
        script_dir=Path(script).resolve().parent if script else Path.cwd(),
    )


def read_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None


def format_results(results: list[Result], output: str) -> str:
    if output == "json":
        return json.dumps([e for e in (entity(r) for r in results) if e is not None], indent=2)
    return "\n".join(text for text in (render(r) for r in results) if text)


def format_error(failed: StatementFailed) -> str:
    text = failed.message
    if failed.statement_text:
        text += f"\nStatement: {failed.statement_text}"
    return text
