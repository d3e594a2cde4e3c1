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
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import cast

from django.db.models import (
    Count,
    DateTimeField,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Least, Trunc
from django.utils import timezone

from escalation.models import SlaClock
from escalation.models.sla import ClockKind
from incidents.choices import ACTION_ITEM_PENDING, Category, Priority
from incidents.models import ActionItem, Incident, Service
from reports.filters import ReportFilters, impact_overlapping, reported_in
from reports.periods import Period
from reports.sql import Seconds, duration_stats, merged_spans

QUANTILES = (0.5, 0.9)
# The breaches a summary lists by name; the count covers all of them.
BREACHES_LISTED = 100
# A service "keeps failing" with at least this many incidents in the period.
RECURRING_AT_LEAST = 2
TOP_SERVICES = 5

# The response times, each measured from the report (`created_at`).
RESPONSE_TIMES = {
    "acknowledge": "acknowledged_at",
    # Service restored: mitigated, or resolved straight away.
    "mitigate": "restored_at",
    "resolve": "resolved_at",
}


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
    """Every metric of the period; with `compare`, the previous period's beside it."""
    filters = filters or ReportFilters()
    now = timezone.now()
    cohort = reported_in(period, filters)
    counts = _counts(cohort)
    total = sum(t.count for t in counts["priority"])
    overall, by_priority = _response_times(cohort)
    downtime, availability = _availability(period, filters, now)
    by_service = _by_service(cohort)
    breach_count, breaches = _breaches(cohort)
    items_open, items_overdue = _action_items(cohort, period)
    totals = cohort.aggregate(
        affected=Coalesce(Sum("affected_users"), 0), reopened=Count("pk", filter=Q(reopen_count__gt=0))
    )
    return Summary(
        period=period,
        filters=filters,
        generated_at=now,
        total=total,
        by_priority=counts["priority"],
        by_category=counts["category"],
        by_service=by_service,
        by_team=_by_team(cohort),
        interval=period.interval,
        over_time=_over_time(cohort, period),
        response_times=overall,
        response_times_by_priority=by_priority,
        downtime_seconds=downtime,
        availability=availability,
        sla=_sla(cohort),
        breach_count=breach_count,
        breaches=breaches,
        affected_users=totals["affected"],
        recurring_services=[t for t in by_service if t.count >= RECURRING_AT_LEAST][:TOP_SERVICES],
        reopened=totals["reopened"],
        action_items_open=items_open,
        action_items_overdue=items_overdue,
        previous=summarize(period.previous(), filters) if compare else None,
    )


def _counts(cohort: QuerySet[Incident]) -> dict[str, list[Tally]]:
    found = {row["priority"]: row["n"] for row in cohort.order_by().values("priority").annotate(n=Count("pk"))}
    by_priority = [Tally(p.value, str(p.label), found.get(p.value, 0)) for p in Priority]
    found = {row["category"]: row["n"] for row in cohort.order_by().values("category").annotate(n=Count("pk"))}
    labels = dict(Category.choices)
    by_category = sorted(
        (Tally(key, str(labels.get(key, key)), n) for key, n in found.items()), key=lambda t: (-t.count, t.key)
    )
    return {"priority": by_priority, "category": by_category}


def _by_team(cohort: QuerySet[Incident]) -> list[Tally]:
    rows = cohort.order_by().values("team__slug", "team__name").annotate(n=Count("pk"))
    return sorted(
        (Tally(row["team__slug"] or "", row["team__name"] or "", row["n"]) for row in rows),
        key=lambda t: (-t.count, t.key),
    )


def _by_service(cohort: QuerySet[Incident]) -> list[Tally]:
    """Incidents per affected service; an incident on two services counts for each."""
    links = Incident.services.through.objects.filter(incident__in=cohort.order_by().values("pk"))
    rows = links.values("service__slug", "service__name").annotate(n=Count("pk"))
    return sorted(
        (Tally(row["service__slug"], row["service__name"], row["n"]) for row in rows),
        key=lambda t: (-t.count, t.key),
    )


def _over_time(cohort: QuerySet[Incident], period: Period) -> list[Bucket]:
    interval = period.interval
    rows = (
        cohort.order_by()
        .annotate(bucket=Trunc("created_at", interval, output_field=DateTimeField(), tzinfo=period.zone))
        .values("bucket", "priority")
        .annotate(n=Count("pk"))
    )
    found: dict[dt.date, dict[str, int]] = {}
    for row in rows:
        day = timezone.localtime(row["bucket"], period.zone).date()
        found.setdefault(day, {})[row["priority"]] = row["n"]
    buckets = []
    for start in period.buckets(interval):
        counts = found.get(start, {})
        buckets.append(
            Bucket(start=start, count=sum(counts.values()), by_priority={p: counts.get(p, 0) for p in Priority.values})
        )
    return buckets


def _response_times(cohort: QuerySet[Incident]) -> tuple[ResponseTimes, dict[str, ResponseTimes]]:
    measured = (
        cohort.order_by()
        .annotate(restored_at=Coalesce("mitigated_at", "resolved_at"))
        .annotate(**{name: Seconds(column, "created_at") for name, column in RESPONSE_TIMES.items()})
        .values("priority", *RESPONSE_TIMES)
    )
    stats = duration_stats(measured, list(RESPONSE_TIMES), "priority", QUANTILES)

    def times(group: str | None) -> ResponseTimes:
        def one(name: str) -> DurationStats:
            count, mean, (median, p90) = stats.get((name, group), (0, None, [None, None]))
            if not count:
                return DurationStats(0, None, None, None)
            return DurationStats(count, _rounded(mean), _rounded(median), _rounded(p90))

        return ResponseTimes(acknowledge=one("acknowledge"), mitigate=one("mitigate"), resolve=one("resolve"))

    return times(None), {p: times(p) for p in Priority.values}


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds), 3)


