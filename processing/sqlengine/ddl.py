"""CREATE STREAM|TABLE (declared sources), DROP, and INSERT VALUES.

A declared source reads a topic that exists; with PARTITIONS the topic is created when it is
missing (last, inside the statement's transaction), and without it a missing topic is
refused as ksqlDB refuses it.
"""

from __future__ import annotations

from typing import Any

from processing import inserts
from processing.runtime.kafka.transient import TailError
from processing.sqlengine import commands, queries
from processing.sqlengine.catalog import UserCatalog, readers_and_writers
from processing.sqlengine.results import CommandResult, Result
from processing.sqlengine.session import Session
from topology.models import SqlSource
from topology.sql import ast as sql
from topology.sql.catalog import SourceDef, define_source, error_at


def created_message(kind: str) -> str:
    return "Stream created" if kind == "STREAM" else "Table created"


def taken_message(kind: str, name: str) -> str:
    return f"Cannot add {kind.lower()} '{name}': A {kind.lower()} with the same name already exists"


def missing_topic_message(statement: sql.CreateSource, topic: str) -> str:
    kind = statement.kind.value.lower()
    return (
        f"Topic '{topic}' does not exist. If you want to create a new topic for the {kind} please "
        "re-run the statement providing the required 'PARTITIONS' configuration in the WITH clause "
        f"(and optionally 'REPLICAS'). For example: CREATE {statement.kind.value} "
        f"{statement.name.text} (...) WITH (KAFKA_TOPIC='{topic}', PARTITIONS=2, REPLICAS=1, "
        "VALUE_FORMAT='JSON');"
    )


def create_source(statement: sql.CreateSource, user: Any, session: Session) -> Result:
    definition = define_source(statement)
    name, kind = definition.name, definition.kind
    existing = SqlSource.objects.filter(name=name).first()
    if existing is not None:
        if statement.if_not_exists:
            return commands.record(
                statement.text,
                user,
                commands.source_command_id(kind, name, "create"),
                taken_message(existing.kind, name),
            )
        visible = UserCatalog(user).entry(name) is not None
        if not statement.or_replace or not visible:
            raise error_at(statement.name.span, taken_message(existing.kind, name), statement.name.text)
        if existing.kind != kind:
            raise error_at(
                statement.name.span,
                f"Cannot replace {name}: it is a {existing.kind}, and CREATE OR REPLACE {kind} "
                "cannot change what kind of source it is",
                statement.name.text,
            )
        if existing.definition.get("source") or definition.source:
            raise error_at(
                statement.name.span,
                f"Cannot replace {name}: a SOURCE {kind.lower()} cannot be replaced; DROP it first",
                statement.name.text,
            )
        _, writers = readers_and_writers(existing)
        if writers:
            raise error_at(
                statement.name.span,
                f"Cannot replace {name}: it is written by query {', '.join(q.query_id for q in writers)}; "
                "replace that query's CREATE ... AS SELECT instead",
                statement.name.text,
            )
    topic_to_create = _check_topic(statement, definition, session)
    if topic_to_create is None and definition.partitions is None:
        found = session.topics.partitions([definition.topic]).get(definition.topic)
        if found is not None:
            definition = _with_partitions(definition, found)
    if existing is not None:
        existing.definition = definition.to_dict()
        existing.statement = statement.text
        existing.save(update_fields=["definition", "statement"])
        entry = existing
    else:
        entry = SqlSource.objects.create(
            name=name, kind=kind, definition=definition.to_dict(), statement=statement.text, owner=user
        )
    command = commands.reserve(statement.text, user)
    query_id = None
    if definition.source and kind == "TABLE":
        query_id = queries.materialize(entry, definition, user, command.pk)
    result = commands.finish(
        command, commands.source_command_id(kind, name, "create"), created_message(kind), query_id=query_id
    )
    if topic_to_create is not None:
        session.topics.create(topic_to_create, definition.partitions or 1, definition.replicas)
    return result


def _with_partitions(definition: SourceDef, partitions: int) -> SourceDef:
    return SourceDef.from_dict({**definition.to_dict(), "partitions": partitions})


def _check_topic(statement: sql.CreateSource, definition: SourceDef, session: Session) -> str | None:
    """The topic to create (missing, PARTITIONS given), or None when it exists."""
    topic = definition.topic
    have = session.topics.partitions([topic]).get(topic)
    if have is None:
        if definition.partitions is None:
            raise error_at(statement.name.span, missing_topic_message(statement, topic), statement.name.text)
        return topic
    if definition.partitions is not None and definition.partitions != have:
        raise error_at(
            _property_span(statement, "PARTITIONS"),
            f"A Kafka topic with the name '{topic}' already exists, with different partition/replica "
            f"configuration than required. KSQL expects {definition.partitions} partitions "
            f"(topic has {have}).",
            str(definition.partitions),
        )
    return None


def _property_span(statement: Any, name: str) -> sql.Span:
    prop = next((p for p in statement.properties if p.name == name), None)
    return prop.value.span if prop is not None else statement.span


def drop(statement: sql.Drop, user: Any, session: Session) -> Result:
    name, kind = statement.name.value, statement.kind.value
    entry = UserCatalog(user).entry(name)
    command_id = commands.source_command_id(kind, name, "drop")
    if entry is None:
        if statement.if_exists:
            return commands.record(statement.text, user, command_id, f"Source `{name}` does not exist.")
        raise error_at(statement.name.span, f"Source {name} does not exist.", statement.name.text)
    if entry.kind != kind:
        raise error_at(
            statement.span,
            f"Incompatible data source type is {entry.kind}, but statement was DROP {kind}",
            statement.name.text,
        )
    readers, writers = readers_and_writers(entry)
    # A source table's own materializing query goes with it, as in ksqlDB.
    own = [q for q in writers if q.query_id.startswith(queries.SOURCE_TABLE_PREFIX)]
    readers = [q for q in readers if q not in own]
    writers = [q for q in writers if q not in own]
    if readers or writers:
        lines = [f"Cannot drop {name}."]
        if readers:
            lines.append(
                f"The following queries read from this source: [{', '.join(q.query_id for q in readers)}]."
            )
        if writers:
            lines.append(
                f"The following queries write into this source: [{', '.join(q.query_id for q in writers)}]."
            )
        lines.append(f"You need to terminate them before dropping {name}.")
        raise error_at(statement.name.span, "\n".join(lines), statement.name.text)
    for query in own:
        queries.stop_query(query, user)
    topic = SourceDef.from_dict(entry.definition).topic
    entry.delete()
    result: CommandResult = commands.record(
        statement.text, user, command_id, f"Source `{name}` (topic: {topic}) was dropped."
    )
    if statement.delete_topic:
        session.topics.delete(topic)
    return result


def insert_values(statement: sql.InsertValues, user: Any, session: Session) -> Result:
    """INSERT INTO ... VALUES: evaluated, checked and written by processing/inserts.py."""
    try:
        target = inserts.run_insert_values(statement, UserCatalog(user))
    except TailError as exc:
        raise error_at(statement.span, f"Kafka did not take the row: {exc}", "INSERT") from None
    return commands.record(
        statement.text,
        user,
        commands.source_command_id(target.kind, target.name, "insert"),
        "Inserted 1 row.",
    )
