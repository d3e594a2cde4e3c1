"""Delivering notifications: channels, retries, claims, the sweeper and the acknowledgement link.

Webhooks go to a real HTTP server on 127.0.0.1 run by the test (the network
edge, `tests/receivers.py`); everything on our side of it is the product's own code.
"""

import datetime as dt
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core import mail, signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone

from escalation import delivery, outbox
from escalation.ack_links import TOKEN_SALT, ack_url
from escalation.channels import sign, verify
from escalation.models import Channel, ContactMethod, DeliveryStatus, Notification, NotificationKind
from incidents import lifecycle
from incidents.models import Incident
from incidents.roles import AGENT, REPORTER
from tests.receivers import Receiver

SECRET = "s3cret-signing-key-for-tests"


@pytest.fixture
def responder(make_user: Callable[..., Any]) -> Any:
    user = make_user(AGENT, username="oncall-olga")
    user.first_name, user.last_name = "Olga", "Oncall"
    user.save()
    return user


@pytest.fixture
def incident(make_incident: Callable[..., Incident]) -> Incident:
    return make_incident(title="Checkout down", impact="high", urgency="high")


@pytest.fixture
def make_notification(incident: Incident, responder: Any) -> Callable[..., Notification]:
    """A pending notification as paging creates it; webhooks and Slack need `address`."""

    def make(
        channel: str = Channel.WEBHOOK,
        *,
        address: str = "olga@example.com",
        user: Any = None,
        for_incident: Incident | None = None,
        **fields: Any,
    ) -> Notification:
        user = user or responder
        method = ContactMethod.objects.create(user=user, channel=channel, address=address, secret=SECRET)
        fields.setdefault("kind", NotificationKind.PAGE)
        fields.setdefault("subject", "[P1] INC: Checkout down")
        return Notification.objects.create(
            incident=for_incident or incident,
            user=user,
            contact_method=method,
            channel=channel,
            address=address,
            level=1,
            body="Checkout down. Impact high, urgency high.",
            idempotency_key=f"page:{uuid.uuid4()}",
            **fields,
        )

    return make


def _fresh(notification: Notification) -> Notification:
    return Notification.objects.get(pk=notification.pk)


def _failure_notes(incident: Incident) -> list[Any]:
    return list(incident.timeline.filter(kind="note", data__status="failed"))


# --- Channels ---------------------------------------------------------------


@pytest.mark.django_db
def test_webhook_posts_the_documented_json_signed_with_the_contact_methods_secret(
    receiver: Receiver, make_notification: Any, incident: Incident, settings: Any
) -> None:
    settings.SITE_URL = "https://itsm.example.com"
    notification = make_notification(Channel.WEBHOOK, address=receiver.url("/hooks/pager"))

    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.SENT

    [request] = receiver.requests
    assert request.path == "/hooks/pager"
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "itsm/1.0"
    assert headers["Idempotency-Key"] == notification.idempotency_key
    assert verify(
        secret=SECRET, timestamp=headers["X-ITSM-Timestamp"], body=request.body, signature=headers["X-ITSM-Signature"]
    )
    assert headers["X-ITSM-Signature"] == sign(
        secret=SECRET, timestamp=int(headers["X-ITSM-Timestamp"]), body=request.body
    )
    assert not verify(
        secret="another",
        timestamp=headers["X-ITSM-Timestamp"],
        body=request.body,
        signature=headers["X-ITSM-Signature"],
    )
    assert not verify(
        secret=SECRET,
        timestamp=headers["X-ITSM-Timestamp"],
        body=request.body + b" ",
        signature=headers["X-ITSM-Signature"],
    )

    payload = request.json()
    assert set(payload) == {"event", "idempotency_key", "sent_at", "incident", "notification", "ack_url"}
    assert payload["event"] == "incident.page"
    assert payload["idempotency_key"] == notification.idempotency_key
    assert dt.datetime.fromisoformat(payload["sent_at"]).tzinfo is not None
    assert payload["incident"] == {
        "number": incident.number,
        "title": "Checkout down",
        "priority": "P1",
        "state": "new",
        "url": f"https://itsm.example.com/admin/incidents/incident/{incident.pk}/change/",
    }
    assert payload["notification"] == {"id": notification.pk, "level": 1}
    assert payload["ack_url"].startswith("https://itsm.example.com/page/ack/")

    sent = _fresh(notification)
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 1, "")
    assert sent.sent_at is not None


