"""Business-time arithmetic: working hours, weekends, holidays and DST."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from escalation.businesstime import WorkingWeek, add_business_time, business_time_between

JAKARTA = ZoneInfo("Asia/Jakarta")
BERLIN = ZoneInfo("Europe/Berlin")
NINE_TO_FIVE: dict[int, tuple[tuple[dt.time, dt.time], ...]] = {day: ((dt.time(9), dt.time(17)),) for day in range(5)}


def week(zone: ZoneInfo, holidays: tuple[dt.date, ...] = ()) -> WorkingWeek:
    return WorkingWeek(zone=zone, periods=NINE_TO_FIVE, holidays=frozenset(holidays))


def at(zone: ZoneInfo, year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=zone)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(JAKARTA, 2026, 11, 16, 10), 4, at(JAKARTA, 2026, 11, 16, 14)),  # Monday, same day
        (at(JAKARTA, 2026, 11, 16, 15), 4, at(JAKARTA, 2026, 11, 17, 11)),  # spills into Tuesday
        (at(JAKARTA, 2026, 11, 20, 16), 4, at(JAKARTA, 2026, 11, 23, 12)),  # Friday → Monday
        (at(JAKARTA, 2026, 11, 21, 12), 4, at(JAKARTA, 2026, 11, 23, 13)),  # Saturday → Monday from 09:00
        (at(JAKARTA, 2026, 11, 16, 7), 8, at(JAKARTA, 2026, 11, 16, 17)),  # before opening: a full day
        (at(JAKARTA, 2026, 11, 16, 17), 24, at(JAKARTA, 2026, 11, 19, 17)),  # three business days
    ],
)
def test_adds_working_time(start: dt.datetime, hours: int, expected: dt.datetime) -> None:
    assert add_business_time(week(JAKARTA), start, dt.timedelta(hours=hours)) == expected


def test_skips_holidays() -> None:
    with_holiday = week(JAKARTA, holidays=(dt.date(2026, 11, 23),))
    friday = at(JAKARTA, 2026, 11, 20, 16)
    assert add_business_time(with_holiday, friday, dt.timedelta(hours=4)) == at(JAKARTA, 2026, 11, 24, 12)


def test_dst_keeps_local_opening_hours() -> None:
    # Berlin moves from UTC+1 to UTC+2 on Sunday 2026-03-29.
    friday = at(BERLIN, 2026, 3, 27, 15)
    due = add_business_time(week(BERLIN), friday, dt.timedelta(hours=4))
    assert due == at(BERLIN, 2026, 3, 30, 11)
    assert due.astimezone(dt.UTC) == dt.datetime(2026, 3, 30, 9, tzinfo=dt.UTC)
    assert friday.astimezone(dt.UTC) == dt.datetime(2026, 3, 27, 14, tzinfo=dt.UTC)
    # And back to UTC+1 on Sunday 2026-10-25.
    due = add_business_time(week(BERLIN), at(BERLIN, 2026, 10, 23, 16), dt.timedelta(hours=2))
    assert due.astimezone(dt.UTC) == dt.datetime(2026, 10, 26, 9, tzinfo=dt.UTC)


def test_24x7_is_plain_arithmetic() -> None:
    start = dt.datetime(2026, 3, 29, 0, 30, tzinfo=dt.UTC)
    assert add_business_time(None, start, dt.timedelta(minutes=15)) == start + dt.timedelta(minutes=15)
    assert business_time_between(None, start, start + dt.timedelta(hours=3)) == dt.timedelta(hours=3)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (at(JAKARTA, 2026, 11, 16, 10), at(JAKARTA, 2026, 11, 16, 14), 4),
        (at(JAKARTA, 2026, 11, 20, 16), at(JAKARTA, 2026, 11, 23, 12), 4),
        (at(JAKARTA, 2026, 11, 21, 0), at(JAKARTA, 2026, 11, 22, 23), 0),
        (at(JAKARTA, 2026, 11, 16, 0), at(JAKARTA, 2026, 11, 23, 0), 40),
        (at(JAKARTA, 2026, 11, 16, 14), at(JAKARTA, 2026, 11, 16, 10), 0),
    ],
)
def test_measures_working_time_between(start: dt.datetime, end: dt.datetime, hours: int) -> None:
    assert business_time_between(week(JAKARTA), start, end) == dt.timedelta(hours=hours)


def test_adding_and_measuring_agree() -> None:
    berlin = week(BERLIN, holidays=(dt.date(2026, 4, 3),))
    start = at(BERLIN, 2026, 3, 26, 11, 17)
    for minutes in (1, 59, 480, 481, 2000, 5000):
        due = add_business_time(berlin, start, dt.timedelta(minutes=minutes))
        assert business_time_between(berlin, start, due) == dt.timedelta(minutes=minutes)


def test_calendar_without_working_time_is_an_error() -> None:
    empty = WorkingWeek(zone=JAKARTA, periods={}, holidays=frozenset())
    with pytest.raises(ValueError, match="no working time"):
        add_business_time(empty, at(JAKARTA, 2026, 1, 1, 9), dt.timedelta(hours=1))
