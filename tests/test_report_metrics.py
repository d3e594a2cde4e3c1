"""Every metric of the period summary, on a hand-built month whose answers are worked out below.

The month is March 2026 in Jakarta (UTC+7, no daylight saving): 1 March 00:00 WIB is
28 February 17:00 UTC, and the period ends 31 March 17:00 UTC. Times below are UTC.

    A  P1 network, s1, team one   reported 2 Mar 03:00, impact from 02:30; ack +10 min,
       mitigated +1 h, resolved +2 h; 100 users
    B  P1 network, s1 + s2        reported 2 Mar 03:30, impact from 03:30; ack +20 min,
       mitigated 05:00 (+1.5 h), resolved +3 h; 50 users   (overlaps A on s1)
    C  P2 application, s2         reported 10 Mar 00:00; ack +30 min; resolved (never
       mitigated) +4 h; reopened once
    D  P3 application, s3, team two  reported 31 Mar 16:30 (23:30 WIB, the last day);
       impact from 16:00; ack +1 h; still open; 10 users
    E  P4 other, no service       reported 28 Feb 20:00 UTC = 1 Mar 03:00 WIB: inside the
       period in Jakarta, outside it in UTC; ack +2 h, mitigated +1 h
    F  P2, s1, reported in February, impact 28 Feb 12:00 – 19:00: only the last two hours
       (after 17:00) fall in the period
    G  cancelled in March: left out of everything
    H  reported 1 Apr 00:00 UTC (07:00 WIB): after the period
"""

import datetime as dt
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from escalation.models import ClockKind, Team
from incidents import lifecycle
from incidents.action_items import add_action_item
from incidents.choices import ActionItemStatus, Category, State
from incidents.models import Incident, Service
from incidents.postmortems import write_postmortem
from reports.filters import ReportFilters
from reports.metrics import DurationStats, Summary, summarize
from reports.periods import Interval, Period
from tests.report_helpers import clock

UTC = dt.UTC
JAKARTA = zoneinfo.ZoneInfo("Asia/Jakarta")
MARCH = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31), JAKARTA)
HOUR = 3600.0


