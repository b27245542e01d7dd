"""Deployments on the real stack: Kafka, Redis, Celery workers (control + streams) and beat.

Deployments are made through the API (Django test client, in this process); instances run in
the streams worker's prefork children; the reconciler runs on beat. Everything shares the
session's file-based SQLite test database, hence ``transactional_db``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import Counter

import orjson
import pytest
from django.db import connection
from django.test import Client

from processing.models import Deployment, DeploymentEvent, DeploymentInstance
from tests.integration.runtime_harness import (
    counts_by_key,
    delete_app_topics,
    json_events,
    lag,
    produce,
    read_all,
)
from tests.processing.plans import count_by_key, store_version

pytestmark = [pytest.mark.integration]

KEYS = [f"user-{i}" for i in range(30)]


# --- helpers ----------------------------------------------------------------------------------


@pytest.fixture
def stack(transactional_db, celery_workers, celery_beat):
    return celery_workers


@pytest.fixture
def people(django_user_model):
    owner = django_user_model.objects.create_user("dep-owner", password="pw")
    staff = django_user_model.objects.create_user(
        "dep-staff", password="pw", is_staff=True, is_superuser=True
    )
    return owner, staff


@pytest.fixture
def deployments_to_stop():
    """Stops every deployment a test made and waits until its instances have left, so the
    streams worker's children are free for the next test."""
    made: list[int] = []
    yield made
    Deployment.objects.filter(pk__in=made).update(desired_state="stopped")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if not DeploymentInstance.objects.filter(deployment_id__in=made, claimed=True).exists():
            break
        time.sleep(0.2)
    for app_id in Deployment.objects.filter(pk__in=made).values_list("app_id", flat=True):
        delete_app_topics(app_id)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def api_post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def make_topology(owner, plan):
    from topology.models import Topology

    topology = Topology.objects.create(name=plan.name, owner=owner)
    return topology, store_version(topology, plan, user=owner)


def events(n: int, rng: random.Random) -> list[str]:
    return [rng.choice(KEYS) for _ in range(n)]


def latest_counts(topic: str) -> dict[str, int]:
    return {key: values[-1] for key, values in counts_by_key(read_all(topic)).items()}


def assert_counts_never_repeat_or_decrease(topic: str) -> None:
    for key, values in counts_by_key(read_all(topic)).items():
        assert all(b > a for a, b in zip(values, values[1:], strict=False)), f"{key}: {values}"


def deployment(pk: int) -> Deployment:
    return Deployment.objects.get(pk=pk)


def live_instances(pk: int) -> list[DeploymentInstance]:
    return [i for i in DeploymentInstance.objects.filter(deployment_id=pk).order_by("slot") if i.is_live]


def pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class SlotWatch(threading.Thread):
    """Samples, every 50 ms, which processes hold each slot: claimed (an ``instance_claimed``
    event), not released (no ``instance_exited`` for that epoch) and alive. Two at once on one
    slot is a violation."""

    def __init__(self, deployment_id: int) -> None:
        super().__init__(daemon=True)
        self.deployment_id = deployment_id
        self.stop = threading.Event()
        self.violations: list[str] = []
        self.samples = 0

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                claimed: dict[tuple[int, int], int] = {}
                exited: set[tuple[int, int]] = set()
                rows = DeploymentEvent.objects.filter(
                    deployment_id=self.deployment_id, kind__in=["instance_claimed", "instance_exited"]
                ).values_list("kind", "payload")
                for kind, payload in rows:
                    lease = (payload["slot"], payload["epoch"])
                    if kind == "instance_claimed":
                        claimed[lease] = payload["pid"]
                    else:
                        exited.add(lease)
                holders: dict[int, list[tuple[int, int]]] = {}
                for (slot, epoch), pid in claimed.items():
                    if (slot, epoch) not in exited and pid_alive(pid):
                        holders.setdefault(slot, []).append((epoch, pid))
                for slot, held in holders.items():
                    if len(held) > 1:
                        self.violations.append(f"slot {slot} held by {held}")
                self.samples += 1
                time.sleep(0.05)
        finally:
            connection.close()


