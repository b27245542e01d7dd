"""The pure compiler: topology document → validated graph → execution plan.

``compile_document(doc)`` is the one entry point; it never raises on user input and returns
a ``CompileResult`` with the plan or located issues. ``bind(plan, app_id)`` names a plan's
topics, groups and transactional ids under one application id. See docs/topology-format.md.
"""

from __future__ import annotations

import gc
from typing import Any

from topology.compiler.binding import BoundPlan, bind
from topology.compiler.catalog import catalog_schema
from topology.compiler.compat import Compatibility, compare_plans
from topology.compiler.describe import describe
from topology.compiler.diff import semantic_diff
from topology.compiler.document import document_schema
from topology.compiler.graph import TopologyGraph
from topology.compiler.issues import ISSUE_CODES, CompileResult, Issue
from topology.compiler.lower import lower
from topology.compiler.passes import run_passes


def compile_document(doc: Any, *, partitions: dict[str, int] | None = None) -> CompileResult:
    """Validate ``doc`` and build its plan. ``partitions`` (topic → count) enables the
    co-partitioning check for joins. Never raises: problems come back as issues."""
    # The compiler allocates many small, short-lived objects; a full GC pass over a big
    # process's heap mid-compile can cost more than the compile itself. Nothing here leaks
    # cycles worth collecting early, so collection waits until the compile is done.
    collecting = gc.isenabled()
    gc.disable()
    try:
        known = (
            {str(k): v for k, v in partitions.items() if isinstance(v, int) and v > 0}
            if isinstance(partitions, dict)
            else {}
        )
        graph = run_passes(TopologyGraph(raw=doc, partitions=known))
        if graph.has_errors() or graph.stopped:
            return CompileResult(plan=None, issues=graph.issues)
        return CompileResult(plan=lower(graph), issues=graph.issues)
    except RecursionError:
        return CompileResult(
            plan=None, issues=[Issue("document.too_many_nodes", "the document nests too deeply")]
        )
    except Exception as error:  # noqa: BLE001 - the contract is "never raises"; this is our bug, not the user's
        return CompileResult(
            plan=None,
            issues=[
                Issue(
                    "compiler.internal", f"internal compiler error ({type(error).__name__}); please report it"
                )
            ],
        )
    finally:
        if collecting:
            gc.enable()


__all__ = [
    "ISSUE_CODES",
    "BoundPlan",
    "CompileResult",
    "Compatibility",
    "Issue",
    "bind",
    "catalog_schema",
    "compare_plans",
    "compile_document",
    "describe",
    "document_schema",
    "semantic_diff",
]
