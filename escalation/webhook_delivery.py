"""Delivering outbound webhook events: claim, sign, POST, record; retry with back-off; sweep; keep the log short.

Rows come from `escalation.webhooks` (the outbox). Claims, back-off and
sweeps are the ones notifications use (`escalation.outbox`). The tasks run on
a Celery queue of their own (`CELERY_WEBHOOK_QUEUE`), so a slow receiver
never holds back pages or the clock.

What a receiver gets::

    POST <subscription URL>
    Content-Type: application/json
    User-Agent: itsm/1.0
    X-ITSM-Event: <type>
    X-ITSM-Delivery: <event id>            (the same on every retry: drop repeats)
    X-ITSM-Timestamp: <unix seconds>
    X-ITSM-Signature: sha256=<hex HMAC-SHA256 of f"{timestamp}.{body}" with the subscription's secret>

and the payload `escalation.webhooks` documents. 2xx is delivered; 408, 429,
5xx, timeouts and connection errors are tried again after `outbox.backoff`,
up to MAX_ATTEMPTS; any other status (redirects too: they are not followed)
fails at once.
"""

import datetime as dt
import logging
from collections.abc import Iterable

from celery import shared_task
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation import outbox
from escalation.channels import USER_AGENT, DeliveryError, HttpAnswer, json_bytes, post, signature_headers
from escalation.models import PING_EVENT, WebhookDelivery, WebhookDeliveryStatus
from escalation.outbox import DeliveryResult
from escalation.webhooks import REDELIVER_PERMISSION, may_manage_webhooks
from incidents.timeline import Actor

logger = logging.getLogger(__name__)

# 30 s, 1, 2, 4, 8 min, then every 15 min: about an hour and a quarter in all.
MAX_ATTEMPTS = 10
TASK_TIME_LIMIT = 60
TASK_SOFT_TIME_LIMIT = 45
SWEEP_TIME_LIMIT = 300
SWEEP_SOFT_TIME_LIMIT = 240
LAST_ERROR_LIMIT = 1000
EXCERPT_LIMIT = 200
PURGE_BATCH = 1000

Status = WebhookDeliveryStatus


def _status_of(delivery_id: int) -> str:
    status = WebhookDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
    return status or "missing"


def _scrub(text: str, *, delivery: WebhookDelivery, limit: int) -> str:
    """`text` without the subscription's URL or secret (a receiver may echo either back), cut to `limit`."""
    subscription = delivery.subscription
    for credential in (subscription.url, subscription.secret):
        if credential:
            text = text.replace(credential, "[hidden]")
    return text[:limit]


def send(*, delivery: WebhookDelivery) -> HttpAnswer:
    """Sign and POST the delivery's payload once; the receiver's 2xx answer, or DeliveryError."""
    subscription = delivery.subscription
    body = json_bytes(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-ITSM-Event": delivery.event_type,
        "X-ITSM-Delivery": str(delivery.event_id),
        **signature_headers(secret=subscription.secret, body=body, timestamp=int(timezone.now().timestamp())),
    }
    return post(url=subscription.url, body=body, headers=headers)


def _give_up(delivery: WebhookDelivery, *, attempts: int, error: str, status_code: int | None, excerpt: str) -> bool:
    """Mark the claimed row failed; False if it changed meanwhile."""
    updated = WebhookDelivery.objects.filter(pk=delivery.pk, status=Status.PENDING, attempts=attempts).update(
        status=Status.FAILED, last_error=error, last_status_code=status_code, response_excerpt=excerpt
    )
    if updated:
        logger.warning(
            "webhook delivery %s (%s to subscription %s) failed after %d attempt(s): %s",
            delivery.pk,
            delivery.event_type,
            delivery.subscription_id,
            attempts,
            error,
            extra={"webhook_delivery": delivery.pk, "event": str(delivery.event_id)},
        )
    return bool(updated)


