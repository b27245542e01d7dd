"""Migration 0002 upgrades stored format-1 plans to format 2."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from topology.compiler import compile_document

FIXTURES = Path(__file__).parent / "compiler" / "fixtures"


@pytest.mark.django_db(transaction=True)
def test_a_stored_format_1_plan_becomes_the_plan_its_document_compiles_to():
    old_plan = orjson.loads((FIXTURES / "format1_plan.json").read_bytes())
    document = orjson.loads((FIXTURES / "format1_document.json").read_bytes())
    executor = MigrationExecutor(connection)
    executor.migrate([("topology", "0001_initial")])
    apps = executor.loader.project_state([("topology", "0001_initial")]).apps
    Topology = apps.get_model("topology", "Topology")
    TopologyVersion = apps.get_model("topology", "TopologyVersion")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    owner = User.objects.create(username="format-one-owner")
    topology = Topology.objects.create(name="format-one", owner=owner)
    version = TopologyVersion.objects.create(
        topology=topology, number=1, document=document, plan=old_plan, plan_hash=old_plan["hash"]
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    from topology.models import TopologyVersion as Current

    stored = Current.objects.get(pk=version.pk)
    fresh = compile_document(document).plan
    assert stored.plan["format"] == 2
    assert stored.plan_hash == stored.plan["hash"] == fresh.hash != old_plan["hash"]
