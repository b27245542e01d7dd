"""ksqlDB's REST wire format: every entity and error shape Weir's ``/ksqldb/`` answers with.

One module, so each statement that gets built adds its entity here (``currentStatus``,
``streams``, ``tables``, ``queries``, ``sourceDescription``, ...) and the views
(config/ksqldb.py) stay a thin layer of authentication, negotiation and serialisation.
It sits in ``processing`` because executing statements will need the SQL compiler
(topology) and deployments (processing); it imports no HTTP machinery.

Shapes follow ksqlDB's REST API (``KsqlServerInfo``, ``HealthCheckResponse``,
``KsqlErrorMessage``/``KsqlStatementErrorMessage``): field names and ``@type`` tags exactly
as ksqlDB clients read them. Differences from ksqlDB are listed in docs/sql.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from processing import sqlengine
from processing.ksqldb_entities import entity, with_semicolon
from processing.sqlengine import Session, StatementFailed
from processing.sqlengine import commands as sqlengine_commands
from processing.sqlengine.topics import KafkaTopics, Topics

# The ksqlDB release whose REST API /ksqldb/ follows (clients read it on connect).
KSQLDB_COMPATIBLE_VERSION = "0.29.0"
# ksqlDB's service id names a server cluster; ksqlDB's default is "default_".
KSQL_SERVICE_ID = sqlengine.SERVICE_ID

KSQL_V1_JSON = "application/vnd.ksql.v1+json"
KSQL_JSON = "application/vnd.ksql+json"
JSON = "application/json"
# What a response may be sent as, ksqlDB's own type first (the answer to */* or no Accept).
RESPONSE_MEDIA_TYPES = (KSQL_V1_JSON, JSON)
# What a request body may be sent as. Form and text/plain bodies are refused: browsers send
# those from other sites' pages without asking (docs/sql.md, "REST API and API keys").
REQUEST_MEDIA_TYPES = frozenset({KSQL_V1_JSON, KSQL_JSON, JSON})


class ErrorCode(IntEnum):
    """ksqlDB's error codes: the HTTP status times 100, plus a digit for the kind."""

    BAD_REQUEST = 40000
    BAD_STATEMENT = 40001
    UNAUTHORIZED = 40100
    FORBIDDEN = 40300
    NOT_FOUND = 40400
    METHOD_NOT_ALLOWED = 40500
    NOT_ACCEPTABLE = 40600
    UNSUPPORTED_MEDIA_TYPE = 41500
    SERVER_ERROR = 50000
    SERVICE_UNAVAILABLE = 50300

    @property
    def http_status(self) -> int:
        return int(self) // 100


# --- requests --------------------------------------------------------------------------------


