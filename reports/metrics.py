"""The management metrics of a period (the seeds' step 10), computed in the database.

`summarize(period, filters)` answers, for the incidents reported in the
period (cancelled ones left out; see `reports.filters.reported_in`):

- how many, by priority, category, service and team, and per day, week or month;
- how fast they were acknowledged, mitigated and resolved: mean, median and
  90th percentile, overall and per priority, measured from the report;
- how the SLA clocks ended, per priority, with the breaches;
- users affected, reopen rate, the services that keep failing, and the
  post-mortem follow-ups still open;

and, for the period's time rather than its cohort, each service's downtime and
availability: the union of the impact spans that touch the period, clipped to
it, so overlapping incidents on one service count once.

It reads the reports' facts (`reports.facts`), narrow rows kept in step with
the incidents, and on PostgreSQL runs its statements side by side. Means are
exact; medians and 90th percentiles come from histograms exact to the second
below an hour and within 2 % above (`reports.sql.bin_sql`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from escalation.models import SlaClock, Team
from escalation.models.sla import ClockKind
from incidents.choices import ACTION_ITEM_PENDING, Category, Priority
from incidents.models import ActionItem, Incident, Service
from reports.filters import ReportFilters, impact_or_reported, reported_in
from reports.models import SlaOutcomeCode
from reports.periods import Period
from reports.sql import Quantiles, bucket_counts, histogram_quantiles, merged_spans

QUANTILES = (0.5, 0.9)
# The breaches a summary lists by name; the count covers all of them.
BREACHES_LISTED = 100
# A service "keeps failing" with at least this many incidents in the period.
RECURRING_AT_LEAST = 2
TOP_SERVICES = 5

# The response times, each measured from the report (`created_at`), as the facts keep them.
RESPONSE_TIMES = {
    "acknowledge": "acknowledge_seconds",
    # Service restored: mitigated, or resolved straight away.
    "mitigate": "restore_seconds",
    "resolve": "resolve_seconds",
}
SLA_COLUMNS = {ClockKind.ACKNOWLEDGE.value: "sla_acknowledge", ClockKind.RESOLVE.value: "sla_resolve"}
# Queries of one summary run side by side on PostgreSQL, each on its own connection.
PARALLEL_QUERIES = 3

T = TypeVar("T")


@dataclass(frozen=True)
class Tally:
    key: str
    label: str
    count: int


@dataclass(frozen=True)
class Bucket:
    start: dt.date
    count: int
    by_priority: dict[str, int]


@dataclass(frozen=True)
class DurationStats:
    """Seconds; None when nothing was measured."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class ResponseTimes:
    acknowledge: DurationStats
    mitigate: DurationStats
    resolve: DurationStats


@dataclass(frozen=True)
class ServiceAvailability:
    slug: str
    name: str
    incidents: int
    downtime_seconds: float
    availability_percent: float


@dataclass(frozen=True)
class SlaOutcome:
    """How one kind of SLA clock ended for one priority."""

    priority: str
    kind: str
    met: int
    breached: int
    running: int

    @property
    def compliance_percent(self) -> float | None:
        decided = self.met + self.breached
        return round(100.0 * self.met / decided, 2) if decided else None


@dataclass(frozen=True)
class SlaBreach:
    number: str
    title: str
    priority: str
    kind: str
    due_at: dt.datetime | None
    breached_at: dt.datetime


@dataclass(frozen=True)
class Summary:
    period: Period
    filters: ReportFilters
    generated_at: dt.datetime
    total: int
    by_priority: list[Tally]
    by_category: list[Tally]
    by_service: list[Tally]
    by_team: list[Tally]
    interval: str
    over_time: list[Bucket]
    response_times: ResponseTimes
    response_times_by_priority: dict[str, ResponseTimes]
    downtime_seconds: float
    availability: list[ServiceAvailability]
    sla: list[SlaOutcome]
    breach_count: int
    breaches: list[SlaBreach]
    affected_users: int
    recurring_services: list[Tally]
    reopened: int
    action_items_open: int
    action_items_overdue: int
    previous: Summary | None = field(default=None)

    @property
    def reopen_rate_percent(self) -> float | None:
        return round(100.0 * self.reopened / self.total, 2) if self.total else None

    def sla_compliance(self, kind: str) -> float | None:
        """Compliance over all priorities for one kind of clock."""
        met = sum(o.met for o in self.sla if o.kind == kind)
        decided = met + sum(o.breached for o in self.sla if o.kind == kind)
        return round(100.0 * met / decided, 2) if decided else None


