"""Persistent queries: CREATE STREAM|TABLE ... AS SELECT, INSERT INTO ... SELECT, TERMINATE, EXPLAIN.

A persistent query is one topology whose one document ``topology.sql.translate`` writes, and
one deployment of it (``processing.actions.deploy``) whose application id comes from the query
id (``weir_query_CSAS_TOTALS_7``). CREATE OR REPLACE of a query's sink saves the new document
as the next version of the same topology and upgrades the deployment as
``processing.actions.upgrade`` allows: in place when the verdict is compatible; otherwise only
when the session SET 'weir.upgrade.confirm'='true', else the statement fails naming the reasons.
TERMINATE stops the deployment cooperatively (``processing.actions.stop``).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import replace
from typing import Any

from django.utils import timezone

from processing import actions
from processing.models import DesiredState
from processing.sqlengine import commands
from processing.sqlengine.catalog import UserCatalog, deployment_of, query_info
from processing.sqlengine.results import CommandResult, QueryDescription, QueryInfo, Result, columns_of
from processing.sqlengine.session import Session
from topology import actions as topology_actions
from topology.models import SqlQuery, SqlSource, Topology
from topology.sql import ast as sql
from topology.sql import translate as translator
from topology.sql.catalog import SourceDef, error_at

SERVICE_ID = "weir_"
QUERY_APP_PREFIX = f"{SERVICE_ID}query_"
# A source table's materializing query, as ksqlDB names it.
SOURCE_TABLE_PREFIX = "CST_"


def app_id_for(query_id: str) -> str:
    """The application id of a query's deployment: ksqlDB's ``<service id>query_<query id>``,
    then a random suffix. Query ids count from the database's command numbers, so a fresh
    database against a Kafka that has run Weir before would give an old id again; without the
    suffix the new query would resume the old one's committed offsets and restore its state
    (wrong counts, silently). ksqlDB avoids it with a cluster-wide command topic."""
    base = (QUERY_APP_PREFIX + re.sub(r"[^A-Za-z0-9._-]", "_", query_id))[:91]
    return f"{base}_{secrets.token_hex(4)}"


def _topology_name(query_id: str) -> str:
    base = re.sub(r"[^a-z0-9_-]+", "-", query_id.lower()).strip("-_")[:90] or "query"
    if Topology.objects.filter(name=base).exists():
        base = f"{base[:83]}-{secrets.token_hex(3)}"
    return base


def _translate(statement: Any, catalog: UserCatalog, name: str, session: Session) -> translator.Translation:
    """``translate`` with the session's auto.offset.reset (the translator's default otherwise)."""
    reset = session.offset_reset()
    if reset is None:
        return translator.translate(statement, catalog, name=name)
    return translator.translate(statement, catalog, name=name, offset_reset=reset)


def _sink_partitions(statement: Any, output: SourceDef, catalog: UserCatalog, session: Session) -> int:
    """WITH (PARTITIONS=n), else the partitions of the first source the query reads."""
    given = sql.property_value(statement.properties, "PARTITIONS")
    if isinstance(given, int) and not isinstance(given, bool) and given > 0:
        return given
    if output.partitions:
        return output.partitions
    source_name = statement.query.from_.name.value
    source = catalog.source(source_name)
    if source is not None:
        if source.partitions:
            return source.partitions
        found = session.topics.partitions([source.topic]).get(source.topic)
        if found:
            return found
    return 1


def _sink_topic(statement: Any, output: SourceDef, partitions: int, session: Session) -> tuple[bool, int]:
    """Whether the sink topic must be created (last, by the caller), and its partitions: an
    existing topic keeps its own, and WITH (PARTITIONS) must agree with them."""
    have = session.topics.partitions([output.topic]).get(output.topic)
    if have is None:
        return True, partitions
    given = sql.property_value(statement.properties, "PARTITIONS")
    if isinstance(given, int) and given != have:
        raise error_at(
            statement.span,
            f"A Kafka topic with the name '{output.topic}' already exists, with different partition "
            f"configuration than required. KSQL expects {given} partitions (topic has {have}).",
            output.topic,
        )
    return False, have


def create_as_select(statement: sql.CreateAsSelect, user: Any, session: Session) -> Result:
    name, kind = statement.name.value, statement.kind.value
    catalog = UserCatalog(user)
    existing = SqlSource.objects.filter(name=name).first()
    if existing is not None:
        create_id = commands.source_command_id(kind, name, "create")
        message = f"Cannot add {existing.kind.lower()} '{name}': A {existing.kind.lower()} with the same name already exists"
        if statement.if_not_exists:
            return commands.record(statement.text, user, create_id, message)
        visible = catalog.entry(name) is not None
        if not statement.or_replace or not visible:
            raise error_at(statement.name.span, message, statement.name.text)
        if existing.kind != kind:
            raise error_at(
                statement.name.span,
                f"Cannot replace {name}: it is a {existing.kind}; CREATE OR REPLACE {kind} cannot change its kind",
                statement.name.text,
            )
        query = (
            SqlQuery.objects.active()
            .filter(sink=existing)
            .exclude(query_id__startswith="INSERTQUERY_")
            .first()
        )
        if query is None:
            raise error_at(
                statement.name.span,
                f"Cannot replace {name}: no running CREATE ... AS SELECT query writes it "
                "(a declared source, or its query was terminated); DROP it first",
                statement.name.text,
            )
        return _replace_query(statement, query, existing, user, session, catalog)
    command = commands.reserve(statement.text, user)
    query_id = f"{'CSAS' if kind == 'STREAM' else 'CTAS'}_{name}_{command.pk}"
    topology_name = _topology_name(query_id)
    translation = _translate(statement, catalog, topology_name, session)
    output = translation.output
    create_topic, partitions = _sink_topic(
        statement, output, _sink_partitions(statement, output, catalog, session), session
    )
    output = replace(output, partitions=partitions)
    topology, version = _create_topology(topology_name, query_id, statement.text, translation, user, session)
    sink = SqlSource.objects.create(
        name=name, kind=kind, definition=output.to_dict(), statement=statement.text, owner=user
    )
    query = SqlQuery.objects.create(
        query_id=query_id,
        statement=statement.text,
        topology=topology,
        sink=sink,
        sink_name=name,
        reads=list(translation.reads),
        owner=user,
    )
    sink.query = query
    sink.save(update_fields=["query"])
    actions.deploy(version, actor=user, app_id=app_id_for(query_id))
    result = commands.finish(
        command,
        commands.source_command_id(kind, name, "create"),
        f"Created query with ID {query_id}",
        query_id=query_id,
    )
    if create_topic:
        session.topics.create(output.topic, partitions, output.replicas)
    return result


def _create_topology(
    name: str, query_id: str, text: str, translation: Any, user: Any, session: Session
) -> tuple[Any, Any]:
    topology, version = topology_actions.create_topology(
        name=name,
        owner=user,
        description=f"ksqlDB persistent query {query_id}: {text[:500]}",
        document=translation.document,
        message=text[:2000],
    )
    assert version is not None
    return topology, version


def insert_into_select(statement: sql.InsertIntoSelect, user: Any, session: Session) -> Result:
    catalog = UserCatalog(user)
    target = catalog.entry(statement.target.value)
    if target is None:
        raise error_at(
            statement.target.span, f"Source {statement.target.value} does not exist.", statement.target.text
        )
    command = commands.reserve(statement.text, user)
    query_id = f"INSERTQUERY_{command.pk}"
    topology_name = _topology_name(query_id)
    translation = _translate(statement, catalog, topology_name, session)
    topology, version = _create_topology(topology_name, query_id, statement.text, translation, user, session)
    SqlQuery.objects.create(
        query_id=query_id,
        statement=statement.text,
        topology=topology,
        sink=target,
        sink_name=target.name,
        reads=list(translation.reads),
        owner=user,
    )
    actions.deploy(version, actor=user, app_id=app_id_for(query_id))
    return commands.finish(
        command,
        commands.source_command_id(target.kind, target.name, "execute"),
        f"Created query with ID {query_id}",
        query_id=query_id,
    )


def _replace_query(
    statement: sql.CreateAsSelect,
    query: SqlQuery,
    sink: SqlSource,
    user: Any,
    session: Session,
    catalog: UserCatalog,
) -> CommandResult:
    topology = query.topology
    translation = _translate(statement, catalog, topology.name, session)
    deployment = deployment_of(query)
    old_version = deployment.version if deployment is not None else topology.latest_version()
    version, created = topology_actions.save_version(
        topology, translation.document, statement.text[:2000], user
    )
    command_id = commands.source_command_id(sink.kind, sink.name, "create")
    if not created or (old_version is not None and version.pk == old_version.pk):
        return commands.record(
            statement.text,
            user,
            command_id,
            f"Query {query.query_id} is unchanged: the new statement compiles to the same plan",
            query_id=query.query_id,
        )
    verdict, reasons = "compatible", []
    if old_version is not None:
        compatibility = topology_actions.diff_versions(old_version, version)["compatibility"]
        verdict, reasons = compatibility["verdict"], compatibility["reasons"]
    summary = f"upgrade of {query.query_id} is '{verdict}'" + (": " + "; ".join(reasons) if reasons else "")
    if deployment is not None:
        try:
            actions.upgrade(deployment, version, actor=user, confirm=session.confirms_upgrades())
        except actions.UpgradeNeedsConfirmation as exc:
            raise error_at(
                statement.span,
                f"Cannot upgrade query {query.query_id}: this {summary}. {exc.consequences.get('summary', '')} "
                "To go ahead, SET 'weir.upgrade.confirm'='true' and run the statement again.",
                statement.name.text,
                code="sql.upgrade",
            ) from None
    output = translation.output
    partitions = _sink_partitions(statement, output, catalog, session)
    sink.definition = replace(output, partitions=partitions).to_dict()
    sink.statement = statement.text
    sink.save(update_fields=["definition", "statement"])
    query.statement = statement.text
    query.reads = list(translation.reads)
    query.save(update_fields=["statement", "reads"])
    return commands.record(
        statement.text,
        user,
        command_id,
        f"Created query with ID {query.query_id}",
        query_id=query.query_id,
        warnings=(summary,),
    )


def materialize(entry: SqlSource, definition: SourceDef, user: Any, command_pk: int) -> str:
    """CREATE SOURCE TABLE: a query (``CST_<NAME>_<n>``) that reads the table into its view,
    the serving copy pull queries read (``translate_materialize``; nothing is written)."""
    query_id = f"{SOURCE_TABLE_PREFIX}{entry.name}_{command_pk}"
    topology_name = _topology_name(query_id)
    translation = translator.translate_materialize(definition, name=topology_name)
    topology, version = topology_actions.create_topology(
        name=topology_name,
        owner=user,
        description=f"ksqlDB source table {entry.name} ({query_id})",
        document=translation.document,
        message=entry.statement[:2000],
    )
    assert version is not None
    query = SqlQuery.objects.create(
        query_id=query_id,
        statement=entry.statement,
        topology=topology,
        sink=entry,
        sink_name=entry.name,
        reads=list(translation.reads),
        owner=user,
    )
    entry.query = query
    entry.save(update_fields=["query"])
    actions.deploy(version, actor=user, app_id=app_id_for(query_id))
    return query_id


def stop_query(query: SqlQuery, user: Any) -> None:
    """Stop a query's deployment cooperatively and mark it terminated (kept for the record)."""
    deployment = deployment_of(query)
    if deployment is not None and deployment.desired_state == DesiredState.RUNNING:
        actions.stop(deployment, actor=user)
    query.terminated_at = timezone.now()
    query.save(update_fields=["terminated_at"])