def attempt_webhook(*, delivery_id: int) -> DeliveryResult:
    """Deliver the row if it is due and nobody else holds it; see `deliver_webhook`."""
    now = timezone.now()
    due = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, next_attempt_at__lte=now)
    if not outbox.claim(due, max_attempts=MAX_ATTEMPTS, now=now):
        # Taken by someone else, not due, already settled — or its last claimer
        # died with no attempts left, which is a failure to record.
        exhausted = due.filter(attempts__gte=MAX_ATTEMPTS).select_related("subscription").first()
        if exhausted is not None and _give_up(
            exhausted,
            attempts=exhausted.attempts,
            error=_("The last attempt did not finish.") + (f" {exhausted.last_error}" if exhausted.last_error else ""),
            status_code=exhausted.last_status_code,
            excerpt=exhausted.response_excerpt,
        ):
            return DeliveryResult(Status.FAILED)
        return DeliveryResult(_status_of(delivery_id))

    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if delivery is None:
        return DeliveryResult("missing")
    attempts = delivery.attempts
    # A ping tries a receiver, also before its subscription is turned on.
    if not delivery.subscription.is_active and delivery.event_type != PING_EVENT:
        failure = DeliveryError(_("The subscription is not active."), retryable=False)
    else:
        try:
            answer = send(delivery=delivery)
        except DeliveryError as error:
            failure = error
        except Exception as error:
            # A bug or an outage of our own (database, time limit): counted like a
            # retryable failure, so it is bounded by MAX_ATTEMPTS all the same.
            logger.exception("webhook delivery %s: unexpected error while sending", delivery_id)
            failure = DeliveryError(_("Internal error (%(error)s).") % {"error": type(error).__name__}, retryable=True)
        else:
            still_ours = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, attempts=attempts)
            outcome = {
                "status": Status.DELIVERED,
                "delivered_at": timezone.now(),
                "last_status_code": answer.status,
                "last_error": "",
                "response_excerpt": _scrub(answer.excerpt, delivery=delivery, limit=EXCERPT_LIMIT),
            }
            delivered = outbox.record_after_send(lambda: still_ours.update(**outcome))
            if not delivered:
                logger.warning("webhook delivery %s was sent but changed meanwhile; left as it is", delivery_id)
                return DeliveryResult(_status_of(delivery_id))
            logger.info(
                "webhook delivery %s (%s) delivered to subscription %s (attempt %d, HTTP %d)",
                delivery_id,
                delivery.event_type,
                delivery.subscription_id,
                attempts,
                answer.status,
                extra={"webhook_delivery": delivery_id, "event": str(delivery.event_id)},
            )
            return DeliveryResult(Status.DELIVERED)

    message = _scrub(failure.message, delivery=delivery, limit=LAST_ERROR_LIMIT)
    excerpt = _scrub(failure.excerpt, delivery=delivery, limit=EXCERPT_LIMIT)
    if not failure.retryable or attempts >= MAX_ATTEMPTS:
        if _give_up(delivery, attempts=attempts, error=message, status_code=failure.status, excerpt=excerpt):
            return DeliveryResult(Status.FAILED)
        return DeliveryResult(_status_of(delivery_id))

    retry_at = timezone.now() + outbox.backoff(attempts)
    rescheduled = WebhookDelivery.objects.filter(pk=delivery_id, status=Status.PENDING, attempts=attempts).update(
        next_attempt_at=retry_at, last_error=message, last_status_code=failure.status, response_excerpt=excerpt
    )
    logger.info(
        "webhook delivery %s: attempt %d failed (%s); next at %s", delivery_id, attempts, message, retry_at.isoformat()
    )
    if not rescheduled:
        return DeliveryResult(_status_of(delivery_id))
    return DeliveryResult(Status.PENDING, retry_at=retry_at)


def deliver_webhook(*, delivery_id: int) -> str:
    """Deliver one webhook event now if it is due; return its status afterwards.

    1. Claim the row with one conditional UPDATE (pending, due, attempts
       left); a concurrent second call claims nothing and returns the status.
    2. A subscription made inactive since the event fails the row (an admin
       may redeliver it once the subscription is active again); pings go out
       regardless.
    3. Sign and POST. 2xx → `delivered` with `delivered_at`. A retryable
       failure stays `pending`, due again after `outbox.backoff`; a permanent
       one, or the MAX_ATTEMPTS-th, is `failed`. Every outcome keeps the HTTP
       status, the error and the start of the answer, never the URL nor the
       secret.

    Returns a WebhookDeliveryStatus value, or "missing" if the row does not exist.
    """
    return attempt_webhook(delivery_id=delivery_id).status


