"""Timers and their firings, read-only: the timer engine writes them, the back office looks."""

import datetime as dt
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from escalation.admin.common import IncidentRecordAdmin, change_link
from escalation.models import Timer, TimerFiring
from incidents.admin.common import ReadOnlyInline


class TimerStateFilter(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("pending", _("Pending")), ("fired", _("Fired")), ("cancelled", _("Cancelled"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        match self.value():
            case "pending":
                return queryset.filter(fired_at__isnull=True, cancelled_at__isnull=True)
            case "fired":
                return queryset.filter(fired_at__isnull=False)
            case "cancelled":
                return queryset.filter(cancelled_at__isnull=False)
        return queryset


def timer_state(timer: Timer) -> str:
    if timer.fired_at is not None:
        return str(_("fired"))
    if timer.cancelled_at is not None:
        return str(_("cancelled"))
    return str(_("pending"))


class TimerFiringInline(ReadOnlyInline):
    model = TimerFiring
    fields = ("purpose", "clock", "level", "due_at", "fired_at")
    readonly_fields = fields


@admin.register(Timer)
class TimerAdmin(IncidentRecordAdmin):
    list_display = ("incident_number", "purpose", "clock", "level", "due_at", "version", "state", "fired_at")
    list_filter = ("purpose", TimerStateFilter)
    search_fields = ("clock", "incident__title")
    search_help_text = _("Search by incident number (INC-12), clock (e.g. “acknowledge”) or incident title.")
    date_hierarchy = "due_at"
    fields = (
        "incident_number",
        "purpose",
        "clock",
        "level",
        "due_at",
        "version",
        "state",
        "fired_at",
        "cancelled_at",
        "created_at",
    )
    readonly_fields = fields
    inlines = (TimerFiringInline,)

    @admin.display(description=_("state"))
    def state(self, obj: Timer) -> str:
        return timer_state(obj)


@admin.register(TimerFiring)
class TimerFiringAdmin(IncidentRecordAdmin):
    list_display = ("incident_number", "purpose", "clock", "level", "due_at", "fired_at", "lateness")
    list_filter = ("purpose",)
    search_fields = ("clock",)
    search_help_text = _("Search by incident number (INC-12) or clock (e.g. “acknowledge”).")
    date_hierarchy = "fired_at"
    fields = ("incident_number", "timer_link", "purpose", "clock", "level", "due_at", "fired_at", "lateness")
    readonly_fields = fields

    @admin.display(description=_("timer"))
    def timer_link(self, obj: TimerFiring) -> str:
        return change_link(obj.timer)

    @admin.display(description=_("late by"))
    def lateness(self, obj: TimerFiring) -> str:
        seconds = round((obj.fired_at - obj.due_at).total_seconds())
        return str(dt.timedelta(seconds=seconds)) if seconds > 0 else "—"
