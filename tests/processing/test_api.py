"""The deployments API: permissions, validation, actions (no Celery: nothing commits)."""

import json

import pytest

from processing.models import Deployment, DeploymentInstance

pytestmark = pytest.mark.django_db


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def create(client, topology, **extra):
    return post(client, "/api/deployments", {"topology_id": topology.pk, **extra})


def test_owner_deploys_the_latest_version_and_sees_it_in_the_list(owner_client, topology, version):
    response = create(owner_client, topology, instances=2, guarantee="exactly_once")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == version.number and body["instances"] == 2
    assert body["guarantee"] == "exactly_once" and body["desired_state"] == "running"
    assert body["events"][0]["kind"] == "deploy"
    listed = owner_client.get("/api/deployments").json()
    assert [d["id"] for d in listed] == [body["id"]]


def test_detail_shows_instances_with_partitions_and_heartbeat_age(owner_client, topology, version):
    deployment_id = create(owner_client, topology).json()["id"]
    DeploymentInstance.objects.create(
        deployment_id=deployment_id,
        slot=0,
        epoch=2,
        claimed=True,
        status="running",
        partitions=[["A", 0], ["B", 0]],
    )
    body = owner_client.get(f"/api/deployments/{deployment_id}").json()
    [instance] = body["instance_list"]
    assert instance["partitions"] == [["A", 0], ["B", 0]] and instance["live"] is True
    assert instance["heartbeat_age_seconds"] is None
    assert "parallelism" in body


def test_strangers_cannot_see_or_touch_a_deployment(owner_client, stranger_client, topology, version):
    deployment_id = create(owner_client, topology).json()["id"]
    assert stranger_client.get(f"/api/deployments/{deployment_id}").status_code == 404
    assert post(stranger_client, f"/api/deployments/{deployment_id}/stop").status_code == 404
    assert stranger_client.get("/api/deployments").json() == []
    refused = create(stranger_client, topology)
    assert refused.status_code == 404 and refused.json()["field"] == "topology_id"
    assert Deployment.objects.get().desired_state == "running"


def test_staff_may_act_on_any_deployment(owner_client, staff_client, topology, version):
    deployment_id = create(owner_client, topology).json()["id"]
    response = post(staff_client, f"/api/deployments/{deployment_id}/stop")
    assert response.status_code == 200 and response.json()["desired_state"] == "stopped"


def test_anonymous_requests_are_refused(client, topology, version):
    assert client.get("/api/deployments").status_code == 401


