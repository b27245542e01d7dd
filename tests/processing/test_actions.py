"""Deployment actions against the database (no Celery: tasks are queued on commit, and these
tests' transactions never commit)."""

import pytest

from processing import actions
from processing.models import Deployment, DeploymentInstance, InstanceStatus
from tests.processing.plans import count_by_key, store_version

pytestmark = pytest.mark.django_db


def kinds(deployment):
    return [e.kind for e in deployment.events.order_by("id")]


def test_deploy_derives_a_valid_unique_app_id_from_the_topology_name(version, owner):
    first = actions.deploy(version, actor=owner, instances=2)
    second = actions.deploy(version, actor=owner)
    assert first.app_id.startswith(version.topology.name + "-")
    assert first.app_id != second.app_id
    assert (first.instances, first.desired_state, first.status) == (2, "running", "pending")
    assert kinds(first) == ["deploy"]
    assert first.events.get().actor == owner


def test_deploy_refuses_an_app_id_that_is_taken_or_malformed(version):
    actions.deploy(version, app_id="shop")
    with pytest.raises(actions.ActionError) as taken:
        actions.deploy(version, app_id="shop")
    assert taken.value.field == "app_id" and "already used" in taken.value.message
    with pytest.raises(actions.ActionError) as malformed:
        actions.deploy(version, app_id="no spaces/please")
    assert malformed.value.field == "app_id"


@pytest.mark.parametrize(
    "field,kwargs",
    [
        ("instances", {"instances": 0}),
        ("instances", {"instances": 33}),
        ("guarantee", {"guarantee": "at_most_once"}),
        ("error_policy", {"error_policy": "ignore"}),
    ],
)
def test_deploy_names_the_field_of_bad_input(version, field, kwargs):
    with pytest.raises(actions.ActionError) as error:
        actions.deploy(version, **kwargs)
    assert error.value.field == field
    assert not Deployment.objects.exists()


def test_stop_then_start_flip_the_desired_state_once(version):
    deployment = actions.deploy(version)
    actions.stop(deployment)
    with pytest.raises(actions.ActionError) as again:
        actions.stop(deployment)
    assert again.value.code == "already_stopped"
    deployment = actions.start(deployment)
    assert deployment.desired_state == "running"
    with pytest.raises(actions.ActionError):
        actions.start(deployment)
    assert kinds(deployment) == ["deploy", "stop", "start"]


def test_start_retries_a_failed_deployment_with_a_clean_crash_count(version):
    deployment = actions.deploy(version)
    Deployment.objects.filter(pk=deployment.pk).update(status="failed", restart_count=3, last_error="boom")
    deployment = actions.start(Deployment.objects.get(pk=deployment.pk))
    assert (deployment.status, deployment.restart_count, deployment.last_error) == ("starting", 0, "")


def test_restart_asks_live_instances_to_stop_instead_of_launching_beside_them(version):
    deployment = actions.deploy(version, instances=2)
    DeploymentInstance.objects.create(deployment=deployment, slot=0, epoch=3, claimed=True, status="running")
    DeploymentInstance.objects.create(deployment=deployment, slot=1, epoch=1, claimed=False, status="stopped")
    actions.restart(deployment)
    statuses = dict(DeploymentInstance.objects.filter(deployment=deployment).values_list("slot", "status"))
    assert statuses == {0: InstanceStatus.STOPPING, 1: InstanceStatus.STOPPED}
    assert DeploymentInstance.objects.get(deployment=deployment, slot=0).epoch == 3


def test_scale_changes_the_wanted_instances_and_logs_it(version):
    deployment = actions.deploy(version, instances=1)
    deployment = actions.scale(deployment, 3)
    assert deployment.instances == 3
    event = deployment.events.filter(kind="scale").get()
    assert event.payload["old"] == 1 and event.payload["new"] == 3
    with pytest.raises(actions.ActionError) as bad:
        actions.scale(deployment, 0)
    assert bad.value.field == "instances"


def test_internal_topics_are_named_from_the_app_id(version):
    plan = actions.load_plan(version)
    assert actions.internal_topics(plan, "shop") == ["shop-counts-store-changelog", "shop.dlq"]


