import pytest
from django.db import IntegrityError

from topology.models import ImmutableVersionError, Topology, TopologyVersion

pytestmark = pytest.mark.django_db


def _version(topology, number, user):
    return TopologyVersion.objects.create(
        topology=topology, number=number, document={"nodes": []}, plan={}, plan_hash="h" * 64, created_by=user
    )


def test_saving_an_existing_version_raises(alice):
    topology = Topology.objects.create(name="t", owner=alice)
    version = _version(topology, 1, alice)
    version.message = "rewritten history"
    with pytest.raises(ImmutableVersionError):
        version.save()
    assert TopologyVersion.objects.get(pk=version.pk).message == ""


def test_version_numbers_are_unique_per_topology(alice):
    first = Topology.objects.create(name="first", owner=alice)
    second = Topology.objects.create(name="second", owner=alice)
    _version(first, 1, alice)
    _version(second, 1, alice)
    with pytest.raises(IntegrityError):
        _version(first, 1, alice)


def test_owners_see_their_topologies_and_staff_see_all(alice, bob, staff):
    Topology.objects.create(name="alices", owner=alice)
    Topology.objects.create(name="bobs", owner=bob)
    assert [t.name for t in Topology.objects.visible_to(alice)] == ["alices"]
    assert [t.name for t in Topology.objects.visible_to(staff)] == ["alices", "bobs"]
    assert Topology.objects.get(name="bobs").can_be_edited_by(staff)
    assert not Topology.objects.get(name="bobs").can_be_edited_by(alice)
