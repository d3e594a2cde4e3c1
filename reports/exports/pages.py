"""The per-incident management report as a page: printable, with its PDF a click away."""

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from reports.api.permissions import VIEW_REPORTS
from reports.exports.incident_report import incident_report
from reports.exports.views import incident_by_number
from reports.formatting import duration


@login_required
@permission_required(VIEW_REPORTS, raise_exception=True)
def incident_report_page(request: HttpRequest, number: str) -> HttpResponse:
    """The seeds' step 10 for one incident: impact, highlights, root cause, SLA outcome, recommendations."""
    report = incident_report(incident_by_number(number))
    return render(
        request,
        "reports/incident_report.html",
        {
            "report": report,
            "incident": report.incident,
            "zone": timezone.get_current_timezone_name(),
            "downtime": duration(report.downtime_seconds),
            "to_acknowledge": duration(report.time_to_acknowledge),
            "to_resolve": duration(report.time_to_resolve),
        },
    )
