"""ksqlDB 0.29's REST entities, built from the statement engine's results (processing/sqlengine).

Each ``Result`` type has one renderer; field names and ``@type`` tags are ksqlDB's
(``KsqlEntity`` subclasses: ``CommandStatusEntity`` → ``currentStatus``, ``StreamsList`` →
``streams``, ``SourceDescriptionEntity`` → ``sourceDescription``, ...). SET, UNSET, DEFINE and
UNDEFINE answer no entity, as ksqlDB's server does.
"""

from __future__ import annotations

from typing import Any

from processing.sqlengine import results as r
from topology.sql.catalog import SourceDef, split_top_level


def entity(result: r.Result) -> dict[str, Any] | None:
    renderer = RENDERERS.get(type(result))
    if renderer is None:
        return None
    body = renderer(result)
    return {
        "@type": body.pop("@type"),
        "statementText": with_semicolon(result.statement_text),
        **body,
        "warnings": [{"message": w} for w in result.warnings],
    }


def with_semicolon(text: str) -> str:
    """ksqlDB's ``statementText`` keeps the statement's ';'."""
    return text if text.rstrip().endswith(";") else text.rstrip() + ";"


def _command(result: r.CommandResult) -> dict[str, Any]:
    return {
        "@type": "currentStatus",
        "commandId": result.command_id,
        "commandStatus": {"status": result.status, "message": result.message, "queryId": result.query_id},
        "commandSequenceNumber": result.sequence,
    }


def _schema(type_text: str) -> dict[str, Any]:
    """ksqlDB's ``SchemaInfo``: the base type, struct fields, and an array's or map's member."""
    base = type_text.split("<", 1)[0].split("(", 1)[0].strip()
    schema: dict[str, Any] = {"type": base, "fields": None, "memberSchema": None}
    inner = type_text[len(base) :].strip()
    if base == "ARRAY" and inner.startswith("<"):
        schema["memberSchema"] = _schema(inner[1:-1])
    elif base == "MAP" and inner.startswith("<"):
        schema["memberSchema"] = _schema(split_top_level(inner[1:-1])[-1])
    elif base == "STRUCT" and inner.startswith("<"):
        fields = []
        for part in split_top_level(inner[1:-1]):
            name, _, field_type = part.strip().partition(" ")
            fields.append({"name": name, "schema": _schema(field_type.strip())})
        schema["fields"] = fields
    return schema


def field_entities(definition: SourceDef) -> list[dict[str, Any]]:
    fields = []
    for column in definition.columns:
        field: dict[str, Any] = {"name": column.name, "schema": _schema(column.type)}
        if column.key:
            field["type"] = "KEY"
        fields.append(field)
    return fields


def running_query(info: r.QueryInfo) -> dict[str, Any]:
    """ksqlDB's ``RunningQuery``."""
    return {
        "queryString": info.statement,
        "sinks": list(info.sinks),
        "sinkKafkaTopics": list(info.sink_topics),
        "id": info.query_id,
        "statusCount": {info.state: 1},
        "queryType": info.query_type,
        "state": info.state,
    }


def query_description(info: r.QueryInfo, fields: list[dict[str, Any]]) -> dict[str, Any]:
    """ksqlDB's ``QueryDescription``."""
    return {
        "id": info.query_id,
        "statementText": info.statement,
        "windowType": None,
        "fields": fields,
        "sources": list(info.reads),
        "sinks": list(info.sinks),
        "topology": info.plan_description,
        "executionPlan": info.plan_description,
        "overriddenProperties": {},
        "ksqlHostQueryStatus": {"weir": info.state} if info.state else {},
        "queryType": info.query_type,
        "queryErrors": [],
        "tasksMetadata": [],
        "state": info.state,
    }


