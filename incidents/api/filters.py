import django_filters
from django.db.models import QuerySet

from incidents.choices import Priority, State
from incidents.models import Incident
from incidents.selectors import search_incidents


class IncidentFilter(django_filters.FilterSet):
    # No DISTINCT: these filter the incident's own columns, so no row can repeat.
    state = django_filters.MultipleChoiceFilter(choices=State.choices, distinct=False)
    priority = django_filters.MultipleChoiceFilter(choices=Priority.choices, distinct=False)
    service = django_filters.CharFilter(field_name="services__slug", distinct=False, method="filter_service")
    team = django_filters.CharFilter(field_name="team__slug")
    assignee = django_filters.CharFilter(method="filter_assignee", help_text="A username, or 'none' for unassigned.")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    q = django_filters.CharFilter(
        method="filter_text", help_text="An incident number or words of the title or description."
    )

    class Meta:
        model = Incident
        fields = ["state", "priority", "service", "team", "assignee", "created_after", "created_before", "q"]

    def filter_service(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        # A subquery rather than a join keeps one row per incident without DISTINCT.
        return queryset.filter(
            pk__in=Incident.services.through.objects.filter(service__slug=value).values("incident_id")
        )

    def filter_assignee(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        if value.lower() == "none":
            return queryset.filter(assignee__isnull=True)
        return queryset.filter(assignee__username=value)

    def filter_text(self, queryset: QuerySet[Incident], name: str, value: str) -> QuerySet[Incident]:
        return search_incidents(queryset, value)
