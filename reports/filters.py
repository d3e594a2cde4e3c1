"""Which incidents a report covers: the period's, narrowed by service, team, priority and category."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from incidents.choices import State
from incidents.models import Incident, Service
from reports.periods import Period


@dataclass(frozen=True)
class ReportFilters:
    """Each list narrows the report to its values; an empty list does not narrow."""

    services: tuple[str, ...] = field(default=())  # slugs
    teams: tuple[str, ...] = field(default=())  # slugs
    priorities: tuple[str, ...] = field(default=())
    categories: tuple[str, ...] = field(default=())

    @classmethod
    def of(
        cls,
        *,
        services: Iterable[str] = (),
        teams: Iterable[str] = (),
        priorities: Iterable[str] = (),
        categories: Iterable[str] = (),
    ) -> ReportFilters:
        return cls(
            services=tuple(sorted(set(services))),
            teams=tuple(sorted(set(teams))),
            priorities=tuple(sorted(set(priorities))),
            categories=tuple(sorted(set(categories))),
        )

    def __bool__(self) -> bool:
        return bool(self.services or self.teams or self.priorities or self.categories)

    def as_query(self) -> dict[str, list[str]]:
        """The filters as the query parameters the API and pages take."""
        query = {
            "service": list(self.services),
            "team": list(self.teams),
            "priority": list(self.priorities),
            "category": list(self.categories),
        }
        return {name: values for name, values in query.items() if values}

    def narrow(self, incidents: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.services:
            # A subquery rather than a join keeps one row per incident without DISTINCT.
            incidents = incidents.filter(
                pk__in=Incident.services.through.objects.filter(service__slug__in=self.services).values("incident_id")
            )
        if self.teams:
            incidents = incidents.filter(team__slug__in=self.teams)
        if self.priorities:
            incidents = incidents.filter(priority__in=self.priorities)
        if self.categories:
            incidents = incidents.filter(category__in=self.categories)
        return incidents

    def services_in_scope(self) -> QuerySet[Service]:
        """The services whose availability the report shows."""
        services = Service.objects.all()
        if self.services:
            return services.filter(slug__in=self.services)
        if self.teams:
            services = services.filter(owner_team__slug__in=self.teams)
        return services.filter(is_active=True)


def reported_in(period: Period, filters: ReportFilters) -> QuerySet[Incident]:
    """The period's cohort: incidents reported in it, cancelled ones (false alarms, duplicates) left out.

    Counts, response times, SLA compliance and reopen rates are all about this cohort,
    so a period's figures do not change when later work touches older incidents.
    """
    incidents = Incident.objects.filter(created_at__gte=period.starts_at, created_at__lt=period.ends_at).exclude(
        state=State.CANCELLED
    )
    return filters.narrow(incidents)


def impact_overlapping(period: Period, filters: ReportFilters) -> QuerySet[Incident]:
    """Incidents whose impact (started_at until mitigation) overlaps the period, whenever reported."""
    incidents = (
        Incident.objects.filter(started_at__lt=period.ends_at)
        .filter(
            Q(mitigated_at__gt=period.starts_at)
            | Q(mitigated_at__isnull=True, resolved_at__gt=period.starts_at)
            | Q(mitigated_at__isnull=True, resolved_at__isnull=True)
        )
        .exclude(state=State.CANCELLED)
    )
    return filters.narrow(incidents)
