"""Scheduled summaries: the last whole week or month, emailed once with the PDF, retried when mail fails."""

import datetime as dt
import io
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.core import mail
from pypdf import PdfReader

from escalation.models import ResponderProfile
from incidents.choices import State
from incidents.models import Incident
from reports.models import DeliveryStatus, ReportDelivery, ReportFrequency, ReportSubscription
from reports.periods import Period
from reports.scheduled import last_complete_period, send_due_reports
from reports.tasks import send_due_reports_task

JAKARTA = zoneinfo.ZoneInfo("Asia/Jakarta")
# Wednesday 11 March 2026, 09:00 in Jakarta.
WEDNESDAY = dt.datetime(2026, 3, 11, 9, tzinfo=JAKARTA)


def test_the_last_complete_week_and_month_in_the_subscriber_zone() -> None:
    assert last_complete_period(ReportFrequency.WEEKLY, JAKARTA, WEDNESDAY) == Period(
        dt.date(2026, 3, 2), dt.date(2026, 3, 8), JAKARTA
    )
    assert last_complete_period(ReportFrequency.MONTHLY, JAKARTA, WEDNESDAY) == Period(
        dt.date(2026, 2, 1), dt.date(2026, 2, 28), JAKARTA
    )
    # Monday 00:30 in Jakarta is still Sunday in UTC: Jakarta's week is over, UTC's is not.
    monday = dt.datetime(2026, 3, 9, 0, 30, tzinfo=JAKARTA)
    assert last_complete_period(ReportFrequency.WEEKLY, JAKARTA, monday).end == dt.date(2026, 3, 8)
    assert last_complete_period(ReportFrequency.WEEKLY, zoneinfo.ZoneInfo("UTC"), monday).end == dt.date(2026, 3, 1)
    # January's month before is December of the year before.
    assert last_complete_period(ReportFrequency.MONTHLY, JAKARTA, dt.datetime(2026, 1, 5, tzinfo=JAKARTA)) == Period(
        dt.date(2025, 12, 1), dt.date(2025, 12, 31), JAKARTA
    )


@pytest.fixture
def subscriber(manager: Any) -> Any:
    manager.email = "maya@example.com"
    manager.save()
    ResponderProfile.objects.update_or_create(user=manager, defaults={"time_zone": "Asia/Jakarta", "language": "id"})
    with time_machine.travel(dt.datetime(2026, 2, 20, tzinfo=dt.UTC)):
        ReportSubscription.objects.create(user=manager, frequency=ReportFrequency.WEEKLY)
    created = dt.datetime(2026, 3, 3, 2, tzinfo=dt.UTC)
    Incident.objects.create(
        title="Payments down in the week",
        priority="P1",
        state=State.RESOLVED,
        created_at=created,
        started_at=created,
        acknowledged_at=created + dt.timedelta(minutes=5),
        resolved_at=created + dt.timedelta(hours=1),
    )
    return manager


@pytest.mark.django_db
def test_a_weekly_subscriber_gets_last_week_once_with_the_pdf(subscriber: Any) -> None:
    with time_machine.travel(WEDNESDAY):
        assert send_due_reports() == 1
        assert send_due_reports() == 0  # the next round: already sent

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["maya@example.com"]
    name, content, kind = message.attachments[0]
    assert (name, kind) == ("incident-report-2026-03-02-2026-03-08.pdf", "application/pdf")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    # Last week, Monday to Sunday in Jakarta, with the week's one P1, in the subscriber's language.
    assert "2026-03-02" in message.subject
    assert "2026-03-08" in message.subject
    assert "2026-03-02" in text
    assert "Insiden: 1." in message.body
    delivery = ReportDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.period_end) == (DeliveryStatus.SENT, 1, dt.date(2026, 3, 8))


@pytest.mark.django_db
def test_a_failed_send_is_retried_at_the_next_round(subscriber: Any, settings: Any) -> None:
    settings.EMAIL_BACKEND = "tests.test_report_schedule.RefusingBackend"
    with time_machine.travel(WEDNESDAY):
        assert send_due_reports() == 0
    delivery = ReportDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 1)
    assert delivery.last_error

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with time_machine.travel(WEDNESDAY + dt.timedelta(minutes=15)):
        assert send_due_reports_task.apply().get() == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_only_periods_after_subscribing_and_only_for_managers(subscriber: Any, agent: Any) -> None:
    agent.email = "agus@example.com"
    agent.save()
    ReportSubscription.objects.create(user=agent, frequency=ReportFrequency.MONTHLY)  # no right to reports
    with time_machine.travel(dt.datetime(2026, 2, 21, tzinfo=dt.UTC)):
        monthly = ReportSubscription.objects.create(user=subscriber, frequency=ReportFrequency.MONTHLY)
    with time_machine.travel(dt.datetime(2026, 3, 10, tzinfo=dt.UTC)):
        # Subscribed after last week ended: its first report is next week's.
        late = ReportSubscription.objects.create(
            user=subscriber, frequency=ReportFrequency.WEEKLY, filters="priority=P1"
        )
    with time_machine.travel(WEDNESDAY):
        assert send_due_reports() == 2  # the weekly one from the fixture, and February (it ended after 21 Feb)
    assert [m.to for m in mail.outbox] == [["maya@example.com"]] * 2
    assert set(ReportDelivery.objects.values_list("subscription", flat=True)) == {
        monthly.pk,
        ReportSubscription.objects.get(user=subscriber, frequency=ReportFrequency.WEEKLY, filters="").pk,
    }
    assert not ReportDelivery.objects.filter(subscription=late).exists()


class RefusingBackend:
    """A mail server that is down."""

    def __init__(self, **_: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")
