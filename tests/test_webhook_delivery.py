"""Delivering webhook events: retries with back-off, permanent failures, claims, redelivery, retention.

The receiver (tests/receivers.py) verifies every signature; the rows come
from real events (an incident reported through `report_incident`).
"""

import datetime as dt
import logging
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.utils import timezone

from escalation import outbox, webhook_delivery, webhooks
from escalation.models import WebhookDelivery, WebhookSubscription
from incidents.roles import AGENT, INCIDENT_MANAGER
from tests.receivers import Receiver

SECRET_PATH = "/hooks/itsm-token-abc123"


@pytest.fixture
def subscription(receiver: Receiver, db: None) -> WebhookSubscription:
    subscription = WebhookSubscription.objects.create(
        name="Status page", url=receiver.url(SECRET_PATH), event_types=["incident.created", "note.added"]
    )
    receiver.secrets[SECRET_PATH] = subscription.secret
    return subscription


@pytest.fixture
def event(subscription: WebhookSubscription, make_incident: Any) -> WebhookDelivery:
    """The pending row that reporting an incident leaves for the subscription."""
    make_incident(title="Checkout down")
    return WebhookDelivery.objects.get(subscription=subscription)


def fresh(row: WebhookDelivery) -> WebhookDelivery:
    return WebhookDelivery.objects.get(pk=row.pk)


def attempt(row: WebhookDelivery) -> str:
    return webhook_delivery.deliver_webhook(delivery_id=row.pk)


def grant(user: Any, *codenames: str) -> Any:
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="escalation", codename__in=codenames))
    # Permissions are cached on the user object; a fresh one sees the new ones.
    return type(user).objects.get(pk=user.pk)


# --- Retries and failures -----------------------------------------------------


@pytest.mark.django_db
def test_a_server_error_is_retried_with_back_off_then_delivered_once(
    receiver: Receiver, event: WebhookDelivery
) -> None:
    receiver.respond_with(500)
    before = timezone.now()

    assert attempt(event) == "pending"

    waiting = fresh(event)
    assert (waiting.status, waiting.attempts, waiting.last_status_code) == ("pending", 1, 500)
    assert waiting.last_error == "HTTP 500: nope: 500"
    assert waiting.response_excerpt == "nope: 500"
    assert dt.timedelta(seconds=30) <= waiting.next_attempt_at - before <= dt.timedelta(seconds=34)

    assert attempt(event) == "pending"  # not due yet: nothing is sent
    assert len(receiver.requests) == 1

    with time_machine.travel(waiting.next_attempt_at + dt.timedelta(seconds=1), tick=True):
        assert attempt(event) == "delivered"
        assert attempt(event) == "delivered"

    delivered = fresh(event)
    assert (delivered.status, delivered.attempts, delivered.last_status_code) == ("delivered", 2, 200)
    assert (delivered.last_error, delivered.response_excerpt) == ("", "ok")
    assert delivered.delivered_at is not None
    assert len(receiver.requests) == 2
    assert all(request.verified for request in receiver.requests)
    # Same event, same id on every attempt; each attempt signed at its own time.
    assert {request.headers["X-ITSM-Delivery"] for request in receiver.requests} == {str(event.event_id)}
    assert receiver.requests[0].body == receiver.requests[1].body


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_back_pressure_and_server_errors_are_retried(receiver: Receiver, event: WebhookDelivery, status: int) -> None:
    receiver.respond_with(status)
    assert attempt(event) == "pending"
    assert fresh(event).last_status_code == status


@pytest.mark.parametrize("status", [400, 401, 404, 410, 302, 301])
def test_other_answers_fail_at_once_and_redirects_are_not_followed(
    receiver: Receiver, event: WebhookDelivery, status: int
) -> None:
    receiver.respond_with(status)

    assert attempt(event) == "failed"

    failed = fresh(event)
    assert (failed.status, failed.attempts, failed.last_status_code) == ("failed", 1, status)
    assert failed.last_error == f"HTTP {status}: nope: {status}"
    assert failed.delivered_at is None
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1)):
        assert attempt(event) == "failed"
        assert webhook_delivery.sweep_due_webhooks() == 0
    assert len(receiver.requests) == 1


