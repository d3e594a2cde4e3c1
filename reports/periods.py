"""Reporting periods: whole days in a time zone, and the period before them.

A manager asks for "October" in Jakarta: the period is 1 October 00:00 to
1 November 00:00 Jakarta time, which is what every metric counts in, and
the days, weeks or months of the charts are cut in that zone too.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

# The longest period a summary covers: five years of daily charts is too much to draw,
# so the buckets grow with the period (see `Period.interval`).
MAX_DAYS = 366 * 5


class Interval:
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    ALL = (DAY, WEEK, MONTH)
    LABELS = {DAY: _("day"), WEEK: _("week"), MONTH: _("month")}


@dataclass(frozen=True)
class Period:
    """The days `start` to `end`, both included, in `zone`."""

    start: dt.date
    end: dt.date
    zone: zoneinfo.ZoneInfo

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period ends on or after the day it starts")

    @property
    def starts_at(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time.min, tzinfo=self.zone)

    @property
    def ends_at(self) -> dt.datetime:
        """The first moment after the period: midnight after its last day."""
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min, tzinfo=self.zone)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def seconds(self) -> float:
        # Real elapsed time, so a day with a daylight-saving change is 23 or 25 hours (two
        # datetimes of one zone subtract as wall-clock times, hence the UTC).
        return (self.ends_at.astimezone(dt.UTC) - self.starts_at.astimezone(dt.UTC)).total_seconds()

    @property
    def interval(self) -> str:
        """The chart bucket that gives a readable number of bars."""
        if self.days <= 62:
            return Interval.DAY
        if self.days <= 366:
            return Interval.WEEK
        return Interval.MONTH

    def previous(self) -> Period:
        """The period of the same length just before this one (for comparisons)."""
        length = dt.timedelta(days=self.days)
        return Period(self.start - length, self.start - dt.timedelta(days=1), self.zone)

    def buckets(self, interval: str) -> list[dt.date]:
        """The first day of every bucket that touches the period, in order.

        Weeks start on Monday (ISO 8601), months on the first.
        """
        if interval == Interval.DAY:
            first = self.start
        elif interval == Interval.WEEK:
            first = self.start - dt.timedelta(days=self.start.weekday())
        else:
            first = self.start.replace(day=1)
        days: list[dt.date] = []
        day = first
        while day <= self.end:
            days.append(day)
            day = next_bucket(day, interval)
        return days

    @classmethod
    def last_days(cls, days: int, zone: zoneinfo.ZoneInfo, today: dt.date | None = None) -> Period:
        """The `days` days that end yesterday: complete days only."""
        today = today or dt.datetime.now(zone).date()
        return cls(today - dt.timedelta(days=days), today - dt.timedelta(days=1), zone)


def next_bucket(day: dt.date, interval: str) -> dt.date:
    if interval == Interval.DAY:
        return day + dt.timedelta(days=1)
    if interval == Interval.WEEK:
        return day + dt.timedelta(days=7)
    return (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
