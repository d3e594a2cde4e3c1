"""`manage.py generate_incidents`: synthetic incidents that look lived, added in resumable batches."""

import datetime as dt
import io
import zoneinfo

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q
from django.utils import timezone

from escalation.models import SlaClock
from incidents import synthetic
from incidents.choices import EntryKind, State
from incidents.models import Incident, TimelineEntry
from reports.metrics import summarize
from reports.periods import Period


def generate(count: int, batch: int = 40) -> str:
    out = io.StringIO()
    call_command("generate_incidents", count=count, days=60, batch=batch, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_generated_incidents_are_consistent_with_their_state(service: object, agent: object) -> None:
    assert "Added 100 incidents" in generate(100)
    incidents = Incident.objects.filter(diagnostics=synthetic.MARK)
    assert incidents.count() == 100
    now = timezone.now()
    assert not incidents.filter(Q(created_at__gt=now) | Q(created_at__lt=now - dt.timedelta(days=61))).exists()
    # Each state has exactly the stamps it implies, in order.
    assert not incidents.filter(state=State.CLOSED, closed_at__isnull=True).exists()
    assert not incidents.filter(state=State.NEW, acknowledged_at__isnull=False).exists()
    assert not incidents.filter(acknowledged_at__lt=F("created_at")).exists()
    assert not incidents.filter(resolved_at__lt=F("mitigated_at")).exists()
    assert not incidents.filter(started_at__gt=F("created_at")).exists()
    assert incidents.filter(state=State.CLOSED).count() > 50
    # Every incident has a service, its team, two clocks and a timeline that starts with its report.
    assert not incidents.filter(services__isnull=True).exists()
    assert not incidents.filter(team__isnull=True).exists()
    clocks = SlaClock.objects.filter(incident__in=incidents)
    assert clocks.count() == 200
    assert not clocks.filter(breached_at__isnull=False, met_at__isnull=False).exists()
    transitions = TimelineEntry.objects.filter(incident__in=incidents, kind=EntryKind.TRANSITION)
    closed = incidents.filter(state=State.CLOSED).annotate(
        steps=Count("timeline", filter=Q(timeline__kind=EntryKind.TRANSITION))
    )
    assert {incident.steps for incident in closed} == {4}  # investigate, mitigate, resolve, close
    assert transitions.filter(data__transition="close").count() == incidents.filter(state=State.CLOSED).count()
    assert TimelineEntry.objects.filter(incident__in=incidents, kind=EntryKind.CREATED).count() == 100


@pytest.mark.django_db
def test_a_second_run_carries_on_to_the_count(service: object, agent: object) -> None:
    generate(60)
    assert "nothing to add" in generate(60)
    generate(100)
    assert Incident.objects.filter(diagnostics=synthetic.MARK).count() == 100
    # Numbers are unique and every row points at an incident that exists.
    assert Incident.objects.values("pk").distinct().count() == Incident.objects.count()
    assert SlaClock.objects.count() == 200


@pytest.mark.django_db
def test_the_summary_reads_generated_history(service: object, agent: object) -> None:
    generate(120)
    today = timezone.localdate()
    summary = summarize(Period(today - dt.timedelta(days=60), today, zoneinfo.ZoneInfo("UTC")))
    cancelled = Incident.objects.filter(state=State.CANCELLED).count()
    assert summary.total == 120 - cancelled
    assert summary.response_times.acknowledge.count > 100
    assert summary.downtime_seconds > 0


@pytest.mark.django_db
def test_without_services_it_says_what_to_do() -> None:
    with pytest.raises(CommandError, match="services"):
        generate(10)