def wait(condition, timeout: float, what: str, interval: float = 0.25, explain=None):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:  # reads race with writers; the deadline decides
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    details = f"\n{explain()}" if explain else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r}){details}")


def describe(*pks: int) -> str:
    """Status, instances and event log, for failure messages."""
    lines = []
    for pk in pks:
        d = deployment(pk)
        lines.append(f"deployment {pk} {d.app_id}: {d.status} (desired {d.desired_state}) {d.last_error!r}")
        lines += [
            f"  slot {i.slot} epoch {i.epoch} {i.status} claimed={i.claimed} pid={i.pid} {i.error!r}"
            for i in DeploymentInstance.objects.filter(deployment_id=pk)
        ]
        lines += [
            f"  {e.created_at:%H:%M:%S.%f} {e.kind}: {e.message}"
            for e in DeploymentEvent.objects.filter(deployment_id=pk).order_by("id")
        ]
    return "\n".join(lines)


def status_history(pk: int) -> list[str]:
    return [
        p["to"]
        for p in DeploymentEvent.objects.filter(deployment_id=pk, kind="status")
        .order_by("id")
        .values_list("payload", flat=True)
    ]


# --- tests ------------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_two_instances_count_exactly_and_a_killed_instance_comes_back_without_sharing_its_slot(
    stack, people, new_topic, deployments_to_stop
):
    owner, staff = people
    topic_a, topic_b, out = new_topic(2, "A"), new_topic(2, "B"), new_topic(2, "group-by-counts")
    _, version = make_topology(owner, count_by_key(f"talk-{out[-6:]}", (topic_a, topic_b), out))
    rng = random.Random(5)
    first_a, first_b = events(1200, rng), events(800, rng)
    produce(topic_a, json_events(first_a))
    produce(topic_b, json_events(first_b))

    response = api_post(
        logged_in(owner),
        "/api/deployments",
        {"topology_id": version.topology_id, "instances": 2, "guarantee": "exactly_once"},
    )
    assert response.status_code == 201, response.content
    pk = response.json()["id"]
    deployments_to_stop.append(pk)
    watch = SlotWatch(pk)
    watch.start()
    try:
        check_kill_recovery_and_admin_stop(pk, owner, staff, topic_a, topic_b, out, first_a, first_b, rng)
    finally:
        watch.stop.set()
        watch.join(5)
    assert watch.samples > 50
    assert watch.violations == []


def check_kill_recovery_and_admin_stop(pk, owner, staff, topic_a, topic_b, out, first_a, first_b, rng):

    wait(lambda: deployment(pk).status == "running", 60, "status running")
    both = wait(
        lambda: (lambda live: len(live) == 2 and all(i.partitions for i in live) and live)(
            live_instances(pk)
        ),
        30,
        "both instances to own partitions",
    )
    owned = [{(t, p) for t, p in i.partitions} for i in both]
    assert owned[0].isdisjoint(owned[1]) and len(owned[0] | owned[1]) == 4
    expected = Counter(first_a + first_b)
    wait(lambda: latest_counts(out) == dict(expected), 60, "exact counts after the first batch")
    detail = logged_in(owner).get(f"/api/deployments/{pk}").json()
    assert [len(i["partitions"]) for i in detail["instance_list"]] == [2, 2]

    victim = next(i for i in both if i.slot == 0)
    os.kill(victim.pid, signal.SIGKILL)
    second = events(1000, rng)
    produce(topic_a, json_events(second))
    expected.update(second)

    wait(
        lambda: DeploymentInstance.objects.filter(
            deployment_id=pk, slot=0, epoch__gt=victim.epoch, claimed=True, status="running"
        ).exists(),
        60,
        "reconcile to bring slot 0 back under a new epoch",
    )
    crash = DeploymentEvent.objects.get(deployment_id=pk, kind="instance_crashed")
    assert crash.payload["epoch"] == victim.epoch
    wait(lambda: latest_counts(out) == dict(expected), 60, "exact counts after the kill")
    assert_counts_never_repeat_or_decrease(out)
    wait(lambda: deployment(pk).status == "running", 30, "status running again")

    # Stop through the admin pages, as an operator would.
    page = logged_in(staff).post(
        "/admin/processing/deployment/",
        {"action": "stop_selected", "_selected_action": [pk], "index": 0},
        follow=True,
    )
    assert "Stopped 1 deployment" in page.content.decode()
    wait(
        lambda: deployment(pk).status == "stopped" and not live_instances(pk),
        30,
        "the admin stop to take effect",
    )