def source_description(source: r.SourceInfo, extended: bool) -> dict[str, Any]:
    """ksqlDB's ``SourceDescription``."""
    d = source.definition
    return {
        "name": d.name,
        "windowType": d.window.type if d.window else None,
        "readQueries": [running_query(q) for q in source.read_queries],
        "writeQueries": [running_query(q) for q in source.write_queries],
        "fields": field_entities(d),
        "type": d.kind,
        "timestamp": d.timestamp or "",
        "statistics": "",
        "errorStats": "",
        "extended": extended,
        "keyFormat": d.key_format,
        "valueFormat": d.value_format,
        "topic": d.topic,
        "partitions": d.partitions or 0,
        "replication": d.replicas or 0,
        "statement": source.statement,
        "queryOffsetSummaries": [],
        "sourceConstraints": [],
        "clusterStatistics": [],
        "clusterErrorStats": [],
    }


def _sources(result: r.SourceList) -> dict[str, Any]:
    if result.extended:
        return {
            "@type": "source_descriptions",
            "sourceDescriptions": [source_description(s, True) for s in result.sources],
        }
    key = "streams" if result.kind == "STREAM" else "tables"
    return {
        "@type": key,
        key: [
            {
                "type": s.definition.kind,
                "name": s.definition.name,
                "topic": s.definition.topic,
                "keyFormat": s.definition.key_format,
                "valueFormat": s.definition.value_format,
                "isWindowed": s.definition.window is not None,
            }
            for s in result.sources
        ],
    }


def _queries(result: r.QueryList) -> dict[str, Any]:
    if result.extended:
        return {
            "@type": "query_descriptions",
            "queryDescriptions": [query_description(q, []) for q in result.queries],
        }
    return {"@type": "queries", "queries": [running_query(q) for q in result.queries]}


def _source_description(result: r.SourceDescription) -> dict[str, Any]:
    return {
        "@type": "sourceDescription",
        "sourceDescription": source_description(result.source, result.extended),
    }


def _query_description(result: r.QueryDescription) -> dict[str, Any]:
    fields = []
    for name, type_text, key in result.fields:
        field: dict[str, Any] = {"name": name, "schema": _schema(type_text)}
        if key:
            field["type"] = "KEY"
        fields.append(field)
    return {"@type": "queryDescription", "queryDescription": query_description(result.query, fields)}


def _topics(result: r.TopicList) -> dict[str, Any]:
    if result.extended:
        return {
            "@type": "kafka_topics_extended",
            "topics": [
                {"name": name, "replicaInfo": list(replicas), "consumerCount": 0, "consumerGroupCount": 0}
                for name, replicas in result.topics
            ],
        }
    return {
        "@type": "kafka_topics",
        "topics": [{"name": name, "replicaInfo": list(replicas)} for name, replicas in result.topics],
    }


def _properties(result: r.PropertyList) -> dict[str, Any]:
    return {
        "@type": "properties",
        "properties": [
            {"name": name, "scope": "KSQL" if name.startswith("ksql.") else "STREAMS", "value": value}
            for name, value in result.properties.items()
        ],
        "overwrittenProperties": list(result.overwritten),
        "defaultProperties": list(result.defaults),
    }


def _functions(result: r.FunctionList) -> dict[str, Any]:
    return {
        "@type": "function_names",
        "functions": [{"name": f.name, "category": f.category, "type": f.type} for f in result.functions],
    }


def _describe_function(result: r.FunctionDescription) -> dict[str, Any]:
    f = result.function
    return {
        "@type": "describe_function",
        "name": f.name,
        "description": f.description,
        "author": "Weir",
        "version": "",
        "path": "internal",
        "functions": [],
        "type": f.type,
    }


def _variables(result: r.VariableList) -> dict[str, Any]:
    return {
        "@type": "variables",
        "variables": [{"name": name, "value": value} for name, value in result.variables.items()],
    }


def _warning(result: r.WarningResult) -> dict[str, Any]:
    return {"@type": "warning_entity", "message": result.message}


RENDERERS: dict[type, Any] = {
    r.CommandResult: _command,
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
