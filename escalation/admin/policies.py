"""Escalation policies and their levels (configured here), and escalations of incidents (read-only)."""

import json
from typing import Any

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

from escalation.admin.common import IncidentRecordAdmin, PermittedAutocompleteMixin, change_link, service_links
from escalation.models import EscalationLevel, EscalationPolicy, EscalationRun, Notification
from incidents.admin.common import ReadOnlyInline
from incidents.models import Service


class EscalationLevelInline(PermittedAutocompleteMixin, admin.TabularInline):
    model = EscalationLevel
    fields = ("position", "escalate_after", "users", "oncall_teams", "manager_teams")
    ordering = ("position",)
    autocomplete_fields = ("users", "oncall_teams", "manager_teams")
    # For those who may edit policies but not browse users or teams.
    filter_horizontal = ("users", "oncall_teams", "manager_teams")
    extra = 0


@admin.register(EscalationPolicy)
class EscalationPolicyAdmin(SimpleHistoryAdmin):
    list_display = ("name", "is_default", "repeat_count", "level_count", "service_count")
    list_filter = ("is_default",)
    search_fields = ("name", "description")
    readonly_fields = ("used_by",)
    fieldsets = (
        (None, {"fields": ("name", "description", "repeat_count", "is_default")}),
        (_("Services"), {"fields": ("used_by",)}),
    )
    inlines = (EscalationLevelInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[EscalationPolicy]:
        queryset: QuerySet[EscalationPolicy] = super().get_queryset(request)
        return queryset.annotate(
            level_total=Count("levels", distinct=True), service_total=Count("services", distinct=True)
        )

    @admin.display(description=_("levels"), ordering="level_total")
    def level_count(self, obj: EscalationPolicy) -> int:
        return int(getattr(obj, "level_total", 0))

    @admin.display(description=_("services"), ordering="service_total")
    def service_count(self, obj: EscalationPolicy) -> int:
        return int(getattr(obj, "service_total", 0))

    @admin.display(description=_("services using this policy"))
    def used_by(self, obj: EscalationPolicy) -> str:
        if obj.pk is None:
            return "—"
        named = list(obj.services.order_by("name").only("pk", "name", "is_active"))
        if not named and not obj.is_default:
            return str(_("No service uses this policy yet; set it on a service, or make it the default."))
        note = ""
        if obj.is_default:
            unnamed = Service.objects.filter(escalation_policy__isnull=True).count()
            note = format_html(
                "<p>{}</p>",
                ngettext(
                    "As the default policy, it also escalates for the %(count)d service that names no policy.",
                    "As the default policy, it also escalates for the %(count)d services that name no policy.",
                    unnamed,
                )
                % {"count": unnamed},
            )
        return format_html("{}{}", service_links(named) if named else "", note)


class RunNotificationInline(ReadOnlyInline):
    model = Notification
    fields = ("link", "user", "channel", "address", "level", "status", "attempts", "sent_at")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Notification]:
        queryset: QuerySet[Notification] = super().get_queryset(request)
        return queryset.select_related("user")

    @admin.display(description=_("notification"))
    def link(self, obj: Notification) -> str:
        return change_link(obj)


class ActiveRunFilter(admin.SimpleListFilter):
    title = _("active")
    parameter_name = "active"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Running")), ("no", _("Stopped"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(stopped_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(stopped_at__isnull=False)
        return queryset


@admin.register(EscalationRun)
class EscalationRunAdmin(IncidentRecordAdmin):
    list_display = ("incident_number", "trigger", "trigger_detail", "policy", "started_at", "stopped_at", "stop_reason")
    list_filter = ("trigger", ActiveRunFilter, "policy")
    list_select_related = ("policy",)
    search_fields = ("policy__name", "stop_reason", "trigger_detail")
    search_help_text = _("Search by incident number (INC-12), policy name or why it stopped.")
    date_hierarchy = "started_at"
    fields = (
        "incident_number",
        "trigger",
        "trigger_detail",
        "policy_link",
        "started_at",
        "stopped_at",
        "stop_reason",
        "policy_snapshot",
    )
    readonly_fields = fields
    inlines = (RunNotificationInline,)

    @admin.display(description=_("policy"))
    def policy_link(self, obj: EscalationRun) -> str:
        return change_link(obj.policy)

    @admin.display(description=_("policy snapshot"))
    def policy_snapshot(self, obj: EscalationRun) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.snapshot, indent=2, ensure_ascii=False, default=str))
