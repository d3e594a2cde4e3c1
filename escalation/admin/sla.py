"""SLA policies (configured here) and the SLA clocks of incidents (read-only: the SLA engine writes them)."""

from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from escalation.admin.common import IncidentRecordAdmin
from escalation.models import SlaClock, SlaPolicy


@admin.register(SlaPolicy)
class SlaPolicyAdmin(SimpleHistoryAdmin):
    list_display = (
        "priority",
        "acknowledge_within",
        "resolve_within",
        "calendar",
        "warning_percent",
        "monitoring_period",
        "update_every",
    )
    list_filter = ("calendar",)
    list_select_related = ("calendar",)
    search_fields = ("priority", "calendar__name")
    fieldsets = (
        (None, {"fields": ("priority",)}),
        (
            _("Targets"),
            {
                "fields": ("acknowledge_within", "resolve_within", "warning_percent"),
                "description": _("Durations as [DD] [HH:[MM:]]ss, e.g. “00:15:00” or “1 00:00:00”."),
            },
        ),
        (_("Business hours"), {"fields": ("calendar",)}),
        (
            _("Verification and stakeholder updates"),
            {
                "fields": ("monitoring_period", "update_every"),
                "description": _(
                    "How long a mitigated incident is watched before it is ready to resolve, and how often a "
                    "status update is due while it is open. A change applies to periods and reminders set from "
                    "now on."
                ),
            },
        ),
    )


CLOCK_STATES: dict[str, tuple[Any, Q]] = {
    "running": (_("Running"), Q(stopped_at__isnull=True, running_since__isnull=False)),
    "paused": (_("Paused"), Q(stopped_at__isnull=True, running_since__isnull=True)),
    "breached": (_("Breached"), Q(breached_at__isnull=False)),
    "met": (_("Met"), Q(met_at__isnull=False)),
    "stopped": (_("Stopped"), Q(stopped_at__isnull=False)),
}


class ClockStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [(key, label) for key, (label, _condition) in CLOCK_STATES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        state = CLOCK_STATES.get(self.value() or "")
        return queryset.filter(state[1]) if state else queryset


def clock_state(clock: SlaClock) -> str:
    if clock.met_at is not None:
        return str(_("met"))
    if clock.breached_at is not None:
        return str(_("breached"))
    if clock.stopped_at is not None:
        return str(_("stopped"))
    if clock.running_since is not None:
        return str(_("running"))
    return str(_("paused"))


@admin.register(SlaClock)
class SlaClockAdmin(IncidentRecordAdmin):
    list_display = (
        "incident_number",
        "kind",
        "priority",
        "target",
        "state",
        "started_at",
        "due_at",
        "warned_at",
        "breached_at",
        "met_at",
    )
    list_filter = ("kind", "priority", ClockStateFilter)
    search_fields = ("incident__title",)
    search_help_text = _("Search by incident number (INC-12) or incident title.")
    date_hierarchy = "started_at"
    fields = (
        "incident_number",
        "kind",
        "priority",
        "target",
        "calendar",
        "warning_percent",
        "state",
        "started_at",
        "consumed",
        "running_since",
        "paused_at",
        "warn_at",
        "warned_at",
        "due_at",
        "breached_at",
        "met_at",
        "stopped_at",
    )
    readonly_fields = fields

    @admin.display(description=_("state"))
    def state(self, obj: SlaClock) -> str:
        return clock_state(obj)