@pytest.mark.django_db
def test_an_update_is_sent_as_incident_update(receiver: Receiver, make_notification: Any) -> None:
    notification = make_notification(Channel.WEBHOOK, address=receiver.url(), kind=NotificationKind.UPDATE)

    delivery.deliver_notification(notification_id=notification.pk)

    assert receiver.requests[0].json()["event"] == "incident.update"


def test_signatures_refuse_replays_outside_the_tolerance() -> None:
    body = b'{"event":"incident.page"}'
    signature = sign(secret=SECRET, timestamp=1_700_000_000, body=body)

    assert verify(secret=SECRET, timestamp="1700000000", body=body, signature=signature, now=1_700_000_299)
    assert not verify(secret=SECRET, timestamp="1700000000", body=body, signature=signature, now=1_700_000_301)
    assert not verify(secret=SECRET, timestamp="17e8", body=body, signature=signature, now=1_700_000_000)


@pytest.mark.django_db
def test_slack_gets_text_and_blocks_with_the_incident_and_ack_links(
    receiver: Receiver, make_notification: Any, incident: Incident
) -> None:
    notification = make_notification(
        Channel.SLACK, address=receiver.url("/services/T0/B0/xyz"), subject="P1 <down> & out"
    )

    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.SENT

    [request] = receiver.requests
    assert request.headers["Content-Type"] == "application/json"
    payload = request.json()
    incident_link = f"http://127.0.0.1:8000/admin/incidents/incident/{incident.pk}/change/"
    assert payload["text"].startswith("P1 &lt;down&gt; &amp; out\n" + incident_link)
    assert "/page/ack/" in payload["text"]
    blocks = json.dumps(payload["blocks"])
    assert f"<{incident_link}|{incident.number}>" in blocks
    assert "http://127.0.0.1:8000/page/ack/" in blocks
    assert all(block["type"] in {"section", "context"} for block in payload["blocks"])


