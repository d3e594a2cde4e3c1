"""The SQL the ORM cannot say: percentiles from histograms, and merged time spans.

Each function takes a queryset (its filters stay the ORM's), compiles it, and
wraps it in a statement that does the work in the database. It is standard
window-function SQL that PostgreSQL and SQLite both run.
"""

from __future__ import annotations

import datetime as dt
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


def histogram_quantiles(facts: QuerySet[Any], column: str, group: str, quantiles: Sequence[float]) -> Quantiles:
    """Quantiles of `column` of `facts` (whole seconds), overall and per `group`.

    One pass over the facts builds the histogram per group (a hash aggregate,
    which PostgreSQL runs on parallel workers: a million values are never
    sorted); running totals over the bins find the bins holding the ranks each
    quantile needs. The quantile interpolates between the two nearest ranks,
    as PostgreSQL's `percentile_cont` does, on the binned values (`bin_sql`).

    Returns `{group value, or None for all: (count, [quantile, ...])}`.
    """
    sql, params = _compiled(facts.filter(**{f"{column}__isnull": False}).values(group, column))
    picks = []
    for index, q in enumerate(quantiles):
        # floor(q · (total − 1)) in integer arithmetic, which truncates in both databases
        # (a cast of a fraction to an integer rounds in PostgreSQL and truncates in SQLite).
        rank = f"(((total - 1) * {round(q * 10_000)}) / 10000)"
        picks.append(f"MIN(CASE WHEN upto > {rank} THEN bin END) AS lo{index}")
        picks.append(f"MIN(CASE WHEN upto > {rank} + 1 THEN bin END) AS hi{index}")
    statement = f"""
        WITH h AS (
            SELECT f.{group} AS g, {bin_sql(f"f.{column}")} AS bin, COUNT(*) AS n
            FROM ({sql}) f GROUP BY f.{group}, {bin_sql(f"f.{column}")}
        ),
        every AS (SELECT g, bin, n FROM h UNION ALL SELECT NULL, bin, SUM(n) FROM h GROUP BY bin),
        running AS (
            SELECT g, bin,
                   SUM(n) OVER (PARTITION BY g ORDER BY bin ROWS UNBOUNDED PRECEDING) AS upto,
                   CAST(SUM(n) OVER (PARTITION BY g) AS BIGINT) AS total
            FROM every
        )
        SELECT g, MAX(total), {", ".join(picks)} FROM running GROUP BY g
    """
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        rows = cursor.fetchall()
    results: Quantiles = {}
    # Under UNION ALL the NULL group is the overall one (the group column is never NULL).
    for row in rows:
        key, total = row[0], int(row[1])
        values: list[float] = []
        for index, q in enumerate(quantiles):
            low, high = row[2 + 2 * index], row[3 + 2 * index]
            position = q * (total - 1)
            fraction = position - math.floor(position)
            values.append(float(low) + fraction * (float(high) - float(low)) if high is not None else float(low))
        results[key] = (total, values)
    return results


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


def merged_spans(spans: QuerySet[Any], partition: str) -> dict[Any, tuple[int, int, int]]:
    """Per `partition` value: seconds covered by the union of the spans `[a, b)`, how many
    spans are not empty, and how many rows are marked `reported`.

    `spans` is a `.values()` queryset with columns `a` and `b` (whole seconds,
    clipped to the period, so empty for impact outside it), `started`,
    `reported` and the partition column. Taken in order of start, each span
    adds to the union only what reaches past every earlier span's end:
    `b - max(a, latest earlier end)`, or nothing. So overlapping spans count
    once, with one running maximum and a sum; empty spans add nothing. `a` is
    `started` clipped to the period, so the order is `started`'s, which an index
    on (partition, started) gives without a sort.
    """
    statement, params = merged_spans_sql(spans, partition)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return {row[0]: (int(row[1] or 0), int(row[2] or 0), int(row[3] or 0)) for row in cursor.fetchall()}


def merged_spans_sql(spans: QuerySet[Any], partition: str) -> tuple[str, tuple[Any, ...]]:
    sql, params = _compiled(spans)
    key = f's."{partition}"'
    earlier_end = (
        f"MAX(s.b) OVER (PARTITION BY {key} ORDER BY s.started ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    reach = _greatest("a", "COALESCE(earlier_end, a)")
    statement = f"""
        WITH ordered AS (
            SELECT {key} AS k, s.a, s.b, s.reported, {earlier_end} AS earlier_end FROM ({sql}) s
        )
        SELECT k,
               SUM(CASE WHEN b > {reach} THEN b - {reach} ELSE 0 END),
               SUM(CASE WHEN b > a THEN 1 ELSE 0 END),
               SUM(CASE WHEN reported THEN 1 ELSE 0 END)
        FROM ordered GROUP BY k
    """
    return statement, params