@pytest.mark.django_db
def test_after_max_attempts_the_event_fails(receiver: Receiver, event: WebhookDelivery) -> None:
    receiver.respond_with(*[503] * webhook_delivery.MAX_ATTEMPTS)
    waits: list[dt.timedelta] = []

    for number in range(1, webhook_delivery.MAX_ATTEMPTS + 1):
        with time_machine.travel(fresh(event).next_attempt_at + dt.timedelta(seconds=1), tick=False):
            status = attempt(event)
            waits.append(fresh(event).next_attempt_at - timezone.now())
        assert fresh(event).attempts == number
        assert status == ("failed" if number == webhook_delivery.MAX_ATTEMPTS else "pending")

    for number, wait in enumerate(waits[:-1], start=1):
        base = min(dt.timedelta(seconds=30) * 2 ** (number - 1), outbox.BACKOFF_CAP)
        assert base <= wait <= min(base * 1.1, outbox.BACKOFF_CAP)
    assert len(receiver.requests) == webhook_delivery.MAX_ATTEMPTS
    failed = fresh(event)
    assert (failed.status, failed.last_status_code) == ("failed", 503)


@pytest.mark.django_db
def test_an_attempt_whose_worker_died_counts_and_the_last_one_fails_the_event(
    receiver: Receiver, event: WebhookDelivery
) -> None:
    # The claim of the last attempt was taken, then its worker vanished: the lease runs out.
    WebhookDelivery.objects.filter(pk=event.pk).update(
        attempts=webhook_delivery.MAX_ATTEMPTS, next_attempt_at=timezone.now(), last_error="HTTP 503: busy"
    )
    assert attempt(event) == "failed"
    assert fresh(event).last_error == "The last attempt did not finish. HTTP 503: busy"
    assert receiver.requests == []


