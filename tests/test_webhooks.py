"""Outbound webhooks: each event from the real domain functions, the payload's schema, the outbox.

Events go to a local receiver (tests/receivers.py) that checks every
signature with `escalation.channels.verify` and the timestamp header, as a
real receiver would; a request it cannot verify is answered 401.
"""

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from escalation import paging, timers, webhook_delivery, webhooks
from escalation.channels import sign
from escalation.models import (
    EscalationLevel,
    EscalationPolicy,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from incidents import lifecycle, services
from incidents.models import Incident
from tests.receivers import Receiver

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 18, 3, 0, tzinfo=dt.UTC)
START_ISO = "2026-11-18T03:00:00+00:00"

# The schema as DESIGN promises it to receivers: keys are only ever added, so
# a change here is a change to a public contract.
PAYLOAD_KEYS = {"id", "type", "created_at", "actor", "incident", "data"}
INCIDENT_KEYS = {
    "number",
    "title",
    "state",
    "priority",
    "impact",
    "urgency",
    "category",
    "source",
    "services",
    "team",
    "assignee",
    "commander",
    "support_tier",
    "url",
    "started_at",
    "detected_at",
    "created_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
}
DATA_KEYS = {
    "incident.created": set(),
    "incident.transitioned": {"transition", "from_state", "to_state"},
    "incident.priority_changed": {"from_priority", "to_priority", "overridden"},
    "incident.escalated": {"trigger", "level", "support_tier", "targets"},
    "incident.sla_breached": {"clock", "target_seconds", "business_hours", "due_at", "breached_at"},
    "note.added": {"note_id", "kind", "visibility", "body"},
}


@pytest.fixture
def subscribe(receiver: Receiver, db: None) -> Callable[..., WebhookSubscription]:
    """A subscription posting to its own path on the receiver, which verifies with its secret."""
    counter = iter(range(1, 1000))

    def make(*event_types: str, name: str | None = None, is_active: bool = True) -> WebhookSubscription:
        index = next(counter)
        subscription = WebhookSubscription.objects.create(
            name=name or f"receiver-{index}",
            url=receiver.url(f"/itsm/{index}"),
            event_types=list(event_types or WebhookEvent.values),
            is_active=is_active,
        )
        receiver.secrets[f"/itsm/{index}"] = subscription.secret
        return subscription

    return make


def deliver() -> int:
    """What the webhook workers do: send everything that is due."""
    return webhook_delivery.sweep_due_webhooks()


def received(receiver: Receiver) -> list[dict[str, Any]]:
    assert all(request.verified for request in receiver.requests), "a request failed its signature check"
    return receiver.json_bodies()


def of_type(receiver: Receiver, event_type: str) -> list[dict[str, Any]]:
    return [event for event in received(receiver) if event["type"] == event_type]


def check_schema(event: dict[str, Any]) -> None:
    assert set(event) == PAYLOAD_KEYS
    assert set(event["incident"]) == INCIDENT_KEYS
    assert set(event["data"]) == DATA_KEYS[event["type"]]
    uuid.UUID(event["id"])
    assert dt.datetime.fromisoformat(event["created_at"]).utcoffset() == dt.timedelta(0)


@pytest.fixture
def policy(make_user: Any, service: Any) -> EscalationPolicy:
    """Level 1 pages "first", level 2 five minutes later pages "second"."""
    policy = EscalationPolicy.objects.create(name="Payments", is_default=True)
    for position, name in ((1, "first"), (2, "second")):
        user = make_user("agent", username=name)
        user.email = f"{name}@example.com"
        user.save()
        level = EscalationLevel.objects.create(policy=policy, position=position, escalate_after=dt.timedelta(minutes=5))
        level.users.add(user)
    return policy


# --- The six events, each through the real domain functions -------------------


