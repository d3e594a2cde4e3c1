"""Scheduled reports in the back office: who is subscribed to what, and what was sent."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incidents.admin.common import ReadOnlyAdmin
from reports.models import ReportDelivery, ReportSubscription


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(SimpleHistoryAdmin):
    list_display = ["user", "frequency", "filters", "is_active", "created_at"]
    list_filter = ["frequency", "is_active"]
    search_fields = ["user__username", "user__email", "filters"]
    autocomplete_fields = ["user"]
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["user", "frequency", "is_active", "created_at"]}),
        (
            _("Filters"),
            {
                "fields": ["filters"],
                "description": _(
                    "The dashboard's filters as a query string, e.g. service=checkout&priority=P1. Empty: everything."
                ),
            },
        ),
    ]


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["subscription", "period_start", "period_end", "status", "attempts", "sent_at"]
    list_filter = ["status", "subscription__frequency"]
    search_fields = ["subscription__user__username"]
    date_hierarchy = "period_start"
