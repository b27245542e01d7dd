"""The SQL statement engine: ksqlDB's persistent half, shared by REST (processing/ksqldb.py)
and the CLI (``manage.py sql`` / ``apply_sql``).

``execute(text, user, session) -> list[Result]`` runs a script's statements in order;
results are the typed dataclasses of ``results``; a failure raises ``StatementFailed``
(its ``error`` is a located ``SqlError``). See docs/sql.md, "Statement engine".
"""

from processing.sqlengine.engine import execute, parse, run_statement
from processing.sqlengine.queries import SERVICE_ID, app_id_for
from processing.sqlengine.results import Result, StatementFailed
from processing.sqlengine.session import Session

__all__ = [
    "SERVICE_ID",
    "Result",
    "Session",
    "StatementFailed",
    "app_id_for",
    "execute",
    "parse",
    "run_statement",
]
