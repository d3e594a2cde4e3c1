"""Outbound webhooks: which events happen, what their payload says, and the outbox rows they leave.

The incident and escalation domain functions call the event functions below
inside their own transaction. Each writes one pending `WebhookDelivery` per
active subscription that chose the event type, with the payload frozen as it
is now, and enqueues the sends once the transaction commits
(`escalation.webhook_delivery`). A rolled-back change therefore tells nobody,
and a committed one is delivered even if the broker loses the task (the
sweeper finds the row).

Payload (a stable schema: fields are only ever added)::

    {
      "id": "<event id, a UUID; also the X-ITSM-Delivery header>",
      "type": "incident.created" | "incident.transitioned" | "incident.priority_changed"
              | "incident.escalated" | "incident.sla_breached" | "note.added" | "ping",
      "created_at": "<when the event happened, ISO 8601 in UTC>",
      "actor": {"username": "agus"} | null,          (null: the product itself, e.g. a timer)
      "incident": {                                  (null for "ping")
        "number": "INC-42", "title": "...", "state": "investigating", "priority": "P1",
        "impact": "high", "urgency": "high", "category": "...", "source": "web",
        "services": ["checkout-payments"], "team": "payments" | null,
        "assignee": "agus" | null, "commander": "maya" | null, "support_tier": 1,
        "url": "<SITE_URL>/admin/incidents/incident/42/change/",
        "started_at", "detected_at", "created_at": "<ISO 8601>",
        "acknowledged_at", "mitigated_at", "resolved_at", "closed_at": "<ISO 8601>" | null
      },
      "data": {...}                                  (by type, below)
    }

"data" by type:

- incident.created: {}
- incident.transitioned: transition, from_state, to_state
- incident.priority_changed: from_priority, to_priority, overridden (set by hand)
- incident.escalated: trigger (created, sla_warning, sla_breach, manual), level,
  support_tier, targets (the usernames paged)
- incident.sla_breached: clock (acknowledge, resolve), target_seconds,
  business_hours, due_at, breached_at
- note.added: note_id, kind (note, status_update), visibility, body
- ping: subscription (its name)
"""

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.channels import incident_url
from escalation.models import (
    PING_EVENT,
    SlaClock,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from escalation.models.notifications import new_signing_secret
from incidents import deferred
from incidents.models import Incident, TimelineEntry
from incidents.roles import INCIDENT_MANAGER
from incidents.timeline import Actor, save_audited

logger = logging.getLogger(__name__)

MANAGE_PERMISSION = "escalation.change_webhooksubscription"
REDELIVER_PERMISSION = "escalation.redeliver_webhookdelivery"


def may_manage_webhooks(user: Any, permission: str) -> bool:
    """Webhooks are the admins': superusers, and incident managers who were given `permission`."""
    if not getattr(user, "is_active", False):
        return False
    if user.is_superuser:
        return True
    return bool(user.has_perm(permission)) and user.groups.filter(name=INCIDENT_MANAGER).exists()


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(dt.UTC).isoformat() if moment is not None else None


def _username(user: Any) -> str | None:
    return str(user.get_username()) if user is not None else None


def incident_snapshot(incident: Incident) -> dict[str, Any]:
    """The incident as the payload shows it, as it is now."""
    return {
        "number": incident.number,
        "title": incident.title,
        "state": incident.state,
        "priority": incident.priority,
        "impact": incident.impact,
        "urgency": incident.urgency,
        "category": incident.category,
        "source": incident.source,
        "services": list(incident.services.order_by("slug").values_list("slug", flat=True)),
        "team": incident.team.slug if incident.team is not None else None,
        "assignee": _username(incident.assignee),
        "commander": _username(incident.commander),
        "support_tier": incident.support_tier,
        "url": incident_url(incident),
        "started_at": _iso(incident.started_at),
        "detected_at": _iso(incident.detected_at),
        "created_at": _iso(incident.created_at),
        "acknowledged_at": _iso(incident.acknowledged_at),
        "mitigated_at": _iso(incident.mitigated_at),
        "resolved_at": _iso(incident.resolved_at),
        "closed_at": _iso(incident.closed_at),
    }


def build_payload(
    *,
    event_id: uuid.UUID,
    event_type: str,
    created_at: dt.datetime,
    actor: Actor | None,
    incident: Incident | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": str(event_id),
        "type": event_type,
        "created_at": _iso(created_at),
        "actor": {"username": actor.get_username()} if isinstance(actor, User) else None,
        "incident": incident_snapshot(incident) if incident is not None else None,
        "data": data,
    }


def subscribed_ids(event_type: str) -> list[int]:
    """The active subscriptions that chose `event_type`: one query on a small table, once per work unit."""
    active = deferred.remembered(
        "webhook-subscriptions",
        None,
        lambda: list(WebhookSubscription.objects.filter(is_active=True).values_list("pk", "event_types")),
    )
    return [pk for pk, types in active if isinstance(types, list) and event_type in types]


def _write(
    *,
    subscription_ids: Iterable[int],
    event_type: str,
    incident: Incident | None,
    actor: Actor | None,
    data: dict[str, Any],
) -> list[WebhookDelivery]:
    from escalation import webhook_delivery

    now = timezone.now()
    event_id = uuid.uuid4()
    payload = build_payload(
        event_id=event_id, event_type=event_type, created_at=now, actor=actor, incident=incident, data=data
    )
    rows = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            subscription_id=subscription_id,
            event_id=event_id,
            event_type=event_type,
            incident=incident,
            payload=payload,
            next_attempt_at=now,
            created_at=now,
        )
        for subscription_id in subscription_ids
    )
    webhook_delivery.enqueue(deliveries=rows)
    return rows


