"""The deployments admin, driven through its pages with the Django test client."""

import pytest

from processing import actions
from processing.models import Deployment, DeploymentInstance

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/processing/deployment/"


def act(client, action, deployments, **fields):
    data = {"action": action, "_selected_action": [d.pk for d in deployments], "index": 0, **fields}
    return client.post(CHANGELIST, data, follow=True)


def test_changelist_shows_status_badges_and_filters(staff_client, version):
    actions.deploy(version, app_id="badge-me")
    page = staff_client.get(CHANGELIST + "?status__exact=pending")
    html = page.content.decode()
    assert page.status_code == 200
    assert "badge-me" in html and "weir-status-pending" in html
    assert "By status" in html or "status" in html.lower()
    assert "badge-me" not in staff_client.get(CHANGELIST + "?status__exact=running").content.decode()


def test_change_page_lists_instances_with_partitions_and_heartbeat_age_and_the_event_log(
    staff_client, version
):
    deployment = actions.deploy(version, app_id="inspect-me")
    DeploymentInstance.objects.create(
        deployment=deployment,
        slot=0,
        epoch=4,
        claimed=True,
        status="running",
        partitions=[["A", 0], ["B", 1]],
    )
    html = staff_client.get(f"{CHANGELIST}{deployment.pk}/change/").content.decode()
    assert "A[0], B[1]" in html
    assert "heartbeat age" in html.lower() and "never" in html
    assert "deployed version" in html  # the deploy event in the log


def test_admin_stop_start_and_restart_actions_go_through_the_actions(staff_client, version):
    deployment = actions.deploy(version)
    page = act(staff_client, "stop_selected", [deployment])
    assert "Stopped 1 deployment" in page.content.decode()
    assert Deployment.objects.get().desired_state == "stopped"
    page = act(staff_client, "stop_selected", [deployment])
    assert "already stopped" in page.content.decode()
    act(staff_client, "start_selected", [deployment])
    assert Deployment.objects.get().desired_state == "running"
    act(staff_client, "restart_selected", [deployment])
    kinds = list(Deployment.objects.get().events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["deploy", "stop", "start", "restart"]
    assert Deployment.objects.get().events.get(kind="stop").actor.is_staff


def test_admin_scale_takes_the_instances_field_and_refuses_without_it(staff_client, version):
    deployment = actions.deploy(version)
    page = act(staff_client, "scale_selected", [deployment], instances=3)
    assert "Scaled to 3 instance(s)" in page.content.decode()
    assert Deployment.objects.get().instances == 3
    page = act(staff_client, "scale_selected", [deployment])
    assert "enter the number of instances" in page.content.decode()
    assert Deployment.objects.get().instances == 3


def test_admin_upgrade_to_a_missing_version_says_so(staff_client, version):
    deployment = actions.deploy(version)
    page = act(staff_client, "upgrade_selected", [deployment], version=9)
    assert "has no version 9" in page.content.decode()


def test_non_staff_users_cannot_open_the_admin(owner_client, version):
    actions.deploy(version)
    response = owner_client.get(CHANGELIST)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
