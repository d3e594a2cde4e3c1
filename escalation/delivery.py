"""Delivering notifications: claim, send, record; retry with back-off; sweep what the broker lost.

The database row is the truth. Paging creates a pending `Notification` in the
transaction that decides to page and calls `enqueue_delivery`; a Celery task
then delivers it when it is due. Should the broker drop the task (or the
commit hook fail to reach it), `sweep_notifications` finds the due row later.

A send happens only after one conditional UPDATE has claimed the row
(`escalation.outbox`, which outbound webhooks share): a second worker, a
redelivered task or an overlapping sweep leaves it alone. If the claimer dies
mid-send, the lease runs out and the row is due again: delivery is
at-least-once, and the idempotency key that travels with every message lets
receivers drop repeats.
"""

import logging

from celery import shared_task
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation import outbox
from escalation.channels import DeliveryError, send_notification
from escalation.models import Channel, DeliveryStatus, Notification, NotificationKind
from escalation.outbox import DeliveryResult
from incidents.choices import OPEN_STATES, EntryKind, Visibility
from incidents.system import system_user
from incidents.timeline import Actor, record_entry

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
TASK_TIME_LIMIT = 60
TASK_SOFT_TIME_LIMIT = 45
# The sweep stops starting sends well before its soft time limit; the next run continues.
SWEEP_TIME_LIMIT = 300
SWEEP_SOFT_TIME_LIMIT = 240
ESCALATE_PERMISSION = "incidents.escalate_incident"
LAST_ERROR_LIMIT = 1000


def _status_of(notification_id: int) -> str:
    status = Notification.objects.filter(pk=notification_id).values_list("status", flat=True).first()
    return status or "missing"


def _recipient(notification: Notification) -> str:
    """How the timeline names the recipient; never a webhook URL (chat webhook URLs are credentials)."""
    channel = notification.get_channel_display()
    if notification.channel == Channel.EMAIL:
        target = notification.address
    elif notification.contact_method is not None and notification.contact_method.label:
        target = notification.contact_method.label
    else:
        target = str(channel)
    person = notification.user.get_username() if notification.user is not None else _("a deleted user")
    return f"{person} ({channel}: {target})" if target != str(channel) else f"{person} ({channel})"


def _give_up(notification: Notification, *, attempts: int, error: str) -> bool:
    """Mark the claimed row failed and say so on the incident's timeline; False if it changed meanwhile."""
    with transaction.atomic():
        updated = Notification.objects.filter(
            pk=notification.pk, status=DeliveryStatus.PENDING, attempts=attempts
        ).update(status=DeliveryStatus.FAILED, last_error=error)
        if not updated:
            return False
        record_entry(
            incident=notification.incident,
            kind=EntryKind.NOTE,
            actor=system_user(),
            body=_("Could not deliver the %(kind)s to %(recipient)s after %(attempts)d attempt(s): %(error)s")
            % {
                "kind": notification.get_kind_display().lower(),
                "recipient": _recipient(notification),
                "attempts": attempts,
                "error": error,
            },
            visibility=Visibility.INTERNAL,
            data={"notification": notification.pk, "status": DeliveryStatus.FAILED},
        )
    logger.warning(
        "notification %s failed after %d attempt(s): %s",
        notification.pk,
        attempts,
        error,
        extra={"notification": notification.pk, "incident": notification.incident.number},
    )
    return True


def attempt_delivery(*, notification_id: int) -> DeliveryResult:
    """Deliver the notification if it is due and nobody else holds it; see `deliver_notification`."""
    now = timezone.now()
    due = Notification.objects.filter(pk=notification_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)

    # A page from an escalation level is a request to acknowledge; once that
    # happened, or the incident ended, sending it only wakes someone for nothing.
    # A responder paged into the response team (no level) is asked to join,
    # which an acknowledgement does not settle.
    acknowledged = Q(incident__acknowledged_at__isnull=False, level__isnull=False)
    settled = acknowledged | ~Q(incident__state__in=OPEN_STATES)
    if due.filter(kind=NotificationKind.PAGE).filter(settled).update(status=DeliveryStatus.CANCELLED):
        logger.info("notification %s cancelled: the incident needs no page any more", notification_id)
        return DeliveryResult(DeliveryStatus.CANCELLED)

    if not outbox.claim(due, max_attempts=MAX_ATTEMPTS, now=now):
        # Taken by someone else, not due, already settled — or its last claimer
        # died with no attempts left, which is a failure to record.
        exhausted = due.filter(attempts__gte=MAX_ATTEMPTS).select_related("incident", "user", "contact_method").first()
        if exhausted is not None and _give_up(
            exhausted,
            attempts=exhausted.attempts,
            error=_("The last attempt did not finish.") + (f" {exhausted.last_error}" if exhausted.last_error else ""),
        ):
            return DeliveryResult(DeliveryStatus.FAILED)
        return DeliveryResult(_status_of(notification_id))

    notification = (
        Notification.objects.select_related("incident", "user", "contact_method").filter(pk=notification_id).first()
    )
    if notification is None:
        return DeliveryResult("missing")
    attempts = notification.attempts
    try:
        send_notification(notification=notification)
    except DeliveryError as error:
        failure = error
    except Exception as error:
        # A bug or an outage of our own (database, time limit): counted like a
        # retryable failure, so it is bounded by MAX_ATTEMPTS all the same.
        logger.exception("notification %s: unexpected error while sending", notification_id)
        failure = DeliveryError(_("Internal error (%(error)s).") % {"error": type(error).__name__}, retryable=True)
    else:
        sent_at = timezone.now()
        still_ours = Notification.objects.filter(pk=notification_id, status=DeliveryStatus.PENDING, attempts=attempts)
        sent = outbox.record_after_send(lambda: still_ours.update(status=DeliveryStatus.SENT, sent_at=sent_at))
        if not sent:
            logger.warning("notification %s was sent but changed meanwhile; left as it is", notification_id)
            return DeliveryResult(_status_of(notification_id))
        logger.info(
            "notification %s sent by %s (attempt %d)",
            notification_id,
            notification.channel,
            attempts,
            extra={"notification": notification_id, "incident": notification.incident.number},
        )
        return DeliveryResult(DeliveryStatus.SENT)

    message = failure.message[:LAST_ERROR_LIMIT]
    if not failure.retryable or attempts >= MAX_ATTEMPTS:
        if _give_up(notification, attempts=attempts, error=message):
            return DeliveryResult(DeliveryStatus.FAILED)
        return DeliveryResult(_status_of(notification_id))

    retry_at = timezone.now() + outbox.backoff(attempts)
    rescheduled = Notification.objects.filter(
        pk=notification_id, status=DeliveryStatus.PENDING, attempts=attempts
    ).update(next_attempt_at=retry_at, last_error=message)
    logger.info("notification %s: attempt %d failed (%s); next at %s", notification_id, attempts, message, retry_at)
    if not rescheduled:
        return DeliveryResult(_status_of(notification_id))
    return DeliveryResult(DeliveryStatus.PENDING, retry_at=retry_at)