@pytest.mark.django_db
def test_email_goes_to_the_address_with_the_ack_link(make_notification: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "pager@itsm.example.com"
    notification = make_notification(Channel.EMAIL, address="olga@example.com", subject="[P1] Checkout\ndown")

    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.SENT

    [message] = mail.outbox
    assert message.to == ["olga@example.com"]
    assert message.from_email == "pager@itsm.example.com"
    assert message.subject == "[P1] Checkout down"
    assert message.body.startswith("Checkout down. Impact high, urgency high.")
    [link] = re.findall(r"http://127\.0\.0\.1:8000/page/ack/(\S+)/", str(message.body))
    assert signing.loads(link, salt=TOKEN_SALT) == {"notification": notification.pk}
    assert message.extra_headers["X-ITSM-Idempotency-Key"] == notification.idempotency_key


# --- Retries and failures -----------------------------------------------------


@pytest.mark.django_db
def test_a_server_error_is_retried_with_back_off_and_then_sent_once(receiver: Receiver, make_notification: Any) -> None:
    receiver.respond_with(500)
    notification = make_notification(Channel.WEBHOOK, address=receiver.url())
    before = timezone.now()

    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.PENDING

    waiting = _fresh(notification)
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.last_error == "HTTP 500: nope: 500"
    wait = waiting.next_attempt_at - before
    assert dt.timedelta(seconds=30) <= wait <= dt.timedelta(seconds=34)

    # Not due yet: nothing happens.
    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.PENDING
    assert len(receiver.requests) == 1

    with time_machine.travel(waiting.next_attempt_at + dt.timedelta(seconds=1), tick=True):
        assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.SENT
        assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.SENT

    sent = _fresh(notification)
    assert (sent.status, sent.attempts) == ("sent", 2)
    assert len(receiver.requests) == 2
    assert {r.headers["Idempotency-Key"] for r in receiver.requests} == {notification.idempotency_key}


@pytest.mark.parametrize("status", [408, 429, 502, 503])
def test_back_pressure_and_server_errors_are_retryable(
    receiver: Receiver, make_notification: Any, status: int, db: None
) -> None:
    receiver.respond_with(status)
    notification = make_notification(Channel.WEBHOOK, address=receiver.url())

    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.PENDING
    assert _fresh(notification).last_error.startswith(f"HTTP {status}")


@pytest.mark.django_db
def test_a_client_error_fails_at_once_and_says_so_on_the_timeline(
    receiver: Receiver, make_notification: Any, incident: Incident
) -> None:
    receiver.respond_with(400)
    notification = make_notification(Channel.WEBHOOK, address=receiver.url())

    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.FAILED

    failed = _fresh(notification)
    assert (failed.status, failed.attempts, failed.sent_at) == ("failed", 1, None)
    assert failed.last_error == "HTTP 400: nope: 400"
    with time_machine.travel(timezone.now() + dt.timedelta(hours=1)):
        assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.FAILED
    assert len(receiver.requests) == 1

    [note] = _failure_notes(incident)
    assert note.visibility == "internal"
    assert note.data == {"notification": notification.pk, "status": "failed"}
    assert "oncall-olga" in note.body
    assert "HTTP 400" in note.body
    assert receiver.url() not in note.body


@pytest.mark.django_db
def test_after_max_attempts_the_notification_fails(
    receiver: Receiver, make_notification: Any, incident: Incident
) -> None:
    receiver.respond_with(*[503] * delivery.MAX_ATTEMPTS)
    notification = make_notification(Channel.WEBHOOK, address=receiver.url())
    waits: list[dt.timedelta] = []

    for attempt in range(1, delivery.MAX_ATTEMPTS + 1):
        due = _fresh(notification).next_attempt_at
        with time_machine.travel(due + dt.timedelta(seconds=1), tick=False):
            status = delivery.deliver_notification(notification_id=notification.pk)
            waits.append(_fresh(notification).next_attempt_at - timezone.now())
        assert _fresh(notification).attempts == attempt
        assert status == (DeliveryStatus.FAILED if attempt == delivery.MAX_ATTEMPTS else DeliveryStatus.PENDING)

    for attempt, wait in enumerate(waits[:-1], start=1):
        base = dt.timedelta(seconds=30) * 2 ** (attempt - 1)
        assert base <= wait <= base * 1.1
    assert len(receiver.requests) == delivery.MAX_ATTEMPTS
    assert _fresh(notification).status == "failed"
    assert len(_failure_notes(incident)) == 1


def test_back_off_is_capped() -> None:
    assert outbox.backoff(20) == outbox.BACKOFF_CAP
    assert dt.timedelta(seconds=30) <= outbox.backoff(1) <= dt.timedelta(seconds=33)


@pytest.mark.django_db
def test_an_unreachable_receiver_is_retried_and_the_error_names_no_url(make_notification: Any) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    address = f"http://127.0.0.1:{port}/services/T000/B000/secret-token"
    notification = make_notification(Channel.SLACK, address=address)

    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.PENDING

    error = _fresh(notification).last_error
    assert error.startswith("Could not connect to the receiver")
    assert "secret-token" not in error
    assert str(port) not in error


@pytest.mark.django_db
def test_a_webhook_without_its_secret_fails_without_sending(receiver: Receiver, make_notification: Any) -> None:
    notification = make_notification(Channel.WEBHOOK, address=receiver.url())
    ContactMethod.objects.filter(pk=notification.contact_method_id).delete()

    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.FAILED
    assert receiver.requests == []
    assert SECRET not in _fresh(notification).last_error


# --- Claims, cancellation, sweeping -------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_second_delivery_while_the_first_is_in_flight_does_nothing(
    receiver: Receiver, make_notification: Any
) -> None:
    notification = make_notification(Channel.WEBHOOK, address=receiver.url())
    receiver.gate = threading.Event()
    results: list[str] = []

    def first() -> None:
        try:
            results.append(delivery.deliver_notification(notification_id=notification.pk))
        finally:
            connection.close()

    worker = threading.Thread(target=first)
    worker.start()
    assert receiver.arrived.wait(timeout=10)  # the first call holds the claim and is sending

    second = delivery.deliver_notification(notification_id=notification.pk)

    receiver.gate.set()
    worker.join(timeout=10)
    assert second == DeliveryStatus.PENDING
    assert results == [DeliveryStatus.SENT]
    assert len(receiver.requests) == 1
    assert _fresh(notification).attempts == 1


