"""Which incidents a report covers: the period's, narrowed by service, team, priority and category.

The reports read the facts (`reports.models.IncidentFact` and `ServiceFact`);
the querysets here select the facts of a period's cohort and of the impact
that touched it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from escalation.models import Team
from incidents.models import Service
from reports.models import IncidentFact, ServiceFact
from reports.periods import Period
from reports.rollups import Window


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

    @cached_property
    def service_ids(self) -> list[int]:
        return list(Service.objects.filter(slug__in=self.services).values_list("pk", flat=True))

    @cached_property
    def team_ids(self) -> list[int]:
        return list(Team.objects.filter(slug__in=self.teams).values_list("pk", flat=True))

    def narrow(self, facts: QuerySet[Any], *, on_services: bool = False) -> QuerySet[Any]:
        """Narrow incident facts, or (`on_services`) service facts, to the filters."""
        if self.services:
            if on_services:
                facts = facts.filter(service_id__in=self.service_ids)
            else:
                facts = facts.filter(
                    Exists(ServiceFact.objects.filter(incident=OuterRef("incident"), service_id__in=self.service_ids))
                )
        if self.teams:
            facts = facts.filter(team_id__in=self.team_ids)
        if self.priorities:
            facts = facts.filter(priority__in=self.priorities)
        if self.categories:
            facts = facts.filter(category__in=self.categories)
        return facts

    def services_in_scope(self) -> QuerySet[Service]:
        """The services whose availability the report shows."""
        services = Service.objects.all()
        if self.services:
            return services.filter(slug__in=self.services)
        if self.teams:
            services = services.filter(owner_team__slug__in=self.teams)
        return services.filter(is_active=True)


def reported_in(period: Period | Window, filters: ReportFilters, *, on_services: bool = False) -> QuerySet[Any]:
    """The period's cohort: incidents reported in it, cancelled ones (false alarms, duplicates) left out.

    Counts, response times, SLA compliance and reopen rates are all about this cohort,
    so a period's figures do not change when later work touches older incidents.
    """
    model = ServiceFact if on_services else IncidentFact
    facts = model.objects.filter(
        created_at__gte=period.starts_at, created_at__lt=period.ends_at, cancelled=False
    ).order_by()
    return filters.narrow(facts, on_services=on_services)


def impact_or_reported(period: Period | Window, filters: ReportFilters, end: int) -> QuerySet[ServiceFact]:
    """Service facts whose impact overlaps the period, or that were reported in it.

    `end` is the period's end in seconds since 1970, or now if that is sooner.
    Availability reads the first, the incident count per service the second:
    one pass over the service facts answers both.
    """
    impact = Q(started__lt=end) & (Q(restored__gt=int(period.starts_at.timestamp())) | Q(restored__isnull=True))
    reported = Q(created_at__gte=period.starts_at, created_at__lt=period.ends_at)
    facts = ServiceFact.objects.filter(impact | reported, cancelled=False).order_by()
    return filters.narrow(facts, on_services=True)