def test_compatible_upgrade_keeps_the_app_id_and_restarts_instances_in_place(topology, owner):
    v1 = store_version(topology, count_by_key(topology.name, ("A", "B"), "out", where="TRUE"))
    v2 = store_version(topology, count_by_key(topology.name, ("A", "B"), "out", where="1 = 1"))
    deployment = actions.deploy(v1, app_id="shop-1")
    DeploymentInstance.objects.create(deployment=deployment, slot=0, epoch=1, claimed=True, status="running")
    deployment = actions.upgrade(deployment, v2, actor=owner)
    assert (deployment.version_id, deployment.app_id) == (v2.pk, "shop-1")
    assert DeploymentInstance.objects.get(deployment=deployment).status == InstanceStatus.STOPPING
    event = deployment.events.filter(kind="upgrade").get()
    assert event.payload["verdict"] == "compatible"


def test_incompatible_upgrade_is_refused_without_confirmation_and_says_what_would_happen(topology):
    v1 = store_version(topology, count_by_key(topology.name, ("A", "B"), "out"))
    v2 = store_version(
        topology, count_by_key(topology.name, ("A", "B"), "out", function="SUM", aggregate_id="totals")
    )
    deployment = actions.deploy(v1, app_id="shop-2")
    with pytest.raises(actions.UpgradeNeedsConfirmation) as refused:
        actions.upgrade(deployment, v2)
    error = refused.value
    assert error.status == 409 and error.verdict in ("reprocess", "new_identity")
    assert "new application id" in error.message and "consumer group" in error.message
    assert error.consequences["old_internal_topics"] == ["shop-2-counts-store-changelog", "shop-2.dlq"]
    deployment.refresh_from_db()
    assert (deployment.version_id, deployment.app_id) == (v1.pk, "shop-2")

    deployment = actions.upgrade(deployment, v2, confirm=True)
    assert deployment.version_id == v2.pk and deployment.app_id != "shop-2"
    assert deployment.app_id == error.consequences["new_app_id"]
    assert deployment.retired_topics == ["shop-2-counts-store-changelog", "shop-2.dlq"]


def test_upgrade_refuses_a_version_of_another_topology(topology, version, owner):
    from topology.models import Topology

    other = Topology.objects.create(name="other-topology", owner=owner)
    foreign = store_version(other, count_by_key("other-topology", ("A",), "out"))
    deployment = actions.deploy(version)
    with pytest.raises(actions.ActionError) as error:
        actions.upgrade(deployment, foreign)
    assert error.value.field == "version"


def test_scale_asks_kafka_nothing_and_warns_from_the_partitions_it_is_given(version, monkeypatch):
    from processing.runtime.kafka import admin

    def must_not_be_called(*args, **kwargs):
        raise AssertionError("a write action made a broker call")

    monkeypatch.setattr(admin, "topic_partitions", must_not_be_called)
    deployment = actions.deploy(version, instances=1)
    deployment = actions.scale(deployment, 3, source_partitions={"A": 2, "B": 1})
    event = deployment.events.filter(kind="scale").get()
    assert event.payload["warning"].startswith(
        "3 instances but the source topics have at most 2 partition(s)"
    )
    assert "1 instance(s) will sit idle" in event.message
    deployment = actions.scale(deployment, 2, source_partitions={"A": 2, "B": 1})
    assert deployment.events.filter(kind="scale").order_by("-id").first().payload["warning"] is None


def test_parallelism_passes_its_timeout_to_the_metadata_request(version, monkeypatch):
    from processing import selectors
    from processing.runtime.kafka import admin

    asked = []

    def partitions(kafka_config, topics, *, timeout):
        asked.append(timeout)
        return {topic: 1 for topic in topics}

    monkeypatch.setattr(admin, "topic_partitions", partitions)
    deployment = actions.deploy(version, instances=2)
    info = selectors.parallelism(deployment, timeout=0.25)
    assert asked == [0.25]
    assert info["source_partitions"] == {"A": 1, "B": 1} and info["max_useful_instances"] == 1
    assert info["warning"].startswith("2 instances but the source topics have at most 1 partition(s)")