def summarize(period: Period, filters: ReportFilters | None = None, *, compare: bool = False) -> Summary:
    """Every metric of the period; with `compare`, the previous period's beside it.

    The statements of both periods go to one pool, so the comparison costs the
    previous period's statements and no more waiting.
    """
    filters = filters or ReportFilters()
    now = timezone.now()
    periods = {"": period, "previous:": period.previous()} if compare else {"": period}
    work: dict[str, Callable[[], Any]] = {}
    for prefix, each in periods.items():
        work.update({prefix + name: job for name, job in _jobs(each, filters, now).items()})
    done = _run(work)
    previous = _assemble(periods["previous:"], filters, now, done, "previous:") if compare else None
    return _assemble(period, filters, now, done, "", previous=previous)


def _jobs(period: Period, filters: ReportFilters, now: dt.datetime) -> dict[str, Callable[[], Any]]:
    return {
        "tallies": lambda: _tallies(period, filters),
        # One statement per response time, so they too run side by side.
        **{f"quantiles:{name}": _quantiles_job(period, filters, name) for name in RESPONSE_TIMES},
        "services": lambda: _services(period, filters, now),
        "breaches": lambda: _breaches(period, filters),
        "action_items": lambda: _action_items(period, filters),
        "over_time": lambda: _over_time(period, filters),
    }


def _assemble(
    period: Period,
    filters: ReportFilters,
    now: dt.datetime,
    done: dict[str, Any],
    prefix: str,
    previous: Summary | None = None,
) -> Summary:
    tallies: _Tallies = done[prefix + "tallies"]
    by_service, downtime, availability = done[prefix + "services"]
    items_open, items_overdue = done[prefix + "action_items"]
    overall, by_priority = _response_times(
        tallies, {name: done[f"{prefix}quantiles:{name}"] for name in RESPONSE_TIMES}
    )
    sla = tallies.sla()
    return Summary(
        period=period,
        filters=filters,
        generated_at=now,
        total=tallies.total,
        by_priority=tallies.by_priority(),
        by_category=tallies.by_category(),
        by_service=by_service,
        by_team=tallies.by_team(),
        interval=period.interval,
        over_time=done[prefix + "over_time"],
        response_times=overall,
        response_times_by_priority=by_priority,
        downtime_seconds=downtime,
        availability=availability,
        sla=sla,
        breach_count=sum(o.breached for o in sla),
        breaches=done[prefix + "breaches"],
        affected_users=tallies.affected,
        recurring_services=[t for t in by_service if t.count >= RECURRING_AT_LEAST][:TOP_SERVICES],
        reopened=tallies.reopened,
        action_items_open=items_open,
        action_items_overdue=items_overdue,
        previous=previous,
    )