def test_reporting_sends_incident_created_with_the_documented_payload_and_headers(
    subscribe: Any, receiver: Receiver, agent: Any, service: Any, team: Any, settings: Any
) -> None:
    settings.SITE_URL = "https://itsm.example.com"
    subscription = subscribe(WebhookEvent.INCIDENT_CREATED)
    with time_machine.travel(START, tick=False):
        incident = services.report_incident(
            reporter=agent,
            title="Checkout down",
            category="api_disruption",
            impact="high",
            urgency="medium",
            services=[service],
            team=team,
            assignee=agent,
        )
        assert deliver() == 1

    [request] = receiver.requests
    assert request.verified is True
    assert request.path == f"/itsm/{subscription.url.rsplit('/', 1)[1]}"
    [event] = received(receiver)
    row = WebhookDelivery.objects.get()
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "itsm/1.0"
    assert headers["X-ITSM-Event"] == "incident.created"
    assert headers["X-ITSM-Delivery"] == str(row.event_id) == event["id"]
    assert headers["X-ITSM-Timestamp"] == str(int(START.timestamp()))
    assert headers["X-ITSM-Signature"] == sign(
        secret=subscription.secret, timestamp=int(START.timestamp()), body=request.body
    )
    check_schema(event)
    assert event == {
        "id": str(row.event_id),
        "type": "incident.created",
        "created_at": START_ISO,
        "actor": {"username": "agus"},
        "incident": {
            "number": incident.number,
            "title": "Checkout down",
            "state": "new",
            "priority": "P2",
            "impact": "high",
            "urgency": "medium",
            "category": "api_disruption",
            "source": "web",
            "services": ["checkout-payments"],
            "team": "payments",
            "assignee": "agus",
            "commander": None,
            "support_tier": 1,
            "url": f"https://itsm.example.com/admin/incidents/incident/{incident.pk}/change/",
            "started_at": START_ISO,
            "detected_at": START_ISO,
            "created_at": START_ISO,
            "acknowledged_at": None,
            "mitigated_at": None,
            "resolved_at": None,
            "closed_at": None,
        },
        "data": {},
    }
    assert (row.status, row.attempts, row.last_status_code, row.response_excerpt) == ("delivered", 1, 200, "ok")
    assert row.incident_id == incident.pk


def test_every_transition_sends_incident_transitioned(
    subscribe: Any, receiver: Receiver, make_incident: Any, agent: Any
) -> None:
    subscribe(WebhookEvent.INCIDENT_TRANSITIONED)
    incident = make_incident()
    incident = lifecycle.acknowledge_incident(incident=incident, actor=agent)
    incident = lifecycle.investigate_incident(incident=incident, actor=agent)
    incident = lifecycle.hold_incident(incident=incident, actor=agent, reason="Waiting for the vendor")
    incident = lifecycle.resume_incident(incident=incident, actor=agent)
    incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Failed over")
    lifecycle.resolve_incident(incident=incident, actor=agent, root_cause="Disk full", resolution="Grew the disk")

    assert deliver() == 6
    events = sorted(received(receiver), key=lambda event: WebhookDelivery.objects.get(event_id=event["id"]).pk)
    for event in events:
        check_schema(event)
        assert event["actor"] == {"username": "agus"}
    assert [(data["transition"], data["from_state"], data["to_state"]) for data in (e["data"] for e in events)] == [
        ("acknowledge", "new", "acknowledged"),
        ("investigate", "acknowledged", "investigating"),
        ("hold", "investigating", "on_hold"),
        ("resume", "on_hold", "investigating"),
        ("mitigate", "investigating", "mitigated"),
        ("resolve", "mitigated", "resolved"),
    ]
    # Each payload shows the incident as it was right after its own transition.
    assert [event["incident"]["state"] for event in events] == [event["data"]["to_state"] for event in events]
    assert events[0]["incident"]["acknowledged_at"] is not None
    assert events[-1]["incident"]["resolved_at"] is not None
    assert events[-2]["incident"]["resolved_at"] is None


