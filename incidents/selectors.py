"""Read queries the API, the UI and the admin share."""

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from incidents.choices import OPEN_TASK_STATUSES
from incidents.models import Incident, InvestigationTask, ResponseRole, TimelineEntry
from incidents.timeline import Actor


def incident_list() -> QuerySet[Incident]:
    """Incidents with everything a list row shows, in a fixed number of queries.

    The post-mortem and the update cadence are prefetched rather than joined: each join
    more multiplies the plans PostgreSQL weighs, and with six of them planning the page
    took longer (20–25 ms at a million incidents) than running it.
    """
    return (
        Incident.objects.select_related("reporter", "assignee", "commander", "team")
        .prefetch_related("services", "sla_clocks", "monitoring_periods", "postmortem", "update_cadence")
        .annotate(open_tasks=open_task_count())
    )


def open_task_count() -> Coalesce:
    """The number of open or in-progress investigation tasks of each incident, as an annotation.

    A correlated subquery rather than a join with GROUP BY: the database counts
    only for the rows a page returns, from the (incident, status) index.
    """
    counted = (
        InvestigationTask.objects.filter(incident=OuterRef("pk"), status__in=OPEN_TASK_STATUSES)
        .order_by()
        .values("incident")
        .annotate(total=Count("pk"))
        .values("total")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def search_incidents(queryset: QuerySet[Incident], text: str) -> QuerySet[Incident]:
    """Free-text search: an incident number, or words in the title or description."""
    text = text.strip()
    if not text:
        return queryset
    pk = Incident.pk_from_number(text)
    condition = Q(title__icontains=text) | Q(description__icontains=text)
    if pk is not None:
        condition |= Q(pk=pk)
    return queryset.filter(condition)


def timeline_for(*, incident: Incident, viewer: Actor) -> QuerySet[TimelineEntry]:
    """The incident's timeline, oldest first; internal entries only for responders."""
    entries = incident.timeline.select_related("actor").order_by("created_at", "id")
    if not viewer.has_perm("incidents.add_internal_note"):
        entries = entries.filter(visibility="public")
    return entries


def response_team(*, incident: Incident, include_ended: bool = False) -> QuerySet[ResponseRole]:
    """The incident's response team in the order people joined; ended roles too if asked."""
    roles = ResponseRole.objects.filter(incident=incident).select_related("user", "added_by", "ended_by")
    if not include_ended:
        roles = roles.filter(ended_at__isnull=True)
    return roles.order_by("added_at", "id")
