"""The per-incident management report as a page (its PDF is under the API)."""

from django.urls import path

from reports.exports import pages

app_name = "exports"

urlpatterns = [
    path("incidents/<str:number>/report/", pages.incident_report_page, name="incident-report"),
]
