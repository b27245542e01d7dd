"""More instances than source partitions: the API and the admin say the extras will sit idle.

Needs the real broker for the partition counts; no worker runs (``db``: nothing commits, so no
task is queued).
"""

import json

import pytest
from django.test import Client

from processing.models import Deployment
from tests.processing.plans import count_by_key, store_version

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_instances_beyond_the_source_partitions_are_flagged_in_the_api_and_the_admin(
    django_user_model, new_topic
):
    from topology.models import Topology

    owner = django_user_model.objects.create_user(
        "par-owner", password="pw", is_staff=True, is_superuser=True
    )
    topic_a, topic_b = new_topic(2, "A"), new_topic(1, "B")
    topology = Topology.objects.create(name=f"par-{topic_a[-6:]}", owner=owner)
    store_version(topology, count_by_key(topology.name, (topic_a, topic_b), "out"))
    client = Client()
    client.force_login(owner)

    body = client.post(
        "/api/deployments",
        data=json.dumps({"topology_id": topology.pk, "instances": 2}),
        content_type="application/json",
    ).json()
    assert body["parallelism"]["source_partitions"] == {topic_a: 2, topic_b: 1}
    assert body["parallelism"]["max_useful_instances"] == 2
    assert body["parallelism"]["warning"] is None

    scaled = client.post(
        f"/api/deployments/{body['id']}/scale",
        data=json.dumps({"instances": 3}),
        content_type="application/json",
    ).json()
    assert "1 instance(s) will sit idle" in scaled["parallelism"]["warning"]
    assert "will sit idle" in scaled["events"][0]["message"]

    page = client.post(
        "/admin/processing/deployment/",
        {"action": "scale_selected", "instances": 4, "_selected_action": [body["id"]], "index": 0},
        follow=True,
    )
    assert "2 instance(s) will sit idle" in page.content.decode()
    assert Deployment.objects.get().instances == 4
    change = client.get(f"/admin/processing/deployment/{body['id']}/change/").content.decode()
    assert "Warning:" in change and "will sit idle" in change
