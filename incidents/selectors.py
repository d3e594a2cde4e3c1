"""Read queries the API, the UI and the admin share."""

from django.db.models import Q, QuerySet

from incidents.models import Incident, TimelineEntry
from incidents.timeline import Actor


def incident_list() -> QuerySet[Incident]:
    """Incidents with everything a list row shows, in a fixed number of queries."""
    return Incident.objects.select_related(
        "reporter", "assignee", "commander", "team", "postmortem", "update_cadence"
    ).prefetch_related("services", "sla_clocks", "monitoring_periods")


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