@pytest.mark.django_db
def test_a_page_for_an_acknowledged_incident_is_cancelled_not_sent(
    receiver: Receiver, make_notification: Any, incident: Incident, responder: Any
) -> None:
    page = make_notification(Channel.WEBHOOK, address=receiver.url())
    update = make_notification(Channel.WEBHOOK, address=receiver.url(), kind=NotificationKind.UPDATE)
    lifecycle.acknowledge_incident(incident=incident, actor=responder)

    assert delivery.deliver_notification(notification_id=page.pk) == DeliveryStatus.CANCELLED
    assert delivery.deliver_notification(notification_id=update.pk) == DeliveryStatus.SENT

    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [update.idempotency_key]
    assert (_fresh(page).status, _fresh(page).attempts) == ("cancelled", 0)


@pytest.mark.django_db
def test_a_page_for_a_cancelled_incident_is_cancelled(
    receiver: Receiver, make_notification: Any, incident: Incident, manager: Any
) -> None:
    page = make_notification(Channel.WEBHOOK, address=receiver.url())
    lifecycle.cancel_incident(incident=incident, actor=manager, reason="Duplicate report")

    assert delivery.deliver_notification(notification_id=page.pk) == DeliveryStatus.CANCELLED
    assert receiver.requests == []


@pytest.mark.django_db
def test_the_sweep_delivers_due_rows_only_in_order(receiver: Receiver, make_notification: Any) -> None:
    first = make_notification(Channel.WEBHOOK, address=receiver.url())
    later = make_notification(
        Channel.WEBHOOK, address=receiver.url(), next_attempt_at=timezone.now() + dt.timedelta(minutes=5)
    )
    done = make_notification(Channel.WEBHOOK, address=receiver.url(), status=DeliveryStatus.SENT)
    second = make_notification(Channel.WEBHOOK, address=receiver.url())

    assert delivery.sweep_due_notifications(batch_size=1) == 2

    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [first.idempotency_key, second.idempotency_key]
    assert (_fresh(later).status, _fresh(later).attempts) == ("pending", 0)
    assert _fresh(done).attempts == 0
    assert delivery.sweep_notifications() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_sweep_skips_rows_locked_by_another_worker(receiver: Receiver, make_notification: Any) -> None:
    locked = make_notification(Channel.WEBHOOK, address=receiver.url())
    free = make_notification(Channel.WEBHOOK, address=receiver.url())
    holding, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        try:
            with transaction.atomic():
                Notification.objects.select_for_update().get(pk=locked.pk)
                holding.set()
                release.wait(timeout=10)
        finally:
            connection.close()

    other = threading.Thread(target=hold_lock)
    other.start()
    assert holding.wait(timeout=10)
    try:
        assert delivery.sweep_due_notifications() == 1
    finally:
        release.set()
        other.join(timeout=10)

    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [free.idempotency_key]
    assert _fresh(locked).status == "pending"


# --- Enqueueing and redelivery -------------------------------------------------