def enqueue(*, deliveries: Iterable[WebhookDelivery]) -> None:
    """Have workers deliver these rows once the current transaction commits (the sweeper if the broker is away)."""
    outbox.schedule_on_commit(deliver_webhook_task, deliveries)


def _due() -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(status=Status.PENDING, next_attempt_at__lte=timezone.now())


def sweep_due_webhooks(
    *, batch_size: int = outbox.SWEEP_BATCH, budget_seconds: float = outbox.SWEEP_BUDGET_SECONDS
) -> int:
    """Deliver every due pending webhook row, oldest first; return how many were tried."""
    return outbox.sweep(
        _due,
        lambda delivery_id: attempt_webhook(delivery_id=delivery_id),
        batch_size=batch_size,
        budget_seconds=budget_seconds,
    )


def redeliver_webhook(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Send a failed or delivered event again: pending, due now, a fresh set of attempts.

    The payload and the event id stay the same (a receiver that already has
    the event may drop it). Who asked is kept on the row. Raises
    PermissionDenied without the right to redeliver, ValidationError while
    the row is still pending.
    """
    if not may_manage_webhooks(actor, REDELIVER_PERMISSION):
        raise PermissionDenied(_("You may not deliver webhook events again."))
    now = timezone.now()
    with transaction.atomic():
        if not outbox.reset_for_redelivery(WebhookDelivery, delivery.pk, actor=actor, now=now):
            raise ValidationError(_("Only an event that was delivered or failed can be delivered again."))
        delivery.refresh_from_db()
        enqueue(deliveries=[delivery])
    logger.info(
        "webhook delivery %s (%s) queued again by %s",
        delivery.pk,
        delivery.event_type,
        actor.get_username(),
        extra={"webhook_delivery": delivery.pk, "event": str(delivery.event_id)},
    )
    return delivery


def purge_delivered_webhooks(*, now: dt.datetime | None = None) -> int:
    """Delete delivered rows older than WEBHOOK_RETENTION_DAYS (0 keeps them); return how many went.

    Deletes in batches so no single statement holds a long lock. Failed and
    pending rows stay: they still need someone's attention.
    """
    days = settings.WEBHOOK_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    old = WebhookDelivery.objects.filter(status=Status.DELIVERED, delivered_at__lt=cutoff)
    deleted = 0
    while True:
        ids = list(old.order_by("pk").values_list("pk", flat=True)[:PURGE_BATCH])
        if not ids:
            break
        batch = WebhookDelivery.objects.filter(pk__in=ids, status=Status.DELIVERED).delete()[0]
        if not batch:
            break
        deleted += batch
    if deleted:
        logger.info("deleted %d delivered webhook rows older than %d days", deleted, days)
    return deleted


@shared_task(
    name="escalation.deliver_webhook",
    acks_late=True,
    ignore_result=True,
    time_limit=TASK_TIME_LIMIT,
    soft_time_limit=TASK_SOFT_TIME_LIMIT,
)
def deliver_webhook_task(delivery_id: int) -> str:
    result = attempt_webhook(delivery_id=delivery_id)
    if result.retry_at is not None:
        outbox.schedule(deliver_webhook_task, delivery_id, result.retry_at)
    return result.status


@shared_task(
    name="escalation.sweep_webhooks",
    acks_late=True,
    ignore_result=True,
    time_limit=SWEEP_TIME_LIMIT,
    soft_time_limit=SWEEP_SOFT_TIME_LIMIT,
)
def sweep_webhooks() -> int:
    return sweep_due_webhooks()


@shared_task(name="escalation.purge_delivered_webhooks", acks_late=True, ignore_result=True, time_limit=600)
def purge_delivered_webhooks_task() -> int:
    return purge_delivered_webhooks()