def test_priority_changes_by_hand_and_by_the_matrix_send_priority_changed(
    subscribe: Any, receiver: Receiver, make_incident: Any, agent: Any, manager: Any
) -> None:
    subscribe(WebhookEvent.INCIDENT_PRIORITY_CHANGED)
    incident = make_incident(impact="medium", urgency="medium")  # P3
    incident = services.update_incident(incident=incident, actor=agent, changes={"impact": "high"})  # P2
    services.override_priority(incident=incident, actor=manager, priority="P1", reason="Spreading to all regions")
    services.override_priority(incident=incident, actor=manager, priority="P1", reason="Still P1")  # no change

    assert deliver() == 2
    events = {event["data"]["to_priority"]: event for event in received(receiver)}
    for event in events.values():
        check_schema(event)
    assert events["P2"]["data"] == {"from_priority": "P3", "to_priority": "P2", "overridden": False}
    assert events["P2"]["actor"] == {"username": "agus"}
    assert events["P1"]["data"] == {"from_priority": "P2", "to_priority": "P1", "overridden": True}
    assert events["P1"]["actor"] == {"username": "maya"}
    assert events["P1"]["incident"]["priority"] == "P1"


def test_escalation_steps_send_incident_escalated(
    subscribe: Any, receiver: Receiver, make_incident: Any, policy: EscalationPolicy, service: Any
) -> None:
    subscribe(WebhookEvent.INCIDENT_ESCALATED)
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high", services=[service])
        assert deliver() == 0  # the escalation has started; nobody has been paged yet
        timers.sweep_due_timers()
        traveller.move_to(START + dt.timedelta(minutes=5))
        timers.sweep_due_timers()
        assert deliver() == 2

    events = sorted(received(receiver), key=lambda event: event["data"]["level"])
    for event in events:
        check_schema(event)
        assert event["actor"] is None
        assert event["incident"]["number"] == incident.number
    assert [event["data"] for event in events] == [
        {"trigger": "created", "level": 1, "support_tier": 1, "targets": ["first"]},
        {"trigger": "created", "level": 2, "support_tier": 1, "targets": ["second"]},
    ]


def test_manual_escalation_sends_incident_escalated_with_the_agent(
    subscribe: Any, receiver: Receiver, make_incident: Any, policy: EscalationPolicy, service: Any, agent: Any
) -> None:
    subscribe(WebhookEvent.INCIDENT_ESCALATED)
    incident = make_incident(impact="medium", urgency="medium", services=[service])
    paging.escalate_incident(incident=incident, actor=agent, note="Needs the database team")

    assert deliver() == 1
    [event] = received(receiver)
    check_schema(event)
    assert event["actor"] == {"username": "agus"}
    assert event["data"] == {"trigger": "manual", "level": 2, "support_tier": 2, "targets": ["second"]}
    assert event["incident"]["support_tier"] == 2


