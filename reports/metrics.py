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
from django.db.models import BigIntegerField, Count, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Greatest, Least
from django.utils import timezone

from escalation.models import SlaClock, Team
from escalation.models.sla import ClockKind
from incidents.choices import ACTION_ITEM_PENDING, Category, Priority
from incidents.models import ActionItem, Incident, Service
from reports import rollups
from reports.filters import ReportFilters, impact_or_reported, reported_in
from reports.models import SlaOutcomeCode
from reports.periods import Period
from reports.rollups import Window
from reports.sql import Bins, EpochSeconds, Histograms, Running, bucket_counts, histogram_bins, merged_spans

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
    plans = {prefix: _Plan.of(each, filters) for prefix, each in periods.items()}
    work: dict[str, Callable[[], Any]] = {}
    for prefix, each in periods.items():
        work.update({prefix + name: job for name, job in _jobs(each, filters, now, plans[prefix]).items()})
    done = _run(work)
    previous = _assemble(periods["previous:"], filters, now, done, "previous:", plans["previous:"]) if compare else None
    return _assemble(period, filters, now, done, "", plans[""], previous=previous)


def _bucket_seconds(period: Period) -> list[int]:
    """The first moment of each chart bucket of the period (its local midnight), in seconds since 1970."""
    return [
        int(dt.datetime.combine(day, dt.time.min, tzinfo=period.zone).timestamp())
        for day in period.buckets(period.interval)
    ]


@dataclass(frozen=True)
class _Plan:
    """Which parts of a period come from monthly roll-ups (`reports.rollups`) and which from the facts.

    A summary with filters, or in a zone whose midnights do not fall on whole
    UTC hours (the roll-ups count the cohort per UTC hour), reads the facts
    for all of its period.
    """

    windows: list[Window]  # computed from the facts now, in order
    months: list[dt.date]  # read from the roll-ups, in order

    @classmethod
    def of(cls, period: Period, filters: ReportFilters) -> _Plan:
        whole = cls([Window(period.starts_at, period.ends_at)], [])
        if filters or any(first % 3600 for first in _bucket_seconds(period)):
            return whole
        inside = [
            month
            for month in rollups.months_from(period.starts_at, period.ends_at)
            if period.starts_at <= rollups.month_window(month).starts_at
            and rollups.month_window(month).ends_at <= period.ends_at
        ]
        months = rollups.valid(inside) if inside else []
        if not months:
            return whole
        windows: list[Window] = []
        start = period.starts_at
        for month in months:
            covered = rollups.month_window(month)
            if start < covered.starts_at:
                windows.append(Window(start, covered.starts_at))
            start = covered.ends_at
        if start < period.ends_at:
            windows.append(Window(start, period.ends_at))
        return cls(windows, months)

    def cohort(self, facts: QuerySet[Any]) -> QuerySet[Any]:
        """The facts reported in the windows computed now (all of `facts` without roll-ups)."""
        if not self.months:
            return facts
        if not self.windows:
            return facts.none()
        within = Q()
        for window in self.windows:
            within |= Q(created_at__gte=window.starts_at, created_at__lt=window.ends_at)
        return facts.filter(within)


def _jobs(period: Period, filters: ReportFilters, now: dt.datetime, plan: _Plan) -> dict[str, Callable[[], Any]]:
    cohort = plan.cohort(reported_in(period, filters))
    live = bool(plan.windows)  # else every day of the period is in a roll-up
    return {
        "tallies": lambda: _tally_rows(cohort) if live else [],
        # One statement per response time, so they too run side by side.
        **{f"bins:{name}": _bins_job(cohort, name) if live else dict for name in RESPONSE_TIMES},
        **{f"services:{index}": _services_job(window, filters, now) for index, window in enumerate(plan.windows)},
        "breaches": lambda: _breaches(period, filters),
        "action_items": lambda: _action_items(period, filters),
        "over_time": lambda: bucket_counts(cohort, period, period.buckets(period.interval)) if live else [],
        # Python's share (reading and adding up the months) overlaps the statements' wait.
        "rolled_up": lambda: _Rolled.of(period, plan.months),
    }


