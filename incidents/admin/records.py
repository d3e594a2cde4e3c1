"""The admins of the records around incidents: services, timeline, attachments."""

from typing import Any

from django.contrib import admin
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incidents.admin.common import (
    INTERNAL_NOTE_PERMISSION,
    IncidentNumberSearchMixin,
    ReadOnlyAdmin,
    attachment_link,
    attachment_size,
    incident_link,
)
from incidents.choices import OPEN_STATES, Visibility
from incidents.models import Attachment, Incident, Service, TimelineEntry


@admin.register(Service)
class ServiceAdmin(SimpleHistoryAdmin):
    list_display = ("name", "slug", "owner_team", "criticality", "customer_facing", "is_active", "open_incidents")
    list_filter = ("criticality", "customer_facing", "is_active", "owner_team")
    list_select_related = ("owner_team",)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("owner_team",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "owner_team")}),
        (_("Classification"), {"fields": ("criticality", "customer_facing", "is_active")}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Service]:
        queryset: QuerySet[Service] = super().get_queryset(request)
        return queryset.annotate(open_incident_total=Count("incidents", filter=Q(incidents__state__in=OPEN_STATES)))

    @admin.display(description=_("open incidents"), ordering="open_incident_total")
    def open_incidents(self, obj: Service) -> int:
        return int(getattr(obj, "open_incident_total", 0))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Service], search_term: str
    ) -> tuple[QuerySet[Service], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # New links from incidents go to services still in use.
        match = request.resolver_match
        if match is not None and match.url_name == "autocomplete":
            results = results.filter(is_active=True)
        return results, may_have_duplicates

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, list[Any]]:
        # Deleting a service would silently drop it from incidents (no timeline,
        # no history), so a service named by an incident is kept: deactivate it.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        linked = Incident.objects.filter(services__in=objs).distinct().order_by("pk")
        protected = [
            *protected,
            *(
                _("%(incident)s names this service; deactivate the service instead.") % {"incident": incident}
                for incident in linked[:50]
            ),
        ]
        return deleted, counts, perms_needed, protected


@admin.register(TimelineEntry)
class TimelineEntryAdmin(IncidentNumberSearchMixin, ReadOnlyAdmin):
    list_display = ("created_at", "incident_number", "kind", "visibility", "short_body", "actor")
    list_filter = ("kind", "visibility")
    list_select_related = ("incident", "actor")
    search_fields = ("body", "incident__title")
    search_help_text = _("Search by incident number (INC-12), incident title or text.")
    date_hierarchy = "created_at"
    fields = ("incident_number", "kind", "visibility", "body", "actor", "data", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[TimelineEntry]:
        queryset: QuerySet[TimelineEntry] = super().get_queryset(request)
        if not request.user.has_perm(INTERNAL_NOTE_PERMISSION):
            queryset = queryset.filter(visibility=Visibility.PUBLIC)
        return queryset

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: TimelineEntry) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("text"))
    def short_body(self, obj: TimelineEntry) -> str:
        return str(truncatechars(obj.body, 100))


@admin.register(Attachment)
class AttachmentAdmin(IncidentNumberSearchMixin, ReadOnlyAdmin):
    list_display = ("name", "incident_number", "file_size", "content_type", "uploaded_by", "created_at")
    list_filter = ("content_type",)
    list_select_related = ("incident", "uploaded_by")
    search_fields = ("name", "incident__title")
    search_help_text = _("Search by incident number (INC-12), incident title or file name.")
    date_hierarchy = "created_at"
    fields = ("incident_number", "file_link", "file_size", "content_type", "uploaded_by", "created_at")
    readonly_fields = fields

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: Attachment) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("file"))
    def file_link(self, obj: Attachment) -> str:
        return attachment_link(obj)

    @admin.display(description=_("size"), ordering="size")
    def file_size(self, obj: Attachment) -> str:
        return attachment_size(obj)
