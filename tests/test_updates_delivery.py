"""Subscribers of a service receive its stakeholder-facing updates by email and signed webhook, never internal ones."""

import datetime as dt
import uuid
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from incidents import update_delivery, updates
from incidents.models import Incident, Service, StatusUpdate, UpdateDelivery, UpdateSubscription
from incidents.updates import post_status_update
from tests.receivers import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def other_service(team: Any) -> Service:
    return Service.objects.create(name="Customer dashboard", slug="customer-dashboard", owner_team=team)


@pytest.fixture
def incident(make_incident: Any, service: Service) -> Incident:
    incident: Incident = make_incident(title="Checkout down", impact="high", urgency="high", services=[service])
    return incident


@pytest.fixture
def subscriber(reporter: Any) -> Any:
    reporter.email = "rina@example.com"
    reporter.save()
    return reporter


def stakeholder_update(incident: Incident, actor: Any, body: str = "We are rolling back.") -> StatusUpdate:
    return post_status_update(incident=incident, actor=actor, body=body, audience="stakeholders")


def statuses() -> list[tuple[str, str]]:
    return list(UpdateDelivery.objects.order_by("pk").values_list("channel", "status"))


def fresh(delivery: UpdateDelivery) -> UpdateDelivery:
    return UpdateDelivery.objects.get(pk=delivery.pk)


# --- Who receives what --------------------------------------------------------------


def test_a_stakeholder_update_is_emailed_to_each_subscriber(
    incident: Incident, service: Service, subscriber: Any, manager: Any, agent: Any
) -> None:
    updates.subscribe(actor=subscriber, service=service, user=subscriber)
    updates.subscribe(actor=manager, service=service, email="ops@partner.example")

    stakeholder_update(incident, agent, "Card payments fail; rolling back release 42.")
    assert statuses() == [("email", "pending"), ("email", "pending")]
    assert update_delivery.sweep_due_update_deliveries() == 2

    assert statuses() == [("email", "delivered"), ("email", "delivered")]
    assert sorted(message.to[0] for message in mail.outbox) == ["ops@partner.example", "rina@example.com"]
    message = next(m for m in mail.outbox if m.to == ["rina@example.com"])
    delivery = UpdateDelivery.objects.get(subscription__user=subscriber)
    assert message.subject == f"[{incident.number}] Status update: Checkout down"
    assert message.body.startswith("Card payments fail; rolling back release 42.\n\n")
    assert "State: New · priority P1" in message.body
    assert message.extra_headers["X-ITSM-Incident"] == incident.number
    assert message.extra_headers["X-ITSM-Idempotency-Key"] == str(delivery.event_id)
    assert update_delivery.sweep_due_update_deliveries() == 0
    assert len(mail.outbox) == 2


def test_a_webhook_subscriber_gets_the_update_signed(
    incident: Incident, service: Service, manager: Any, agent: Any, receiver: Receiver
) -> None:
    subscription = updates.subscribe(actor=manager, service=service, url=receiver.url("/status"))
    receiver.secrets["/status"] = subscription.secret

    update = stakeholder_update(incident, agent)
    [delivery] = UpdateDelivery.objects.all()
    assert update_delivery.deliver_update(delivery_id=delivery.pk) == "delivered"

    [request] = receiver.requests
    assert request.verified is True
    assert request.headers["X-ITSM-Event"] == "incident.status_update"
    assert request.headers["X-ITSM-Delivery"] == str(delivery.event_id)
    assert request.headers["X-ITSM-Signature"].startswith("sha256=")
    assert request.json() == {
        "id": str(delivery.event_id),
        "type": "incident.status_update",
        "created_at": update.created_at.astimezone(dt.UTC).isoformat(),
        "incident": {"number": incident.number, "title": "Checkout down", "services": ["checkout-payments"]},
        "update": {
            "id": update.pk,
            "body": "We are rolling back.",
            "state": "new",
            "priority": "P1",
            "posted_at": update.created_at.astimezone(dt.UTC).isoformat(),
        },
    }
    assert (fresh(delivery).status, fresh(delivery).last_status_code) == ("delivered", 200)


def test_internal_updates_are_never_delivered(
    incident: Incident, service: Service, subscriber: Any, manager: Any, agent: Any, receiver: Receiver
) -> None:
    updates.subscribe(actor=subscriber, service=service, user=subscriber)
    updates.subscribe(actor=manager, service=service, url=receiver.url())

    post_status_update(incident=incident, actor=agent, body="Rolling back release 42", audience="internal")
    update_delivery.sweep_due_update_deliveries()

    assert not UpdateDelivery.objects.exists()
    assert mail.outbox == []
    assert receiver.requests == []


