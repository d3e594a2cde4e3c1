"""The SQL the ORM cannot say: percentiles and merged time spans, on PostgreSQL and SQLite.

Each function takes a queryset (its filters stay the ORM's), compiles it, and
wraps it in a statement that does the work in the database. The SQL is
standard window-function SQL that both databases run; PostgreSQL gets its
native ordered-set aggregate where that is faster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Expression, F, FloatField, Func, QuerySet


def _vendor() -> str:
    return connection.vendor


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


def seconds_between_sql(end: str, start: str) -> str:
    """The same as `Seconds`, for column names inside hand-written SQL."""
    if _vendor() == "postgresql":
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


def _compiled(queryset: QuerySet[Any]) -> tuple[str, tuple[Any, ...]]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


def duration_stats(
    queryset: QuerySet[Any], columns: Sequence[str], group: str | None, quantiles: Sequence[float]
) -> dict[tuple[str, str | None], tuple[int, float | None, list[float | None]]]:
    """Count, mean and quantiles of each column of `queryset`'s values, overall and per `group`.

    `queryset` is a `.values()` queryset with the columns (seconds, NULL where
    not applicable) and the group column. Returns `{(column, group value or
    None for overall): (count, mean, [quantile, ...])}`. Quantiles interpolate
    between the two nearest values, like PostgreSQL's `percentile_cont`.
    """
    if _vendor() == "postgresql":
        return _duration_stats_postgresql(queryset, columns, group, quantiles)
    return _duration_stats_windowed(queryset, columns, group, quantiles)


def _duration_stats_postgresql(
    queryset: QuerySet[Any], columns: Sequence[str], group: str | None, quantiles: Sequence[float]
) -> dict[tuple[str, str | None], tuple[int, float | None, list[float | None]]]:
    sql, params = _compiled(queryset)
    wanted = ", ".join(str(float(q)) for q in quantiles)
    selected = []
    for column in columns:
        selected += [
            f'COUNT(s."{column}")',
            f'AVG(s."{column}")',
            f'percentile_cont(ARRAY[{wanted}]) WITHIN GROUP (ORDER BY s."{column}")',
        ]
    if group:
        statement = (
            f'SELECT s."{group}", GROUPING(s."{group}"), {", ".join(selected)} FROM ({sql}) s '
            f'GROUP BY GROUPING SETS ((s."{group}"), ())'
        )
    else:
        statement = f"SELECT NULL, 1, {', '.join(selected)} FROM ({sql}) s"
    results: dict[tuple[str, str | None], tuple[int, float | None, list[float | None]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        for row in cursor.fetchall():
            key = None if row[1] else row[0]
            for index, column in enumerate(columns):
                count, mean, values = row[2 + 3 * index : 5 + 3 * index]
                results[(column, key)] = (count, mean, list(values) if values else [None] * len(quantiles))
    return results


def _duration_stats_windowed(
    queryset: QuerySet[Any], columns: Sequence[str], group: str | None, quantiles: Sequence[float]
) -> dict[tuple[str, str | None], tuple[int, float | None, list[float | None]]]:
    # Position h = q·(n−1) among the n sorted values (0-based): the value at floor(h),
    # plus the fraction of the way to the next one. CAST truncates, which is floor for h ≥ 0.
    sql, params = _compiled(queryset)
    results: dict[tuple[str, str | None], tuple[int, float | None, list[float | None]]] = {}
    group_sql = f's."{group}"' if group else "NULL"
    for column in columns:
        picks = []
        for q in quantiles:
            h = f"({float(q)} * (n - 1))"
            lo = f"CAST({h} AS INTEGER)"
            picks.append(
                f"SUM(CASE WHEN rn = {lo} THEN v * (1 - ({h} - {lo})) "
                f"WHEN rn = {lo} + 1 THEN v * ({h} - {lo}) ELSE 0 END)"
            )
        ranked = (
            f"SELECT g, v, ROW_NUMBER() OVER (PARTITION BY g ORDER BY v) - 1 AS rn, COUNT(*) OVER (PARTITION BY g) AS n "
            f'FROM (SELECT {group_sql} AS g, s."{column}" AS v FROM ({sql}) s WHERE s."{column}" IS NOT NULL'
            + (f' UNION ALL SELECT NULL, s."{column}" FROM ({sql}) s WHERE s."{column}" IS NOT NULL' if group else "")
            + ") t"
        )
        statement = f"SELECT g, COUNT(*), AVG(v), {', '.join(picks)} FROM ({ranked}) r GROUP BY g"
        with connection.cursor() as cursor:
            cursor.execute(statement, params + params if group else params)
            rows = cursor.fetchall()
        # Under UNION ALL the NULL group is the overall one; groups whose value is NULL
        # are not asked for (priority is never NULL).
        for row in rows:
            results[(column, row[0])] = (row[1], row[2], list(row[3:]))
    return results


def merged_spans(spans: QuerySet[Any], partition: str | None) -> dict[Any, tuple[float, int]]:
    """Seconds covered by the union of the spans `[a, b)`, per `partition` value.

    `spans` is a `.values()` queryset with columns `a` and `b` (already clipped
    to the period) and the partition column. Overlapping spans count once:
    sorted by start, a span opens a new stretch when it starts after every
    earlier span of the partition has ended; each stretch lasts from its first
    start to its last end. Returns `{partition value: (seconds, stretches)}`.
    """
    sql, params = _compiled(spans)
    key = f's."{partition}"' if partition else "0"
    earlier_end = (
        f"MAX(s.b) OVER (PARTITION BY {key} ORDER BY s.a, s.b ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)"
    )
    statement = f"""
        WITH marked AS (
            SELECT {key} AS k, s.a, s.b,
                   CASE WHEN s.a <= {earlier_end} THEN 0 ELSE 1 END AS opens
            FROM ({sql}) s
        ),
        numbered AS (
            SELECT k, a, b, SUM(opens) OVER (PARTITION BY k ORDER BY a, b ROWS UNBOUNDED PRECEDING) AS stretch
            FROM marked
        ),
        stretches AS (
            SELECT k, MIN(a) AS a, MAX(b) AS b FROM numbered GROUP BY k, stretch
        )
        SELECT k, SUM({seconds_between_sql("b", "a")}), COUNT(*) FROM stretches GROUP BY k
    """
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return {row[0]: (float(row[1] or 0.0), row[2]) for row in cursor.fetchall()}