@pytest.mark.parametrize(
    "body,field",
    [
        ({"instances": 0}, "instances"),
        ({"instances": "many"}, "instances"),
        ({"guarantee": "maybe"}, "guarantee"),
        ({"error_policy": "explode"}, "error_policy"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_create_input_is_a_4xx_naming_the_field(owner_client, topology, version, body, field):
    response = create(owner_client, topology, **body)
    assert 400 <= response.status_code < 500
    assert field in response.content.decode()
    assert not Deployment.objects.exists()


def test_malformed_json_and_unknown_versions_are_4xx(owner_client, topology, version):
    response = owner_client.post("/api/deployments", data="{not json", content_type="application/json")
    assert 400 <= response.status_code < 500
    response = create(owner_client, topology, version=99)
    assert response.status_code == 404 and response.json()["field"] == "version"
    response = create(owner_client, topology, app_id="bad id!")
    assert response.status_code == 400 and response.json()["field"] == "app_id"


def test_start_stop_restart_and_scale_round_trip(owner_client, topology, version):
    deployment_id = create(owner_client, topology).json()["id"]
    base = f"/api/deployments/{deployment_id}"
    assert post(owner_client, f"{base}/stop").json()["desired_state"] == "stopped"
    again = post(owner_client, f"{base}/stop")
    assert again.status_code == 409 and again.json()["code"] == "already_stopped"
    assert post(owner_client, f"{base}/start").json()["desired_state"] == "running"
    assert post(owner_client, f"{base}/restart").status_code == 200
    assert post(owner_client, f"{base}/scale", {"instances": 3}).json()["instances"] == 3
    bad = post(owner_client, f"{base}/scale", {"instances": 40})
    assert bad.status_code == 422 and "instances" in bad.content.decode()
    kinds = [e["kind"] for e in owner_client.get(base).json()["events"]]
    assert kinds[:5] == ["scale", "restart", "start", "stop", "deploy"]


def test_upgrade_to_a_missing_version_is_a_404(owner_client, topology, version):
    deployment_id = create(owner_client, topology).json()["id"]
    response = post(owner_client, f"/api/deployments/{deployment_id}/upgrade", {"version": 7})
    assert response.status_code == 404 and response.json()["field"] == "version"


def test_openapi_documents_every_deployment_endpoint(owner_client):
    paths = owner_client.get("/api/openapi.json").json()["paths"]
    for suffix in (
        "",
        "/{deployment_id}",
        "/{deployment_id}/start",
        "/{deployment_id}/stop",
        "/{deployment_id}/restart",
        "/{deployment_id}/scale",
        "/{deployment_id}/upgrade",
    ):
        assert f"/api/deployments{suffix}" in paths


def test_visible_deployments_are_the_owners_own_and_every_one_for_staff(owner, stranger, staff, version):
    from processing.actions import deploy
    from processing.selectors import visible_deployments

    deployment = deploy(version, actor=owner)
    assert list(visible_deployments(owner)) == [deployment]
    assert list(visible_deployments(stranger)) == []
    assert list(visible_deployments(staff)) == [deployment]


@pytest.fixture
def counted_partition_lookups(monkeypatch):
    """Counts the parallelism check's Kafka metadata requests (the real function still runs)."""
    from processing.runtime.kafka import admin

    calls: list[list[str]] = []
    real = admin.topic_partitions

    def counting(kafka_config, topics, *args, **kwargs):
        calls.append(sorted(topics))
        return real(kafka_config, topics, *args, **kwargs)

    monkeypatch.setattr(admin, "topic_partitions", counting)
    return calls


def deployment_on_a_new_topic(owner, new_topic, *, partitions: int, instances: int):
    import secrets

    from processing.actions import deploy
    from tests.processing.plans import count_by_key, store_version
    from topology.models import Topology

    source = new_topic(partitions=partitions, prefix="parallelism-source")
    topology = Topology.objects.create(name=f"polled-{secrets.token_hex(3)}", owner=owner)
    version = store_version(topology, count_by_key(topology.name, (source,), "out"), user=owner)
    return source, deploy(version, actor=owner, instances=instances)


@pytest.mark.integration
def test_two_detail_polls_within_the_ttl_make_one_kafka_metadata_request(
    owner, owner_client, new_topic, counted_partition_lookups
):
    source, deployment = deployment_on_a_new_topic(owner, new_topic, partitions=2, instances=1)

    first = owner_client.get(f"/api/deployments/{deployment.pk}").json()["parallelism"]
    second = owner_client.get(f"/api/deployments/{deployment.pk}").json()["parallelism"]

    assert counted_partition_lookups == [[source]]
    assert first == second and first["source_partitions"] == {source: 2}


@pytest.mark.integration
def test_a_scale_is_warned_about_at_once_despite_the_cached_partition_counts(
    owner, owner_client, new_topic, counted_partition_lookups
):
    source, deployment = deployment_on_a_new_topic(owner, new_topic, partitions=2, instances=2)
    assert owner_client.get(f"/api/deployments/{deployment.pk}").json()["parallelism"]["warning"] is None

    Deployment.objects.filter(pk=deployment.pk).update(instances=3)
    warning = owner_client.get(f"/api/deployments/{deployment.pk}").json()["parallelism"]["warning"]

    assert warning and warning.startswith("3 instances but the source topics have at most 2 partition(s)")


@pytest.mark.integration
def test_a_detail_poll_after_the_ttl_asks_kafka_again(
    owner, owner_client, new_topic, counted_partition_lookups, monkeypatch
):
    from processing import api

    source, deployment = deployment_on_a_new_topic(owner, new_topic, partitions=1, instances=1)
    owner_client.get(f"/api/deployments/{deployment.pk}")
    monkeypatch.setattr(api, "PARALLELISM_TTL_S", 0.0)
    owner_client.get(f"/api/deployments/{deployment.pk}")

    assert counted_partition_lookups == [[source], [source]]
