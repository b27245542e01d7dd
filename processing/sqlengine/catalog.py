"""The Django side of the SQL catalog: what a user sees of it, as the translator and the
results want it (``SourceDef``, ``SourceInfo``, ``QueryInfo``), and the function list.

Visibility is ``Topology.visible_to``'s rule (topology/models.py): a query is seen by whoever
sees its topology; a declared source by its owner and staff. A name you do not see does not
exist for you, except that names stay one namespace (CREATE of a taken name is refused).
"""

from __future__ import annotations

from django.db.models import Q

from processing.models import Deployment
from processing.sqlengine.results import FunctionInfo, QueryInfo, SourceInfo, query_state
from topology.compiler import describe
from topology.compiler.expression_compiler import AGGREGATE_FUNCTIONS, KNOWN_FUNCTIONS
from topology.compiler.plan import plan_from_dict
from topology.models import SqlQuery, SqlSource
from topology.sql.catalog import SourceDef


class UserCatalog:
    """``topology.sql.catalog.Catalog`` over the sources ``user`` sees."""

    def __init__(self, user) -> None:
        self.user = user

    def entry(self, name: str) -> SqlSource | None:
        return SqlSource.objects.visible_to(self.user).filter(name=name).first()

    def source(self, name: str) -> SourceDef | None:
        entry = self.entry(name)
        return None if entry is None else SourceDef.from_dict(entry.definition)

    def queries(self) -> list[SqlQuery]:
        return list(
            SqlQuery.objects.visible_to(self.user).active().select_related("topology", "sink").order_by("id")
        )

    def query(self, query_id: str) -> SqlQuery | None:
        return (
            SqlQuery.objects.visible_to(self.user)
            .active()
            .select_related("topology", "sink")
            .filter(query_id__iexact=query_id)
            .first()
        )


def deployment_of(query: SqlQuery) -> Deployment | None:
    """The deployment that runs ``query`` (its topology has one; the newest if more)."""
    return (
        Deployment.objects.filter(version__topology_id=query.topology_id)
        .select_related("version")
        .order_by("-created_at", "-id")
        .first()
    )


def query_info(query: SqlQuery, *, with_plan: bool = False) -> QueryInfo:
    deployment = deployment_of(query)
    sink_topic = ""
    if query.sink is not None:
        sink_topic = SourceDef.from_dict(query.sink.definition).topic
    plan_text = ""
    if with_plan and deployment is not None:
        try:
            plan_text = describe(plan_from_dict(deployment.version.plan))
        except (KeyError, TypeError, ValueError):  # a plan this version of Weir cannot read
            plan_text = ""
    return QueryInfo(
        query_id=query.query_id,
        statement=query.statement,
        sinks=(query.sink_name,),
        sink_topics=(sink_topic,) if sink_topic else (),
        reads=tuple(query.reads),
        state=query_state(
            deployment.status if deployment else None, deployment.desired_state if deployment else None
        ),
        app_id=deployment.app_id if deployment else "",
        topology=query.topology.name,
        plan_description=plan_text,
    )


def readers_and_writers(entry: SqlSource) -> tuple[list[SqlQuery], list[SqlQuery]]:
    """Active queries (anyone's: a drop must not pull a source from under them) that read
    or write ``entry``."""
    active = SqlQuery.objects.active().select_related("topology", "sink")
    writers = list(active.filter(Q(sink=entry) | Q(sink_name=entry.name)).order_by("id"))
    readers = [q for q in active.order_by("id") if entry.name in (q.reads or [])]
    return readers, writers


def source_info(entry: SqlSource, *, with_queries: bool = True) -> SourceInfo:
    definition = SourceDef.from_dict(entry.definition)
    if not with_queries:
        return SourceInfo(definition=definition, statement=entry.statement)
    readers, writers = readers_and_writers(entry)
    return SourceInfo(
        definition=definition,
        statement=entry.statement,
        read_queries=tuple(query_info(q) for q in readers),
        write_queries=tuple(query_info(q) for q in writers),
    )


def functions() -> list[FunctionInfo]:
    """The expression compiler's whitelist (topology/compiler/expression_compiler.py)."""
    scalar = [FunctionInfo(name=n, type="SCALAR", category=_category(n)) for n in KNOWN_FUNCTIONS]
    aggregate = [FunctionInfo(name=n, type="AGGREGATE", category="AGGREGATE") for n in AGGREGATE_FUNCTIONS]
    described = [
        FunctionInfo(name=f.name, type=f.type, category=f.category, description=_description(f))
        for f in scalar + aggregate
    ]
    return sorted(described, key=lambda f: f.name)


_CATEGORIES = {
    "MATHEMATICAL": ("ABS", "CEIL", "FLOOR", "MOD", "POWER", "ROUND", "SIGN", "SQRT", "GREATEST", "LEAST"),
    "STRING": (
        "CONCAT",
        "CONCAT_WS",
        "LENGTH",
        "LOWER",
        "LTRIM",
        "REPLACE",
        "RTRIM",
        "SUBSTRING",
        "TRIM",
        "UPPER",
        "LCASE",
        "UCASE",
        "LEN",
    ),
    "DATE / TIME": (
        "FROM_UNIXTIME",
        "STRING_TO_TIMESTAMP",
        "TIMESTAMP_TO_STRING",
        "FORMAT_TIMESTAMP",
        "PARSE_TIMESTAMP",
        "STRINGTOTIMESTAMP",
        "TIMESTAMPTOSTRING",
        "UNIX_TIMESTAMP",
    ),
    "CONDITIONAL": ("COALESCE", "IF", "IFNULL", "NULLIF"),
    "GEOMETRIC": ("GEO_DISTANCE",),
}


def _category(name: str) -> str:
    return next((category for category, names in _CATEGORIES.items() if name in names), "OTHER")


def _description(function: FunctionInfo) -> str:
    kind = "aggregate" if function.type == "AGGREGATE" else f"{function.category.lower()} scalar"
    return f"The {kind} function {function.name} of Weir's expression compiler (docs/expressions.md)."
