"""SLA clocks with a fixed clock: targets, business hours, holidays, DST, pause, re-target, warn, breach, met."""

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine

from escalation import timers
from escalation.models import BusinessCalendar, Holiday, SlaClock, SlaPolicy, Timer, WorkingPeriod
from incidents import lifecycle, services
from incidents.models import Incident

UTC = dt.UTC
JAKARTA = ZoneInfo("Asia/Jakarta")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def office_hours(db: None) -> Any:
    """P3/P4 run on a Jakarta 09:00–17:00 Monday–Friday calendar."""

    def make(zone: str = "Asia/Jakarta") -> BusinessCalendar:
        calendar = BusinessCalendar.objects.create(name=f"Office {zone}", time_zone=zone)
        for day in range(5):
            WorkingPeriod.objects.create(calendar=calendar, weekday=day, starts=dt.time(9), ends=dt.time(17))
        SlaPolicy.objects.filter(priority__in=["P3", "P4"]).update(calendar=calendar)
        return calendar

    return make


def clock(incident: Incident, kind: str) -> SlaClock:
    return SlaClock.objects.get(incident=incident, kind=kind)


def summary(incident: Incident, api: Any, user: Any) -> dict[str, Any]:
    return api(user).get(f"/api/v1/incidents/{incident.number}/").json()["sla"]


def pending(incident: Incident) -> set[tuple[str, str]]:
    rows = Timer.objects.filter(incident=incident, fired_at__isnull=True, cancelled_at__isnull=True)
    return set(rows.values_list("purpose", "clock"))


@pytest.mark.django_db
def test_p1_runs_24x7_with_warning_at_75_percent(make_incident: Any) -> None:
    reported = dt.datetime(2026, 11, 21, 23, 50, tzinfo=UTC)  # a Saturday night
    with time_machine.travel(reported, tick=False):
        incident = make_incident(impact="high", urgency="high")

    ack = clock(incident, "acknowledge")
    assert (ack.target, ack.due_at, ack.warn_at) == (
        dt.timedelta(minutes=15),
        reported + dt.timedelta(minutes=15),
        reported + dt.timedelta(minutes=11, seconds=15),
    )
    assert clock(incident, "resolve").due_at == reported + dt.timedelta(hours=4)
    assert pending(incident) >= {("sla_warning", "acknowledge"), ("sla_breach", "acknowledge")}


@pytest.mark.django_db
def test_p3_runs_on_business_hours(make_incident: Any, office_hours: Any) -> None:
    office_hours()
    friday_afternoon = dt.datetime(2026, 11, 20, 15, tzinfo=JAKARTA)
    with time_machine.travel(friday_afternoon, tick=False):
        incident = make_incident(impact="medium", urgency="medium")

    assert clock(incident, "acknowledge").due_at == dt.datetime(2026, 11, 23, 11, tzinfo=JAKARTA)
    # 3 business days = 24 business hours: Fri 2 h + Mon, Tue 16 h + Wed 6 h.
    assert clock(incident, "resolve").due_at == dt.datetime(2026, 11, 25, 15, tzinfo=JAKARTA)


@pytest.mark.django_db
def test_holidays_do_not_count(make_incident: Any, office_hours: Any) -> None:
    calendar = office_hours()
    Holiday.objects.create(calendar=calendar, date=dt.date(2026, 11, 23), name="Company day off")
    with time_machine.travel(dt.datetime(2026, 11, 20, 15, tzinfo=JAKARTA), tick=False):
        incident = make_incident(impact="medium", urgency="medium")
    assert clock(incident, "acknowledge").due_at == dt.datetime(2026, 11, 24, 11, tzinfo=JAKARTA)


@pytest.mark.django_db
def test_business_hours_across_a_dst_change(make_incident: Any, office_hours: Any) -> None:
    office_hours("Europe/Berlin")
    with time_machine.travel(dt.datetime(2026, 3, 27, 15, tzinfo=BERLIN), tick=False):
        incident = make_incident(impact="medium", urgency="medium")
    # Friday 15:00 CET + 4 business hours = Monday 11:00 CEST, 09:00 UTC.
    assert clock(incident, "acknowledge").due_at == dt.datetime(2026, 3, 30, 9, tzinfo=UTC)


@pytest.mark.django_db
def test_on_hold_pauses_and_resume_moves_the_deadline(make_incident: Any, agent: Any, api: Any) -> None:
    start = dt.datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high")
        traveller.move_to(start + dt.timedelta(minutes=1))
        incident = lifecycle.acknowledge_incident(incident=incident, actor=agent)
        traveller.move_to(start + dt.timedelta(minutes=60))
        incident = lifecycle.hold_incident(incident=incident, actor=agent, reason="Waiting for the vendor")

        paused = summary(incident, api, agent)["resolve"]
        assert (paused["state"], paused["due_at"], paused["seconds_left"]) == ("paused", None, 3 * 3600)
        assert ("sla_breach", "resolve") not in pending(incident)

        traveller.move_to(start + dt.timedelta(minutes=180))
        lifecycle.resume_incident(incident=incident, actor=agent)

    resolve = clock(incident, "resolve")
    assert resolve.consumed == dt.timedelta(minutes=60)
    assert resolve.due_at == start + dt.timedelta(hours=6)
    assert Timer.objects.get(incident=incident, purpose="sla_breach", clock="resolve").due_at == resolve.due_at