@pytest.mark.timeout(180)
def test_scaling_one_to_three_to_one_while_events_flow_keeps_counts_exact(
    stack, people, new_topic, deployments_to_stop
):
    owner, _ = people
    topic_a, topic_b, out = new_topic(3, "A"), new_topic(3, "B"), new_topic(3, "counts")
    _, version = make_topology(owner, count_by_key(f"scale-{out[-6:]}", (topic_a, topic_b), out))
    client = logged_in(owner)
    pk = api_post(
        client,
        "/api/deployments",
        {"topology_id": version.topology_id, "instances": 1, "guarantee": "exactly_once"},
    ).json()["id"]
    deployments_to_stop.append(pk)
    wait(lambda: deployment(pk).status == "running", 60, "one instance running")

    rng = random.Random(11)
    sent: Counter = Counter()
    flowing = threading.Event()
    flowing.set()

    def feed():
        while flowing.is_set():
            batch_a, batch_b = events(60, rng), events(40, rng)
            produce(topic_a, json_events(batch_a))
            produce(topic_b, json_events(batch_b))
            sent.update(batch_a + batch_b)
            time.sleep(0.2)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        assert api_post(client, f"/api/deployments/{pk}/scale", {"instances": 3}).status_code == 200
        # Partitions are reported with the metrics, a moment after each rebalance settles.
        three = wait(
            lambda: (
                lambda live: len(live) == 3 and sorted(len(i.partitions) for i in live) == [2, 2, 2] and live
            )(live_instances(pk)),
            60,
            "three instances with two partitions each",
        )
        owned = [{(t, p) for t, p in i.partitions} for i in three]
        assert len(owned[0] | owned[1] | owned[2]) == 6
        wait(lambda: deployment(pk).status == "running", 60, "running with three")
        assert api_post(client, f"/api/deployments/{pk}/scale", {"instances": 1}).status_code == 200
        wait(
            lambda: len(live_instances(pk)) == 1 and len(live_instances(pk)[0].partitions) == 6,
            60,
            "one instance owning all six partitions",
        )
    finally:
        flowing.clear()
        feeder.join(10)
    wait(lambda: latest_counts(out) == dict(sent), 60, "exact counts after scaling")
    assert_counts_never_repeat_or_decrease(out)
    history = status_history(pk)
    assert "rebalancing" in history and history[-1] == "running", history


