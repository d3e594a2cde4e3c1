"""Monthly roll-ups: the unfiltered summary's figures of each ended UTC month, added up ahead.

A summary over two years reads a million facts four or five times over; most
of that is months that ended long ago and will not change. So each ended
month's figures are kept in a `MonthRollup` row, in a form that adds up
across months without losing anything the summary shows:

- the tallies: one row per (priority, category, team) with every count and sum;
- the response-time histograms, per priority: bin → count (`reports.sql.bin_sql`);
- the cohort per UTC hour and priority, which the period's days, weeks or
  months are made of in any zone whose midnight falls on a whole UTC hour;
- per service: the downtime within the month (spans merged and clipped to it),
  the spans that touched it, those of them that began before it (so that a
  span over several months counts once: `combine_services`), and the
  incidents reported in it.

A summary without filters reads the valid roll-ups of the months inside its
period and computes only the rest from the facts (`reports.metrics`).

Staying right: every write of the facts (`reports.facts`) calls `bump` with
the months it touches (the incident's report time, and its impact before and
after), and in the writer's transaction a `MonthChange` row is added for
each of them that has ended. `build` counts a month's changes before it reads
the facts and stores the figures with that count, so figures that missed a
change committed meanwhile never match the count again. Rows are only ever
added, so no writer waits for another's lock (nor deadlocks with one). A
month is built only `MARGIN` after it ended, so a writer that began before
the month ended (and added no row, the month being open) has long committed
by then.
"""

from __future__ import annotations

import array
import base64
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Min
from django.utils import timezone

from reports.models import IncidentFact, MonthChange, MonthRollup, ServiceFact

MARGIN = dt.timedelta(hours=1)
# The long lists of a roll-up (bins, hours, running totals) are stored as packed 32-bit integers
# in base64: a summary over two years reads a few megabytes of them, which JSON numbers take
# several times as long to parse. Every one fits: the facts' durations are 32-bit columns, and
# hours since 1970 and a month's counts are far below 2³¹.
PACKING = "i"


@dataclass(frozen=True)
class Window:
    """A stretch of time `[starts_at, ends_at)`."""

    starts_at: dt.datetime
    ends_at: dt.datetime


def month_of(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date().replace(day=1)


def month_window(month: dt.date) -> Window:
    start = dt.datetime.combine(month, dt.time.min, tzinfo=dt.UTC)
    following = (month + dt.timedelta(days=32)).replace(day=1)
    return Window(start, dt.datetime.combine(following, dt.time.min, tzinfo=dt.UTC))


def months_from(first: dt.datetime, last: dt.datetime) -> Iterator[dt.date]:
    """Every UTC month from the one holding `first` to the one holding `last`, both included."""
    month, final = month_of(first), month_of(last)
    while month <= final:
        yield month
        month = (month + dt.timedelta(days=32)).replace(day=1)


def span_months(started: int | None, restored: int | None, now: dt.datetime) -> Iterator[dt.date]:
    """The months an impact span (seconds since 1970; `restored` None while it goes on) touches."""
    if started is None:
        return iter(())
    end = now if restored is None else dt.datetime.fromtimestamp(max(restored, started), dt.UTC)
    return months_from(dt.datetime.fromtimestamp(started, dt.UTC), max(end, dt.datetime.fromtimestamp(started, dt.UTC)))


def bump(months: Iterable[dt.date]) -> None:
    """Mark the ended ones among `months` changed: their roll-ups no longer hold (module docstring)."""
    now = timezone.now()
    ended = sorted({month for month in months if month_window(month).ends_at <= now})
    if ended:
        MonthChange.objects.bulk_create([MonthChange(month=month) for month in ended])


def bump_all() -> None:
    """Every ended month is changed (after a bulk rewrite of the facts)."""
    MonthRollup.objects.update(built_changes=None)


def _changes(months: Iterable[dt.date]) -> dict[dt.date, int]:
    counted = MonthChange.objects.filter(month__in=list(months)).values("month").annotate(n=Count("pk"))
    return {row["month"]: row["n"] for row in counted}


def buildable(now: dt.datetime | None = None) -> list[dt.date]:
    """The months the facts reach into that ended at least `MARGIN` ago, oldest first."""
    now = now or timezone.now()
    first_report = IncidentFact.objects.aggregate(first=Min("created_at"))["first"]
    first_impact = ServiceFact.objects.aggregate(first=Min("started"))["first"]
    firsts = [moment for moment in (first_report,) if moment is not None]
    if first_impact is not None:
        firsts.append(dt.datetime.fromtimestamp(first_impact, dt.UTC))
    if not firsts:
        return []
    return [month for month in months_from(min(firsts), now) if month_window(month).ends_at + MARGIN <= now]


def build(month: dt.date) -> None:
    """Compute one ended month's figures from the facts and store them with the changes counted first."""
    from reports.metrics import month_piece

    changes = _changes([month]).get(month, 0)
    data = month_piece(month_window(month))
    MonthRollup.objects.update_or_create(
        month=month, defaults={"data": data, "built_changes": changes, "built_at": timezone.now()}
    )


def refresh(now: dt.datetime | None = None, progress: Any = None) -> int:
    """Build every buildable month whose roll-up is missing or stale; how many were built."""
    months = buildable(now)
    current = set(valid(months))
    stale = [month for month in months if month not in current]
    for done, month in enumerate(stale, 1):
        build(month)
        if progress:
            progress(done, len(stale))
    return len(stale)


def valid(months: Iterable[dt.date]) -> list[dt.date]:
    """Those of `months` whose roll-up holds, in order."""
    months = list(months)
    changes = _changes(months)
    built = MonthRollup.objects.filter(month__in=months, data__isnull=False).values_list("month", "built_changes")
    return sorted(month for month, counted in built if counted == changes.get(month, 0))


def figures(months: Iterable[dt.date]) -> dict[dt.date, dict[str, Any]]:
    """The stored figures of `months` (once built, a month always has some)."""
    rows = MonthRollup.objects.filter(month__in=list(months), data__isnull=False).values_list("month", "data")
    return {month: dict(data or {}) for month, data in rows}


def pack(numbers: Sequence[int]) -> str:
    return base64.b64encode(array.array(PACKING, numbers).tobytes()).decode("ascii")


def unpack(packed: str) -> array.array[int]:
    numbers = array.array(PACKING)
    numbers.frombytes(base64.b64decode(packed))
    return numbers