@pytest.mark.django_db
def test_an_unreachable_receiver_is_retried_and_nothing_names_the_url_or_the_secret(
    subscription: WebhookSubscription, make_incident: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    WebhookSubscription.objects.filter(pk=subscription.pk).update(url=f"http://127.0.0.1:{port}{SECRET_PATH}")
    make_incident()
    row = WebhookDelivery.objects.get()

    with caplog.at_level(logging.DEBUG):
        assert attempt(row) == "pending"
        WebhookDelivery.objects.filter(pk=row.pk).update(attempts=webhook_delivery.MAX_ATTEMPTS - 1)
        with time_machine.travel(timezone.now() + dt.timedelta(hours=1)):
            assert attempt(row) == "failed"

    failed = fresh(row)
    assert failed.last_error.startswith("Could not connect to the receiver")
    assert failed.last_status_code is None
    for text in (failed.last_error, failed.response_excerpt, caplog.text):
        assert "itsm-token-abc123" not in text
        assert str(port) not in text
        assert subscription.secret not in text
    assert "failed after" in caplog.text


@pytest.mark.django_db
def test_a_receiver_that_echoes_the_secret_does_not_get_it_into_the_log(
    receiver: Receiver, event: WebhookDelivery, subscription: WebhookSubscription
) -> None:
    receiver.secrets.pop(SECRET_PATH)
    receiver.answer_body = f"bad signature for {subscription.secret} at {subscription.url}".encode()
    receiver.respond_with(400)

    assert attempt(event) == "failed"

    failed = fresh(event)
    assert subscription.secret not in failed.last_error + failed.response_excerpt
    assert subscription.url not in failed.last_error + failed.response_excerpt
    assert failed.last_error.startswith("HTTP 400: bad signature for [hidden]")


# --- Claims and sweeps ----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_second_attempt_while_the_first_is_in_flight_does_nothing(receiver: Receiver, event: WebhookDelivery) -> None:
    receiver.gate = threading.Event()
    results: list[str] = []

    def first() -> None:
        try:
            results.append(attempt(event))
        finally:
            connection.close()

    worker = threading.Thread(target=first)
    worker.start()
    assert receiver.arrived.wait(timeout=10)  # the first call holds the claim and is sending

    second = attempt(event)
    swept = webhook_delivery.sweep_due_webhooks()

    receiver.gate.set()
    worker.join(timeout=10)
    assert (second, swept) == ("pending", 0)
    assert results == ["delivered"]
    assert len(receiver.requests) == 1
    assert fresh(event).attempts == 1


@pytest.mark.django_db
def test_the_sweep_sends_due_rows_oldest_first_and_leaves_the_rest(
    receiver: Receiver, subscription: WebhookSubscription, make_incident: Any
) -> None:
    first, later, done, second = (make_incident(title=f"Incident {n}") for n in range(4))
    rows = {incident.title: WebhookDelivery.objects.get(incident=incident) for incident in (first, later, done, second)}
    WebhookDelivery.objects.filter(pk=rows["Incident 1"].pk).update(
        next_attempt_at=timezone.now() + dt.timedelta(minutes=5)
    )
    WebhookDelivery.objects.filter(pk=rows["Incident 2"].pk).update(status="delivered")

    assert webhook_delivery.sweep_due_webhooks(batch_size=1) == 2

    assert [request.headers["X-ITSM-Delivery"] for request in receiver.requests] == [
        str(rows["Incident 0"].event_id),
        str(rows["Incident 3"].event_id),
    ]
    assert (fresh(rows["Incident 1"]).status, fresh(rows["Incident 1"]).attempts) == ("pending", 0)
    assert fresh(rows["Incident 2"]).attempts == 0
    assert webhook_delivery.sweep_webhooks() == 0


@pytest.mark.django_db
def test_the_task_schedules_its_own_retry(receiver: Receiver, event: WebhookDelivery, eager_tasks: None) -> None:
    receiver.respond_with(503)

    assert webhook_delivery.deliver_webhook_task.delay(event.pk).get() == "pending"
    # Eager tasks ignore countdowns: the re-enqueued attempt ran at once and found the row not yet due.
    assert len(receiver.requests) == 1

    with time_machine.travel(fresh(event).next_attempt_at + dt.timedelta(seconds=1), tick=True):
        assert webhook_delivery.deliver_webhook_task.delay(event.pk).get() == "delivered"
    assert len(receiver.requests) == 2


# --- Redelivery -------------------------------------------------------------------


@pytest.mark.django_db
def test_redelivery_sends_a_failed_event_again_and_says_who_asked(
    receiver: Receiver,
    event: WebhookDelivery,
    admin_user: Any,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    receiver.respond_with(404)
    attempt(event)
    assert fresh(event).status == "failed"

    with django_capture_on_commit_callbacks(execute=True):
        again = webhook_delivery.redeliver_webhook(delivery=event, actor=admin_user)

    assert again.pk == event.pk
    delivered = fresh(event)
    assert (delivered.status, delivered.attempts, delivered.last_status_code) == ("delivered", 1, 200)
    assert delivered.redelivered_by == admin_user
    assert delivered.redelivered_at is not None
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body
    assert all(request.verified for request in receiver.requests)


@pytest.mark.django_db
def test_a_delivered_event_can_be_sent_again_but_a_pending_one_cannot(
    receiver: Receiver, event: WebhookDelivery, admin_user: Any
) -> None:
    assert attempt(event) == "delivered"

    webhook_delivery.redeliver_webhook(delivery=event, actor=admin_user)
    pending = fresh(event)
    assert (pending.status, pending.attempts, pending.delivered_at) == ("pending", 0, None)
    with pytest.raises(ValidationError, match="delivered or failed"):
        webhook_delivery.redeliver_webhook(delivery=event, actor=admin_user)

    assert attempt(event) == "delivered"
    assert len(receiver.requests) == 2


@pytest.mark.django_db
def test_only_admins_and_incident_managers_with_the_permission_may_redeliver(
    receiver: Receiver, event: WebhookDelivery, make_user: Any
) -> None:
    receiver.respond_with(400)
    attempt(event)
    agent_with_permission = grant(make_user(AGENT), "redeliver_webhookdelivery")
    manager_without = make_user(INCIDENT_MANAGER)
    manager_with = grant(make_user(INCIDENT_MANAGER), "redeliver_webhookdelivery")

    for refused in (agent_with_permission, manager_without):
        with pytest.raises(PermissionDenied):
            webhook_delivery.redeliver_webhook(delivery=event, actor=refused)
    assert fresh(event).status == "failed"

    webhook_delivery.redeliver_webhook(delivery=event, actor=manager_with)
    assert (fresh(event).status, fresh(event).redelivered_by) == ("pending", manager_with)


@pytest.mark.django_db
def test_the_incident_manager_role_does_not_include_webhooks() -> None:
    held = set(Group.objects.get(name=INCIDENT_MANAGER).permissions.values_list("codename", flat=True))
    assert not {name for name in held if "webhook" in name}


# --- Ping --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_ping_tries_the_receiver_without_an_incident(
    receiver: Receiver, subscription: WebhookSubscription, admin_user: Any, agent: Any
) -> None:
    with pytest.raises(PermissionDenied):
        webhooks.send_ping(subscription=subscription, actor=agent)

    # A receiver can be tried before its subscription is turned on.
    WebhookSubscription.objects.filter(pk=subscription.pk).update(is_active=False)
    ping = webhooks.send_ping(subscription=subscription, actor=admin_user)
    assert attempt(ping) == "delivered"

    [request] = receiver.requests
    assert request.verified is True
    assert request.headers["X-ITSM-Event"] == "ping"
    payload = request.json()
    assert set(payload) == {"id", "type", "created_at", "actor", "incident", "data"}
    assert (payload["type"], payload["incident"], payload["actor"]) == ("ping", None, {"username": "root"})
    assert payload["data"] == {"subscription": "Status page"}


# --- Rotation ----------------------------------------------------------------------


@pytest.mark.django_db
def test_after_rotation_events_are_signed_with_the_new_secret(
    receiver: Receiver, event: WebhookDelivery, subscription: WebhookSubscription, admin_user: Any
) -> None:
    old = subscription.secret
    new = webhooks.rotate_secret(subscription=subscription, actor=admin_user)
    assert new != old

    receiver.secrets[SECRET_PATH] = old
    assert attempt(event) == "failed"  # the receiver still checking with the old secret refuses it: 401
    assert fresh(event).last_status_code == 401

    receiver.secrets[SECRET_PATH] = new
    webhook_delivery.redeliver_webhook(delivery=event, actor=admin_user)
    assert attempt(event) == "delivered"
    assert [request.verified for request in receiver.requests] == [False, True]


# --- Retention ----------------------------------------------------------------------


@pytest.mark.django_db
def test_delivered_rows_past_the_retention_are_deleted_and_the_rest_kept(
    subscription: WebhookSubscription, make_incident: Callable[..., Any], settings: Any
) -> None:
    settings.WEBHOOK_RETENTION_DAYS = 30
    now = timezone.now()
    titles = ("old delivered", "recent delivered", "old failed", "old pending")
    for title in titles:
        make_incident(title=title)
    rows = {title: WebhookDelivery.objects.get(incident__title=title) for title in titles}
    WebhookDelivery.objects.filter(pk=rows["old delivered"].pk).update(
        status="delivered", delivered_at=now - dt.timedelta(days=31)
    )
    WebhookDelivery.objects.filter(pk=rows["recent delivered"].pk).update(
        status="delivered", delivered_at=now - dt.timedelta(days=29)
    )
    WebhookDelivery.objects.filter(pk=rows["old failed"].pk).update(status="failed")
    WebhookDelivery.objects.filter(pk__in=[row.pk for row in rows.values()]).update(
        created_at=now - dt.timedelta(days=40)
    )

    assert webhook_delivery.purge_delivered_webhooks(now=now) == 1

    remaining = set(WebhookDelivery.objects.values_list("incident__title", flat=True))
    assert remaining == {"recent delivered", "old failed", "old pending"}

    settings.WEBHOOK_RETENTION_DAYS = 0
    assert webhook_delivery.purge_delivered_webhooks(now=now + dt.timedelta(days=365)) == 0
    assert WebhookDelivery.objects.count() == 3
    settings.WEBHOOK_RETENTION_DAYS = 30
    assert webhook_delivery.purge_delivered_webhooks_task.apply().get() == 0


def test_webhook_tasks_have_a_queue_and_a_schedule_of_their_own(settings: Any) -> None:
    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}.webhooks"
    assert queue == settings.CELERY_WEBHOOK_QUEUE
    for task in ("escalation.deliver_webhook", "escalation.sweep_webhooks", "escalation.purge_delivered_webhooks"):
        assert settings.CELERY_TASK_ROUTES[task] == {"queue": queue}
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"escalation.sweep_webhooks", "escalation.purge_delivered_webhooks"} <= scheduled