@pytest.mark.timeout(180)
def test_compatible_upgrade_keeps_state_and_offsets_and_an_aggregate_change_needs_confirmation(
    stack, people, new_topic, deployments_to_stop
):
    owner, _ = people
    topic_a, topic_b, out, recount = (
        new_topic(2, "A"),
        new_topic(2, "B"),
        new_topic(2, "out"),
        new_topic(2, "re"),
    )
    name = f"upgrade-{out[-6:]}"
    topology, v1 = make_topology(owner, count_by_key(name, (topic_a, topic_b), out, where="TRUE"))
    v2 = store_version(topology, count_by_key(name, (topic_a, topic_b), out, where="1 = 1"))
    v3 = store_version(topology, count_by_key(name, (topic_a, topic_b), recount, aggregate_id="tally"))
    client = logged_in(owner)
    rng = random.Random(3)
    sent = Counter(events(900, rng))
    produce(topic_a, json_events(list(sent.elements())))
    body = api_post(
        client, "/api/deployments", {"topology_id": topology.pk, "version": 1, "guarantee": "exactly_once"}
    ).json()
    pk, app_id = body["id"], body["app_id"]
    deployments_to_stop.append(pk)
    wait(lambda: latest_counts(out) == dict(sent), 60, "v1 counts")
    epoch_v1 = DeploymentInstance.objects.get(deployment_id=pk, slot=0).epoch

    response = api_post(client, f"/api/deployments/{pk}/upgrade", {"version": v2.number})
    assert response.status_code == 200, response.content
    assert response.json()["app_id"] == app_id
    wait(
        lambda: DeploymentInstance.objects.filter(
            deployment_id=pk, slot=0, epoch__gt=epoch_v1, status="running"
        ).exists(),
        60,
        "v2 running",
    )
    more = events(500, rng)
    produce(topic_b, json_events(more))
    sent.update(more)
    # Kept state: counts continue from v1's; kept offsets: nothing is counted twice.
    wait(lambda: latest_counts(out) == dict(sent), 60, "v2 counts continuing v1's")
    assert_counts_never_repeat_or_decrease(out)

    refused = api_post(client, f"/api/deployments/{pk}/upgrade", {"version": v3.number})
    assert refused.status_code == 409
    refusal = refused.json()
    assert refusal["code"] == "confirmation_required" and refusal["verdict"] in ("reprocess", "new_identity")
    assert "new application id" in refusal["message"] and "consumer group" in refusal["message"]
    assert f"{app_id}-counts-store-changelog" in refusal["consequences"]["old_internal_topics"]
    assert deployment(pk).version_id == v2.pk

    confirmed = api_post(client, f"/api/deployments/{pk}/upgrade", {"version": v3.number, "confirm": True})
    assert confirmed.status_code == 200, confirmed.content
    new_app_id = confirmed.json()["app_id"]
    assert new_app_id == refusal["consequences"]["new_app_id"] != app_id
    assert f"{app_id}-counts-store-changelog" in confirmed.json()["retired_topics"]
    # The new identity starts from the offset reset (earliest): it recounts everything.
    wait(lambda: latest_counts(recount) == dict(sent), 60, "v3 recount under the new identity")
    instance = DeploymentInstance.objects.get(deployment_id=pk, slot=0)
    assert instance.status == "running"
    delete_app_topics(app_id)


@pytest.mark.timeout(120)
def test_deployments_that_cannot_run_end_failed_with_their_reason_after_bounded_restarts(
    stack, people, new_topic, deployments_to_stop
):
    owner, _ = people
    source, out = new_topic(1, "pills"), new_topic(1, "out")
    missing = f"missing-{out[-8:]}"
    produce(
        source,
        [(b"k1", orjson.dumps({"n": 1})), (b"k2", b"{this is not json"), (b"k1", orjson.dumps({"n": 2}))],
    )
    _, lost = make_topology(owner, count_by_key(f"lost-{out[-6:]}", (missing,), out))
    _, poisoned = make_topology(owner, count_by_key(f"pill-{out[-6:]}", (source,), out))
    client = logged_in(owner)
    ids = []
    for version in (lost, poisoned):
        response = api_post(
            client, "/api/deployments", {"topology_id": version.topology_id, "error_policy": "fail"}
        )
        assert response.status_code == 201
        ids.append(response.json()["id"])
    deployments_to_stop.extend(ids)

    wait(
        lambda: all(deployment(pk).status == "failed" for pk in ids),
        90,
        "both deployments to fail",
        explain=lambda: (
            describe(*ids) + f"\nuncommitted records of {source}: {lag(deployment(ids[1]).app_id, [source])}"
        ),
    )
    lost_dep, pill_dep = deployment(ids[0]), deployment(ids[1])
    assert missing in lost_dep.last_error and "gave up after 3 restarts" in lost_dep.last_error
    assert "gave up after 3 restarts" in pill_dep.last_error and f"{source}[0]@1" in pill_dep.last_error
    launches = {
        pk: DeploymentEvent.objects.filter(deployment_id=pk, kind="instance_launch").count() for pk in ids
    }
    assert launches == {ids[0]: 4, ids[1]: 4}
    time.sleep(4)  # more than one reconcile period: a failed deployment stays down
    assert {
        pk: DeploymentEvent.objects.filter(deployment_id=pk, kind="instance_launch").count() for pk in ids
    } == launches
    assert not DeploymentInstance.objects.filter(deployment_id__in=ids, claimed=True).exists()
