"""Delivering stakeholder updates to subscribers: the outbox rows, email and signed webhooks, retries, sweeps.

Rows are written by `fan_out` in the transaction that posts the update, one
per subscriber (an address subscribed through two affected services is told
once). Claims, back-off and sweeps are the ones notifications and outbound
webhooks use (`escalation.outbox`); the tasks run on the webhooks queue, so a
slow receiver never holds back pages or the clock. Delivery is at-least-once:
each row's `event_id` travels with every attempt for receivers to drop repeats.

Email: through Django's mail (printed to the console in the embedded default),
with the headers `X-ITSM-Incident` and `X-ITSM-Idempotency-Key: <event id>`.

Webhook::

    POST <subscription URL>
    Content-Type: application/json
    User-Agent: itsm/1.0
    X-ITSM-Event: incident.status_update
    X-ITSM-Delivery: <event id>            (the same on every retry: drop repeats)
    X-ITSM-Timestamp: <unix seconds>
    X-ITSM-Signature: sha256=<hex HMAC-SHA256 of f"{timestamp}.{body}" with the subscription's secret>

    {
      "id": "<event id>",
      "type": "incident.status_update",
      "created_at": "<when the update was posted, ISO 8601 in UTC>",
      "incident": {"number": "INC-42", "title": "...", "services": ["checkout-payments"]},
      "update": {"id": 7, "body": "...", "state": "investigating", "priority": "P1",
                 "posted_at": "<ISO 8601>"}
    }

2xx is delivered; 408, 429, 5xx, timeouts and connection errors are tried
again after `outbox.backoff`, up to MAX_ATTEMPTS; anything else fails at once.
"""

import datetime as dt
import logging
import uuid
from collections.abc import Iterable
from typing import Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation import outbox
from escalation.channels import (
    USER_AGENT,
    DeliveryError,
    json_bytes,
    post,
    send_email_message,
    signature_headers,
)
from escalation.outbox import DeliveryResult
from incidents.choices import State, SubscriptionChannel, UpdateDeliveryStatus
from incidents.models import StatusUpdate, UpdateDelivery, UpdateSubscription
from incidents.timeline import Actor

logger = logging.getLogger(__name__)

EVENT_TYPE = "incident.status_update"
REDELIVER_PERMISSION = "incidents.redeliver_updatedelivery"
# 30 s, 1, 2, 4, 8 min, then every 15 min: about an hour and a quarter in all.
MAX_ATTEMPTS = 10
TASK_TIME_LIMIT = 60
TASK_SOFT_TIME_LIMIT = 45
SWEEP_TIME_LIMIT = 300
SWEEP_SOFT_TIME_LIMIT = 240
LAST_ERROR_LIMIT = 1000

Status = UpdateDeliveryStatus


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


# --- Writing the rows -------------------------------------------------------------


def fan_out(*, update: StatusUpdate) -> list[UpdateDelivery]:
    """One pending row per active subscriber of the incident's services; sent once the transaction commits."""
    if not update.is_for_stakeholders:
        return []
    incident = update.incident
    subscriptions = (
        UpdateSubscription.objects.filter(service__in=incident.services.all(), is_active=True)
        .select_related("user")
        .order_by("pk")
    )
    now = timezone.now()
    seen: set[tuple[str, str]] = set()
    rows = []
    for subscription in subscriptions:
        if subscription.user is not None and not subscription.user.is_active:
            continue
        address = subscription.address.strip()
        target = (
            subscription.channel,
            address.lower() if subscription.channel == SubscriptionChannel.EMAIL else address,
        )
        if not address or target in seen:
            continue
        seen.add(target)
        rows.append(
            UpdateDelivery(
                update=update,
                subscription=subscription,
                incident=incident,
                channel=subscription.channel,
                event_id=uuid.uuid4(),
                next_attempt_at=now,
                created_at=now,
            )
        )
    created = UpdateDelivery.objects.bulk_create(rows)
    enqueue(deliveries=created)
    return created


# --- Sending one ---------------------------------------------------------------------


def webhook_payload(delivery: UpdateDelivery) -> dict[str, Any]:
    update, incident = delivery.update, delivery.incident
    return {
        "id": str(delivery.event_id),
        "type": EVENT_TYPE,
        "created_at": _iso(update.created_at),
        "incident": {
            "number": incident.number,
            "title": incident.title,
            "services": list(incident.services.order_by("slug").values_list("slug", flat=True)),
        },
        "update": {
            "id": update.pk,
            "body": update.body,
            "state": update.state,
            "priority": update.priority,
            "posted_at": _iso(update.created_at),
        },
    }