def test_only_active_subscribers_of_the_affected_services_each_once(
    incident: Incident, service: Service, other_service: Service, subscriber: Any, manager: Any, agent: Any
) -> None:
    incident.services.add(other_service)
    updates.subscribe(actor=subscriber, service=service, user=subscriber)
    updates.subscribe(actor=subscriber, service=other_service, user=subscriber)
    paused = updates.subscribe(actor=manager, service=service, email="paused@example.com")
    updates.set_subscription_active(actor=manager, subscription=paused, active=False)
    elsewhere = Service.objects.create(name="Logistics", slug="logistics")
    updates.subscribe(actor=manager, service=elsewhere, email="logistics@example.com")
    # The same address again (in other letters): told once.
    updates.subscribe(actor=manager, service=service, email="RINA@example.com")

    stakeholder_update(incident, agent)
    update_delivery.sweep_due_update_deliveries()

    assert [message.to for message in mail.outbox] == [["rina@example.com"]]
    assert list(UpdateDelivery.objects.values_list("subscription__user__username", flat=True)) == ["rina"]


# --- Retries, failures and redelivery --------------------------------------------------


def test_a_failing_receiver_is_retried_with_back_off_then_delivered(
    incident: Incident, service: Service, manager: Any, agent: Any, receiver: Receiver
) -> None:
    updates.subscribe(actor=manager, service=service, url=receiver.url())
    receiver.respond_with(503, 500)
    stakeholder_update(incident, agent)
    [delivery] = UpdateDelivery.objects.all()

    assert update_delivery.deliver_update(delivery_id=delivery.pk) == "pending"
    first = fresh(delivery)
    assert (first.attempts, first.last_status_code) == (1, 503)
    assert dt.timedelta(seconds=30) <= first.next_attempt_at - first.created_at <= dt.timedelta(seconds=40)
    assert update_delivery.deliver_update(delivery_id=delivery.pk) == "pending"  # not due yet: nothing sent
    assert len(receiver.requests) == 1

    with time_machine.travel(first.next_attempt_at + dt.timedelta(seconds=1), tick=True):
        assert update_delivery.sweep_due_update_deliveries() == 1
    second = fresh(delivery)
    assert (second.attempts, second.last_status_code, second.status) == (2, 500, "pending")
    assert second.next_attempt_at - first.next_attempt_at >= dt.timedelta(seconds=60)

    with time_machine.travel(second.next_attempt_at + dt.timedelta(seconds=1), tick=True):
        update_delivery.sweep_due_update_deliveries()
    assert (fresh(delivery).status, fresh(delivery).attempts) == ("delivered", 3)
    assert len({request.headers["X-ITSM-Delivery"] for request in receiver.requests}) == 1


