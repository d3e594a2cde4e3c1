"""Business calendars: the working hours and holidays the business-hours SLA clocks run on."""

import datetime as dt
from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from escalation.admin.common import TimeZonePickerMixin, change_link
from escalation.models import BusinessCalendar, Holiday, Weekday, WorkingPeriod


class WorkingPeriodFormSet(BaseInlineFormSet):
    """Periods of the same weekday may not overlap (each minute would count twice)."""

    def clean(self) -> None:
        super().clean()
        periods: list[tuple[int, dt.time, dt.time]] = []
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE"):
                continue
            weekday, starts, ends = data.get("weekday"), data.get("starts"), data.get("ends")
            if weekday is None or starts is None or ends is None:
                continue
            periods.append((int(weekday), starts, ends))
        periods.sort()
        for (day, _starts, ends), (next_day, next_starts, _next_ends) in zip(periods, periods[1:], strict=False):
            if day == next_day and next_starts < ends:
                raise ValidationError(
                    _(
                        "Two working periods on %(weekday)s overlap (one ends at %(ends)s, the next starts at %(starts)s)."
                    ),
                    params={"weekday": Weekday(day).label, "ends": f"{ends:%H:%M}", "starts": f"{next_starts:%H:%M}"},
                )


class WorkingPeriodInline(admin.TabularInline):
    model = WorkingPeriod
    formset = WorkingPeriodFormSet
    fields = ("weekday", "starts", "ends")
    extra = 0


class HolidayInline(admin.TabularInline):
    model = Holiday
    fields = ("date", "name")
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(TimeZonePickerMixin, SimpleHistoryAdmin):
    list_display = ("name", "time_zone", "working_period_count", "holiday_count", "next_holiday")
    search_fields = ("name", "time_zone")
    list_filter = ("time_zone",)
    readonly_fields = ("used_by",)
    fieldsets = (
        (None, {"fields": ("name", "time_zone")}),
        (_("Used by"), {"fields": ("used_by",)}),
    )
    inlines = (WorkingPeriodInline, HolidayInline)

    def get_fieldsets(self, request: HttpRequest, obj: BusinessCalendar | None = None) -> Any:
        return self.fieldsets if obj is not None else ((None, {"fields": ("name", "time_zone")}),)

    def get_queryset(self, request: HttpRequest) -> QuerySet[BusinessCalendar]:
        queryset: QuerySet[BusinessCalendar] = super().get_queryset(request)
        return queryset.annotate(
            working_period_total=Count("working_periods", distinct=True),
            holiday_total=Count("holidays", distinct=True),
            next_holiday_date=Subquery(
                Holiday.objects.filter(calendar=OuterRef("pk"), date__gte=timezone.localdate())
                .order_by("date")
                .values("date")[:1]
            ),
        )

    @admin.display(description=_("working periods"), ordering="working_period_total")
    def working_period_count(self, obj: BusinessCalendar) -> int:
        return int(getattr(obj, "working_period_total", 0))

    @admin.display(description=_("holidays"), ordering="holiday_total")
    def holiday_count(self, obj: BusinessCalendar) -> int:
        return int(getattr(obj, "holiday_total", 0))

    @admin.display(description=_("next holiday"), ordering="next_holiday_date")
    def next_holiday(self, obj: BusinessCalendar) -> str:
        day = getattr(obj, "next_holiday_date", None)
        return date_format(day) if day else "—"

    @admin.display(description=_("SLA policies on this calendar"))
    def used_by(self, obj: BusinessCalendar) -> str:
        policies = list(obj.sla_policies.order_by("priority"))
        if not policies:
            return str(_("No SLA policy uses this calendar: its clocks run 24×7 until one does."))
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((change_link(p),) for p in policies)))