def _send_webhook(delivery: UpdateDelivery) -> int:
    subscription = delivery.subscription
    body = json_bytes(webhook_payload(delivery))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ITSM-Event": EVENT_TYPE,
        "X-ITSM-Delivery": str(delivery.event_id),
        **signature_headers(secret=subscription.secret, body=body, timestamp=int(timezone.now().timestamp())),
    }
    return post(url=subscription.url, body=body, headers=headers).status


def _send_email(delivery: UpdateDelivery) -> None:
    update, incident = delivery.update, delivery.incident
    address = delivery.subscription.address
    if not address:
        raise DeliveryError(_("The subscriber has no email address."), retryable=False)
    state = State(update.state).label if update.state in State.values else update.state
    body = (
        f"{update.body.rstrip()}\n\n"
        f"{incident.number} · {incident.title}\n"
        + _("State: %(state)s · priority %(priority)s · posted %(at)s")
        % {"state": state, "priority": update.priority, "at": f"{update.created_at:%Y-%m-%d %H:%M} UTC"}
        + "\n"
    )
    message = EmailMessage(
        subject=" ".join(
            (_("[%(number)s] Status update: %(title)s") % {"number": incident.number, "title": incident.title}).split()
        ),
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[address],
        headers={"X-ITSM-Incident": incident.number, "X-ITSM-Idempotency-Key": str(delivery.event_id)},
    )
    send_email_message(message)


def send(delivery: UpdateDelivery) -> int | None:
    """Send the delivery once through its channel; the receiver's HTTP status for a webhook, or DeliveryError."""
    if delivery.channel == SubscriptionChannel.WEBHOOK:
        return _send_webhook(delivery)
    _send_email(delivery)
    return None


def _scrub(text: str, delivery: UpdateDelivery) -> str:
    """`text` without the subscription's URL or secret (a receiver may echo either back)."""
    for credential in (delivery.subscription.url, delivery.subscription.secret):
        if credential:
            text = text.replace(credential, "[hidden]")
    return text[:LAST_ERROR_LIMIT]


def _status_of(delivery_id: int) -> str:
    return UpdateDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first() or "missing"


def _give_up(delivery_id: int, *, attempts: int, error: str, status_code: int | None) -> bool:
    updated = UpdateDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, attempts=attempts).update(
        status=Status.FAILED, last_error=error, last_status_code=status_code
    )
    if updated:
        logger.warning(
            "update delivery %s failed after %d attempt(s): %s",
            delivery_id,
            attempts,
            error,
            extra={"update_delivery": delivery_id},
        )
    return bool(updated)


def attempt_update_delivery(*, delivery_id: int) -> DeliveryResult:
    """Deliver the row if it is due and nobody else holds it.

    1. Claim it with one conditional UPDATE (pending, due, attempts left); a
       concurrent second call claims nothing and returns the status.
    2. A subscription paused since the update fails the row (a manager may
       redeliver it).
    3. Send. Sent → `delivered`. A retryable failure stays `pending`, due
       again after `outbox.backoff`; a permanent one, or the MAX_ATTEMPTS-th,
       is `failed`. Errors never keep the URL nor the secret.
    """
    now = timezone.now()
    due = UpdateDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now)
    if not outbox.claim(due, max_attempts=MAX_ATTEMPTS, now=now):
        exhausted = due.filter(attempts__gte=MAX_ATTEMPTS).first()
        if exhausted is not None and _give_up(
            delivery_id,
            attempts=exhausted.attempts,
            error=_("The last attempt did not finish.") + (f" {exhausted.last_error}" if exhausted.last_error else ""),
            status_code=exhausted.last_status_code,
        ):
            return DeliveryResult(Status.FAILED)
        return DeliveryResult(_status_of(delivery_id))

    delivery = (
        UpdateDelivery.objects.select_related("update", "incident", "subscription__user").filter(pk=delivery_id).first()
    )
    if delivery is None:
        return DeliveryResult("missing")
    attempts = delivery.attempts
    status_code: int | None = None
    if not delivery.subscription.is_active:
        failure = DeliveryError(_("The subscription is paused."), retryable=False)
    else:
        try:
            status_code = send(delivery)
        except DeliveryError as error:
            failure = error
        except Exception as error:
            # A bug or an outage of our own: counted like a retryable failure, bounded all the same.
            logger.exception("update delivery %s: unexpected error while sending", delivery_id)
            failure = DeliveryError(_("Internal error (%(error)s).") % {"error": type(error).__name__}, retryable=True)
        else:
            still_ours = UpdateDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, attempts=attempts)
            delivered_at = timezone.now()
            delivered = outbox.record_after_send(
                lambda: still_ours.update(
                    status=Status.DELIVERED, delivered_at=delivered_at, last_status_code=status_code, last_error=""
                )
            )
            if not delivered:
                return DeliveryResult(_status_of(delivery_id))
            logger.info(
                "update delivery %s sent by %s (attempt %d)",
                delivery_id,
                delivery.channel,
                attempts,
                extra={"update_delivery": delivery_id, "incident": delivery.incident.number},
            )
            return DeliveryResult(Status.DELIVERED)

    message = _scrub(failure.message, delivery)
    if not failure.retryable or attempts >= MAX_ATTEMPTS:
        if _give_up(delivery_id, attempts=attempts, error=message, status_code=failure.status):
            return DeliveryResult(Status.FAILED)
        return DeliveryResult(_status_of(delivery_id))
    retry_at = timezone.now() + outbox.backoff(attempts)
    rescheduled = UpdateDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, attempts=attempts).update(
        next_attempt_at=retry_at, last_error=message, last_status_code=failure.status
    )
    logger.info("update delivery %s: attempt %d failed (%s); next at %s", delivery_id, attempts, message, retry_at)
    if not rescheduled:
        return DeliveryResult(_status_of(delivery_id))
    return DeliveryResult(Status.PENDING, retry_at=retry_at)


