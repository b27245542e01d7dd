"""The deployment pages: who sees what, and what the detail page shows."""

from __future__ import annotations

import re
import secrets

import pytest
from django.utils import timezone

from processing import actions
from processing.models import Deployment, DeploymentEvent, DeploymentInstance
from tests.processing.plans import count_by_key, store_version
from topology.models import Topology

pytestmark = pytest.mark.django_db


def deploy(version, user, **extra) -> Deployment:
    return actions.deploy(version, actor=user, **extra)


def test_list_shows_only_the_deployments_of_the_users_own_topologies(owner_client, owner, stranger, version):
    mine = deploy(version, owner, instances=2)
    strangers_topology = Topology.objects.create(name=f"other-{secrets.token_hex(3)}", owner=stranger)
    theirs = deploy(store_version(strangers_topology, count_by_key("other", ("C",), "out")), stranger)

    response = owner_client.get("/deployments/")

    assert response.status_code == 200
    page = response.content.decode()
    assert mine.app_id in page and theirs.app_id not in page
    assert f'href="/deployments/{mine.pk}/dashboard/"' in page
    assert f'href="/deployments/{mine.pk}/monitor/"' in page
    assert f'href="/topologies/{version.topology_id}/edit/"' in page
    assert "0 / 2" in page  # running vs wanted


def test_list_counts_only_running_claimed_instances_and_shows_the_last_error(owner_client, owner, version):
    deployment = deploy(version, owner, instances=3)
    DeploymentInstance.objects.create(deployment=deployment, slot=0, claimed=True, status="running")
    DeploymentInstance.objects.create(deployment=deployment, slot=1, claimed=True, status="starting")
    DeploymentInstance.objects.create(deployment=deployment, slot=2, claimed=False, status="running")
    Deployment.objects.filter(pk=deployment.pk).update(
        status="failed", last_error="gave up after 3 restarts: source topic 'A' does not exist"
    )

    page = owner_client.get("/deployments/").content.decode()

    assert "1 / 3" in page
    assert 'data-status="failed"' in page
    assert "gave up after 3 restarts: source topic &#x27;A&#x27; does not exist" in page


def test_staff_see_every_deployment_in_the_list(staff_client, owner, version):
    deployment = deploy(version, owner)
    assert deployment.app_id in staff_client.get("/deployments/").content.decode()


def test_an_empty_list_says_there_are_no_deployments(stranger_client, owner, version):
    deploy(version, owner)
    response = stranger_client.get("/deployments/")
    assert response.status_code == 200
    assert 'id="no-deployments"' in response.content.decode()


def test_detail_renders_instances_with_slot_epoch_host_pid_partitions_and_heartbeat_age(
    owner_client, owner, version
):
    deployment = deploy(version, owner, instances=2)
    DeploymentInstance.objects.create(
        deployment=deployment,
        slot=1,
        epoch=7,
        claimed=True,
        status="running",
        worker_host="worker-host-a",
        pid=43210,
        heartbeat_at=timezone.now() - timezone.timedelta(seconds=4),
        partitions=[["A", 0], ["B", 1]],
    )
    DeploymentEvent.objects.create(
        deployment=deployment, kind="scale", message="scaled from 1 to 2", actor=owner
    )

    response = owner_client.get(f"/deployments/{deployment.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    row = page.split('<tr data-slot="1">')[1].split("</tr>")[0]
    assert "<td>7</td>" in row and "worker-host-a" in row and "43210" in row
    assert "<code>A-0</code>" in row and "<code>B-1</code>" in row
    age = float(re.search(r'<td class="heartbeat-age">([0-9.]+) s</td>', row).group(1))
    assert 4 <= age < 60
    assert "scaled from 1 to 2" in page and owner.get_username() in page
    assert 'data-action="stop"' in page and 'name="csrf-token"' in page


def test_another_users_deployment_is_a_404(stranger_client, owner, version):
    deployment = deploy(version, owner)
    assert stranger_client.get(f"/deployments/{deployment.pk}/").status_code == 404


def test_a_deployment_that_does_not_exist_is_a_404(owner_client):
    assert owner_client.get("/deployments/999999/").status_code == 404


@pytest.mark.parametrize("url", ["/deployments/", "/deployments/1/"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next={url}"


@pytest.mark.integration
def test_detail_warns_when_instances_outnumber_the_source_partitions(owner_client, owner, new_topic):
    source = new_topic(partitions=2, prefix="views-source")
    topology = Topology.objects.create(name=f"wide-{secrets.token_hex(3)}", owner=owner)
    version = store_version(topology, count_by_key(topology.name, (source,), "out"), user=owner)
    deployment = deploy(version, owner, instances=3)

    page = owner_client.get(f"/deployments/{deployment.pk}/").content.decode()

    warning = page.split('id="parallelism-warning"')[1].split("</p>")[0]
    assert "hidden" not in warning.split(">")[0]
    assert (
        "3 instances but the source topics have at most 2 partition(s): 1 instance(s) will sit idle"
        in warning
    )


@pytest.mark.integration
def test_detail_has_no_warning_when_every_instance_can_own_a_partition(owner_client, owner, new_topic):
    source = new_topic(partitions=2, prefix="views-source")
    topology = Topology.objects.create(name=f"fit-{secrets.token_hex(3)}", owner=owner)
    version = store_version(topology, count_by_key(topology.name, (source,), "out"), user=owner)
    deployment = deploy(version, owner, instances=2)

    page = owner_client.get(f"/deployments/{deployment.pk}/").content.decode()

    assert "will sit idle" not in page
    assert f"<code>{source}</code> 2" in page
