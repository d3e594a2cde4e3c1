"""The reports dashboard: a period's metrics for managers, with charts and the numbers beside them."""

from __future__ import annotations

import zoneinfo
from typing import Any, cast
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from reports.metrics import Summary, summarize
from reports.models import ReportSubscription
from reports.params import parse_report_query
from reports.web.cards import headline_cards
from reports.web.figures import dashboard_figures, response_rows
from reports.web.forms import DashboardForm, dashboard_query, period_query
from reports.web.subscriptions import SubscribeForm, filters_of

REPORTS_PERMISSION = "reports.view_reports"

# The exports, built by the API (reports.api and the incident list's export).
SUMMARY_PDF = "/api/v1/reports/summary/pdf/"
SUMMARY_XLSX = "/api/v1/reports/summary/xlsx/"
INCIDENTS_CSV = "/api/v1/reports/incidents/csv/"


def _user_zone() -> zoneinfo.ZoneInfo:
    current = timezone.get_current_timezone()  # the user's, from UserTimeZoneMiddleware
    return current if isinstance(current, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo("UTC")


def _incident_list_query(summary: Summary) -> tuple[str, bool]:
    """The incident list's query for the period, and whether it could carry every filter.

    The list takes the API's incident filters: any number of priorities, but one
    service and one team at most, and no category.
    """
    filters = summary.filters
    query: dict[str, object] = {
        "created_after": summary.period.starts_at.isoformat(),
        "created_before": summary.period.ends_at.isoformat(),
        "priority": list(filters.priorities),
    }
    if len(filters.services) == 1:
        query["service"] = filters.services[0]
    if len(filters.teams) == 1:
        query["team"] = filters.teams[0]
    complete = len(filters.services) <= 1 and len(filters.teams) <= 1 and not filters.categories
    return urlencode(query, doseq=True), complete


def _export_links(summary: Summary) -> dict[str, object]:
    query = period_query(summary.period, summary.filters.as_query()).urlencode()
    incidents, complete = _incident_list_query(summary)
    return {
        "pdf": f"{SUMMARY_PDF}?{query}",
        "xlsx": f"{SUMMARY_XLSX}?{query}",
        "csv": f"{INCIDENTS_CSV}?{incidents}",
        "csv_complete": complete,
    }


@login_required
@permission_required(REPORTS_PERMISSION, raise_exception=True)
def dashboard(request: HttpRequest) -> HttpResponse:
    """The filter form, then the period's summary compared with the previous period.

    A query the parser refuses shows the form with an error beside each wrong field
    (still 200: it is a page to correct, not a failed request).
    """
    query = dashboard_query(request.GET, default_zone=_user_zone())
    form = DashboardForm(query)
    context: dict[str, Any] = {"form": form}
    if form.is_valid():
        try:
            period, filters = parse_report_query(query)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                for message in messages:
                    form.add_error(field if field in form.fields else None, message)
        else:
            summary = summarize(period, filters, compare=True)
            context.update(
                summary=summary,
                cards=headline_cards(summary),
                figures=dashboard_figures(summary),
                response_rows=response_rows(summary),
                exports=_export_links(summary),
            )
    context.update(
        subscribe_form=SubscribeForm(initial={"filters": filters_of(request.GET)}),
        subscriptions=ReportSubscription.objects.filter(user=cast(User, request.user)),
        here=request.get_full_path(),
    )
    return render(request, "reports/dashboard.html", context)
