"""``execute(text, user, session)``: run a script's statements in order, as ``user``.

The script is parsed whole first (``topology.sql.parse_script`` with the session's variables),
so a syntax error anywhere runs nothing. Then each statement runs in its own transaction:
a statement that fails leaves nothing half made (topics are created last, inside it, so a
refused topic rolls the rows back), and raises ``StatementFailed`` carrying the results of the
statements before it, which stay done, as in ksqlDB.

Statements are dispatched by type to the handlers of ddl.py (sources), queries.py
(persistent queries) and here (SHOW, DESCRIBE, session statements).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction

from processing import push
from processing.actions import ActionError
from processing.sqlengine import ddl, queries
from processing.sqlengine.catalog import UserCatalog, functions, query_info, source_info
from processing.sqlengine.results import (
    FunctionDescription,
    FunctionList,
    PropertyList,
    QueryInfo,
    QueryList,
    Result,
    SessionChange,
    SourceDescription,
    SourceList,
    StatementFailed,
    TopicList,
    VariableList,
)
from processing.sqlengine.session import CHOICES, DEFAULT_PROPERTIES, Session
from processing.sqlengine.topics import TopicsUnavailable
from topology.actions import TopologyError
from topology.sql import SqlError, parse_script
from topology.sql import ast as sql
from topology.sql.catalog import error_at

logger = logging.getLogger(__name__)

QUERY_ENDPOINT_MESSAGE = (
    "The following statement types should be issued to the websocket endpoint '/query':\n"
    "\t* PRINT\n\t* SELECT"
)
# Topics SHOW TOPICS leaves out, as ksqlDB hides its internal ones: Kafka's own (leading '_')
# and the internal topics of the applications that run persistent queries.
HIDDEN_TOPIC_PREFIXES = ("_", "weir_query_")
MAX_SCRIPT_DEPTH = 8


def execute(text: str, user: Any, session: Session | None = None, *, _depth: int = 0) -> list[Result]:
    """The results of ``text``'s statements; raises ``StatementFailed`` at the first failure."""
    session = session if session is not None else Session()
    results: list[Result] = []
    for statement in parse(text, session):
        try:
            results.extend(run_statement(statement, user, session, _depth=_depth))
        except StatementFailed as failed:
            raise StatementFailed(failed.error, failed.statement_text, results + failed.results) from None
    return results


def parse(text: str, session: Session) -> tuple[sql.Statement, ...]:
    """The script's statements, parsed with the session's variables (StatementFailed if not)."""
    try:
        return parse_script(text, session.variables).statements
    except SqlError as error:
        raise StatementFailed(error, error.statement or text, []) from None


def run_statement(statement: sql.Statement, user: Any, session: Session, *, _depth: int = 0) -> list[Result]:
    """One parsed statement's results (more than one for RUN SCRIPT); StatementFailed if it fails."""
    try:
        return _run(statement, user, session, _depth)
    except SqlError as error:
        raise StatementFailed(error, statement.text, []) from None
    except IntegrityError:
        # Two sessions created the same name at once; the later one's transaction rolled back.
        error = error_at(
            statement.span,
            "another statement created the same name at the same moment; nothing was created, run it again",
            _first_word(statement),
            code="sql.execution",
        )
        raise StatementFailed(error, statement.text, []) from None
    except (TopicsUnavailable, ActionError, TopologyError) as exc:
        message = getattr(exc, "message", str(exc))
        issues = getattr(exc, "issues", None)
        if issues:
            message += " " + "; ".join(str(i.get("message", "")) for i in issues[:5])
        error = error_at(statement.span, message, _first_word(statement), code="sql.execution")
        raise StatementFailed(error, statement.text, []) from None


def _run(statement: sql.Statement, user: Any, session: Session, depth: int) -> list[Result]:
    if not getattr(user, "is_authenticated", False):
        raise error_at(statement.span, "statements run as a signed-in user", _first_word(statement))
    if isinstance(statement, sql.RunScript):
        return _run_script(statement, user, session, depth)
    handler = HANDLERS.get(type(statement))
    if handler is None:
        raise error_at(
            statement.span, f"{type(statement).__name__} statements are not built yet", _first_word(statement)
        )
    with transaction.atomic():
        result = handler(statement, user, session)
    return [result]


def _first_word(statement: sql.Statement) -> str:
    return statement.text.split(None, 1)[0] if statement.text.split() else ""


# --- session statements ----------------------------------------------------------------------


def _set(statement: sql.SetProperty, user: Any, session: Session) -> Result:
    name, value = statement.name, statement.value
    allowed = CHOICES.get(name)
    if allowed is not None and value.lower() not in allowed:
        raise error_at(
            statement.span, f"{name} must be one of {', '.join(allowed)}, not {value!r}", repr(value)
        )
    session.properties[name] = value
    return SessionChange(
        statement_text=statement.text,
        message=f"Successfully changed local property '{name}' to '{value}'. "
        "Use the UNSET command to revert your change.",
    )


def _unset(statement: sql.UnsetProperty, user: Any, session: Session) -> Result:
    if statement.name not in session.properties:
        raise error_at(statement.span, f"Property '{statement.name}' is not set", repr(statement.name))
    old = session.properties.pop(statement.name)
    return SessionChange(
        statement_text=statement.text,
        message=f"Successfully unset local property '{statement.name}' (value was '{old}').",
    )