def deliver_notification(*, notification_id: int) -> str:
    """Deliver one notification now if it is due; return its status afterwards.

    - Nothing happens unless one conditional UPDATE claims the row (pending,
      due, attempts left); a concurrent second call returns the status as is.
    - A due page whose incident is no longer open, or an escalation page
      whose incident is acknowledged, is cancelled, not sent.
    - Sent → `sent` with `sent_at`. A retryable failure keeps it `pending`
      with `next_attempt_at` pushed out by `outbox.backoff`; a permanent one, or the
      MAX_ATTEMPTS-th, makes it `failed` and writes an internal timeline note.

    Returns a DeliveryStatus value, or "missing" if the row does not exist.
    """
    return attempt_delivery(notification_id=notification_id).status


def enqueue_delivery(*, notification: Notification) -> None:
    """Have a worker deliver `notification` once the current transaction commits.

    Waits over `outbox.MAX_COUNTDOWN` are left to the sweeper. A broker that cannot be
    reached does not undo the caller's work (robust hook): the row is pending
    in the database and the sweeper delivers it.
    """
    outbox.schedule_on_commit(deliver_notification_task, [notification])


def _due() -> QuerySet[Notification]:
    return Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now())


def sweep_due_notifications(
    *, batch_size: int = outbox.SWEEP_BATCH, budget_seconds: float = outbox.SWEEP_BUDGET_SECONDS
) -> int:
    """Deliver every due pending notification, oldest first; return how many were tried.

    Stops starting new sends once `budget_seconds` have passed; the next sweep
    carries on where the due rows are.
    """
    return outbox.sweep(
        _due,
        lambda notification_id: attempt_delivery(notification_id=notification_id),
        batch_size=batch_size,
        budget_seconds=budget_seconds,
    )


def redeliver_notification(*, notification: Notification, actor: Actor) -> Notification:
    """Put a failed notification back to pending, due now, with a fresh set of attempts, and enqueue it.

    For agents and admins once the cause is fixed (a webhook back up, an
    address corrected). Raises PermissionDenied without the right to escalate,
    ValidationError if the notification has not failed.
    """
    if not actor.has_perm(ESCALATE_PERMISSION):
        raise PermissionDenied(_("You may not deliver notifications again."))
    with transaction.atomic():
        updated = Notification.objects.filter(pk=notification.pk, status=DeliveryStatus.FAILED).update(
            status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
        )
        if not updated:
            raise ValidationError(_("Only a notification whose delivery failed can be delivered again."))
        notification.refresh_from_db()
        record_entry(
            incident=notification.incident,
            kind=EntryKind.NOTE,
            actor=actor,
            body=_("Delivering the %(kind)s to %(recipient)s again.")
            % {"kind": notification.get_kind_display().lower(), "recipient": _recipient(notification)},
            visibility=Visibility.INTERNAL,
            data={"notification": notification.pk, "status": DeliveryStatus.PENDING, "redelivery": True},
        )
        enqueue_delivery(notification=notification)
    return notification


@shared_task(
    name="escalation.deliver_notification",
    acks_late=True,
    ignore_result=True,
    time_limit=TASK_TIME_LIMIT,
    soft_time_limit=TASK_SOFT_TIME_LIMIT,
)
def deliver_notification_task(notification_id: int) -> str:
    result = attempt_delivery(notification_id=notification_id)
    if result.retry_at is not None:
        outbox.schedule(deliver_notification_task, notification_id, result.retry_at)
    return result.status


@shared_task(
    name="escalation.sweep_notifications",
    acks_late=True,
    ignore_result=True,
    time_limit=SWEEP_TIME_LIMIT,
    soft_time_limit=SWEEP_SOFT_TIME_LIMIT,
)
def sweep_notifications() -> int:
    return sweep_due_notifications()