def _run(work: dict[str, Callable[[], T]]) -> dict[str, T]:
    """Run the queries: side by side on PostgreSQL outside a transaction, else one after another.

    Each thread has its own connection, which sees only what is committed, so
    inside a transaction (a request that wrote, a test) they run on this one.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return {name: job() for name, job in work.items()}

    def on_own_connection(job: Callable[[], T]) -> T:
        try:
            return job()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=PARALLEL_QUERIES) as pool:
        futures = {name: pool.submit(on_own_connection, job) for name, job in work.items()}
        return {name: future.result() for name, future in futures.items()}


@dataclass
class _Tallies:
    """The cohort counted once per (priority, category, team): one pass over the facts, and
    every count, sum and SLA outcome of the summary is a sum of these few rows."""

    rows: list[dict[str, Any]]

    def _sum(self, name: str, **match: Any) -> int:
        return sum(row[name] or 0 for row in self.rows if all(row[k] == v for k, v in match.items()))

    @property
    def total(self) -> int:
        return self._sum("n")

    @property
    def affected(self) -> int:
        return self._sum("affected")

    @property
    def reopened(self) -> int:
        return self._sum("reopened")

    def by_priority(self) -> list[Tally]:
        return [Tally(p.value, str(p.label), self._sum("n", priority=p.value)) for p in Priority]

    def by_category(self) -> list[Tally]:
        labels = dict(Category.choices)
        keys = {row["category"] for row in self.rows}
        tallies = (Tally(key, str(labels.get(key, key)), self._sum("n", category=key)) for key in keys)
        return sorted(tallies, key=lambda t: (-t.count, t.key))

    def by_team(self) -> list[Tally]:
        ids = {row["team_id"] for row in self.rows}
        teams = {team.pk: team for team in Team.objects.filter(pk__in=[i for i in ids if i is not None])}
        tallies = []
        for team_id in ids:
            team = teams.get(team_id)
            tallies.append(Tally(team.slug if team else "", team.name if team else "", self._sum("n", team_id=team_id)))
        return sorted(tallies, key=lambda t: (-t.count, t.key))

    def duration(self, name: str, priority: str | None) -> tuple[int, float | None]:
        """How many were measured, and the mean."""
        match = {"priority": priority} if priority else {}
        count = self._sum(f"{name}_n", **match)
        return count, (self._sum(f"{name}_sum", **match) / count if count else None)

    def sla(self) -> list[SlaOutcome]:
        return [
            SlaOutcome(
                priority,
                kind,
                met=self._sum(f"{kind}_met", priority=priority),
                breached=self._sum(f"{kind}_breached", priority=priority),
                running=self._sum(f"{kind}_running", priority=priority),
            )
            for kind in SLA_COLUMNS
            for priority in Priority.values
        ]


def _tallies(period: Period, filters: ReportFilters) -> _Tallies:
    aggregates: dict[str, Any] = {
        "n": Count("pk"),
        "affected": Sum("affected_users"),
        "reopened": Count("pk", filter=Q(reopened=True)),
    }
    for name, column in RESPONSE_TIMES.items():
        aggregates[f"{name}_n"] = Count(column)
        aggregates[f"{name}_sum"] = Sum(column)
    for kind, column in SLA_COLUMNS.items():
        aggregates[f"{kind}_met"] = Count("pk", filter=Q(**{column: SlaOutcomeCode.MET}))
        aggregates[f"{kind}_breached"] = Count("pk", filter=Q(**{column: SlaOutcomeCode.BREACHED}))
        aggregates[f"{kind}_running"] = Count("pk", filter=Q(**{column: SlaOutcomeCode.RUNNING}))
    rows = reported_in(period, filters).values("priority", "category", "team_id").annotate(**aggregates)
    return _Tallies(list(rows))


def _over_time(period: Period, filters: ReportFilters) -> list[Bucket]:
    """The cohort per day, week or month of the period's zone, and per priority."""
    starts = period.buckets(period.interval)
    found: dict[dt.date, dict[str, int]] = {}
    for start, priority, count in bucket_counts(reported_in(period, filters), period, starts):
        found.setdefault(start, {})[priority] = count
    buckets = []
    for start in starts:
        by_priority = {p: found.get(start, {}).get(p, 0) for p in Priority.values}
        buckets.append(Bucket(start=start, count=sum(by_priority.values()), by_priority=by_priority))
    return buckets


def _quantiles_job(period: Period, filters: ReportFilters, name: str) -> Callable[[], Quantiles]:
    column = RESPONSE_TIMES[name]
    return lambda: histogram_quantiles(reported_in(period, filters), column, "priority", QUANTILES)


