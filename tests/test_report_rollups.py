"""Monthly roll-ups (reports/rollups.py): a summary that reads them says exactly what the facts say.

The world: January to April 2026, seen from 10 May 2026 (every month has
ended), with incidents of each priority in each month, impact spans that
cross a month's end, spans that overlap on one service, one impact still
going on since March, a cancelled incident, and SLA clocks met, breached
and running. Each summary is computed twice, from the facts alone and with
the roll-ups built, and the two must be equal in every field.
"""

import dataclasses
import datetime as dt
import threading
import zoneinfo
from typing import Any

import pytest
import time_machine
from django.db import connection, transaction

from escalation.models import ClockKind, Team
from incidents.choices import Category, State
from incidents.models import Incident, Service
from reports import rollups
from reports.filters import ReportFilters
from reports.metrics import _Plan, summarize
from reports.models import MonthChange, MonthRollup
from reports.periods import Period
from tests.report_helpers import clock

UTC = dt.UTC
NOW = dt.datetime(2026, 5, 10, 12, 0, tzinfo=UTC)
JAKARTA = zoneinfo.ZoneInfo("Asia/Jakarta")
AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")  # summer time from 29 March 2026
KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")  # UTC+5:30: its midnights are not on whole UTC hours
MINUTE = dt.timedelta(minutes=1)


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def make(title: str, created: dt.datetime, *, services: list[Service], **fields: Any) -> Incident:
    fields.setdefault("state", State.RESOLVED)
    fields.setdefault("started_at", created)
    made = Incident.objects.create(title=title, created_at=created, detected_at=created, **fields)
    made.services.set(services)
    return made


@pytest.fixture
def world(db: None) -> dict[str, Any]:
    return build_world()


def build_world() -> dict[str, Any]:
    with time_machine.travel(NOW, tick=False):
        one = Team.objects.create(name="One", slug="one")
        two = Team.objects.create(name="Two", slug="two")
        s1 = Service.objects.create(name="Service one", slug="s1", owner_team=one)
        s2 = Service.objects.create(name="Service two", slug="s2", owner_team=two)
        made: dict[str, Incident] = {}
        priorities = ["P1", "P2", "P3", "P4"]
        categories = [Category.NETWORK, Category.APPLICATION_ERROR, Category.OTHER]
        for month in (1, 2, 3, 4):
            for day in (3, 11, 19, 27):
                for hour in (1, 9, 17):
                    n = month * 100 + day * 3 + hour
                    created = at(month, day, hour, n % 60)
                    incident = make(
                        f"{month}-{day}-{hour}",
                        created,
                        services=[s1] if n % 2 else [s1, s2],
                        priority=priorities[n % 4],
                        category=categories[n % 3],
                        team=one if n % 5 else two,
                        started_at=created - (n % 7) * MINUTE,
                        acknowledged_at=created + (n % 50 + 1) * MINUTE,
                        mitigated_at=created + (n % 9 + 1) * dt.timedelta(hours=1) if n % 3 else None,
                        resolved_at=created + (n % 30 + 2) * dt.timedelta(hours=1),
                        affected_users=n % 40,
                        reopen_count=1 if n % 11 == 0 else 0,
                    )
                    clock(incident, ClockKind.ACKNOWLEDGE, met=n % 2 == 0)
                    clock(incident, ClockKind.RESOLVE, met=n % 3 != 1)
        # Impact across January's end, and another overlapping it on s1.
        made["across"] = make(
            "across", at(1, 31, 22), services=[s1], priority="P1", mitigated_at=at(2, 1, 3), resolved_at=at(2, 1, 5)
        )
        make("overlap", at(2, 1, 1), services=[s1], priority="P2", mitigated_at=at(2, 1, 4), resolved_at=at(2, 1, 6))
        # Going on since March.
        made["ongoing"] = make(
            "ongoing", at(3, 15, 8), services=[s2], priority="P2", state=State.INVESTIGATING, resolved_at=None
        )
        clock(made["ongoing"], ClockKind.RESOLVE, met=None)
        make("cancelled", at(2, 14, 12), services=[s2], priority="P3", state=State.CANCELLED)
        made["february"] = Incident.objects.get(title="2-11-9")
    return made


WHOLE_MONTHS = Period(dt.date(2026, 1, 1), dt.date(2026, 4, 30), UTC)  # type: ignore[arg-type]
PARTIAL_MONTHS = Period(dt.date(2026, 1, 15), dt.date(2026, 4, 20), JAKARTA)
PERIODS = {
    "whole-utc-months": WHOLE_MONTHS,
    "jakarta-partial-months": PARTIAL_MONTHS,
    "amsterdam-summer-time": Period(dt.date(2026, 1, 20), dt.date(2026, 5, 9), AMSTERDAM),
    "kolkata-not-on-the-hour": Period(dt.date(2026, 2, 1), dt.date(2026, 3, 31), KOLKATA),
}


def figures(period: Period, **options: Any) -> dict[str, Any]:
    with time_machine.travel(NOW, tick=False):
        return dataclasses.asdict(summarize(period, **options))


@pytest.mark.parametrize("period", PERIODS.values(), ids=PERIODS.keys())
def test_a_summary_with_roll_ups_says_what_the_facts_say(world: dict[str, Any], period: Period) -> None:
    from_facts = figures(period, compare=True)
    assert from_facts["total"] > 0
    with time_machine.travel(NOW, tick=False):
        assert rollups.refresh() == 4  # January to April
        plan = _Plan.of(period, ReportFilters())
    if period.zone is KOLKATA:
        assert plan.months == []
    else:
        assert plan.months, "the summary should read roll-ups"
    assert figures(period, compare=True) == from_facts