def emit_event(
    *, event_type: WebhookEvent, incident: Incident, actor: Actor | None, data: dict[str, Any]
) -> list[WebhookDelivery]:
    """Write one pending delivery per active subscription that chose `event_type`; send them after commit.

    Call it inside the transaction of the change the event tells about. With
    no subscription for the type it costs one query and writes nothing.
    """
    subscription_ids = subscribed_ids(event_type)
    if not subscription_ids:
        return []
    rows = _write(subscription_ids=subscription_ids, event_type=event_type, incident=incident, actor=actor, data=data)
    logger.info(
        "webhook event %s %s for %d subscription(s)",
        event_type,
        rows[0].event_id,
        len(rows),
        extra={"incident": incident.number, "event": str(rows[0].event_id)},
    )
    return rows


# --- The events, one function each; the domain functions call these ---------


def incident_created(*, incident: Incident, actor: Actor | None) -> None:
    emit_event(event_type=WebhookEvent.INCIDENT_CREATED, incident=incident, actor=actor, data={})


def incident_transitioned(*, incident: Incident, actor: Actor | None, transition: str, previous_state: str) -> None:
    emit_event(
        event_type=WebhookEvent.INCIDENT_TRANSITIONED,
        incident=incident,
        actor=actor,
        data={"transition": transition, "from_state": previous_state, "to_state": incident.state},
    )


def priority_changed(*, incident: Incident, actor: Actor | None, previous: str) -> None:
    emit_event(
        event_type=WebhookEvent.INCIDENT_PRIORITY_CHANGED,
        incident=incident,
        actor=actor,
        data={"from_priority": previous, "to_priority": incident.priority, "overridden": incident.priority_overridden},
    )


def incident_escalated(
    *, incident: Incident, actor: Actor | None, trigger: str, level: int, targets: Iterable[User]
) -> None:
    """Somebody was paged: a step of an escalation policy, a manual escalation or the next tier."""
    emit_event(
        event_type=WebhookEvent.INCIDENT_ESCALATED,
        incident=incident,
        actor=actor,
        data={
            "trigger": trigger,
            "level": level,
            "support_tier": incident.support_tier,
            "targets": [user.get_username() for user in targets],
        },
    )


def sla_breached(*, clock: SlaClock) -> None:
    emit_event(
        event_type=WebhookEvent.INCIDENT_SLA_BREACHED,
        incident=clock.incident,
        actor=None,
        data={
            "clock": clock.kind,
            "target_seconds": int(clock.target.total_seconds()),
            "business_hours": clock.calendar_id is not None,
            "due_at": _iso(clock.due_at),
            "breached_at": _iso(clock.breached_at),
        },
    )


def note_added(*, entry: TimelineEntry, actor: Actor | None) -> None:
    emit_event(
        event_type=WebhookEvent.NOTE_ADDED,
        incident=entry.incident,
        actor=actor,
        data={"note_id": entry.pk, "kind": entry.kind, "visibility": entry.visibility, "body": entry.body},
    )


# --- What the back office does with a subscription --------------------------


def send_ping(*, subscription: WebhookSubscription, actor: Actor) -> WebhookDelivery:
    """Queue a `ping` event to one subscription (active or not), to try its receiver."""
    if not may_manage_webhooks(actor, MANAGE_PERMISSION):
        raise PermissionDenied(_("You may not manage webhooks."))
    with transaction.atomic():
        [row] = _write(
            subscription_ids=[subscription.pk],
            event_type=PING_EVENT,
            incident=None,
            actor=actor,
            data={"subscription": subscription.name},
        )
    logger.info("webhook ping %s queued for subscription %s", row.event_id, subscription.pk)
    return row


def rotate_secret(*, subscription: WebhookSubscription, actor: Actor) -> str:
    """Give the subscription a new signing secret and return it (for the person to copy once).

    Deliveries not yet sent are signed with the new secret; the receiver must
    be given it before it can check them.
    """
    if not may_manage_webhooks(actor, MANAGE_PERMISSION):
        raise PermissionDenied(_("You may not manage webhooks."))
    secret = new_signing_secret()
    with transaction.atomic():
        subscription = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        subscription.secret = secret
        save_audited(subscription, actor=actor, reason="signing secret rotated", update_fields=["secret", "updated_at"])
    logger.info("webhook subscription %s: signing secret rotated by %s", subscription.pk, actor.get_username())
    return secret