@pytest.mark.django_db
def test_enqueue_delivers_after_commit_and_leaves_long_waits_to_the_sweeper(
    receiver: Receiver, make_notification: Any, eager_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    due = make_notification(Channel.WEBHOOK, address=receiver.url())
    far = make_notification(
        Channel.WEBHOOK, address=receiver.url(), next_attempt_at=timezone.now() + dt.timedelta(minutes=11)
    )

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        delivery.enqueue_delivery(notification=due)
        delivery.enqueue_delivery(notification=far)
    assert receiver.requests == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    assert [r.headers["Idempotency-Key"] for r in receiver.requests] == [due.idempotency_key]
    assert _fresh(due).status == "sent"
    assert (_fresh(far).status, _fresh(far).attempts) == ("pending", 0)


@pytest.mark.django_db
def test_the_task_retries_a_retryable_failure_and_stops_on_success(
    receiver: Receiver, make_notification: Any, eager_tasks: None
) -> None:
    receiver.respond_with(503)
    notification = make_notification(Channel.WEBHOOK, address=receiver.url())

    assert delivery.deliver_notification_task.delay(notification.pk).get() == DeliveryStatus.PENDING
    # Eager tasks ignore countdowns: the re-enqueued attempt ran at once and found the row not yet due.
    assert len(receiver.requests) == 1

    with time_machine.travel(_fresh(notification).next_attempt_at + dt.timedelta(seconds=1), tick=True):
        assert delivery.deliver_notification_task.delay(notification.pk).get() == DeliveryStatus.SENT
    assert len(receiver.requests) == 2


@pytest.mark.django_db
def test_redelivery_puts_a_failed_notification_back_and_sends_it(
    receiver: Receiver,
    make_notification: Any,
    agent: Any,
    make_user: Any,
    incident: Incident,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    receiver.respond_with(404)
    notification = make_notification(Channel.WEBHOOK, address=receiver.url())
    delivery.deliver_notification(notification_id=notification.pk)
    assert _fresh(notification).status == "failed"

    with pytest.raises(PermissionDenied):
        delivery.redeliver_notification(notification=notification, actor=make_user(REPORTER))
    with django_capture_on_commit_callbacks(execute=True):
        again = delivery.redeliver_notification(notification=notification, actor=agent)

    assert again.pk == notification.pk
    sent = _fresh(notification)
    assert (sent.status, sent.attempts) == ("sent", 1)
    assert len(receiver.requests) == 2
    assert incident.timeline.filter(kind="note", actor=agent, data__redelivery=True).count() == 1
    with pytest.raises(ValidationError, match="failed"):
        delivery.redeliver_notification(notification=notification, actor=agent)


# --- The acknowledgement link --------------------------------------------------


def _ack_path(notification: Notification) -> str:
    return "/page/ack/" + ack_url(notification=notification).split("/page/ack/")[1]


@pytest.mark.django_db
def test_opening_the_link_asks_and_posting_acknowledges_as_the_recipient(
    make_notification: Any, incident: Incident, responder: Any
) -> None:
    notification = make_notification(Channel.EMAIL)
    path = _ack_path(notification)
    browser = Client(enforce_csrf_checks=True)

    page = browser.get(path)

    assert page.status_code == 200
    assert b"<form" in page.content
    assert b"Olga Oncall" in page.content
    assert "csrftoken" in page.cookies
    assert page["Cache-Control"].startswith("max-age=0")
    assert Incident.objects.get(pk=incident.pk).state == "new"

    assert browser.post(path).status_code == 403  # no CSRF token, no acknowledgement
    answer = browser.post(path, {"csrfmiddlewaretoken": page.cookies["csrftoken"].value})

    assert answer.status_code == 200
    assert b"Acknowledged" in answer.content
    acknowledged = Incident.objects.get(pk=incident.pk)
    assert acknowledged.state == "acknowledged"
    assert acknowledged.history.first().history_user == responder
    assert acknowledged.timeline.get(kind="transition").actor == responder

    again = browser.post(path, {"csrfmiddlewaretoken": page.cookies["csrftoken"].value})
    assert again.status_code == 200
    assert b"Already acknowledged" in again.content
    assert acknowledged.timeline.filter(kind="transition").count() == 1
    assert b"Already acknowledged" in browser.get(path).content


@pytest.mark.django_db
def test_a_recipient_who_may_not_acknowledge_gets_a_friendly_refusal(
    make_notification: Any, make_user: Any, incident: Incident
) -> None:
    notification = make_notification(Channel.EMAIL, user=make_user(REPORTER))

    answer = Client().post(_ack_path(notification))

    assert answer.status_code == 200
    assert b"may not acknowledge" in answer.content
    assert Incident.objects.get(pk=incident.pk).state == "new"


@pytest.mark.django_db
def test_expired_and_forged_links_are_refused(make_notification: Any, incident: Incident) -> None:
    notification = make_notification(Channel.EMAIL)
    path = _ack_path(notification)
    forged = signing.dumps({"notification": notification.pk}, salt="something-else")
    damaged = path[:-3] + ("A" if path[-3] != "A" else "B") + path[-2:]

    with time_machine.travel(timezone.now() + dt.timedelta(hours=25)):
        assert Client().get(path).status_code == 400
        assert Client().post(path).status_code == 400
    assert Client().get(f"/page/ack/{forged}/").status_code == 400
    assert Client().post(damaged).status_code == 400
    assert Client().get("/page/ack/not-a-token/").status_code == 400
    assert signing.loads(path.split("/")[3], salt=TOKEN_SALT) == {"notification": notification.pk}
    assert Incident.objects.get(pk=incident.pk).state == "new"
