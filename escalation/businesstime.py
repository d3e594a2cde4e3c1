"""Business-time arithmetic: adding working time to a moment, measuring it between two.

A `WorkingWeek` is a business calendar loaded once: its zone, its working
periods per weekday and its holidays. Every computation walks the calendar's
local days and turns each working period into aware UTC instants, so a DST
change moves the instants, never the local opening hours. `None` for a week
means 24×7: plain arithmetic.
"""

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from escalation.models import BusinessCalendar

# A calendar with no working time in ten years is a configuration error, not a loop to run forever.
MAX_DAYS = 3660


@dataclass(frozen=True)
class WorkingWeek:
    zone: ZoneInfo
    periods: dict[int, tuple[tuple[dt.time, dt.time], ...]]
    holidays: frozenset[dt.date]

    def day_periods(self, day: dt.date) -> list[tuple[dt.datetime, dt.datetime]]:
        """The working periods of one local day, as aware UTC instants."""
        if day in self.holidays:
            return []
        return [
            (
                dt.datetime.combine(day, starts, tzinfo=self.zone).astimezone(dt.UTC),
                dt.datetime.combine(day, ends, tzinfo=self.zone).astimezone(dt.UTC),
            )
            for starts, ends in self.periods.get(day.weekday(), ())
        ]


def load_week(calendar: BusinessCalendar | None) -> WorkingWeek | None:
    if calendar is None:
        return None
    periods: dict[int, list[tuple[dt.time, dt.time]]] = {}
    for period in calendar.working_periods.all():
        periods.setdefault(period.weekday, []).append((period.starts, period.ends))
    return WorkingWeek(
        zone=ZoneInfo(calendar.time_zone),
        periods={day: tuple(sorted(spans)) for day, spans in periods.items()},
        holidays=frozenset(calendar.holidays.values_list("date", flat=True)),
    )


def add_business_time(week: WorkingWeek | None, start: dt.datetime, amount: dt.timedelta) -> dt.datetime:
    """The moment `amount` of working time after `start`."""
    if week is None:
        return start + amount
    remaining = amount
    day = start.astimezone(week.zone).date()
    for _ in range(MAX_DAYS):
        for opens, closes in week.day_periods(day):
            begin = max(opens, start)
            if begin >= closes:
                continue
            available = closes - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        day += dt.timedelta(days=1)
    raise ValueError("the business calendar has no working time in the next ten years")


def business_time_between(week: WorkingWeek | None, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
    """How much working time lies between `start` and `end` (zero if end ≤ start)."""
    if end <= start:
        return dt.timedelta(0)
    if week is None:
        return end - start
    total = dt.timedelta(0)
    day = start.astimezone(week.zone).date()
    last = end.astimezone(week.zone).date()
    while day <= last:
        for opens, closes in week.day_periods(day):
            overlap = min(closes, end) - max(opens, start)
            if overlap > dt.timedelta(0):
                total += overlap
        day += dt.timedelta(days=1)
    return total