def test_a_resolve_clock_at_risk_pages_the_next_tier_and_sends_incident_escalated(
    subscribe: Any, receiver: Receiver, make_incident: Any, policy: EscalationPolicy, service: Any, agent: Any
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high", services=[service])  # P1: resolve within 4 hours
        lifecycle.acknowledge_incident(incident=incident, actor=agent)  # stops the paging, not the resolve clock
        subscribe(WebhookEvent.INCIDENT_ESCALATED)
        traveller.move_to(START + dt.timedelta(hours=3))  # 75 % of the target
        timers.sweep_due_timers()
        assert deliver() == 1

    [event] = received(receiver)
    check_schema(event)
    assert event["actor"] is None
    assert event["data"] == {"trigger": "sla_warning", "level": 2, "support_tier": 2, "targets": ["second"]}


def test_a_breached_sla_clock_sends_incident_sla_breached(
    subscribe: Any, receiver: Receiver, make_incident: Any
) -> None:
    subscribe(WebhookEvent.INCIDENT_SLA_BREACHED)
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high")  # P1: acknowledge within 15 minutes
        traveller.move_to(START + dt.timedelta(minutes=14, seconds=59))
        timers.sweep_due_timers()  # the warning fires, the breach not yet
        assert deliver() == 0
        traveller.move_to(START + dt.timedelta(minutes=15))
        timers.sweep_due_timers()
        assert deliver() == 1
        timers.sweep_due_timers()  # fired once, told once
        assert deliver() == 0

    [event] = received(receiver)
    check_schema(event)
    assert event["actor"] is None
    assert event["created_at"] == "2026-11-18T03:15:00+00:00"
    assert event["incident"]["number"] == incident.number
    assert event["data"] == {
        "clock": "acknowledge",
        "target_seconds": 900,
        "business_hours": False,
        "due_at": "2026-11-18T03:15:00+00:00",
        "breached_at": "2026-11-18T03:15:00+00:00",
    }


def test_notes_and_status_updates_send_note_added(
    subscribe: Any, receiver: Receiver, make_incident: Any, agent: Any, reporter: Any
) -> None:
    subscribe(WebhookEvent.NOTE_ADDED)
    incident = make_incident()
    internal = services.add_note(incident=incident, actor=agent, body="Looking at the database")
    public = services.add_note(incident=incident, actor=reporter, body="Still failing for me", visibility="public")
    update = services.add_note(
        incident=incident, actor=agent, body="Fix is rolling out", visibility="public", kind="status_update"
    )

    assert deliver() == 3
    events = {event["data"]["note_id"]: event for event in received(receiver)}
    for event in events.values():
        check_schema(event)
    assert events[internal.pk]["data"] == {
        "note_id": internal.pk,
        "kind": "note",
        "visibility": "internal",
        "body": "Looking at the database",
    }
    assert events[internal.pk]["actor"] == {"username": "agus"}
    assert events[public.pk]["data"]["visibility"] == "public"
    assert events[public.pk]["actor"] == {"username": "rina"}
    assert events[update.pk]["data"]["kind"] == "status_update"


def test_a_refused_note_sends_nothing(subscribe: Any, make_incident: Any, reporter: Any) -> None:
    subscribe(WebhookEvent.NOTE_ADDED)
    incident = make_incident()
    with pytest.raises(Exception, match="public notes only"):
        services.add_note(incident=incident, actor=reporter, body="Internal from a reporter")
    assert not WebhookDelivery.objects.exists()


# --- Subscriptions and the outbox ---------------------------------------------


def test_each_subscription_gets_only_the_types_it_chose(
    subscribe: Any, receiver: Receiver, make_incident: Any, agent: Any
) -> None:
    created_only = subscribe(WebhookEvent.INCIDENT_CREATED)
    notes_only = subscribe(WebhookEvent.NOTE_ADDED)
    both = subscribe(WebhookEvent.INCIDENT_CREATED, WebhookEvent.NOTE_ADDED)
    incident = make_incident()
    services.add_note(incident=incident, actor=agent, body="On it")
    lifecycle.acknowledge_incident(incident=incident, actor=agent)

    rows = WebhookDelivery.objects.order_by("pk")
    assert sorted((row.subscription_id, row.event_type) for row in rows) == sorted(
        [
            (created_only.pk, "incident.created"),
            (both.pk, "incident.created"),
            (notes_only.pk, "note.added"),
            (both.pk, "note.added"),
        ]
    )
    # One event, one id, whoever receives it.
    created_ids = {row.event_id for row in rows if row.event_type == "incident.created"}
    assert len(created_ids) == 1
    assert deliver() == 4
    assert {request.path for request in receiver.requests} == {
        f"/itsm/{n}" for n in (1, 2, 3)
    }  # each subscription's own URL


def test_inactive_subscriptions_get_nothing(subscribe: Any, receiver: Receiver, make_incident: Any) -> None:
    subscribe(name="paused", is_active=False)
    make_incident()
    assert not WebhookDelivery.objects.exists()
    assert deliver() == 0
    assert receiver.requests == []


def test_a_subscription_made_inactive_before_sending_fails_the_row_without_sending(
    subscribe: Any, receiver: Receiver, make_incident: Any
) -> None:
    subscription = subscribe()
    make_incident()
    WebhookSubscription.objects.filter(pk=subscription.pk).update(is_active=False)

    assert deliver() == 1
    row = WebhookDelivery.objects.get()
    assert (row.status, row.last_error, row.last_status_code) == ("failed", "The subscription is not active.", None)
    assert receiver.requests == []


def test_a_rolled_back_change_leaves_no_delivery_and_sends_nothing(
    subscribe: Any, receiver: Receiver, make_incident: Any, django_capture_on_commit_callbacks: Any
) -> None:
    subscribe()

    written: list[int] = []

    class Abandoned(Exception):
        pass

    def report_then_fail() -> None:
        with transaction.atomic():
            make_incident(title="Never happened")
            written.append(WebhookDelivery.objects.count())  # in the change's own transaction
            raise Abandoned

    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(Abandoned):
        report_then_fail()

    assert written == [1]

    assert callbacks == []
    assert not Incident.objects.filter(title="Never happened").exists()
    assert not WebhookDelivery.objects.exists()
    assert deliver() == 0
    assert receiver.requests == []


def test_the_send_is_enqueued_only_after_commit(
    subscribe: Any, receiver: Receiver, make_incident: Any, eager_tasks: None, django_capture_on_commit_callbacks: Any
) -> None:
    subscribe()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_incident()
    assert receiver.requests == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    assert [request.headers["X-ITSM-Event"] for request in receiver.requests] == ["incident.created"]
    assert WebhookDelivery.objects.get().status == "delivered"


def test_without_subscriptions_an_event_costs_one_query_and_writes_nothing(
    subscribe: Any, make_incident: Any, agent: Any
) -> None:
    incident = make_incident()
    subscribe(WebhookEvent.NOTE_ADDED, name="other type")
    subscribe(name="paused", is_active=False)

    with CaptureQueriesContext(connection) as queries:
        rows = webhooks.emit_event(
            event_type=WebhookEvent.INCIDENT_TRANSITIONED, incident=incident, actor=agent, data={}
        )

    assert rows == []
    assert len(queries) == 1
    assert not WebhookDelivery.objects.exists()


def test_the_payload_is_frozen_when_the_event_happens(
    subscribe: Any, receiver: Receiver, make_incident: Any, agent: Any
) -> None:
    subscribe(WebhookEvent.INCIDENT_CREATED)
    incident = make_incident(title="Checkout down")
    services.update_incident(incident=incident, actor=agent, changes={"title": "Checkout and login down"})

    deliver()
    [event] = received(receiver)
    assert event["incident"]["title"] == "Checkout down"


# --- Subscriptions themselves ------------------------------------------------------


def test_subscriptions_get_a_strong_secret_of_their_own(subscribe: Any) -> None:
    first, second = subscribe(), subscribe()
    assert len(first.secret) == 64
    int(first.secret, 16)
    assert first.secret != second.secret


@pytest.mark.parametrize(
    ("event_types", "message"),
    [
        ([], "cannot be blank"),
        ("incident.created", "at least one"),
        (["incident.created", "incident.deleted"], "Unknown event types: incident.deleted"),
        (["note.added", "note.added"], "once"),
        (["ping"], "Unknown event types: ping"),
    ],
)
def test_event_types_are_validated(event_types: Any, message: str, db: None) -> None:
    subscription = WebhookSubscription(
        name="Status page", url="https://status.example.com/hook", event_types=event_types
    )
    with pytest.raises(ValidationError, match=message):
        subscription.full_clean()


def test_only_http_urls_are_accepted(db: None) -> None:
    subscription = WebhookSubscription(name="Files", url="ftp://files.example.com/", event_types=["note.added"])
    with pytest.raises(ValidationError) as refused:
        subscription.full_clean()
    assert set(refused.value.message_dict) == {"url"}


def test_the_history_never_keeps_the_secret(subscribe: Any, admin_user: Any) -> None:
    subscription = subscribe()
    new_secret = webhooks.rotate_secret(subscription=subscription, actor=admin_user)

    subscription.refresh_from_db()
    assert subscription.secret == new_secret
    latest = subscription.history.first()
    assert latest.history_user == admin_user
    assert latest.history_change_reason == "signing secret rotated"
    assert not hasattr(latest, "secret")
    assert subscription.history.count() == 2