def _availability(period: Period, filters: ReportFilters, now: dt.datetime) -> tuple[float, list[ServiceAvailability]]:
    start = Value(period.starts_at, output_field=DateTimeField())
    end = Value(min(period.ends_at, now), output_field=DateTimeField())
    overlapping = impact_overlapping(period, filters)
    # Each span is the impact clipped to the period: from the later of the start of
    # impact and of the period, to the earlier of the restoration and the period's end
    # (or now, for impact still going on).
    total_spans = (
        overlapping.order_by()
        .annotate(a=Greatest("started_at", start), b=Least(Coalesce("mitigated_at", "resolved_at", end), end))
        .filter(b__gt=F("a"))
        .values("a", "b")
    )
    total = merged_spans(total_spans, None).get(0, (0.0, 0))[0]
    links = Incident.services.through.objects.filter(incident__in=overlapping.order_by().values("pk"))
    if filters.services:
        links = links.filter(service__slug__in=filters.services)
    service_spans = (
        links.annotate(
            a=Greatest("incident__started_at", start),
            b=Least(Coalesce("incident__mitigated_at", "incident__resolved_at", end), end),
        )
        .filter(b__gt=F("a"))
        .values("service_id", "a", "b")
    )
    per_service = merged_spans(service_spans, "service_id")
    counts = dict(links.values_list("service_id").annotate(n=Count("pk")))
    seconds = period.seconds
    # A service retired since still shows the downtime it had in the period.
    services = Service.objects.filter(Q(pk__in=filters.services_in_scope().values("pk")) | Q(pk__in=list(per_service)))
    availability = [
        ServiceAvailability(
            slug=service.slug,
            name=service.name,
            incidents=counts.get(service.pk, 0),
            downtime_seconds=round(per_service.get(service.pk, (0.0, 0))[0], 3),
            availability_percent=round(100.0 * (1 - per_service.get(service.pk, (0.0, 0))[0] / seconds), 4),
        )
        for service in services
    ]
    availability.sort(key=lambda s: (s.availability_percent, s.slug))
    return round(total, 3), availability


def _sla(cohort: QuerySet[Incident]) -> list[SlaOutcome]:
    rows = (
        SlaClock.objects.filter(incident__in=cohort.order_by().values("pk"))
        .values("priority", "kind")
        .annotate(
            breached=Count("pk", filter=Q(breached_at__isnull=False)),
            met=Count("pk", filter=Q(breached_at__isnull=True, met_at__isnull=False)),
            running=Count("pk", filter=Q(breached_at__isnull=True, met_at__isnull=True)),
        )
    )
    found = {(row["priority"], row["kind"]): row for row in rows}
    outcomes = []
    for kind in ClockKind.values:
        for priority in Priority.values:
            row = found.get((priority, kind), {"met": 0, "breached": 0, "running": 0})
            outcomes.append(SlaOutcome(priority, kind, row["met"], row["breached"], row["running"]))
    return outcomes


def _breaches(cohort: QuerySet[Incident]) -> tuple[int, list[SlaBreach]]:
    clocks = SlaClock.objects.filter(incident__in=cohort.order_by().values("pk"), breached_at__isnull=False)
    count = clocks.count()
    listed = clocks.order_by("breached_at", "pk").values(
        "incident_id", "incident__title", "priority", "kind", "due_at", "breached_at"
    )[:BREACHES_LISTED]
    return count, [
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


def _action_items(cohort: QuerySet[Incident], period: Period) -> tuple[int, int]:
    today = timezone.localtime(timezone.now(), period.zone).date()
    found = ActionItem.objects.filter(
        incident__in=cohort.order_by().values("pk"), status__in=ACTION_ITEM_PENDING
    ).aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(due_date__lt=today)))
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