def deliver_update(*, delivery_id: int) -> str:
    """Deliver one row now if it is due; its status afterwards (an UpdateDeliveryStatus, or "missing")."""
    return attempt_update_delivery(delivery_id=delivery_id).status


# --- Queueing, sweeping, redelivering --------------------------------------------


def enqueue(*, deliveries: Iterable[UpdateDelivery]) -> None:
    """Have workers deliver these rows once the current transaction commits (the sweeper if the broker is away)."""
    outbox.schedule_on_commit(deliver_update_task, deliveries)


def _due() -> QuerySet[UpdateDelivery]:
    return UpdateDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=timezone.now())


def sweep_due_update_deliveries(
    *, batch_size: int = outbox.SWEEP_BATCH, budget_seconds: float = outbox.SWEEP_BUDGET_SECONDS
) -> int:
    """Deliver every due pending row, oldest first; return how many were tried."""
    return outbox.sweep(
        _due,
        lambda delivery_id: attempt_update_delivery(delivery_id=delivery_id),
        batch_size=batch_size,
        budget_seconds=budget_seconds,
    )


def redeliver_update(*, delivery: UpdateDelivery, actor: Actor) -> UpdateDelivery:
    """Send a failed or delivered update again: pending, due now, a fresh set of attempts, the same event id.

    Raises PermissionDenied without the right to redeliver, ValidationError while it is still pending.
    """
    if not actor.has_perm(REDELIVER_PERMISSION):
        raise PermissionDenied(_("You may not deliver status updates again."))
    now = timezone.now()
    with transaction.atomic():
        if not outbox.reset_for_redelivery(UpdateDelivery, delivery.pk, actor=actor, now=now):
            raise ValidationError(_("Only an update that was delivered or failed can be delivered again."))
        delivery.refresh_from_db()
        enqueue(deliveries=[delivery])
    logger.info("update delivery %s queued again by %s", delivery.pk, actor.get_username())
    return delivery


@shared_task(
    name="incidents.deliver_status_update",
    acks_late=True,
    ignore_result=True,
    time_limit=TASK_TIME_LIMIT,
    soft_time_limit=TASK_SOFT_TIME_LIMIT,
)
def deliver_update_task(delivery_id: int) -> str:
    result = attempt_update_delivery(delivery_id=delivery_id)
    if result.retry_at is not None:
        outbox.schedule(deliver_update_task, delivery_id, result.retry_at)
    return result.status


@shared_task(
    name="incidents.sweep_status_updates",
    acks_late=True,
    ignore_result=True,
    time_limit=SWEEP_TIME_LIMIT,
    soft_time_limit=SWEEP_SOFT_TIME_LIMIT,
)
def sweep_update_deliveries_task() -> int:
    return sweep_due_update_deliveries()