@pytest.mark.django_db
def test_priority_change_retargets_keeping_time_used(make_incident: Any, manager: Any, office_hours: Any) -> None:
    office_hours()
    monday = dt.datetime(2026, 11, 16, 10, tzinfo=JAKARTA)
    with time_machine.travel(monday, tick=False) as traveller:
        incident = make_incident(impact="medium", urgency="medium")
        assert clock(incident, "acknowledge").due_at == dt.datetime(2026, 11, 16, 14, tzinfo=JAKARTA)
        traveller.move_to(monday + dt.timedelta(minutes=10))
        services.override_priority(incident=incident, actor=manager, priority="P1", reason="Top customer hit")

    ack = clock(incident, "acknowledge")
    assert (ack.priority, ack.target, ack.calendar) == ("P1", dt.timedelta(minutes=15), None)
    assert ack.due_at == monday + dt.timedelta(minutes=15)
    timer = Timer.objects.get(incident=incident, purpose="sla_breach", clock="acknowledge")
    assert (timer.due_at, timer.version) == (monday + dt.timedelta(minutes=15), 2)


@pytest.mark.django_db
def test_new_target_already_used_up_breaches_at_once(make_incident: Any, manager: Any) -> None:
    start = dt.datetime(2026, 11, 18, 3, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="medium")  # P2: 30 minutes to acknowledge
        traveller.move_to(start + dt.timedelta(minutes=20))
        services.override_priority(incident=incident, actor=manager, priority="P1", reason="Spreading")
        timers.sweep_due_timers()
    ack = clock(incident, "acknowledge")
    assert ack.breached_at == start + dt.timedelta(minutes=20)
    assert ack.warned_at == start + dt.timedelta(minutes=20)


@pytest.mark.django_db
def test_warning_then_breach_then_met_late(make_incident: Any, agent: Any, api: Any) -> None:
    start = dt.datetime(2026, 11, 18, 3, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high")

        traveller.move_to(start + dt.timedelta(minutes=11))
        timers.sweep_due_timers()
        assert clock(incident, "acknowledge").warned_at is None

        traveller.move_to(start + dt.timedelta(minutes=11, seconds=16))
        timers.sweep_due_timers()
        assert clock(incident, "acknowledge").warned_at == start + dt.timedelta(minutes=11, seconds=15)
        assert summary(incident, api, agent)["acknowledge"]["state"] == "running"

        traveller.move_to(start + dt.timedelta(minutes=16))
        timers.sweep_due_timers()
        breached = summary(incident, api, agent)["acknowledge"]
        assert (breached["state"], breached["breached"], breached["seconds_left"]) == ("breached", True, -60)
        assert breached["breached_at"] == "2026-11-18T03:15:00Z"

        lifecycle.acknowledge_incident(incident=incident, actor=agent)
    met = summary(incident, api, agent)["acknowledge"]
    assert (met["state"], met["breached"], met["met_at"]) == ("met", True, "2026-11-18T03:16:00Z")
    events = list(incident.timeline.filter(data__sla="acknowledge").values_list("data__event", flat=True))
    assert events == ["warning", "breach"]


@pytest.mark.django_db
def test_met_in_time_cancels_its_timers(make_incident: Any, agent: Any, api: Any) -> None:
    start = dt.datetime(2026, 11, 18, 3, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high")
        traveller.move_to(start + dt.timedelta(minutes=4))
        incident = lifecycle.acknowledge_incident(incident=incident, actor=agent)
        traveller.move_to(start + dt.timedelta(hours=1))
        timers.sweep_due_timers()

    ack = summary(incident, api, agent)["acknowledge"]
    assert (ack["state"], ack["breached"], ack["met_at"]) == ("met", False, "2026-11-18T03:04:00Z")
    assert not {("sla_warning", "acknowledge"), ("sla_breach", "acknowledge")} & pending(incident)
    assert clock(incident, "acknowledge").warned_at is None


@pytest.mark.django_db
def test_resolve_meets_and_reopen_restarts_the_resolve_clock(make_incident: Any, agent: Any) -> None:
    start = dt.datetime(2026, 11, 18, 3, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high")
        traveller.move_to(start + dt.timedelta(hours=1))
        incident = lifecycle.investigate_incident(incident=incident, actor=agent)
        incident = lifecycle.resolve_incident(incident=incident, actor=agent, root_cause="Disk", resolution="Freed")
        assert clock(incident, "resolve").met_at == start + dt.timedelta(hours=1)
        traveller.move_to(start + dt.timedelta(hours=5))
        lifecycle.reopen_incident(incident=incident, actor=agent, reason="Disk full again")

    resolve = clock(incident, "resolve")
    assert (resolve.met_at, resolve.consumed) == (None, dt.timedelta(hours=1))
    assert resolve.due_at == start + dt.timedelta(hours=8)


@pytest.mark.django_db
def test_cancel_stops_every_clock_and_timer(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident(impact="high", urgency="high")
    lifecycle.cancel_incident(incident=incident, actor=agent, reason="Duplicate")
    assert {c["state"] for c in summary(incident, api, agent).values()} == {"stopped"}
    assert pending(incident) == set()


@pytest.mark.django_db
def test_sla_in_the_list_costs_no_extra_queries_per_row(make_incident: Any, agent: Any, api: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(12):
        make_incident(impact="high", urgency="high")
    client = api(agent)
    counts = []
    for size in (2, 12):
        with CaptureQueriesContext(connection) as queries:
            rows = client.get(f"/api/v1/incidents/?page_size={size}").json()["results"]
        assert {row["sla"]["acknowledge"]["state"] for row in rows} == {"running"}
        counts.append(len(queries))
    assert counts[0] == counts[1]