def test_a_refusal_fails_at_once_and_a_manager_redelivers(
    incident: Incident,
    service: Service,
    manager: Any,
    agent: Any,
    receiver: Receiver,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    subscription = updates.subscribe(actor=manager, service=service, url=receiver.url("/secret-token-path"))
    receiver.respond_with(404)
    # A receiver that echoes what it was sent must not get the URL or the secret into the log.
    receiver.answer_body = f"no route for {subscription.url} ({subscription.secret})".encode()
    stakeholder_update(incident, agent)
    [delivery] = UpdateDelivery.objects.all()

    assert update_delivery.deliver_update(delivery_id=delivery.pk) == "failed"
    failed = fresh(delivery)
    assert (failed.status, failed.last_status_code) == ("failed", 404)
    assert failed.last_error == "HTTP 404: no route for [hidden] ([hidden])"

    with pytest.raises(PermissionDenied):
        update_delivery.redeliver_update(delivery=failed, actor=agent)
    with django_capture_on_commit_callbacks(execute=True):
        update_delivery.redeliver_update(delivery=failed, actor=manager)

    again = fresh(delivery)
    assert (again.status, again.attempts, again.redelivered_by) == ("delivered", 1, manager)
    assert len(receiver.requests) == 2
    UpdateDelivery.objects.filter(pk=delivery.pk).update(status="pending")
    with pytest.raises(ValidationError):
        update_delivery.redeliver_update(delivery=again, actor=manager)


def test_a_subscription_paused_before_sending_fails_the_row(
    incident: Incident, service: Service, subscriber: Any, agent: Any
) -> None:
    subscription = updates.subscribe(actor=subscriber, service=service, user=subscriber)
    stakeholder_update(incident, agent)
    updates.set_subscription_active(actor=subscriber, subscription=subscription, active=False)

    update_delivery.sweep_due_update_deliveries()

    assert statuses() == [("email", "failed")]
    assert UpdateDelivery.objects.get().last_error == "The subscription is paused."
    assert mail.outbox == []


def test_posting_enqueues_the_delivery_after_commit(
    incident: Incident,
    service: Service,
    manager: Any,
    agent: Any,
    receiver: Receiver,
    eager_tasks: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    updates.subscribe(actor=manager, service=service, url=receiver.url())
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        stakeholder_update(incident, agent)
        assert receiver.requests == []

    assert callbacks
    assert statuses() == [("webhook", "delivered")]
    assert len(receiver.requests) == 1


def test_update_tasks_run_on_the_webhooks_queue_and_are_swept(settings: Any) -> None:
    for task in ("incidents.deliver_status_update", "incidents.sweep_status_updates"):
        assert settings.CELERY_TASK_ROUTES[task] == {"queue": settings.CELERY_WEBHOOK_QUEUE}
    assert "incidents.sweep_status_updates" in {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}


# --- Subscribing ------------------------------------------------------------------------


def test_reporters_subscribe_themselves_through_the_api(
    service: Service, subscriber: Any, api: Any, other_service: Service
) -> None:
    client = api(subscriber)
    assert client.get("/api/v1/me/subscriptions/").json()["results"] == []

    created = client.post("/api/v1/me/subscriptions/", {"service": "checkout-payments"}, format="json")
    assert created.status_code == 201, created.json()
    subscription = UpdateSubscription.objects.get()
    assert created.json() == {
        "id": subscription.pk,
        "service": "checkout-payments",
        "channel": "email",
        "address": "rina@example.com",
        "is_active": True,
        "created_at": created.json()["created_at"],
    }
    assert (subscription.user, subscription.created_by) == (subscriber, subscriber)
    assert subscription.history.get().history_user == subscriber

    again = client.post("/api/v1/me/subscriptions/", {"service": "checkout-payments"}, format="json")
    assert again.status_code == 400
    assert list(again.json()) == ["service"]
    assert client.post("/api/v1/me/subscriptions/", {"service": "nope"}, format="json").status_code == 400
    assert client.post("/api/v1/me/subscriptions/", {"service": "customer-dashboard", "url": "x"}).status_code == 400
    assert [s["service"] for s in client.get("/api/v1/me/subscriptions/").json()["results"]] == ["checkout-payments"]

    assert client.delete(f"/api/v1/me/subscriptions/{subscription.pk}/").status_code == 204
    assert not UpdateSubscription.objects.exists()
    deleted = UpdateSubscription.history.filter(id=subscription.pk, history_type="-").get()
    assert deleted.history_user == subscriber


def test_others_subscriptions_are_not_mine(service: Service, subscriber: Any, manager: Any, api: Any) -> None:
    theirs = updates.subscribe(actor=manager, service=service, email="ops@partner.example")
    client = api(subscriber)
    assert client.get("/api/v1/me/subscriptions/").json()["results"] == []
    assert client.delete(f"/api/v1/me/subscriptions/{theirs.pk}/").status_code == 404
    with pytest.raises(PermissionDenied):
        updates.unsubscribe(actor=subscriber, subscription=theirs)
    assert UpdateSubscription.objects.filter(pk=theirs.pk).exists()
    assert api(None).get("/api/v1/me/subscriptions/").status_code == 401


def test_an_account_without_an_email_cannot_subscribe(service: Service, reporter: Any, api: Any) -> None:
    response = api(reporter).post("/api/v1/me/subscriptions/", {"service": "checkout-payments"}, format="json")
    assert response.status_code == 400
    assert "user" in response.json()


def test_subscribing_others_takes_the_managers_right(
    service: Service, agent: Any, manager: Any, subscriber: Any
) -> None:
    with pytest.raises(PermissionDenied):
        updates.subscribe(actor=agent, service=service, email="ops@partner.example")
    with pytest.raises(PermissionDenied):
        updates.subscribe(actor=agent, service=service, user=subscriber)

    with pytest.raises(ValidationError) as two:
        updates.subscribe(actor=manager, service=service, email="a@example.com", url="https://hooks.example.com/")
    assert "non_field_errors" in two.value.message_dict
    with pytest.raises(ValidationError) as bad_email:
        updates.subscribe(actor=manager, service=service, email="not-an-address")
    assert "email" in bad_email.value.message_dict
    with pytest.raises(ValidationError) as bad_url:
        updates.subscribe(actor=manager, service=service, url="ftp://hooks.example.com/")
    assert "url" in bad_url.value.message_dict

    webhook = updates.subscribe(actor=manager, service=service, url="https://hooks.example.com/itsm")
    assert (webhook.channel, len(webhook.secret)) == ("webhook", 64)
    assert "secret" not in {field.name for field in UpdateSubscription.history.model._meta.fields}
    assert webhook.recipient == "webhook to hooks.example.com"


def test_every_delivery_has_its_own_event_id(incident: Incident, service: Service, manager: Any, agent: Any) -> None:
    updates.subscribe(actor=manager, service=service, email="one@example.com")
    updates.subscribe(actor=manager, service=service, email="two@example.com")
    stakeholder_update(incident, agent)
    ids = list(UpdateDelivery.objects.values_list("event_id", flat=True))
    assert len(set(ids)) == 2
    assert all(isinstance(value, uuid.UUID) for value in ids)