def _define(statement: sql.Define, user: Any, session: Session) -> Result:
    session.variables[statement.name] = statement.value
    return SessionChange(statement_text=statement.text, message=f"Defined variable {statement.name}.")


def _undefine(statement: sql.Undefine, user: Any, session: Session) -> Result:
    if statement.name not in session.variables:
        # ksqlDB answers a warning here, not an error.
        return SessionChange(
            statement_text=statement.text,
            message=f"Cannot undefine variable '{statement.name}' which was never defined",
            warnings=(f"Cannot undefine variable '{statement.name}' which was never defined",),
        )
    session.variables.pop(statement.name)
    return SessionChange(statement_text=statement.text, message=f"Undefined variable {statement.name}.")


def _run_script(statement: sql.RunScript, user: Any, session: Session, depth: int) -> list[Result]:
    if not session.cli:
        raise error_at(
            statement.span,
            "RUN SCRIPT cannot be used with the REST API: it reads a file on the client; "
            "send the script's statements in 'ksql' instead (or use manage.py sql --file)",
            "RUN",
        )
    if depth >= MAX_SCRIPT_DEPTH:
        raise error_at(statement.span, f"RUN SCRIPT nests more than {MAX_SCRIPT_DEPTH} deep", statement.path)
    path = Path(statement.path)
    if not path.is_absolute():
        path = session.script_dir / path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error_at(
            statement.span, f"cannot read script {statement.path!r}: {exc}", statement.path
        ) from None
    return execute(text, user, session, _depth=depth + 1)


# --- SHOW, DESCRIBE ---------------------------------------------------------------------------


def _show(statement: sql.Show, user: Any, session: Session) -> Result:
    what = statement.what
    catalog = UserCatalog(user)
    if what in (sql.ShowWhat.STREAMS, sql.ShowWhat.TABLES):
        from topology.models import SqlSource

        kind = "STREAM" if what is sql.ShowWhat.STREAMS else "TABLE"
        entries = SqlSource.objects.visible_to(user).filter(kind=kind).order_by("name")
        return SourceList(
            statement_text=statement.text,
            kind=kind,
            sources=tuple(source_info(e, with_queries=statement.extended) for e in entries),
            extended=statement.extended,
        )
    if what is sql.ShowWhat.QUERIES:
        return QueryList(
            statement_text=statement.text,
            queries=(
                *(query_info(q, with_plan=statement.extended) for q in catalog.queries()),
                *push_query_infos(),
            ),
            extended=statement.extended,
        )
    if what is sql.ShowWhat.TOPICS:
        replicas = session.topics.replicas()
        shown = sorted(
            (name, tuple(counts))
            for name, counts in replicas.items()
            if not name.startswith(HIDDEN_TOPIC_PREFIXES)
        )
        return TopicList(statement_text=statement.text, topics=tuple(shown), extended=statement.extended)
    if what is sql.ShowWhat.PROPERTIES:
        merged = {**DEFAULT_PROPERTIES, **{k: str(v) for k, v in session.properties.items()}}
        return PropertyList(
            statement_text=statement.text,
            properties=dict(sorted(merged.items())),
            overwritten=tuple(sorted(session.properties)),
            defaults=tuple(sorted(set(DEFAULT_PROPERTIES) - set(session.properties))),
        )
    if what is sql.ShowWhat.VARIABLES:
        return VariableList(statement_text=statement.text, variables=dict(sorted(session.variables.items())))
    return FunctionList(statement_text=statement.text, functions=tuple(functions()))


def _describe(statement: sql.Describe, user: Any, session: Session) -> Result:
    name = statement.name.value
    if statement.function:
        found = next((f for f in functions() if f.name == name.upper()), None)
        if found is None:
            raise error_at(
                statement.name.span, f"Can't find any functions with the name '{name}'", statement.name.text
            )
        return FunctionDescription(statement_text=statement.text, function=found)
    entry = UserCatalog(user).entry(name)
    if entry is None:
        raise error_at(
            statement.name.span,
            f"Could not find STREAM/TABLE '{name}' in the Metastore",
            statement.name.text,
        )
    return SourceDescription(
        statement_text=statement.text, source=source_info(entry), extended=statement.extended
    )


def _refuse_query(statement: sql.Statement, user: Any, session: Session) -> Result:
    raise error_at(statement.span, QUERY_ENDPOINT_MESSAGE, _first_word(statement), code="sql.endpoint")


HANDLERS: dict[type, Callable[[Any, Any, Session], Result]] = {
    sql.SetProperty: _set,
    sql.UnsetProperty: _unset,
    sql.Define: _define,
    sql.Undefine: _undefine,
    sql.Show: _show,
    sql.Describe: _describe,
    sql.Select: _refuse_query,
    sql.CreateSource: ddl.create_source,
    sql.Drop: ddl.drop,
    sql.InsertValues: ddl.insert_values,
    sql.CreateAsSelect: queries.create_as_select,
    sql.InsertIntoSelect: queries.insert_into_select,
    sql.Terminate: queries.terminate,
    sql.Explain: queries.explain,
}


def push_query_infos() -> tuple[QueryInfo, ...]:
    """The push queries running in this process (Daphne's: the REST /query ones), as ksqlDB's
    SHOW QUERIES lists transient queries."""
    return tuple(
        QueryInfo(
            query_id=q.query_id,
            statement=q.translation.document.get("description") or "",
            sinks=(),
            sink_topics=(),
            reads=tuple(q.translation.reads),
            state="RUNNING",
            query_type="PUSH",
        )
        for q in push.running_queries()
    )