def at(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def incident(
    title: str,
    *,
    priority: str,
    created: dt.datetime,
    state: str = State.RESOLVED,
    category: str = Category.NETWORK,
    services: list[Service] = (),  # type: ignore[assignment]
    team: Team | None = None,
    **times: Any,
) -> Incident:
    made = Incident.objects.create(
        title=title,
        priority=priority,
        state=state,
        category=category,
        team=team,
        created_at=created,
        detected_at=created,
        started_at=times.pop("started_at", created),
        **times,
    )
    made.services.set(services)
    return made


@pytest.fixture
def month(db: None, manager: Any) -> dict[str, Any]:
    one = Team.objects.create(name="One", slug="one")
    two = Team.objects.create(name="Two", slug="two")
    s1 = Service.objects.create(name="Service one", slug="s1", owner_team=one)
    s2 = Service.objects.create(name="Service two", slug="s2", owner_team=one)
    s3 = Service.objects.create(name="Service three", slug="s3", owner_team=two)
    Service.objects.create(name="Quiet service", slug="quiet", owner_team=two)
    minutes = dt.timedelta(minutes=1)
    a = incident(
        "A",
        priority="P1",
        created=at(2, 3),
        started_at=at(2, 2, 30),
        services=[s1],
        team=one,
        acknowledged_at=at(2, 3) + 10 * minutes,
        mitigated_at=at(2, 4),
        resolved_at=at(2, 5),
        affected_users=100,
    )
    b = incident(
        "B",
        priority="P1",
        created=at(2, 3, 30),
        services=[s1, s2],
        team=one,
        acknowledged_at=at(2, 3, 50),
        mitigated_at=at(2, 5),
        resolved_at=at(2, 6, 30),
        affected_users=50,
    )
    c = incident(
        "C",
        priority="P2",
        created=at(10, 0),
        category=Category.APPLICATION_ERROR,
        services=[s2],
        team=one,
        acknowledged_at=at(10, 0, 30),
        resolved_at=at(10, 4),
        reopen_count=1,
    )
    d = incident(
        "D",
        priority="P3",
        created=at(31, 16, 30),
        started_at=at(31, 16),
        state=State.INVESTIGATING,
        category=Category.APPLICATION_ERROR,
        services=[s3],
        team=two,
        acknowledged_at=at(31, 17, 30),
        affected_users=10,
    )
    incident(
        "E",
        priority="P4",
        created=at(28, 20, month=2),
        category=Category.OTHER,
        state=State.MITIGATED,
        acknowledged_at=at(28, 22, month=2),
        mitigated_at=at(28, 21, month=2),
    )
    incident(
        "F",
        priority="P2",
        created=at(27, 12, month=2),
        started_at=at(28, 12, month=2),
        services=[s1],
        mitigated_at=at(28, 19, month=2),
        resolved_at=at(28, 20, month=2),
    )
    g = incident("G", priority="P1", created=at(5, 0), state=State.CANCELLED, services=[s1], affected_users=999)
    h = incident("H", priority="P1", created=at(1, 0, month=4), services=[s1], state=State.NEW)

    clock(a, ClockKind.ACKNOWLEDGE, met=True)
    clock(a, ClockKind.RESOLVE, met=True)
    clock(b, ClockKind.ACKNOWLEDGE, met=False)
    clock(c, ClockKind.ACKNOWLEDGE, met=True)
    clock(c, ClockKind.RESOLVE, met=False)
    clock(d, ClockKind.ACKNOWLEDGE, met=True)
    clock(d, ClockKind.RESOLVE, met=None)
    clock(g, ClockKind.ACKNOWLEDGE, met=False)
    clock(h, ClockKind.ACKNOWLEDGE, met=False)

    postmortem = write_postmortem(incident=a, actor=manager)
    add_action_item(postmortem=postmortem, actor=manager, title="Alert on expiry", due_date=dt.date(2026, 3, 20))
    add_action_item(postmortem=postmortem, actor=manager, title="Runbook", due_date=dt.date(2999, 1, 1))
    add_action_item(
        postmortem=postmortem, actor=manager, title="Done already", status=ActionItemStatus.DONE, resolution_note="ok"
    )
    later = write_postmortem(incident=h, actor=manager)
    add_action_item(postmortem=later, actor=manager, title="Not this period's", due_date=dt.date(2026, 1, 1))
    return {"s1": s1, "s2": s2, "s3": s3}


def stats(count: int, mean: float, median: float, p90: float) -> DurationStats:
    return DurationStats(count, mean, median, p90)


def tallies(found: list[Any]) -> dict[str, int]:
    return {t.key: t.count for t in found}


@pytest.mark.django_db
def test_counts_cover_the_incidents_reported_in_the_period_in_its_time_zone(month: Any) -> None:
    summary = summarize(MARCH)
    assert summary.total == 5  # A B C D E: not F (February), G (cancelled), H (April)
    assert tallies(summary.by_priority) == {"P1": 2, "P2": 1, "P3": 1, "P4": 1}
    assert tallies(summary.by_category) == {"network": 2, "application_error": 2, "other": 1}
    assert tallies(summary.by_service) == {"s1": 2, "s2": 2, "s3": 1}
    assert tallies(summary.by_team) == {"one": 3, "two": 1, "": 1}
    assert summary.affected_users == 160
    assert [t.key for t in summary.recurring_services] == ["s1", "s2"]

    # In UTC, E was reported in February.
    in_utc = summarize(Period(MARCH.start, MARCH.end, zoneinfo.ZoneInfo("UTC")))
    assert in_utc.total == 4
    assert tallies(in_utc.by_priority)["P4"] == 0


@pytest.mark.django_db
def test_counts_over_time_fall_on_the_days_of_the_time_zone(month: Any) -> None:
    summary = summarize(MARCH)
    assert summary.interval == Interval.DAY
    assert len(summary.over_time) == 31
    counted = {bucket.start.day: bucket.count for bucket in summary.over_time if bucket.count}
    assert counted == {1: 1, 2: 2, 10: 1, 31: 1}
    assert summary.over_time[1].by_priority == {"P1": 2, "P2": 0, "P3": 0, "P4": 0}


@pytest.mark.django_db
def test_response_times_mean_median_and_p90_from_the_report(month: Any) -> None:
    times = summarize(MARCH).response_times
    # Acknowledged after 600, 1200, 1800, 3600, 7200 s: p90 is 3600 + 0.6 · (7200 − 3600).
    assert times.acknowledge == stats(5, 2880, 1800, 5760)
    # Restored after 3600 (A), 5400 (B), 14400 (C, resolved without mitigation), 3600 (E).
    assert times.mitigate == stats(4, 6750, 4500, 11700)
    # Resolved after 7200, 10800, 14400.
    assert times.resolve == stats(3, 10800, 10800, 13680)


@pytest.mark.django_db
def test_response_times_per_priority(month: Any) -> None:
    by_priority = summarize(MARCH).response_times_by_priority
    assert by_priority["P1"].acknowledge == stats(2, 900, 900, 1140)
    assert by_priority["P2"].resolve == stats(1, 14400, 14400, 14400)
    assert by_priority["P3"].resolve == DurationStats(0, None, None, None)
    assert by_priority["P4"].acknowledge == stats(1, 7200, 7200, 7200)


@pytest.mark.django_db
def test_downtime_counts_overlaps_once_and_clips_to_the_period(month: Any) -> None:
    summary = summarize(MARCH)
    availability = {s.slug: s for s in summary.availability}
    # s1: F's last 2 h of February's impact after the period starts, then A ∪ B = 02:30–05:00.
    assert availability["s1"].downtime_seconds == 2 * HOUR + 2.5 * HOUR
    # s2: B 03:30–05:00, C 4 h (resolved without mitigation).
    assert availability["s2"].downtime_seconds == 1.5 * HOUR + 4 * HOUR
    # s3: D's impact from 16:00 until the period ends at 17:00, though still going on.
    assert availability["s3"].downtime_seconds == 1 * HOUR
    assert availability["quiet"].downtime_seconds == 0
    assert availability["quiet"].availability_percent == 100.0
    seconds = 31 * 24 * HOUR
    assert availability["s1"].availability_percent == round(100 * (1 - 4.5 * HOUR / seconds), 4)
    assert (availability["s1"].incidents, availability["s2"].incidents, availability["quiet"].incidents) == (3, 2, 0)
    # Worst first.
    assert [s.slug for s in summary.availability] == ["s2", "s1", "s3", "quiet"]
    # Service downtime: the services' own, added up (E, on no service, has none).
    assert summary.downtime_seconds == 4.5 * HOUR + 5.5 * HOUR + 1 * HOUR


@pytest.mark.django_db
def test_sla_compliance_per_priority_with_the_breaches_listed(month: Any) -> None:
    summary = summarize(MARCH)
    outcomes = {(o.kind, o.priority): (o.met, o.breached, o.running) for o in summary.sla}
    assert outcomes[("acknowledge", "P1")] == (1, 1, 0)
    assert outcomes[("acknowledge", "P2")] == (1, 0, 0)
    assert outcomes[("resolve", "P2")] == (0, 1, 0)
    assert outcomes[("resolve", "P3")] == (0, 0, 1)
    assert outcomes[("resolve", "P4")] == (0, 0, 0)
    p1 = next(o for o in summary.sla if (o.kind, o.priority) == ("acknowledge", "P1"))
    assert p1.compliance_percent == 50.0
    assert summary.sla_compliance("acknowledge") == 75.0  # A, C, D met; B breached
    assert summary.sla_compliance("resolve") == 50.0  # A met; C breached; D still running
    assert summary.breach_count == 2  # not G's (cancelled) nor H's (April)
    assert [(b.title, b.kind) for b in summary.breaches] == [("C", "resolve"), ("B", "acknowledge")]  # newest first


@pytest.mark.django_db
def test_reopen_rate_and_follow_ups(month: Any) -> None:
    summary = summarize(MARCH)
    assert (summary.reopened, summary.reopen_rate_percent) == (1, 20.0)
    # A's two pending items (one past its due date); the done one and H's are not counted.
    assert (summary.action_items_open, summary.action_items_overdue) == (2, 1)


@pytest.mark.django_db
def test_filters_narrow_every_metric(month: Any) -> None:
    on_s2 = summarize(MARCH, ReportFilters.of(services=["s2"]))
    assert on_s2.total == 2  # B and C
    assert [s.slug for s in on_s2.availability] == ["s2"]
    assert on_s2.downtime_seconds == 5.5 * HOUR
    assert on_s2.response_times.resolve == stats(2, 12600, 12600, 14040)

    team_two = summarize(MARCH, ReportFilters.of(teams=["two"]))
    assert team_two.total == 1
    assert {s.slug for s in team_two.availability} == {"s3", "quiet"}

    urgent = summarize(MARCH, ReportFilters.of(priorities=["P1"], categories=["network"]))
    assert urgent.total == 2
    assert urgent.breach_count == 1
    assert (urgent.action_items_open, urgent.reopened) == (2, 0)


@pytest.mark.django_db
def test_the_previous_period_is_the_same_length_just_before(month: Any) -> None:
    summary = summarize(MARCH, compare=True)
    previous = summary.previous
    assert previous is not None
    assert (previous.period.start, previous.period.end) == (dt.date(2026, 1, 29), dt.date(2026, 2, 28))
    # F, reported 27 Feb 19:00 WIB; E belongs to March in Jakarta.
    assert previous.total == 1
    assert previous.previous is None


@pytest.mark.django_db
def test_an_empty_period_has_zeros_and_no_division_by_zero(month: Any) -> None:
    summary = summarize(Period(dt.date(2020, 1, 1), dt.date(2020, 1, 31), JAKARTA))
    assert summary.total == 0
    assert summary.response_times.acknowledge == DurationStats(0, None, None, None)
    assert summary.reopen_rate_percent is None
    assert summary.sla_compliance("acknowledge") is None
    assert summary.downtime_seconds == 0
    assert {s.availability_percent for s in summary.availability} == {100.0}


@pytest.mark.django_db
def test_time_on_hold_does_not_count_against_the_resolution_sla(make_incident: Any, agent: Any) -> None:
    """Resolved 4 h 30 min after the report, 3 h of it on hold: 1 h 30 min used of P1's 4 h."""
    start = dt.datetime(2026, 5, 4, 2, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        made = make_incident(impact="high", urgency="high")
        assert made.priority == "P1"
        traveller.move_to(start + dt.timedelta(minutes=10))
        made = lifecycle.investigate_incident(incident=made, actor=agent)
        traveller.move_to(start + dt.timedelta(hours=1))
        made = lifecycle.hold_incident(incident=made, actor=agent, reason="Waiting for the vendor")
        traveller.move_to(start + dt.timedelta(hours=4))
        made = lifecycle.resume_incident(incident=made, actor=agent)
        traveller.move_to(start + dt.timedelta(hours=4, minutes=30))
        lifecycle.resolve_incident(incident=made, actor=agent, root_cause="Vendor bug", resolution="Patched")

    summary = summarize(Period(dt.date(2026, 5, 4), dt.date(2026, 5, 4), zoneinfo.ZoneInfo("UTC")))
    resolve = next(o for o in summary.sla if (o.kind, o.priority) == ("resolve", "P1"))
    assert (resolve.met, resolve.breached) == (1, 0)
    # The response time itself is wall-clock time from the report.
    assert summary.response_times.resolve.mean == 4.5 * HOUR


@pytest.mark.django_db
def test_the_reopen_transition_counts(make_incident: Any, agent: Any) -> None:
    made = make_incident()
    made = lifecycle.investigate_incident(incident=made, actor=agent)
    made = lifecycle.resolve_incident(incident=made, actor=agent, root_cause="x", resolution="y")
    made = lifecycle.reopen_incident(incident=made, actor=agent, reason="Back again")
    made = lifecycle.resolve_incident(incident=made, actor=agent, root_cause="x", resolution="y")
    lifecycle.reopen_incident(incident=made, actor=agent, reason="And again")
    made.refresh_from_db()
    assert made.reopen_count == 2
    today = timezone.localdate()
    assert summarize(Period(today, today, zoneinfo.ZoneInfo(timezone.get_current_timezone_name()))).reopened == 1


def test_a_day_with_a_daylight_saving_change_is_23_hours_and_weeks_start_on_monday() -> None:
    amsterdam = zoneinfo.ZoneInfo("Europe/Amsterdam")
    change = Period(dt.date(2026, 3, 29), dt.date(2026, 3, 29), amsterdam)
    assert change.seconds == 23 * HOUR
    assert change.starts_at.astimezone(UTC) == at(28, 23)
    quarter = Period(dt.date(2026, 1, 1), dt.date(2026, 4, 10), amsterdam)
    assert quarter.interval == Interval.WEEK
    assert quarter.buckets(Interval.WEEK)[:2] == [dt.date(2025, 12, 29), dt.date(2026, 1, 5)]
    assert quarter.previous() == Period(dt.date(2025, 9, 23), dt.date(2025, 12, 31), amsterdam)  # 100 days each
    assert Period(dt.date(2026, 1, 1), dt.date(2027, 6, 30), amsterdam).buckets(Interval.MONTH)[-1] == dt.date(
        2027, 6, 1
    )


@pytest.mark.django_db
def test_weekly_buckets_in_a_daylight_saving_zone(db: None) -> None:
    amsterdam = zoneinfo.ZoneInfo("Europe/Amsterdam")
    # 29 Mar 22:30 UTC is Monday 30 Mar 00:30 CEST: the week of 30 March, not of 23 March.
    incident("late", priority="P3", created=at(29, 22, 30))
    incident("early", priority="P3", created=at(29, 21, 30))  # Sunday 23:30 CEST
    summary: Summary = summarize(Period(dt.date(2026, 1, 1), dt.date(2026, 4, 30), amsterdam))
    weeks = {bucket.start: bucket.count for bucket in summary.over_time if bucket.count}
    assert weeks == {dt.date(2026, 3, 23): 1, dt.date(2026, 3, 30): 1}
