"""The admins of alert intake: integrations (keys shown once), alerts and the event log."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms import ModelForm
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incidents.admin.common import NoRevertHistoryMixin, ReadOnlyAdmin, ReadOnlyInline, incident_link
from incidents.choices import IntegrationKind
from incidents.intake.integrations import create_integration, rotate_key
from incidents.intake.processing import retry_failed_events
from incidents.models import Alert, AlertEvent, Integration

ENDPOINTS = {
    IntegrationKind.ALERTMANAGER: "/api/v1/integrations/alertmanager/",
    IntegrationKind.PAGERDUTY: "/api/v1/integrations/pagerduty/enqueue",
    IntegrationKind.GENERIC: "/api/v1/integrations/generic/",
}


def _show_key(request: HttpRequest, integration: Integration, key: str) -> None:
    messages.warning(
        request,
        format_html(
            "{}: <code>{}</code> — {}",
            integration.name,
            key,
            _("copy this key now; it is not stored and will not be shown again."),
        ),
    )


@admin.register(Integration)
class IntegrationAdmin(NoRevertHistoryMixin, SimpleHistoryAdmin):
    list_display = ("name", "service", "kind", "key_hint", "resolve_action", "rate_limit_per_minute", "is_active")
    list_filter = ("kind", "is_active", "resolve_action", "service")
    list_select_related = ("service",)
    search_fields = ("name", "service__name", "service__slug", "key_hint")
    autocomplete_fields = ("service",)
    readonly_fields = ("endpoint", "key_hint", "key_rotated_at", "created_by", "created_at")
    actions = ("rotate_keys",)
    fieldsets = (
        (None, {"fields": ("name", "service", "kind", "is_active")}),
        (_("Incidents it opens"), {"fields": ("severity_map", "category", "resolve_action")}),
        (_("Key and limits"), {"fields": ("endpoint", "key_hint", "key_rotated_at", "rate_limit_per_minute")}),
        (_("Record"), {"fields": ("created_by", "created_at"), "classes": ("collapse",)}),
    )

    @admin.display(description=_("endpoint"))
    def endpoint(self, obj: Integration) -> str:
        return ENDPOINTS.get(IntegrationKind(obj.kind), "") if obj.kind else ""

    def save_model(self, request: HttpRequest, obj: Integration, form: ModelForm, change: bool) -> None:
        if change:
            obj._history_user = request.user  # type: ignore[attr-defined]
            super().save_model(request, obj, form, change)
            return
        settings = {
            name: form.cleaned_data[name]
            for name in ("severity_map", "category", "resolve_action", "rate_limit_per_minute", "is_active")
        }
        created, key = create_integration(
            service=obj.service, kind=obj.kind, actor=request.user, name=obj.name, **settings
        )
        obj.pk = created.pk
        obj.key_hint = created.key_hint
        _show_key(request, created, key)

    @admin.action(description=_("Rotate the keys of the selected integrations (the old keys stop working now)"))
    def rotate_keys(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        try:
            for integration in queryset:
                _show_key(request, integration, rotate_key(integration=integration, actor=request.user))
        except PermissionDenied as refusal:
            messages.error(request, str(refusal))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


def _pretty(values: dict[str, Any]) -> str:
    if not values:
        return "—"
    rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", sorted(values.items()))
    return format_html("<table>{}</table>", rows)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("summary", "status", "severity", "incident_number", "integration", "event_count", "last_seen_at")
    list_filter = ("status", "severity", "integration")
    list_select_related = ("incident", "integration")
    search_fields = ("summary", "dedup_key", "source")
    date_hierarchy = "first_seen_at"
    fields = (
        "summary",
        "status",
        "severity",
        "source",
        "incident_number",
        "integration",
        "dedup_key",
        "generator",
        "label_table",
        "annotation_table",
        "details",
        "links",
        "fired_at",
        "first_seen_at",
        "last_seen_at",
        "resolved_at",
        "event_count",
    )
    readonly_fields = fields

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: Alert) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("generator URL"))
    def generator(self, obj: Alert) -> str:
        if not obj.generator_url.startswith(("http://", "https://")):
            return obj.generator_url or "—"
        return format_html('<a href="{}" rel="noopener noreferrer">{}</a>', obj.generator_url, obj.generator_url)

    @admin.display(description=_("labels"))
    def label_table(self, obj: Alert) -> str:
        return _pretty(obj.labels)

    @admin.display(description=_("annotations"))
    def annotation_table(self, obj: Alert) -> str:
        return _pretty(obj.annotations)


class AlertInline(ReadOnlyInline):
    """The incident's alerts, on its change page."""

    model = Alert
    fields = ("alert_link", "status", "severity", "event_count", "fired_at", "last_seen_at")
    readonly_fields = fields
    ordering = ("first_seen_at", "id")

    @admin.display(description=_("alert"))
    def alert_link(self, obj: Alert) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:incidents_alert_change", args=[obj.pk]), obj.summary)


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "integration", "action", "dedup_key", "outcome", "incident_number")
    list_filter = ("outcome", "action", "integration")
    list_select_related = ("integration", "incident")
    search_fields = ("dedup_key",)
    date_hierarchy = "received_at"
    fields = (
        "integration",
        "action",
        "dedup_key",
        "received_at",
        "processed_at",
        "outcome",
        "incident_number",
        "error",
        "payload",
    )
    readonly_fields = fields
    actions = ("process_again",)

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: AlertEvent) -> str:
        return incident_link(obj.incident) if obj.incident_id else "—"

    @admin.action(description=_("Process the selected failed events again"))
    def process_again(self, request: HttpRequest, queryset: QuerySet[AlertEvent]) -> None:
        try:
            count = retry_failed_events(events=queryset, actor=request.user)
        except PermissionDenied as refusal:
            messages.error(request, str(refusal))
            return
        messages.success(request, _("%(count)d event(s) will be processed again.") % {"count": count})

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Actions need the change right; the action itself checks the domain's permission.
        return bool(request.user.is_superuser)