@dataclass
class _Rolled:
    """The rolled-up months of a period, added up (nothing, without roll-ups)."""

    tallies: list[dict[str, Any]] = field(default_factory=list)
    histograms: dict[str, Histograms] = field(default_factory=lambda: {name: Histograms() for name in RESPONSE_TIMES})
    over_time: list[tuple[dt.date, str, int]] = field(default_factory=list)
    services: list[tuple[dt.datetime, dict[int, Any]]] = field(default_factory=list)

    @classmethod
    def of(cls, period: Period, months: list[dt.date]) -> _Rolled:
        rolled = cls()
        if not months:
            return rolled
        starts = period.buckets(period.interval)
        # Each bucket in whole UTC hours (the plan made sure its midnights are on the hour).
        hours = [first // 3600 for first in _bucket_seconds(period)]
        hours.append(int(period.ends_at.timestamp()) // 3600)
        counted: dict[tuple[dt.date, str], int] = {}
        for month, data in sorted(rollups.figures(months).items()):
            rolled.tallies += data["tallies"]
            for name in RESPONSE_TIMES:
                for key, (keys, totals) in data["bins"][name].items():
                    rolled.histograms[name].add(key, Running(rollups.unpack(keys), rollups.unpack(totals)))
            for priority, (keys, totals) in data["hours"].items():
                cohort = Running(rollups.unpack(keys), rollups.unpack(totals))
                for index, start in enumerate(starts):
                    count = cohort.upto(hours[index + 1] - 1) - cohort.upto(hours[index] - 1)
                    if count:
                        counted[start, priority] = counted.get((start, priority), 0) + count
            pieces = {row[0]: tuple(row[1:]) for row in data["services"]}
            rolled.services.append((rollups.month_window(month).starts_at, pieces))
        rolled.over_time = [(start, priority, count) for (start, priority), count in counted.items()]
        return rolled


def month_piece(window: Window) -> dict[str, Any]:
    """One ended month's figures for its roll-up, unfiltered, in a form that adds up (`reports.rollups`)."""
    filters = ReportFilters()
    cohort = reported_in(window, filters)
    hour = ExpressionWrapper(EpochSeconds("created_at") / Value(3600), output_field=BigIntegerField())
    hours = (
        cohort.annotate(hour=hour)
        .values("hour", "priority")
        .annotate(n=Count("pk"))
        .values_list("hour", "priority", "n")
    )
    services = _service_piece(window, filters, window.ends_at)
    by_hour: dict[str, dict[int, int]] = {}
    for at_hour, priority, count in hours:
        by_hour.setdefault(priority, {})[at_hour] = count
    return {
        "tallies": _tally_rows(cohort),
        "bins": {
            name: {key: _packed(Running.of(found)) for key, found in _bins_job(cohort, name)().items()}
            for name in RESPONSE_TIMES
        },
        "hours": {priority: _packed(Running.of(found)) for priority, found in by_hour.items()},
        "services": [[pk, *figures] for pk, figures in services.items()],
    }


def _packed(running: Running) -> list[str]:
    return [rollups.pack(running.keys), rollups.pack(running.totals)]


def _assemble(
    period: Period,
    filters: ReportFilters,
    now: dt.datetime,
    done: dict[str, Any],
    prefix: str,
    plan: _Plan,
    previous: Summary | None = None,
) -> Summary:
    rolled: _Rolled = done[prefix + "rolled_up"]
    tallies = _Tallies(done[prefix + "tallies"] + rolled.tallies)
    pieces = [(window.starts_at, done[f"{prefix}services:{index}"]) for index, window in enumerate(plan.windows)]
    by_service, downtime, availability = _services(
        period, filters, now, sorted(pieces + rolled.services, key=lambda piece: piece[0])
    )
    items_open, items_overdue = done[prefix + "action_items"]
    quantiles = {
        name: rolled.histograms[name].add_bins(done[f"{prefix}bins:{name}"]).quantiles(QUANTILES)
        for name in RESPONSE_TIMES
    }
    overall, by_priority = _response_times(tallies, quantiles)
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
        over_time=_over_time(period, done[prefix + "over_time"] + rolled.over_time),
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

    KEY = ("priority", "category", "team_id")

    def __post_init__(self) -> None:
        # Rows of several months (or of the facts and the roll-ups) for one key become one.
        merged: dict[tuple[Any, ...], dict[str, Any]] = {}
        for row in self.rows:
            key = tuple(row[name] for name in self.KEY)
            if key not in merged:
                merged[key] = dict(row)
                continue
            into = merged[key]
            for name, value in row.items():
                if name not in self.KEY:
                    into[name] = (into[name] or 0) + (value or 0)
        self.rows = list(merged.values())

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


def _tally_rows(cohort: QuerySet[Any]) -> list[dict[str, Any]]:
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
    return list(cohort.values("priority", "category", "team_id").annotate(**aggregates))


def _over_time(period: Period, counted: list[tuple[dt.date, str, int]]) -> list[Bucket]:
    """The cohort per day, week or month of the period's zone, and per priority."""
    found: dict[dt.date, dict[str, int]] = {}
    for start, priority, count in counted:
        found.setdefault(start, {})[priority] = found.get(start, {}).get(priority, 0) + count
    buckets = []
    for start in period.buckets(period.interval):
        by_priority = {p: found.get(start, {}).get(p, 0) for p in Priority.values}
        buckets.append(Bucket(start=start, count=sum(by_priority.values()), by_priority=by_priority))
    return buckets


def _bins_job(cohort: QuerySet[Any], name: str) -> Callable[[], Bins]:
    column = RESPONSE_TIMES[name]
    return lambda: histogram_bins(cohort, column, "priority")


def _response_times(
    tallies: _Tallies, quantiles: dict[str, dict[str | None, tuple[int, list[float]]]]
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


def _services_job(window: Window, filters: ReportFilters, now: dt.datetime) -> Callable[[], Any]:
    return lambda: _service_piece(window, filters, now)


def _service_piece(window: Window, filters: ReportFilters, now: dt.datetime) -> dict[int, tuple[int, int, int, int]]:
    """Per affected service, in one pass over the service facts of `window`: the seconds of its
    downtime in the window, the impact spans that touched it, those of them that began before
    it, and the incidents reported in it (an incident on two services counts for each).

    Downtime is the union of the impact spans clipped to the window, so
    overlapping incidents on a service count once.
    """
    start = int(window.starts_at.timestamp())
    end = int(min(window.ends_at, now).timestamp())
    # Each span is the impact clipped to the window: from the later of its start and the
    # window's, to the earlier of its restoration (now, while still going on) and the window's end.
    spans = (
        impact_or_reported(window, filters, end)
        .annotate(
            a=Greatest("started", Value(start)),
            b=Least(Coalesce("restored", Value(end)), Value(end)),
            reported=Q(created_at__gte=window.starts_at, created_at__lt=window.ends_at),
        )
        .values("service_id", "started", "a", "b", "reported")
    )
    return merged_spans(spans, "service_id", since=start)


def _services(
    period: Period, filters: ReportFilters, now: dt.datetime, pieces: list[tuple[dt.datetime, dict[int, Any]]]
) -> tuple[list[Tally], float, list[ServiceAvailability]]:
    """Incidents per affected service, and each service's downtime and availability in the period.

    The pieces tile the period in order. Downtime adds up (each piece's is
    clipped to it); a span over several pieces counts once among the spans
    that touched the service: in every piece after the first it began before
    the piece, and is taken off there.
    """
    per_service: dict[int, list[int]] = {}
    for index, (_start, piece) in enumerate(pieces):
        for pk, (down, touched, carried, reported) in piece.items():
            figures = per_service.setdefault(pk, [0, 0, 0])
            figures[0] += down
            figures[1] += touched - (carried if index else 0)
            figures[2] += reported
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
