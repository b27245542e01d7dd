"""The ASGI application of ``config.asgi`` with the catalog of ``BENCH_PUSH_CATALOG`` (a JSON list
of ``SourceDef.to_dict()``), for bench/bench_push.py: the benchmark's Daphne runs the real
endpoints and push-query runner, with its stream declared without the SQL engine's tables."""

import json
import os

from config.asgi import application  # noqa: F401 - Daphne serves this; django is set up by it
from processing import push
from topology.sql.catalog import DictCatalog, SourceDef

_SOURCES = {s["name"]: SourceDef.from_dict(s) for s in json.loads(os.environ.get("BENCH_PUSH_CATALOG", "[]"))}
push.catalog_for = lambda user: DictCatalog(_SOURCES)
