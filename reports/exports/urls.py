"""The exports under /api/v1/: the incident list, the period report, one incident's report."""

from django.urls import path

from reports.exports import views

urlpatterns = [
    path("reports/incidents/csv/", views.IncidentCsvView.as_view(), name="reports-incidents-csv"),
    path("reports/incidents/xlsx/", views.IncidentXlsxView.as_view(), name="reports-incidents-xlsx"),
    path("reports/summary/xlsx/", views.PeriodXlsxView.as_view(), name="reports-summary-xlsx"),
    path("reports/summary/pdf/", views.PeriodPdfView.as_view(), name="reports-summary-pdf"),
    path("incidents/<str:number>/report/pdf/", views.IncidentReportPdfView.as_view(), name="incident-report-pdf"),
]
