"""The SQL catalog's models: who sees a source or a query (Topology.visible_to's rule)."""

from __future__ import annotations

import pytest

from topology.models import SqlQuery, SqlSource, Topology

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(django_user_model):
    make = django_user_model.objects.create_user
    return make("ada"), make("bob"), make("root", is_staff=True)


def source(name, owner, query=None):
    return SqlSource.objects.create(
        name=name, kind="STREAM", definition={"name": name}, statement="CREATE ...", owner=owner, query=query
    )


def test_a_declared_source_is_seen_by_its_owner_and_staff(people):
    ada, bob, root = people
    source("S", ada)
    assert SqlSource.objects.visible_to(ada).count() == 1
    assert SqlSource.objects.visible_to(bob).count() == 0
    assert SqlSource.objects.visible_to(root).count() == 1


def test_a_querys_sink_and_the_query_are_seen_as_its_topology_is(people):
    ada, bob, root = people
    topology = Topology.objects.create(name="ctas_t_1", owner=bob)
    query = SqlQuery.objects.create(
        query_id="CTAS_T_1", statement="CREATE TABLE t AS ...", topology=topology, sink_name="T", owner=bob
    )
    # The sink's owner field is not what decides: its query's topology is.
    source("T", ada, query=query)
    assert list(SqlSource.objects.visible_to(bob).values_list("name", flat=True)) == ["T"]
    assert SqlSource.objects.visible_to(ada).count() == 0
    assert list(SqlQuery.objects.visible_to(bob)) == [query] and not SqlQuery.objects.visible_to(ada).exists()
    assert SqlQuery.objects.visible_to(root).count() == 1


def test_anonymous_sees_nothing_and_terminated_queries_are_not_active(people):
    from django.contrib.auth.models import AnonymousUser
    from django.utils import timezone

    ada, _, _ = people
    source("S", ada)
    topology = Topology.objects.create(name="q", owner=ada)
    SqlQuery.objects.create(
        query_id="Q",
        statement="...",
        topology=topology,
        sink_name="S",
        owner=ada,
        terminated_at=timezone.now(),
    )
    assert not SqlSource.objects.visible_to(AnonymousUser()).exists()
    assert SqlQuery.objects.count() == 1 and not SqlQuery.objects.active().exists()


def test_names_are_one_namespace(people):
    from django.db import IntegrityError

    ada, bob, _ = people
    source("S", ada)
    with pytest.raises(IntegrityError):
        source("S", bob)


def test_the_admin_shows_the_catalog_read_only(people, client):
    ada, _, _ = people
    admin_user = type(ada).objects.create_superuser("catalog-admin", password="pw")
    client.force_login(admin_user)
    entry = source("S", ada)
    for url in ("/admin/topology/sqlsource/", "/admin/topology/sqlquery/", "/admin/topology/sqlcommand/"):
        assert client.get(url).status_code == 200
    assert client.get("/admin/topology/sqlsource/add/").status_code == 403
    page = client.get(f"/admin/topology/sqlsource/{entry.pk}/change/")
    assert page.status_code == 200 and b'name="name"' not in page.content
