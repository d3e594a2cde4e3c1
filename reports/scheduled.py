"""Scheduled summaries: each subscribed manager gets the week's or the month's report as a PDF.

Beat calls `send_due_reports` every quarter of an hour. For each active
subscription it works out the last complete period in the subscriber's time
zone — Monday to Sunday, or the calendar month — and sends it unless that
period's delivery is already sent. A delivery row per (subscription, period
start), claimed under a row lock, makes two workers or two beats send it once;
a failed send is retried at the next round, up to `MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from urllib.parse import parse_qs

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from escalation.channels import DeliveryError, send_email_message
from reports.metrics import summarize
from reports.models import DeliveryStatus, ReportDelivery, ReportFrequency, ReportSubscription
from reports.params import parse_report_query
from reports.periods import Period

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
VIEW_REPORTS = "reports.view_reports"


def zone_of(user: object) -> zoneinfo.ZoneInfo:
    profile = getattr(user, "responder_profile", None)
    try:
        return zoneinfo.ZoneInfo(profile.time_zone if profile else settings.TIME_ZONE)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def language_of(user: object) -> str:
    profile = getattr(user, "responder_profile", None)
    return (profile.language if profile else "") or settings.LANGUAGE_CODE


def last_complete_period(frequency: str, zone: zoneinfo.ZoneInfo, now: dt.datetime) -> Period:
    """The last whole week (Monday–Sunday) or calendar month before `now`, in `zone`."""
    today = now.astimezone(zone).date()
    if frequency == ReportFrequency.WEEKLY:
        monday = today - dt.timedelta(days=today.weekday())
        return Period(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1), zone)
    first = today.replace(day=1)
    last = first - dt.timedelta(days=1)
    return Period(last.replace(day=1), last, zone)


def send_due_reports(now: dt.datetime | None = None) -> int:
    """Send every subscription's last complete period that is not sent yet; the number sent."""
    now = now or timezone.now()
    sent = 0
    subscriptions = ReportSubscription.objects.filter(is_active=True, user__is_active=True).select_related(
        "user__responder_profile"
    )
    for subscription in subscriptions:
        user = subscription.user
        if not user.email or not user.has_perm(VIEW_REPORTS):
            continue
        period = last_complete_period(subscription.frequency, zone_of(user), now)
        if period.ends_at <= subscription.created_at:
            continue  # a new subscriber's first report is the first period that ends after they subscribed
        delivery, _created = ReportDelivery.objects.get_or_create(
            subscription=subscription, period_start=period.start, defaults={"period_end": period.end}
        )
        if delivery.status == DeliveryStatus.SENT or delivery.attempts >= MAX_ATTEMPTS:
            continue
        if _deliver(delivery.pk, period):
            sent += 1
    return sent


def _deliver(delivery_pk: int, period: Period) -> bool:
    with transaction.atomic():
        delivery = (
            ReportDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("subscription__user__responder_profile")
            .filter(pk=delivery_pk)
            .exclude(status=DeliveryStatus.SENT)
            .first()
        )
        if delivery is None:
            return False  # sent meanwhile, or another worker is sending it
        delivery.attempts += 1
        try:
            send_report(delivery.subscription, period)
        except (DeliveryError, OSError, ValidationError) as error:
            delivery.status = DeliveryStatus.FAILED
            delivery.last_error = str(error)[:2000]
            delivery.save(update_fields=["status", "attempts", "last_error"])
            logger.warning("report %s not sent: %s", delivery, error)
            return False
        delivery.status = DeliveryStatus.SENT
        delivery.sent_at = timezone.now()
        delivery.last_error = ""
        delivery.save(update_fields=["status", "attempts", "last_error", "sent_at"])
    logger.info("report %s sent to %s", delivery, delivery.subscription.user.get_username())
    return True


def send_report(subscription: ReportSubscription, period: Period) -> None:
    """Build the summary in the subscriber's language and zone and email it with its PDF."""
    from reports.exports.period_pdf import period_pdf, period_title

    user = subscription.user
    _period, filters = parse_report_query(parse_qs(subscription.filters), today=period.end + dt.timedelta(days=1))
    with translation.override(language_of(user)), timezone.override(period.zone):
        summary = summarize(period, filters, compare=True)
        title = period_title(summary)
        body = "\n".join(
            [
                _("Hello %(name)s,") % {"name": user.get_short_name() or user.get_username()},
                "",
                _("Attached is the incident report for %(start)s – %(end)s.")
                % {"start": period.start.isoformat(), "end": period.end.isoformat()},
                _("Incidents: %(total)d. SLA response compliance: %(response)s. Resolution: %(resolution)s.")
                % {
                    "total": summary.total,
                    "response": _percent(summary.sla_compliance("acknowledge")),
                    "resolution": _percent(summary.sla_compliance("resolve")),
                },
                "",
                _("You get this because you subscribed to the %(frequency)s summary.")
                % {"frequency": subscription.get_frequency_display()},
            ]
        )
        message = EmailMessage(subject=title, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email])
        message.attach(f"incident-report-{period.start}-{period.end}.pdf", period_pdf(summary), "application/pdf")
    send_email_message(message)


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"