class KsqlRequest(BaseModel):
    """The body of ``POST /ksql`` (ksqlDB's ``KsqlRequest``); unknown fields are ignored, as there."""

    model_config = ConfigDict(extra="ignore")

    ksql: str
    streams_properties: dict[str, Any] = Field(default_factory=dict, alias="streamsProperties")
    request_properties: dict[str, Any] = Field(default_factory=dict, alias="requestProperties")
    session_variables: dict[str, Any] = Field(default_factory=dict, alias="sessionVariables")
    command_sequence_number: int | None = Field(default=None, alias="commandSequenceNumber")

    @field_validator("streams_properties", "request_properties", "session_variables", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        # Clients written for ksqlDB send null for "no properties"; ksqlDB reads it as {}.
        return {} if value is None else value


@dataclass(frozen=True)
class Statement:
    """One statement of a request: its text (with its ';') and where it starts (1-based)."""

    text: str
    line: int
    column: int

    @property
    def first_word(self) -> str:
        word = self.text.split(None, 1)[0] if self.text.strip() else ""
        return word.rstrip(";")


class ExecutionError(Exception):
    """A statement that failed: becomes a ``statement_error`` with the entities made before it."""

    def __init__(
        self,
        message: str,
        statement: Statement,
        entities: list[dict[str, Any]] | None = None,
        code: ErrorCode = ErrorCode.BAD_STATEMENT,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.statement = statement
        self.entities = entities or []
        self.code = code


# --- entities --------------------------------------------------------------------------------


def server_info(kafka_cluster_id: str) -> dict[str, Any]:
    """``GET /info``: ksqlDB's ``ServerInfo`` wrapped as ``KsqlServerInfo``."""
    return {
        "KsqlServerInfo": {
            "version": KSQLDB_COMPATIBLE_VERSION,
            "kafkaClusterId": kafka_cluster_id,
            "ksqlServiceId": KSQL_SERVICE_ID,
            "serverStatus": "RUNNING",
        }
    }


def health_check(details: dict[str, bool]) -> dict[str, Any]:
    """``GET /healthcheck``: healthy when every part is (``metastore``, ``kafka``)."""
    healthy = all(details.values())
    return {
        "isHealthy": healthy,
        "details": {name: {"isHealthy": ok} for name, ok in details.items()},
        "serverState": "READY",
    }


def generic_error(message: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> dict[str, Any]:
    return {"@type": "generic_error", "error_code": int(code), "message": message}


def statement_error(
    message: str,
    statement_text: str,
    entities: list[dict[str, Any]] | None = None,
    code: ErrorCode = ErrorCode.BAD_STATEMENT,
) -> dict[str, Any]:
    """ksqlDB's ``KsqlStatementErrorMessage``: the statement that failed and what came before it."""
    return {
        "@type": "statement_error",
        "error_code": int(code),
        "message": message,
        "statementText": statement_text,
        "entities": list(entities or []),
    }


# --- execution -------------------------------------------------------------------------------


def execute(request: KsqlRequest, user: Any) -> list[dict[str, Any]]:
    """Run a request's statements in order, as ``user``; returns their entities.

    The request is one session (processing/sqlengine): ``streamsProperties`` are its properties,
    ``sessionVariables`` its variables, and a SET in it lasts until the request ends, as in
    ksqlDB. Raises ``ExecutionError`` for the first statement that fails, carrying the entities
    of those before it (ksqlDB answers such a request with that one error, HTTP 400).
    """
    if not split_statements(request.ksql):
        raise ExecutionError(
            "the request holds no statement: 'ksql' is empty or only comments",
            Statement(request.ksql, 1, 1),
            code=ErrorCode.BAD_REQUEST,
        )
    session = Session(
        topics=new_topics(),
        properties={str(k): _text(v) for k, v in request.streams_properties.items()},
        variables={str(k).upper(): _text(v) for k, v in request.session_variables.items()},
    )
    try:
        results = sqlengine.execute(request.ksql, user, session)
    except StatementFailed as failed:
        raise ExecutionError(
            failed.message,
            Statement(with_semicolon(failed.statement_text), failed.error.line, failed.error.column),
            _entities(failed.results),
        ) from None
    return _entities(results)


def new_topics() -> Topics:
    """The cluster the statements of a request see (tests put an in-memory one here)."""
    return KafkaTopics()


def _entities(results: list[Any]) -> list[dict[str, Any]]:
    return [body for body in (entity(result) for result in results) if body is not None]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def command_status(command_id: str, user: Any) -> dict[str, Any] | None:
    """``GET /status/{commandId}``: ksqlDB's ``CommandStatus`` of a command ``user`` issued."""
    command = sqlengine_commands.status(command_id, user)
    if command is None:
        return None
    return {"status": command.status, "message": command.message}


def split_statements(text: str) -> list[Statement]:
    """Statements split at ``;`` outside quotes and comments, each with where it starts.

    ksqlDB quotes strings with '...' ('' inside), identifiers with `...` or "...", and has
    ``--`` and ``/* */`` comments. A statement's text runs from its first token to its ';'
    (or the end); text that is only comments and space is not a statement.
    """
    statements: list[Statement] = []
    start: int | None = None
    index = 0
    length = len(text)
    while index < length:
        char = text[index]
        if char in " \t\r\n":
            index += 1
            continue
        if text.startswith("--", index):
            newline = text.find("\n", index)
            index = length if newline < 0 else newline + 1
            continue
        if text.startswith("/*", index):
            end = text.find("*/", index + 2)
            index = length if end < 0 else end + 2
            continue
        if start is None:
            start = index
        if char in "'`\"":
            index = _end_of_quoted(text, index, char)
            continue
        index += 1
        if char == ";":
            statements.append(_statement(text, start, index))
            start = None
    if start is not None:
        statements.append(_statement(text, start, length))
    return statements


def _end_of_quoted(text: str, index: int, quote: str) -> int:
    """Index just past the quoted part opening at ``index`` (a doubled quote stays inside)."""
    index += 1
    while index < len(text):
        if text[index] == quote:
            if text.startswith(quote * 2, index):
                index += 2
                continue
            return index + 1
        index += 1
    return len(text)


def _statement(text: str, start: int, end: int) -> Statement:
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return Statement(text[start:end].rstrip(), line, column)


# --- content negotiation ---------------------------------------------------------------------


def response_media_type(accept: str | None) -> str | None:
    """The media type to answer with for an ``Accept`` header; None when none is acceptable."""
    if not accept or not accept.strip():
        return RESPONSE_MEDIA_TYPES[0]
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept.split(",")):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media and quality > 0:
            ranked.append((-quality, position, media.lower()))
    for _, _, media in sorted(ranked):
        if media in RESPONSE_MEDIA_TYPES:
            return media
        if media in ("*/*", "application/*"):
            return RESPONSE_MEDIA_TYPES[0]
    return None


def request_media_type_accepted(content_type: str | None) -> bool:
    """Whether a request body's ``Content-Type`` is one ``/ksql`` reads (a missing one is)."""
    if not content_type or not content_type.strip():
        return True
    return content_type.split(";", 1)[0].strip().lower() in REQUEST_MEDIA_TYPES