def terminate(statement: sql.Terminate, user: Any, session: Session) -> Result:
    catalog = UserCatalog(user)
    if statement.all:
        targets = catalog.queries()
    else:
        assert statement.query_id is not None
        found = catalog.query(statement.query_id.value)
        if found is None:
            raise error_at(
                statement.query_id.span,
                f"Unknown queryId: {statement.query_id.value}",
                statement.query_id.text,
            )
        targets = [found]
    for query in targets:
        stop_query(query, user)
    target = "ALL" if statement.all else targets[0].query_id
    return commands.record(statement.text, user, f"terminate/{target}/execute", "Query terminated.")


def explain(statement: sql.Explain, user: Any, session: Session) -> Result:
    catalog = UserCatalog(user)
    if statement.query_id is not None:
        query = catalog.query(statement.query_id.value)
        if query is None:
            raise error_at(
                statement.query_id.span,
                f"Query with id:{statement.query_id.value} does not exist, "
                "use SHOW QUERIES to view the full set of queries.",
                statement.query_id.text,
            )
        fields = columns_of(SourceDef.from_dict(query.sink.definition)) if query.sink else ()
        return QueryDescription(
            statement_text=statement.text, query=query_info(query, with_plan=True), fields=fields
        )
    inner = statement.statement
    assert inner is not None
    if isinstance(inner, sql.Select):
        translation = translator.translate_push(inner, catalog, topic="explain")
        sinks: tuple[str, ...] = ()
    else:
        translation = _translate(inner, catalog, "explain", session)
        sinks = (translation.output.name,)
    validation = topology_actions.validate_document(translation.document)
    if not validation.ok:
        messages = "; ".join(str(issue.get("message")) for issue in validation.issues[:5])
        raise error_at(inner.span, f"the statement does not compile: {messages}", inner.text.split()[0])
    info = QueryInfo(
        query_id="",
        statement=inner.text,
        sinks=sinks,
        sink_topics=(translation.output.topic,) if sinks else (),
        reads=tuple(translation.reads),
        state="",
        plan_description=validation.describe() or "",
    )
    return QueryDescription(statement_text=statement.text, query=info, fields=columns_of(translation.output))
