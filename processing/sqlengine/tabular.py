"""Results as ksqlDB's CLI prints them (``manage.py sql --output tabular``).

ksqlDB's CLI draws a listing as a header row, a rule of dashes, the rows, and a closing rule,
with `` | `` between columns and one space of padding (``SHOW STREAMS``:
``Stream Name | Kafka Topic | Key Format | Value Format | Windowed``); a command answers a one
column ``Message`` table; DESCRIBE prints ``Name : X`` and a ``Field | Type`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from processing.sqlengine import results as r


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return " " + " | ".join(value.ljust(widths[i]) for i, value in enumerate(row)) + " "

    rule = "-" * (sum(widths) + 3 * len(widths) - 1)
    return "\n".join([line(cells[0]), rule, *(line(row) for row in cells[1:]), rule])


def render(result: r.Result) -> str:
    renderer = RENDERERS.get(type(result))
    text = renderer(result) if renderer else ""
    for warning in result.warnings:
        text += f"\nWARNING: {warning}"
    return text


def _command(result: r.CommandResult) -> str:
    return table(["Message"], [[result.message]])


def _session(result: r.SessionChange) -> str:
    return result.message


def _sources(result: r.SourceList) -> str:
    if result.extended:
        return "\n\n".join(_description(s, True) for s in result.sources)
    title = "Stream Name" if result.kind == "STREAM" else "Table Name"
    rows = [
        [
            s.definition.name,
            s.definition.topic,
            s.definition.key_format,
            s.definition.value_format,
            str(s.definition.window is not None).lower(),
        ]
        for s in result.sources
    ]
    return table([title, "Kafka Topic", "Key Format", "Value Format", "Windowed"], rows)


def _queries(result: r.QueryList) -> str:
    if result.extended:
        return "\n\n".join(_query_text(q, ()) for q in result.queries)
    rows = [
        [q.query_id, q.state, ",".join(q.sinks), ",".join(q.sink_topics), q.statement] for q in result.queries
    ]
    table_text = table(
        ["Query ID", "Query Type", "Status", "Sink Name", "Sink Kafka Topic", "Query String"],
        [[row[0], "PERSISTENT", *row[1:]] for row in rows],
    )
    return table_text + "\nFor detailed information on a Query run: EXPLAIN <Query ID>;"


def _description(source: r.SourceInfo, extended: bool) -> str:
    d = source.definition
    lines = [f"Name                 : {d.name}"]
    if extended:
        lines += [
            f"Type                 : {d.kind}",
            f"Timestamp field      : {d.timestamp or 'Not set - using <ROWTIME>'}",
            f"Key format           : {d.key_format}",
            f"Value format         : {d.value_format}",
            f"Kafka topic          : {d.topic} (partitions: {d.partitions or 0}, replication: {d.replicas or 0})",
            f"Statement            : {source.statement}",
        ]
    rows = []
    for column in d.columns:
        suffix = ("  (primary key)" if d.kind == "TABLE" else "  (key)") if column.key else ""
        rows.append([column.name, column.type + suffix])
    lines += ["", table(["Field", "Type"], rows)]
    if extended or source.read_queries or source.write_queries:
        lines += ["", "Queries that read from this " + d.kind.lower()]
        lines += [f"{q.query_id} ({q.state}) : {q.statement}" for q in source.read_queries] or ["-"]
        lines += ["", "Queries that write from this " + d.kind.lower()]
        lines += [f"{q.query_id} ({q.state}) : {q.statement}" for q in source.write_queries] or ["-"]
    lines += ["For runtime statistics and query details run: DESCRIBE <Stream,Table> EXTENDED;"]
    return "\n".join(lines)


def _source_description(result: r.SourceDescription) -> str:
    return _description(result.source, result.extended)


def _query_text(query: r.QueryInfo, fields: Sequence[tuple[str, str, bool]]) -> str:
    lines = [
        f"ID                   : {query.query_id or '-'}",
        "Query Type           : PERSISTENT",
        f"SQL                  : {query.statement}",
        f"Status               : {query.state or '-'}",
        f"Sources              : {', '.join(query.reads)}",
        f"Sinks                : {', '.join(query.sinks) or '-'}",
    ]
    if query.app_id:
        lines.append(f"Application id       : {query.app_id}")
    if fields:
        rows = [[name, type_text + ("  (key)" if key else "")] for name, type_text, key in fields]
        lines += ["", table(["Field", "Type"], rows)]
    if query.plan_description:
        lines += ["", "Execution plan", "--------------", query.plan_description]
    return "\n".join(lines)


def _query_description(result: r.QueryDescription) -> str:
    return _query_text(result.query, result.fields)


def _topics(result: r.TopicList) -> str:
    rows = [[name, len(replicas), ",".join(str(n) for n in replicas)] for name, replicas in result.topics]
    if result.extended:
        rows = [[*row, 0, 0] for row in rows]
        return table(["Kafka Topic", "Partitions", "Partition Replicas", "Consumers", "ConsumerGroups"], rows)
    return table(["Kafka Topic", "Partitions", "Partition Replicas"], rows)


def _properties(result: r.PropertyList) -> str:
    rows = [
        [name, "SESSION" if name in result.overwritten else "", value]
        for name, value in result.properties.items()
    ]
    return table(["Property", "Scope", "Value"], rows)


def _functions(result: r.FunctionList) -> str:
    return table(["Function Name", "Category"], [[f.name, f.category] for f in result.functions])


def _describe_function(result: r.FunctionDescription) -> str:
    f = result.function
    return "\n".join(
        [
            f"Name        : {f.name}",
            "Author      : Weir",
            f"Type        : {f.type.lower()}",
            f"Category    : {f.category}",
            f"Overview    : {f.description}",
        ]
    )


def _variables(result: r.VariableList) -> str:
    return table(["Variable Name", "Value"], list(result.variables.items()))


def _warning(result: r.WarningResult) -> str:
    return f"WARNING: {result.message}"


RENDERERS: dict[type, Any] = {
    r.CommandResult: _command,
    r.SessionChange: _session,
    r.SourceList: _sources,
    r.QueryList: _queries,
    r.SourceDescription: _source_description,
    r.QueryDescription: _query_description,
    r.TopicList: _topics,
    r.PropertyList: _properties,
    r.FunctionList: _functions,
    r.FunctionDescription: _describe_function,
    r.VariableList: _variables,
    r.WarningResult: _warning,
}
