"""Command ids and sequence numbers, as ksqlDB gives them to statements that change things.

A command id is ``<stream|table|terminate>/<entity>/<action>`` (``stream/`PAGEVIEWS`/create``,
``terminate/CSAS_X_3/execute``); the sequence number is the row's id in ``SqlCommand``, so
``GET /ksqldb/status/{commandId}`` can answer for it later.
"""

from __future__ import annotations

from typing import Any

from processing.sqlengine.results import CommandResult
from topology.models import SqlCommand


def reserve(statement_text: str, user: Any) -> SqlCommand:
    """A command row made first, so its id can number a query (``CSAS_X_<id>``)."""
    return SqlCommand.objects.create(command_id="", statement=statement_text, owner=user)


def finish(
    command: SqlCommand,
    command_id: str,
    message: str,
    *,
    query_id: str | None = None,
    warnings: tuple[str, ...] = (),
) -> CommandResult:
    command.command_id = command_id
    command.message = message
    command.save(update_fields=["command_id", "message"])
    return CommandResult(
        statement_text=command.statement,
        command_id=command_id,
        message=message,
        sequence=command.pk,
        query_id=query_id,
        warnings=warnings,
    )


def record(statement_text: str, user: Any, command_id: str, message: str, **options: Any) -> CommandResult:
    return finish(reserve(statement_text, user), command_id, message, **options)


def source_command_id(kind: str, name: str, action: str) -> str:
    return f"{kind.lower()}/`{name}`/{action}"


def status(command_id: str, user: Any) -> SqlCommand | None:
    """The latest command of that id that ``user`` issued (staff: anyone's)."""
    commands = SqlCommand.objects.filter(command_id=command_id)
    if not getattr(user, "is_staff", False):
        commands = commands.filter(owner=user)
    return commands.order_by("-id").first()
