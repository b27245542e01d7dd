"""The leaf modules: tasks queued by name once the transaction commits; the one event writer."""

import pytest
from django.contrib.auth.models import AnonymousUser

from processing import queue, status
from processing.models import Deployment

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(monkeypatch):
    calls = []
    monkeypatch.setattr(queue.current_app, "send_task", lambda name, args=(): calls.append((name, args)))
    return calls


def test_tasks_are_sent_by_name_only_when_the_transaction_commits(sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        queue.queue_instance(7, 1, 3)
        queue.queue_reconcile()
        assert sent == []  # nothing leaves before the commit
    assert sent == [("processing.tasks.run_instance", (7, 1, 3)), ("processing.tasks.reconcile", ())]


def test_the_queued_names_are_the_registered_tasks():
    from processing import tasks

    assert (tasks.run_instance.name, tasks.reconcile.name) == (queue.RUN_INSTANCE, queue.RECONCILE)


def test_the_event_writer_keeps_a_logged_in_actor_only(version, owner):
    deployment = Deployment.objects.create(version=version, app_id="events-1")
    status.record_event(deployment.pk, "stop", "by a user", {"n": 1}, actor=owner)
    status.record_event(deployment.pk, "stop", "anonymous", actor=AnonymousUser())
    status.record_event(deployment.pk, "status", "supervisor")
    events = list(deployment.events.order_by("id").values_list("message", "actor", "payload"))
    assert events == [("by a user", owner.pk, {"n": 1}), ("anonymous", None, {}), ("supervisor", None, {})]


def test_set_status_changes_the_row_once_and_logs_it_once(version):
    deployment = Deployment.objects.create(version=version, app_id="events-2")
    assert status.set_status(deployment.pk, "pending", "starting")
    assert not status.set_status(deployment.pk, "pending", "running")  # someone changed it first
    deployment.refresh_from_db()
    assert deployment.status == "starting"
    assert list(deployment.events.values_list("kind", "payload")) == [
        ("status", {"from": "pending", "to": "starting", "error": None})
    ]
