"""The SQL the ORM cannot say: percentiles from histograms, and merged time spans.

Each function takes a queryset (its filters stay the ORM's), compiles it, and
wraps it in a statement that does the work in the database. It is standard
window-function SQL that PostgreSQL and SQLite both run.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import math
from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import BigIntegerField, Count, DateTimeField, Expression, F, FloatField, Func, QuerySet
from django.db.models.functions import Trunc
from django.utils import timezone


class Seconds(Func):
    """`end - start` in seconds, as a float (NULL when either is NULL)."""

    output_field = FloatField()

    def __init__(self, end: str | Expression, start: str | Expression) -> None:
        super().__init__(F(end) if isinstance(end, str) else end, F(start) if isinstance(start, str) else start)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="EXTRACT(EPOCH FROM (%(expressions)s))", arg_joiner=" - ")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="((julianday(%(expressions)s)) * 86400.0)",
            arg_joiner=") - julianday(",
        )


class EpochSeconds(Func):
    """A moment as whole seconds since 1970 (UTC)."""

    output_field = BigIntegerField()

    def __init__(self, moment: str | Expression) -> None:
        super().__init__(F(moment) if isinstance(moment, str) else moment)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, template="CAST(FLOOR(EXTRACT(EPOCH FROM %(expressions)s)) AS BIGINT)")

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # unixepoch() drops the fraction of a second, as FLOOR does (SQLite 3.38 and later).
        return self.as_sql(compiler, connection, template="unixepoch(%(expressions)s)")


def _compiled(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def bin_sql(column: str) -> str:
    """The histogram bin of a duration in whole seconds: its lower bound, in seconds.

    Exact to the second below an hour, to the minute below a day, to ten
    minutes below 30 days and to the hour beyond: the precision of the
    percentiles, under 2 % of the value everywhere.
    """
    return (
        f"CASE WHEN {column} < 3600 THEN {column} "
        f"WHEN {column} < 86400 THEN ({column} / 60) * 60 "
        f"WHEN {column} < 2592000 THEN ({column} / 600) * 600 "
        f"ELSE ({column} / 3600) * 3600 END"
    )


Quantiles = dict[str | None, tuple[int, list[float]]]
# Per group value: histogram bin (its lower bound in seconds) → how many values fell in it.
Bins = dict[str, dict[int, int]]


def histogram_bins(facts: QuerySet[Any], column: str, group: str) -> Bins:
    """The histogram of `column` of `facts` (whole seconds) per `group`, binned by `bin_sql`.

    One pass over the facts: a hash aggregate, which PostgreSQL runs on
    parallel workers; a million values are never sorted. Histograms of
    different cohorts add up (`add_bins`), so months rolled up ahead of time
    (`reports.rollups`) combine with what is computed now.
    """
    sql, params = _compiled(facts.filter(**{f"{column}__isnull": False}).values(group, column))
    binned = bin_sql(f"f.{column}")
    statement = f"SELECT f.{group}, {binned}, COUNT(*) FROM ({sql}) f GROUP BY f.{group}, {binned}"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    bins: Bins = {}
    for key, low, count in rows:
        bins.setdefault(key, {})[int(low)] = int(count)
    return bins


class Running:
    """Counts by an integer key (a histogram's bins, a cohort's hours), kept as the sorted keys and
    the running total up to each: how many fell at or below any key is one binary search, so many
    such (one per rolled-up month) answer together without being merged."""

    def __init__(self, keys: Sequence[int], totals: Sequence[int]) -> None:
        self.keys, self.totals = keys, totals

    @classmethod
    def of(cls, counts: dict[int, int]) -> Running:
        keys = sorted(counts)
        return cls(keys, list(itertools.accumulate(counts[key] for key in keys)))

    @property
    def total(self) -> int:
        return self.totals[-1] if self.totals else 0

    def upto(self, key: int) -> int:
        """How many fell at or below `key`."""
        index = bisect.bisect_right(self.keys, key)
        return self.totals[index - 1] if index else 0


class Histograms:
    """Histograms of one measure per group, from any number of cohorts, and their quantiles."""

    def __init__(self) -> None:
        self.parts: dict[str, list[Running]] = {}

    def add(self, key: str, part: Running) -> None:
        if part.total:
            self.parts.setdefault(key, []).append(part)

    def add_bins(self, bins: Bins) -> Histograms:
        for key, histogram in bins.items():
            self.add(key, Running.of(histogram))
        return self

    def quantiles(self, quantiles: Sequence[float]) -> Quantiles:
        """Quantiles of the binned values, overall (key None) and per group: `{key: (count, [value, ...])}`.

        Each interpolates between the two nearest ranks, as PostgreSQL's
        `percentile_cont` does, on the values' bins.
        """
        groups: list[tuple[str | None, list[Running]]] = list(self.parts.items())
        groups.append((None, [part for parts in self.parts.values() for part in parts]))
        results: Quantiles = {}
        for key, parts in groups:
            total = sum(part.total for part in parts)
            if not total:
                continue
            values = []
            for q in quantiles:
                position = q * (total - 1)
                rank = math.floor(position)
                low = _at_rank(parts, rank)
                high = _at_rank(parts, rank + 1) if rank + 1 < total else None
                values.append(
                    float(low) + (position - rank) * (float(high) - float(low)) if high is not None else float(low)
                )
            results[key] = (total, values)
        return results


def _at_rank(parts: list[Running], rank: int) -> int:
    """The bin of the value at `rank` (from 0) of all the parts' values, sorted: the least bin with
    more than `rank` values at or below it (a binary search over the bins' range)."""
    low = min(part.keys[0] for part in parts)
    high = max(part.keys[-1] for part in parts)
    while low < high:
        middle = (low + high) // 2
        if sum(part.upto(middle) for part in parts) > rank:
            high = middle
        else:
            low = middle + 1
    return low


def bucket_counts(facts: QuerySet[Any], period: Any, starts: Sequence[dt.date]) -> list[tuple[dt.date, str, int]]:
    """(bucket start, priority, count) of `facts` by `created_at`, the buckets being local days.

    On PostgreSQL each moment finds its bucket with `width_bucket` among the
    buckets' first moments, worked out here in the period's zone (daylight
    saving included), which is cheaper than converting a million moments to
    local time. Elsewhere the ORM truncates in the zone.
    """
    if connection.vendor == "postgresql":
        firsts = [dt.datetime.combine(day, dt.time.min, tzinfo=period.zone) for day in starts]
        sql, params = _compiled(facts.values("created_at", "priority"))
        statement = (
            f"SELECT width_bucket(f.created_at, %s::timestamptz[]), f.priority, COUNT(*) FROM ({sql}) f GROUP BY 1, 2"
        )
        with connection.cursor() as cursor:
            cursor.execute(statement, (firsts, *params))
            return [(starts[index - 1], priority, count) for index, priority, count in cursor.fetchall()]
    truncated = Trunc("created_at", period.interval, output_field=DateTimeField(), tzinfo=period.zone)
    rows = facts.annotate(bucket=truncated).values("bucket", "priority").annotate(n=Count("pk"))
    return [(timezone.localtime(row["bucket"], period.zone).date(), row["priority"], row["n"]) for row in rows]


def _greatest(first: str, second: str) -> str:
    return f"GREATEST({first}, {second})" if connection.vendor == "postgresql" else f"MAX({first}, {second})"


def merged_spans(spans: QuerySet[Any], partition: str, since: int) -> dict[Any, tuple[int, int, int, int]]:
    """Per `partition` value: seconds covered by the union of the spans `[a, b)`, how many
    spans are not empty, how many of those began before `since` (the window's start:
    they carry over from the window before, see `reports.rollups`), and how many rows
    are marked `reported`.

    `spans` is a `.values()` queryset with columns `a` and `b` (whole seconds,
    clipped to the period, so empty for impact outside it), `started`,
    `reported` and the partition column. Taken in order of start, each span
    adds to the union only what reaches past every earlier span's end:
    `b - max(a, latest earlier end)`, or nothing. So overlapping spans count
    once, with one running maximum and a sum; empty spans add nothing. `a` is
    `started` clipped to the period, so the order is `started`'s, which an index
    on (partition, started) gives without a sort.
    """
    statement, params = merged_spans_sql(spans, partition, since)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return {row[0]: tuple(int(value or 0) for value in row[1:]) for row in cursor.fetchall()}  # type: ignore[misc]


def merged_spans_sql(spans: QuerySet[Any], partition: str, since: int) -> tuple[str, tuple[Any, ...]]:
    sql, params = _compiled(spans)
    key = f's."{partition}"'
    earlier_end = (
        f"MAX(s.b) OVER (PARTITION BY {key} ORDER BY s.started ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    reach = _greatest("a", "COALESCE(earlier_end, a)")
    statement = f"""
        WITH ordered AS (
            SELECT {key} AS k, s.a, s.b, s.started, s.reported, {earlier_end} AS earlier_end FROM ({sql}) s
        )
        SELECT k,
               SUM(CASE WHEN b > {reach} THEN b - {reach} ELSE 0 END),
               SUM(CASE WHEN b > a THEN 1 ELSE 0 END),
               SUM(CASE WHEN b > a AND started < {int(since)} THEN 1 ELSE 0 END),
               SUM(CASE WHEN reported THEN 1 ELSE 0 END)
        FROM ordered GROUP BY k
    """
    return statement, params
