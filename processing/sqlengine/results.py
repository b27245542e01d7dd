"""What a statement answers: typed results that the REST layer (processing/ksqldb.py) and the
CLI (processing/sqlengine/tabular.py) both render, each in ksqlDB's way.

A result holds data, never wire shapes: ksqlDB's JSON entities are built from it in one place
and ksqlDB's CLI tables in another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from topology.sql.catalog import SourceDef
from topology.sql.errors import SqlError


@dataclass(frozen=True)
class QueryInfo:
    """A persistent query as SHOW QUERIES and DESCRIBE list it."""

    query_id: str
    statement: str
    sinks: tuple[str, ...]
    sink_topics: tuple[str, ...]
    reads: tuple[str, ...]
    state: str  # ksqlDB's KsqlQueryStatus: RUNNING, ERROR, PAUSED
    app_id: str = ""
    topology: str = ""  # the topology's name
    plan_description: str = ""  # topology/compiler/describe.py's text of its plan
    query_type: str = "PERSISTENT"  # or PUSH: a transient push query running in this process


@dataclass(frozen=True)
class SourceInfo:
    """A catalog entry with the queries that read and write it."""

    definition: SourceDef
    statement: str
    read_queries: tuple[QueryInfo, ...] = ()
    write_queries: tuple[QueryInfo, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Result:
    statement_text: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CommandResult(Result):
    """A statement that changed something (ksqlDB's ``currentStatus``)."""

    command_id: str
    message: str
    sequence: int
    query_id: str | None = None
    status: str = "SUCCESS"


@dataclass(frozen=True, kw_only=True)
class SessionChange(Result):
    """SET, UNSET, DEFINE, UNDEFINE: the session changed (ksqlDB's server answers no entity)."""

    message: str


@dataclass(frozen=True, kw_only=True)
class SourceList(Result):
    kind: str  # STREAM or TABLE
    sources: tuple[SourceInfo, ...]
    extended: bool = False


@dataclass(frozen=True, kw_only=True)
class QueryList(Result):
    queries: tuple[QueryInfo, ...]
    extended: bool = False


@dataclass(frozen=True, kw_only=True)
class SourceDescription(Result):
    source: SourceInfo
    extended: bool = False


@dataclass(frozen=True, kw_only=True)
class QueryDescription(Result):
    """EXPLAIN: a running query, or a statement's plan without running it (``query.query_id`` "")."""

    query: QueryInfo
    fields: tuple[tuple[str, str, bool], ...] = ()  # (name, type, key) of what it writes


@dataclass(frozen=True, kw_only=True)
class TopicList(Result):
    topics: tuple[tuple[str, tuple[int, ...]], ...]  # name, replicas of each partition
    extended: bool = False
    consumer_groups: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PropertyList(Result):
    properties: dict[str, str]
    overwritten: tuple[str, ...]
    defaults: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FunctionInfo:
    name: str
    type: str  # SCALAR or AGGREGATE
    category: str
    description: str = ""


@dataclass(frozen=True, kw_only=True)
class FunctionList(Result):
    functions: tuple[FunctionInfo, ...]


@dataclass(frozen=True, kw_only=True)
class FunctionDescription(Result):
    function: FunctionInfo


@dataclass(frozen=True, kw_only=True)
class VariableList(Result):
    variables: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class WarningResult(Result):
    message: str


class StatementFailed(Exception):
    """A statement failed: ``error`` says where (line, column, token) and why; ``results`` are
    those of the statements before it, which ran and stay done (as in ksqlDB)."""

    def __init__(self, error: SqlError, statement_text: str, results: list[Result], code: str = "") -> None:
        super().__init__(str(error))
        self.error = error
        self.statement_text = statement_text
        self.results = results
        self.code = code or error.code

    @property
    def message(self) -> str:
        error = self.error
        where = f"line {error.line}, column {error.column}"
        if error.token:
            where += f", at {error.token!r}"
        return f"{where}: {error.message}"


def query_state(deployment_status: str | None, desired: str | None) -> str:
    """ksqlDB's query state for a deployment's observed status."""
    if deployment_status == "failed":
        return "ERROR"
    if desired == "stopped" or deployment_status == "stopped" or deployment_status is None:
        return "PAUSED"
    return "RUNNING"


def columns_of(definition: SourceDef) -> tuple[tuple[str, str, bool], ...]:
    return tuple((c.name, c.type, c.key) for c in definition.columns)