def _response_times(
    tallies: _Tallies, quantiles: dict[str, Quantiles]
) -> tuple[ResponseTimes, dict[str, ResponseTimes]]:
    def times(priority: str | None) -> ResponseTimes:
        def one(name: str) -> DurationStats:
            count, mean = tallies.duration(name, priority)
            if not count:
                return DurationStats(0, None, None, None)
            _count, (median, p90) = quantiles[name].get(priority, (0, [None, None]))
            return DurationStats(count, _rounded(mean), _rounded(median), _rounded(p90))

        return ResponseTimes(acknowledge=one("acknowledge"), mitigate=one("mitigate"), resolve=one("resolve"))

    return times(None), {p: times(p) for p in Priority.values}


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds), 3)


def _services(
    period: Period, filters: ReportFilters, now: dt.datetime
) -> tuple[list[Tally], float, list[ServiceAvailability]]:
    """Incidents per affected service, and each service's downtime in the period, in one pass.

    An incident on two services counts for each. Downtime is the union of the impact
    spans clipped to the period: overlapping incidents on a service count once.
    """
    start = int(period.starts_at.timestamp())
    end = int(min(period.ends_at, now).timestamp())
    # Each span is the impact clipped to the period: from the later of its start and the
    # period's, to the earlier of its restoration (now, while still going on) and the period's end.
    spans = (
        impact_or_reported(period, filters, end)
        .annotate(
            a=Greatest("started", Value(start)),
            b=Least(Coalesce("restored", Value(end)), Value(end)),
            reported=Q(created_at__gte=period.starts_at, created_at__lt=period.ends_at),
        )
        .values("service_id", "started", "a", "b", "reported")
    )
    per_service = merged_spans(spans, "service_id")
    seconds = period.seconds
    # A service retired since still shows what it had in the period.
    services = Service.objects.filter(
        Q(pk__in=filters.services_in_scope().values("pk")) | Q(pk__in=list(per_service))
    ).only("slug", "name")
    availability = []
    tallies = []
    for service in services:
        down, touched, reported = per_service.get(service.pk, (0, 0, 0))
        availability.append(
            ServiceAvailability(
                slug=service.slug,
                name=service.name,
                incidents=touched,
                downtime_seconds=float(down),
                availability_percent=round(100.0 * (1 - down / seconds), 4),
            )
        )
        if reported:
            tallies.append(Tally(service.slug, service.name, reported))
    availability.sort(key=lambda s: (s.availability_percent, s.slug))
    tallies.sort(key=lambda t: (-t.count, t.key))
    return tallies, float(sum(s.downtime_seconds for s in availability)), availability


def _breaches(period: Period, filters: ReportFilters) -> list[SlaBreach]:
    """The latest breaches of the cohort's clocks, newest first."""
    in_cohort = Exists(reported_in(period, filters).filter(incident=OuterRef("incident")))
    listed = (
        SlaClock.objects.filter(breached_at__isnull=False)
        .filter(in_cohort)
        .order_by("-breached_at", "-pk")
        .values("incident_id", "incident__title", "priority", "kind", "due_at", "breached_at")[:BREACHES_LISTED]
    )
    return [
        SlaBreach(
            number=Incident(pk=row["incident_id"]).number,
            title=row["incident__title"],
            priority=row["priority"],
            kind=row["kind"],
            due_at=row["due_at"],
            breached_at=cast(dt.datetime, row["breached_at"]),  # filtered on: never NULL
        )
        for row in listed
    ]


def _action_items(period: Period, filters: ReportFilters) -> tuple[int, int]:
    today = timezone.localtime(timezone.now(), period.zone).date()
    in_cohort = Exists(reported_in(period, filters).filter(incident=OuterRef("incident")))
    found = (
        ActionItem.objects.filter(status__in=ACTION_ITEM_PENDING)
        .filter(in_cohort)
        .aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(due_date__lt=today)))
    )
    return found["open"], found["overdue"]


# Re-exported for the exports and pages, which label what they show.
__all__ = [
    "Bucket",
    "DurationStats",
    "ResponseTimes",
    "ServiceAvailability",
    "SlaBreach",
    "SlaOutcome",
    "Summary",
    "Tally",
    "summarize",
]