def test_filters_read_the_facts(world: dict[str, Any]) -> None:
    period = WHOLE_MONTHS
    filtered = ReportFilters.of(priorities=["P1"])
    from_facts = figures(period, filters=filtered)
    with time_machine.travel(NOW, tick=False):
        rollups.refresh()
        assert _Plan.of(period, filtered).months == []
    assert figures(period, filters=filtered) == from_facts
    assert from_facts["total"] == figures(period)["by_priority"][0]["count"]


def test_a_change_to_an_ended_month_is_seen_at_once(world: dict[str, Any]) -> None:
    period = PARTIAL_MONTHS
    with time_machine.travel(NOW, tick=False):
        rollups.refresh()
        february = world["february"]
        before = figures(period)
        february.priority = "P4" if february.priority != "P4" else "P1"
        february.save()
        # Service restored on the impact going on since March: March's and April's downtime change.
        ongoing = world["ongoing"]
        ongoing.mitigated_at = at(3, 16)
        ongoing.save()
        assert not rollups.valid([dt.date(2026, 2, 1)])
        assert set(rollups.valid([dt.date(2026, m, 1) for m in (1, 2, 3, 4)])) == {dt.date(2026, 1, 1)}
    after = figures(period)
    assert after != before
    MonthRollup.objects.all().delete()
    assert figures(period) == after  # the facts alone agree
    with time_machine.travel(NOW, tick=False):
        assert rollups.refresh() == 4
    assert figures(period) == after


def test_this_months_incidents_touch_no_roll_up(world: dict[str, Any]) -> None:
    with time_machine.travel(NOW, tick=False):
        rollups.refresh()
        changes = MonthChange.objects.count()
        s1 = Service.objects.get(slug="s1")
        fresh = make("today", NOW - dt.timedelta(hours=2), services=[s1], priority="P1", state=State.NEW)
        fresh.mitigated_at = NOW
        fresh.save()
        assert MonthChange.objects.count() == changes
        assert len(rollups.valid(rollups.buildable())) == 4


def test_deleting_an_incident_of_an_ended_month_marks_it_changed(world: dict[str, Any]) -> None:
    with time_machine.travel(NOW, tick=False):
        rollups.refresh()
        world["across"].delete()
        assert set(rollups.valid([dt.date(2026, m, 1) for m in (1, 2, 3, 4)])) == {
            dt.date(2026, 3, 1),
            dt.date(2026, 4, 1),
        }


def test_figures_built_before_a_change_never_count(world: dict[str, Any]) -> None:
    """A build stores the version it read before reading the facts: a change after that read leaves it stale."""
    with time_machine.travel(NOW, tick=False):
        month = dt.date(2026, 2, 1)
        rollups.refresh()
        row = MonthRollup.objects.get(month=month)
        rollups.bump([month])
        MonthRollup.objects.filter(month=month).update(data=row.data, built_changes=row.built_changes)
        assert rollups.valid([month]) == []


def test_a_month_is_rolled_up_an_hour_after_it_ends(world: dict[str, Any]) -> None:
    with time_machine.travel(at(5, 1, 0, 30), tick=False):
        assert dt.date(2026, 4, 1) not in rollups.buildable()
    with time_machine.travel(at(5, 1, 1, 0), tick=False):
        assert rollups.buildable()[-1] == dt.date(2026, 4, 1)


def test_the_command_and_the_task_build_what_is_stale(world: dict[str, Any]) -> None:
    from django.core.management import call_command

    from reports.tasks import refresh_rollups_task

    with time_machine.travel(NOW, tick=False):
        call_command("refresh_report_facts", "--rollups-only", stdout=open("/dev/null", "w"))  # noqa: SIM115, PTH123
        assert len(rollups.valid(rollups.buildable())) == 4
        rollups.bump([dt.date(2026, 3, 1)])
        assert refresh_rollups_task() == 1
        assert len(rollups.valid(rollups.buildable())) == 4


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_change_committed_while_a_month_is_built_leaves_it_stale() -> None:
    """The writer's transaction is open while the month is built: the build sees neither its
    change to the facts nor its change row, and the figures stop holding once it commits."""
    world = build_world()
    month = dt.date(2026, 2, 1)
    written, built = threading.Event(), threading.Event()

    def writer() -> None:
        try:
            with transaction.atomic():
                february = Incident.objects.get(pk=world["february"].pk)
                february.priority = "P4" if february.priority != "P4" else "P1"
                february.save()
                written.set()
                assert built.wait(30)
        finally:
            connection.close()

    with time_machine.travel(NOW, tick=False):
        thread = threading.Thread(target=writer)
        thread.start()
        assert written.wait(30)
        rollups.build(month)
        assert rollups.valid([month]) == [month]  # nothing committed yet
        built.set()
        thread.join(30)
        assert rollups.valid([month]) == []
        rollups.refresh()
        assert rollups.valid([month]) == [month]
    MonthRollup.objects.all().delete()
    from_facts = figures(PARTIAL_MONTHS)
    with time_machine.travel(NOW, tick=False):
        rollups.refresh()
    assert figures(PARTIAL_MONTHS) == from_facts
