"""On-call schedules: rotations across daylight-saving changes, overrides, the API and the calendar feeds."""

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation.models import (
    LayerParticipant,
    OnCallSchedule,
    ResponderProfile,
    RotationLayer,
    ScheduleOverride,
    Team,
)
from escalation.oncall import Shift, TeamOnCall, oncall_now, oncall_user_at, shifts, user_shifts

DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(weeks=1)
HOUR = dt.timedelta(hours=1)


def utc(text: str) -> dt.datetime:
    """A UTC instant from 'YYYY-MM-DDTHH:MM[:SS]'."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def make_schedule(team: Team, *, name: str = "Primary", time_zone: str = "UTC") -> OnCallSchedule:
    return OnCallSchedule.objects.create(team=team, name=name, time_zone=time_zone)


def add_layer(
    schedule: OnCallSchedule,
    users: Sequence[Any],
    *,
    start_date: dt.date,
    position: int = 1,
    handoff_time: dt.time = dt.time(9, 0),
    rotation_length: dt.timedelta = WEEK,
) -> RotationLayer:
    layer = RotationLayer.objects.create(
        schedule=schedule,
        name=f"Layer {position}",
        position=position,
        start_date=start_date,
        handoff_time=handoff_time,
        rotation_length=rotation_length,
    )
    for turn, user in enumerate(users, start=1):
        LayerParticipant.objects.create(layer=layer, user=user, position=turn)
    return layer


def add_override(
    schedule: OnCallSchedule, user: Any, starts_at: dt.datetime, ends_at: dt.datetime, *, created_at: dt.datetime
) -> ScheduleOverride:
    override = ScheduleOverride.objects.create(schedule=schedule, user=user, starts_at=starts_at, ends_at=ends_at)
    # auto_now_add takes the clock; which override is newest is part of what the tests say.
    ScheduleOverride.objects.filter(pk=override.pk).update(created_at=created_at)
    return override


def who(schedule: OnCallSchedule, at: dt.datetime) -> str | None:
    user = oncall_user_at(schedule=schedule, at=at)
    return None if user is None else user.username


def timeline(found: Sequence[Shift]) -> list[tuple[str, dt.datetime, dt.datetime]]:
    return [(shift.user.username, shift.starts_at, shift.ends_at) for shift in found]


@pytest.fixture
def ana(make_user: Callable[..., Any]) -> Any:
    user = make_user(username="ana")
    user.first_name, user.last_name = "Ana", "Lima"
    user.save()
    return user


@pytest.fixture
def ben(make_user: Callable[..., Any]) -> Any:
    return make_user(username="ben")


@pytest.fixture
def cai(make_user: Callable[..., Any]) -> Any:
    return make_user(username="cai")


@pytest.fixture
def people(ana: Any, ben: Any, cai: Any) -> list[Any]:
    return [ana, ben, cai]


# Rotations


@pytest.mark.django_db
def test_weekly_rotation(team: Team, people: list[Any]) -> None:
    schedule = make_schedule(team)
    add_layer(schedule, people, start_date=dt.date(2026, 1, 5))
    assert who(schedule, utc("2026-01-05T08:59:59")) is None
    assert who(schedule, utc("2026-01-05T09:00")) == "ana"
    assert who(schedule, utc("2026-01-12T08:59:59")) == "ana"
    assert who(schedule, utc("2026-01-12T09:00")) == "ben"
    assert who(schedule, utc("2026-01-19T09:00")) == "cai"
    assert who(schedule, utc("2026-01-26T09:00")) == "ana"
    # 52 weeks on: turn 52, and 52 % 3 == 1.
    assert who(schedule, utc("2027-01-04T09:00")) == "ben"
    assert who(schedule, utc("2027-01-04T08:59:59")) == "ana"


@pytest.mark.django_db
def test_daily_rotation(team: Team, ana: Any, ben: Any) -> None:
    schedule = make_schedule(team)
    add_layer(schedule, [ana, ben], start_date=dt.date(2026, 2, 1), handoff_time=dt.time(7, 30), rotation_length=DAY)
    assert [who(schedule, utc(f"2026-02-0{day}T07:30")) for day in range(1, 6)] == ["ana", "ben", "ana", "ben", "ana"]
    assert who(schedule, utc("2026-02-02T07:29:59")) == "ana"
    assert timeline(shifts(schedule=schedule, start=utc("2026-02-01T00:00"), end=utc("2026-02-04T00:00"))) == [
        ("ana", utc("2026-02-01T07:30"), utc("2026-02-02T07:30")),
        ("ben", utc("2026-02-02T07:30"), utc("2026-02-03T07:30")),
        ("ana", utc("2026-02-03T07:30"), utc("2026-02-04T00:00")),
    ]


@pytest.mark.django_db
def test_twelve_hour_shifts(team: Team, ana: Any, ben: Any) -> None:
    # Jakarta is UTC+7 all year: hand-offs at 08:00 and 20:00 local are 01:00Z and 13:00Z.
    schedule = make_schedule(team, time_zone="Asia/Jakarta")
    add_layer(
        schedule,
        [ana, ben],
        start_date=dt.date(2026, 5, 1),
        handoff_time=dt.time(8, 0),
        rotation_length=dt.timedelta(hours=12),
    )
    assert who(schedule, utc("2026-05-01T00:59:59")) is None
    assert who(schedule, utc("2026-05-01T01:00")) == "ana"
    assert who(schedule, utc("2026-05-01T13:00")) == "ben"
    assert who(schedule, utc("2026-05-02T00:59:59")) == "ben"
    assert who(schedule, utc("2026-05-02T01:00")) == "ana"
    assert timeline(shifts(schedule=schedule, start=utc("2026-05-01T00:00"), end=utc("2026-05-02T12:00"))) == [
        ("ana", utc("2026-05-01T01:00"), utc("2026-05-01T13:00")),
        ("ben", utc("2026-05-01T13:00"), utc("2026-05-02T01:00")),
        ("ana", utc("2026-05-02T01:00"), utc("2026-05-02T12:00")),
    ]


@pytest.mark.django_db
def test_berlin_daily_handoff_stays_at_nine_across_spring_forward(team: Team, people: list[Any]) -> None:
    schedule = make_schedule(team, time_zone="Europe/Berlin")
    add_layer(schedule, people, start_date=dt.date(2026, 3, 20), rotation_length=DAY)
    # 09:00 CET is 08:00Z; from 29 March, 09:00 CEST is 07:00Z. The turn of the 28th lasts 23 hours.
    assert timeline(shifts(schedule=schedule, start=utc("2026-03-27T00:00"), end=utc("2026-03-31T00:00"))) == [
        ("ana", utc("2026-03-27T00:00"), utc("2026-03-27T08:00")),
        ("ben", utc("2026-03-27T08:00"), utc("2026-03-28T08:00")),
        ("cai", utc("2026-03-28T08:00"), utc("2026-03-29T07:00")),
        ("ana", utc("2026-03-29T07:00"), utc("2026-03-30T07:00")),
        ("ben", utc("2026-03-30T07:00"), utc("2026-03-31T00:00")),
    ]
    assert who(schedule, utc("2026-03-28T07:59:59")) == "ben"
    assert who(schedule, utc("2026-03-28T08:00")) == "cai"
    assert who(schedule, utc("2026-03-29T06:59:59")) == "cai"
    assert who(schedule, utc("2026-03-29T07:00")) == "ana"


@pytest.mark.django_db
def test_berlin_daily_handoff_stays_at_nine_across_fall_back(team: Team, people: list[Any]) -> None:
    schedule = make_schedule(team, time_zone="Europe/Berlin")
    add_layer(schedule, people, start_date=dt.date(2026, 10, 20), rotation_length=DAY)
    # 09:00 CEST is 07:00Z; from 25 October, 09:00 CET is 08:00Z. The turn of the 24th lasts 25 hours.
    assert timeline(shifts(schedule=schedule, start=utc("2026-10-24T00:00"), end=utc("2026-10-27T00:00"))) == [
        ("ana", utc("2026-10-24T00:00"), utc("2026-10-24T07:00")),
        ("ben", utc("2026-10-24T07:00"), utc("2026-10-25T08:00")),
        ("cai", utc("2026-10-25T08:00"), utc("2026-10-26T08:00")),
        ("ana", utc("2026-10-26T08:00"), utc("2026-10-27T00:00")),
    ]
    assert who(schedule, utc("2026-10-24T06:59:59")) == "ana"
    assert who(schedule, utc("2026-10-24T07:00")) == "ben"
    assert who(schedule, utc("2026-10-25T07:00")) == "ben"
    assert who(schedule, utc("2026-10-25T07:59:59")) == "ben"
    assert who(schedule, utc("2026-10-25T08:00")) == "cai"


@pytest.mark.django_db
def test_new_york_daily_handoff_across_both_changes(team: Team, ana: Any, ben: Any) -> None:
    spring = make_schedule(team, name="Spring", time_zone="America/New_York")
    add_layer(spring, [ana, ben], start_date=dt.date(2026, 3, 1), rotation_length=DAY)
    # 09:00 EST is 14:00Z; from 8 March, 09:00 EDT is 13:00Z.
    assert timeline(shifts(schedule=spring, start=utc("2026-03-07T00:00"), end=utc("2026-03-09T00:00"))) == [
        ("ben", utc("2026-03-07T00:00"), utc("2026-03-07T14:00")),
        ("ana", utc("2026-03-07T14:00"), utc("2026-03-08T13:00")),
        ("ben", utc("2026-03-08T13:00"), utc("2026-03-09T00:00")),
    ]
    assert who(spring, utc("2026-03-08T12:59:59")) == "ana"
    assert who(spring, utc("2026-03-08T13:00")) == "ben"

    autumn = make_schedule(team, name="Autumn", time_zone="America/New_York")
    add_layer(autumn, [ana, ben], start_date=dt.date(2026, 10, 25), rotation_length=DAY)
    # 09:00 EDT is 13:00Z; from 1 November, 09:00 EST is 14:00Z.
    assert timeline(shifts(schedule=autumn, start=utc("2026-10-31T00:00"), end=utc("2026-11-02T00:00"))) == [
        ("ben", utc("2026-10-31T00:00"), utc("2026-10-31T13:00")),
        ("ana", utc("2026-10-31T13:00"), utc("2026-11-01T14:00")),
        ("ben", utc("2026-11-01T14:00"), utc("2026-11-02T00:00")),
    ]
    assert who(autumn, utc("2026-11-01T13:00")) == "ana"
    assert who(autumn, utc("2026-11-01T13:59:59")) == "ana"
    assert who(autumn, utc("2026-11-01T14:00")) == "ben"


@pytest.mark.django_db
def test_handoff_at_a_skipped_or_repeated_local_time(team: Team, ana: Any, ben: Any) -> None:
    spring = make_schedule(team, name="Spring", time_zone="Europe/Berlin")
    add_layer(spring, [ana, ben], start_date=dt.date(2026, 3, 27), handoff_time=dt.time(2, 30), rotation_length=DAY)
    # 02:30 does not exist on 29 March: it takes the offset from before the jump, 01:30Z (03:30 CEST).
    assert timeline(shifts(schedule=spring, start=utc("2026-03-28T00:00"), end=utc("2026-03-31T00:00"))) == [
        ("ana", utc("2026-03-28T00:00"), utc("2026-03-28T01:30")),
        ("ben", utc("2026-03-28T01:30"), utc("2026-03-29T01:30")),
        ("ana", utc("2026-03-29T01:30"), utc("2026-03-30T00:30")),
        ("ben", utc("2026-03-30T00:30"), utc("2026-03-31T00:00")),
    ]
    autumn = make_schedule(team, name="Autumn", time_zone="Europe/Berlin")
    add_layer(autumn, [ana, ben], start_date=dt.date(2026, 10, 23), handoff_time=dt.time(2, 30), rotation_length=DAY)
    # 02:30 happens twice on 25 October: the first one (CEST, 00:30Z) is the hand-off.
    assert timeline(shifts(schedule=autumn, start=utc("2026-10-24T00:00"), end=utc("2026-10-27T00:00"))) == [
        ("ana", utc("2026-10-24T00:00"), utc("2026-10-24T00:30")),
        ("ben", utc("2026-10-24T00:30"), utc("2026-10-25T00:30")),
        ("ana", utc("2026-10-25T00:30"), utc("2026-10-26T01:30")),
        ("ben", utc("2026-10-26T01:30"), utc("2026-10-27T00:00")),
    ]


@pytest.mark.django_db
def test_hourly_turn_in_the_skipped_hour_is_empty(team: Team, people: list[Any]) -> None:
    schedule = make_schedule(team, time_zone="Europe/Berlin")
    add_layer(schedule, people, start_date=dt.date(2026, 3, 29), handoff_time=dt.time(0, 0), rotation_length=HOUR)
    # Turns start at 00:00, 01:00, 02:00, 03:00 local; 02:00 and 03:00 are the same instant that night,
    # so cai's 02:00 turn lasts no time and ana takes the 03:00 one.
    assert timeline(shifts(schedule=schedule, start=utc("2026-03-28T23:00"), end=utc("2026-03-29T03:00"))) == [
        ("ana", utc("2026-03-28T23:00"), utc("2026-03-29T00:00")),
        ("ben", utc("2026-03-29T00:00"), utc("2026-03-29T01:00")),
        ("ana", utc("2026-03-29T01:00"), utc("2026-03-29T02:00")),
        ("ben", utc("2026-03-29T02:00"), utc("2026-03-29T03:00")),
    ]
    assert who(schedule, utc("2026-03-29T01:00")) == "ana"


@pytest.mark.django_db
def test_a_year_of_daily_berlin_handoffs_are_all_at_nine_local(team: Team, people: list[Any]) -> None:
    schedule = make_schedule(team, time_zone="Europe/Berlin")
    add_layer(schedule, people, start_date=dt.date(2026, 1, 1), rotation_length=DAY)
    found = shifts(schedule=schedule, start=utc("2026-01-01T08:00"), end=utc("2027-01-01T08:00"))
    assert len(found) == 365
    assert {shift.starts_at.astimezone(ZoneInfo("Europe/Berlin")).time() for shift in found} == {dt.time(9)}
    assert {shift.ends_at - shift.starts_at for shift in found} == {DAY - HOUR, DAY, DAY + HOUR}
    assert [shift.user.username for shift in found[:4]] == ["ana", "ben", "cai", "ana"]
    assert found[-1].user.username == "ben"  # turn 364, and 364 % 3 == 1


# Layers and overrides


@pytest.mark.django_db
def test_override_beats_layers_and_ends_exactly_at_its_end(team: Team, ana: Any, ben: Any) -> None:
    schedule = make_schedule(team)
    add_layer(schedule, [ana], start_date=dt.date(2026, 1, 1))
    add_override(schedule, ben, utc("2026-01-10T18:00"), utc("2026-01-11T06:00"), created_at=utc("2026-01-09T00:00"))
    assert who(schedule, utc("2026-01-10T17:59:59")) == "ana"
    assert who(schedule, utc("2026-01-10T18:00")) == "ben"
    assert who(schedule, utc("2026-01-11T06:00") - dt.timedelta(microseconds=1)) == "ben"
    assert who(schedule, utc("2026-01-11T06:00")) == "ana"
    assert timeline(shifts(schedule=schedule, start=utc("2026-01-10T00:00"), end=utc("2026-01-12T00:00"))) == [
        ("ana", utc("2026-01-10T00:00"), utc("2026-01-10T18:00")),
        ("ben", utc("2026-01-10T18:00"), utc("2026-01-11T06:00")),
        ("ana", utc("2026-01-11T06:00"), utc("2026-01-12T00:00")),
    ]


@pytest.mark.django_db
def test_newest_override_wins(team: Team, ana: Any, ben: Any, cai: Any) -> None:
    schedule = make_schedule(team)
    add_layer(schedule, [ana], start_date=dt.date(2026, 1, 1))
    # Made first but edited into being the newest: creation time decides, not the id or the start.
    add_override(schedule, cai, utc("2026-01-10T12:00"), utc("2026-01-10T14:00"), created_at=utc("2026-01-08T00:00"))
    add_override(schedule, ben, utc("2026-01-10T10:00"), utc("2026-01-10T16:00"), created_at=utc("2026-01-05T00:00"))
    assert timeline(shifts(schedule=schedule, start=utc("2026-01-10T09:00"), end=utc("2026-01-10T17:00"))) == [
        ("ana", utc("2026-01-10T09:00"), utc("2026-01-10T10:00")),
        ("ben", utc("2026-01-10T10:00"), utc("2026-01-10T12:00")),
        ("cai", utc("2026-01-10T12:00"), utc("2026-01-10T14:00")),
        ("ben", utc("2026-01-10T14:00"), utc("2026-01-10T16:00")),
        ("ana", utc("2026-01-10T16:00"), utc("2026-01-10T17:00")),
    ]
    ScheduleOverride.objects.filter(user=ben).update(created_at=utc("2026-01-09T00:00"))
    assert who(schedule, utc("2026-01-10T13:00")) == "ben"


@pytest.mark.django_db
def test_higher_layer_beats_lower_and_empty_layers_are_skipped(team: Team, ana: Any, ben: Any, cai: Any) -> None:
    schedule = make_schedule(team)
    add_layer(schedule, [ana, ben], start_date=dt.date(2026, 1, 5), position=1)
    add_layer(schedule, [cai], start_date=dt.date(2026, 1, 14), position=2, handoff_time=dt.time(18, 0))
    add_layer(schedule, [], start_date=dt.date(2026, 1, 1), position=3)
    assert who(schedule, utc("2026-01-14T17:59:59")) == "ben"
    assert who(schedule, utc("2026-01-14T18:00")) == "cai"
    assert who(schedule, utc("2026-03-01T00:00")) == "cai"


@pytest.mark.django_db
def test_a_layer_before_its_start_gives_nobody(team: Team, ana: Any) -> None:
    schedule = make_schedule(team, time_zone="Europe/Berlin")
    add_layer(schedule, [ana], start_date=dt.date(2026, 6, 1))
    assert who(schedule, utc("2026-06-01T06:59:59")) is None
    assert who(schedule, utc("2026-06-01T07:00")) == "ana"
    assert shifts(schedule=schedule, start=utc("2026-05-01T00:00"), end=utc("2026-06-01T07:00")) == []
    assert timeline(shifts(schedule=schedule, start=utc("2026-05-01T00:00"), end=utc("2026-06-02T00:00"))) == [
        ("ana", utc("2026-06-01T07:00"), utc("2026-06-02T00:00")),
    ]
    assert who(make_schedule(team, name="Empty"), utc("2026-06-01T07:00")) is None


@pytest.mark.django_db
def test_shifts_merge_the_same_person_and_keep_to_the_window(team: Team, ana: Any, ben: Any) -> None:
    schedule = make_schedule(team)
    add_layer(schedule, [ana, ana, ben], start_date=dt.date(2026, 1, 1), rotation_length=DAY)
    # ana covers ben's day on the 3rd too: one shift from the window's start to 6 January 09:00.
    add_override(schedule, ana, utc("2026-01-03T09:00"), utc("2026-01-04T09:00"), created_at=utc("2026-01-01T00:00"))
    assert timeline(shifts(schedule=schedule, start=utc("2026-01-01T12:00"), end=utc("2026-01-07T12:00"))) == [
        ("ana", utc("2026-01-01T12:00"), utc("2026-01-06T09:00")),
        ("ben", utc("2026-01-06T09:00"), utc("2026-01-07T09:00")),
        ("ana", utc("2026-01-07T09:00"), utc("2026-01-07T12:00")),
    ]
    assert timeline(shifts(schedule=schedule, start=utc("2026-01-06T10:00"), end=utc("2026-01-06T11:00"))) == [
        ("ben", utc("2026-01-06T10:00"), utc("2026-01-06T11:00")),
    ]


@pytest.mark.django_db
def test_shifts_refuse_bad_windows(team: Team) -> None:
    schedule = make_schedule(team)
    with pytest.raises(ValueError, match="aware"):
        shifts(schedule=schedule, start=dt.datetime(2026, 1, 1), end=utc("2026-01-02T00:00"))  # noqa: DTZ001
    with pytest.raises(ValueError, match="after start"):
        shifts(schedule=schedule, start=utc("2026-01-02T00:00"), end=utc("2026-01-02T00:00"))
    with pytest.raises(ValueError, match="366 days"):
        shifts(schedule=schedule, start=utc("2026-01-01T00:00"), end=utc("2027-01-02T00:01"))


@pytest.mark.django_db
def test_queries_do_not_grow_with_the_window(team: Team, people: list[Any], django_assert_num_queries: Any) -> None:
    schedule = make_schedule(team, time_zone="Europe/Berlin")
    add_layer(schedule, people, start_date=dt.date(2026, 1, 1), rotation_length=HOUR)
    add_layer(schedule, people[:2], start_date=dt.date(2026, 1, 1), position=2, rotation_length=DAY)
    add_override(
        schedule, people[2], utc("2026-02-01T00:00"), utc("2026-02-02T00:00"), created_at=utc("2026-01-01T00:00")
    )
    with django_assert_num_queries(2):
        found = shifts(schedule=schedule, start=utc("2026-01-01T00:00"), end=utc("2027-01-01T00:00"))
    assert len(found) == 366  # 365 daily turns, and the override's day between two of them
    with django_assert_num_queries(2):
        assert oncall_user_at(schedule=schedule, at=utc("2026-02-01T12:00")) == people[2]


@pytest.mark.django_db
def test_user_shifts_across_schedules(ana: Any, ben: Any) -> None:
    payments = make_schedule(Team.objects.create(name="Payments", slug="payments"))
    search = make_schedule(Team.objects.create(name="Search", slug="search"), time_zone="Europe/Berlin")
    add_layer(payments, [ana, ben], start_date=dt.date(2026, 3, 2))
    add_layer(search, [ben], start_date=dt.date(2026, 3, 1), rotation_length=DAY)
    add_override(search, ana, utc("2026-03-10T20:00"), utc("2026-03-11T06:00"), created_at=utc("2026-03-01T00:00"))
    found = user_shifts(user=ana, start=utc("2026-03-01T00:00"), end=utc("2026-03-20T00:00"))
    assert [(schedule.team.slug, shift.starts_at, shift.ends_at) for schedule, shift in found] == [
        ("payments", utc("2026-03-02T09:00"), utc("2026-03-09T09:00")),
        ("search", utc("2026-03-10T20:00"), utc("2026-03-11T06:00")),
        ("payments", utc("2026-03-16T09:00"), utc("2026-03-20T00:00")),
    ]
    assert user_shifts(user=ana, start=utc("2026-03-09T09:00"), end=utc("2026-03-10T00:00")) == []


@pytest.mark.django_db
def test_oncall_now_per_team(ana: Any, ben: Any, cai: Any) -> None:
    payments = Team.objects.create(name="Payments", slug="payments")
    search = Team.objects.create(name="Search", slug="search")
    Team.objects.create(name="Idle", slug="idle")
    primary = make_schedule(payments)
    add_layer(primary, [ana, ben], start_date=dt.date(2026, 1, 5))
    add_override(primary, cai, utc("2026-01-08T08:00"), utc("2026-01-09T08:00"), created_at=utc("2026-01-01T00:00"))
    add_layer(make_schedule(search), [ben], start_date=dt.date(2026, 1, 1))
    make_schedule(search, name="Secondary")
    assert oncall_now(at=utc("2026-01-07T12:00")) == [
        TeamOnCall(team=payments, schedule=primary, user=ana, ends_at=utc("2026-01-08T08:00")),
        TeamOnCall(
            team=search, schedule=OnCallSchedule.objects.get(name="Primary", team=search), user=ben, ends_at=None
        ),
        TeamOnCall(team=search, schedule=OnCallSchedule.objects.get(name="Secondary"), user=None, ends_at=None),
    ]
    assert [(entry.user, entry.ends_at) for entry in oncall_now(at=utc("2026-01-08T12:00"), team_slug="payments")] == [
        (cai, utc("2026-01-09T08:00"))
    ]
    # After the override ana's week goes on until ben takes over.
    assert oncall_now(at=utc("2026-01-09T08:00"), team_slug="payments")[0].ends_at == utc("2026-01-12T09:00")


# The API


@pytest.fixture
def rota(ana: Any, ben: Any, cai: Any) -> dict[str, OnCallSchedule]:
    payments = make_schedule(Team.objects.create(name="Payments", slug="payments"), time_zone="Europe/Berlin")
    add_layer(payments, [ana, ben], start_date=dt.date(2026, 3, 23), rotation_length=DAY)
    search = make_schedule(Team.objects.create(name="Search", slug="search"), name="Search rota")
    add_layer(search, [cai], start_date=dt.date(2026, 3, 1))
    return {"payments": payments, "search": search}


@pytest.mark.django_db
def test_api_oncall_now_and_at(rota: dict[str, OnCallSchedule], agent: Any, api: Any) -> None:
    client = api(agent)
    with time_machine.travel(utc("2026-03-28T12:00"), tick=False):
        now = client.get("/api/v1/oncall/")
    assert now.status_code == 200, now.json()
    assert now.json() == [
        {"team": "payments", "schedule": "Primary", "user": "ben", "until": "2026-03-29T07:00:00Z"},
        {"team": "search", "schedule": "Search rota", "user": "cai", "until": None},
    ]
    later = client.get("/api/v1/oncall/", {"at": "2026-03-29T09:30:00+02:00", "team": "payments"})
    assert later.json() == [
        {"team": "payments", "schedule": "Primary", "user": "ana", "until": "2026-03-30T07:00:00Z"},
    ]
    before = client.get("/api/v1/oncall/", {"at": "2026-03-01T00:00:00Z"})
    assert [entry["user"] for entry in before.json()] == [None, None]
    assert client.get("/api/v1/oncall/", {"team": "nobody"}).json() == []


@pytest.mark.django_db
def test_api_oncall_rejects_bad_input_and_strangers(
    rota: dict[str, OnCallSchedule], agent: Any, make_user: Callable[..., Any], api: Any
) -> None:
    bad = api(agent).get("/api/v1/oncall/", {"at": "yesterday"})
    assert bad.status_code == 400
    assert list(bad.json()) == ["at"]
    assert api(agent).get("/api/v1/oncall/", {"at": "0001-01-01T00:00:00Z"}).status_code == 400
    assert api(None).get("/api/v1/oncall/").status_code == 401
    assert api(make_user(None, username="nobody")).get("/api/v1/oncall/").status_code == 403
    assert api(make_user(None, username="root", superuser=True)).get("/api/v1/oncall/").status_code == 200


@pytest.mark.django_db
def test_api_schedule_shifts(rota: dict[str, OnCallSchedule], reporter: Any, api: Any) -> None:
    client = api(reporter)
    url = f"/api/v1/oncall/schedules/{rota['payments'].pk}/shifts/"
    response = client.get(url, {"start": "2026-03-28T00:00:00Z", "end": "2026-03-30T00:00:00Z"})
    assert response.status_code == 200, response.json()
    assert response.json() == [
        {"user": "ana", "name": "Ana Lima", "starts_at": "2026-03-28T00:00:00Z", "ends_at": "2026-03-28T08:00:00Z"},
        {"user": "ben", "name": "ben", "starts_at": "2026-03-28T08:00:00Z", "ends_at": "2026-03-29T07:00:00Z"},
        {"user": "ana", "name": "Ana Lima", "starts_at": "2026-03-29T07:00:00Z", "ends_at": "2026-03-30T00:00:00Z"},
    ]
    with time_machine.travel(utc("2026-03-28T12:00"), tick=False):
        default = client.get(url).json()
    assert (default[0]["starts_at"], default[-1]["ends_at"], len(default)) == (
        "2026-03-28T12:00:00Z",
        "2026-04-11T12:00:00Z",
        15,
    )
    too_long = client.get(url, {"start": "2026-01-01T00:00:00Z", "end": "2027-01-02T00:00:01Z"})
    assert (too_long.status_code, list(too_long.json())) == (400, ["end"])
    backwards = client.get(url, {"start": "2026-03-02T00:00:00Z", "end": "2026-03-01T00:00:00Z"})
    assert (backwards.status_code, list(backwards.json())) == (400, ["end"])
    assert client.get(url, {"start": "soon"}).status_code == 400
    assert client.get("/api/v1/oncall/schedules/999999/shifts/").status_code == 404
    assert api(None).get(url).status_code == 401


@pytest.mark.django_db
def test_api_oncall_queries_do_not_grow_with_teams(make_user: Callable[..., Any], agent: Any, api: Any) -> None:
    def add_teams(count: int) -> None:
        for _ in range(count):
            number = Team.objects.count() + 1
            schedule = make_schedule(Team.objects.create(name=f"Team {number}", slug=f"team-{number}"))
            users = [make_user(None), make_user(None)]
            add_layer(schedule, users, start_date=dt.date(2026, 1, 1), rotation_length=DAY)
            add_layer(schedule, users[:1], start_date=dt.date(2026, 1, 1), position=2, handoff_time=dt.time(18))
            add_override(
                schedule, users[1], utc("2026-03-01T00:00"), utc("2026-03-02T00:00"), created_at=utc("2026-01-01T00:00")
            )

    client = api(agent)

    def count_queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/oncall/", {"at": "2026-03-01T12:00:00Z"})
        assert response.status_code == 200
        return len(queries), len(response.json())

    add_teams(2)
    few, two = count_queries()
    add_teams(4)
    many, six = count_queries()
    assert (two, six) == (2, 6)
    assert few == many


@pytest.mark.django_db
def test_openapi_schema_lists_the_oncall_api(agent: Any, api: Any) -> None:
    schema = api(agent).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    paths = schema.json()["paths"]
    assert {"at", "team"} <= {parameter["name"] for parameter in paths["/api/v1/oncall/"]["get"]["parameters"]}
    assert "get" in paths["/api/v1/oncall/schedules/{id}/shifts/"]


# Calendar feeds


def events(content: bytes) -> list[tuple[str, dt.datetime, dt.datetime]]:
    calendar = icalendar.Calendar.from_ical(content)
    return [
        (str(event["SUMMARY"]), event.decoded("DTSTART"), event.decoded("DTEND")) for event in calendar.walk("VEVENT")
    ]


@pytest.mark.django_db
def test_schedule_feed(client: Any, team: Team, ana: Any, ben: Any) -> None:
    schedule = make_schedule(team, time_zone="Europe/Berlin")
    add_layer(schedule, [ana, ben], start_date=dt.date(2026, 2, 2))
    with time_machine.travel(utc("2026-03-04T12:00"), tick=False):
        response = client.get(f"/oncall/schedules/{schedule.feed_token}.ics")
        again = client.get(f"/oncall/schedules/{schedule.feed_token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    # From 25 February 00:00Z (a week back, from midnight) to 30 April 00:00Z (eight weeks on, to midnight);
    # Monday 09:00 in Berlin is 08:00Z until the clocks change on 29 March, then 07:00Z.
    ana_, ben_ = "On call: Ana Lima (Payments)", "On call: ben (Payments)"
    assert events(response.content) == [
        (ben_, utc("2026-02-25T00:00"), utc("2026-03-02T08:00")),
        (ana_, utc("2026-03-02T08:00"), utc("2026-03-09T08:00")),
        (ben_, utc("2026-03-09T08:00"), utc("2026-03-16T08:00")),
        (ana_, utc("2026-03-16T08:00"), utc("2026-03-23T08:00")),
        (ben_, utc("2026-03-23T08:00"), utc("2026-03-30T07:00")),
        (ana_, utc("2026-03-30T07:00"), utc("2026-04-06T07:00")),
        (ben_, utc("2026-04-06T07:00"), utc("2026-04-13T07:00")),
        (ana_, utc("2026-04-13T07:00"), utc("2026-04-20T07:00")),
        (ben_, utc("2026-04-20T07:00"), utc("2026-04-27T07:00")),
        (ana_, utc("2026-04-27T07:00"), utc("2026-04-30T00:00")),
    ]
    calendar = icalendar.Calendar.from_ical(response.content)
    uids = [str(event["UID"]) for event in calendar.walk("VEVENT")]
    assert uids[1] == f"oncall-{schedule.pk}-20260302T080000Z@testserver"
    assert uids == [str(event["UID"]) for event in icalendar.Calendar.from_ical(again.content).walk("VEVENT")]
    assert len(set(uids)) == len(uids)
    assert calendar.walk("VEVENT")[0].decoded("DTSTAMP") == utc("2026-03-04T12:00")
    assert b"DTSTART:20260302T080000Z" in response.content


@pytest.mark.django_db
def test_user_feed(client: Any, ana: Any, ben: Any) -> None:
    payments = make_schedule(Team.objects.create(name="Payments", slug="payments"))
    search = make_schedule(Team.objects.create(name="Search", slug="search"))
    add_layer(payments, [ben, ana], start_date=dt.date(2026, 3, 2))
    add_layer(search, [ben], start_date=dt.date(2026, 3, 1))
    add_override(search, ana, utc("2026-03-20T18:00"), utc("2026-03-21T06:00"), created_at=utc("2026-03-01T00:00"))
    add_override(search, ana, utc("2025-12-20T18:00"), utc("2025-12-21T06:00"), created_at=utc("2026-03-01T00:00"))
    profile = ResponderProfile.objects.create(user=ana, time_zone="Europe/Lisbon")
    with time_machine.travel(utc("2026-03-04T12:00"), tick=False):
        response = client.get(f"/oncall/users/{profile.feed_token}.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert events(response.content) == [
        ("On call: Ana Lima (Payments)", utc("2026-03-09T09:00"), utc("2026-03-16T09:00")),
        ("On call: Ana Lima (Search)", utc("2026-03-20T18:00"), utc("2026-03-21T06:00")),
        ("On call: Ana Lima (Payments)", utc("2026-03-23T09:00"), utc("2026-03-30T09:00")),
        ("On call: Ana Lima (Payments)", utc("2026-04-06T09:00"), utc("2026-04-13T09:00")),
        ("On call: Ana Lima (Payments)", utc("2026-04-20T09:00"), utc("2026-04-27T09:00")),
    ]
    assert str(icalendar.Calendar.from_ical(response.content)["X-WR-TIMEZONE"]) == "Europe/Lisbon"


@pytest.mark.django_db
def test_unknown_or_revoked_feed_tokens_are_404(client: Any, team: Team, ana: Any) -> None:
    schedule = make_schedule(team)
    profile = ResponderProfile.objects.create(user=ana)
    assert client.get("/oncall/schedules/not-a-token.ics").status_code == 404
    assert client.get("/oncall/users/not-a-token.ics").status_code == 404
    assert client.get(f"/oncall/users/{schedule.feed_token}.ics").status_code == 404
    assert client.get(f"/oncall/schedules/{profile.feed_token}.ics").status_code == 404
    assert client.post(f"/oncall/schedules/{schedule.feed_token}.ics").status_code == 405
    ana.is_active = False
    ana.save()
    assert client.get(f"/oncall/users/{profile.feed_token}.ics").status_code == 404
