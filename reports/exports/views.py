"""The export URLs: DRF views that answer with a file, for the dashboard (session) and scripts (token) alike.

Errors stay JSON (400 with a message per field, 401/403, 404) whatever the
client accepts: the file is the only success, so content negotiation never
refuses a request with a 406 (`_AnyAccept`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from django.conf import settings
from django.db.models import QuerySet
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from incidents.api.filters import IncidentFilter
from incidents.api.views import CanViewIncidents, IncidentViewSet
from incidents.models import Incident
from reports.api.params import REPORT_PARAMETERS, report_query
from reports.api.permissions import CanViewReports
from reports.exports import incident_list
from reports.exports.incident_pdf import incident_pdf
from reports.exports.incident_report import incident_report
from reports.exports.period_pdf import period_pdf
from reports.exports.period_xlsx import period_xlsx
from reports.metrics import Summary, summarize

Response = TypeVar("Response", HttpResponse, StreamingHttpResponse)

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_TYPE = "application/pdf"


def profile_preferences(user: Any) -> list[AbstractContextManager[Any]]:
    """The user's own language and time zone, to enter for a request a token authenticated.

    The middleware that does this for pages runs before DRF knows who a token
    belongs to, so a script would otherwise get the server's defaults.
    """
    profile = getattr(user, "responder_profile", None)
    if profile is None:
        return []
    preferences: list[AbstractContextManager[Any]] = []
    language = getattr(profile, "language", "")
    if language and language in dict(settings.LANGUAGES):
        preferences.append(translation.override(language))
    with contextlib.suppress(zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        preferences.append(timezone.override(zoneinfo.ZoneInfo(profile.time_zone)))
    return preferences


def attachment(response: Response, filename: str) -> Response:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


class _AnyAccept(BaseContentNegotiation):
    """A file or a JSON error, whatever the `Accept` header asks for."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        return renderers[0], renderers[0].media_type


class FileExportView(APIView):
    """A view whose success is a file: errors in JSON, the token user's language and time zone."""

    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AnyAccept

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # The user's preferences last as long as the request, not into the next one on this thread.
        with contextlib.ExitStack() as self.preferences:
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.auth is not None:
            for preference in profile_preferences(request.user):
                self.preferences.enter_context(preference)


def _stamp() -> str:
    return timezone.now().astimezone(dt.UTC).strftime("%Y%m%d-%H%M%S")


# --- The incident list --------------------------------------------------------------------


class _IncidentListExport(FileExportView, GenericAPIView):
    """The incidents `GET /api/v1/incidents/` would list, with the same filters and ordering."""

    permission_classes = [IsAuthenticated, CanViewIncidents]
    filter_backends = [DjangoFilterBackend, OrderingFilter]
    filterset_class = IncidentFilter
    ordering_fields = IncidentViewSet.ordering_fields
    ordering = ["-created_at"]
    pagination_class = None

    def get_queryset(self) -> QuerySet[Incident]:
        return Incident.objects.all()

    def incidents(self) -> QuerySet[Incident]:
        incidents = self.filter_queryset(self.get_queryset())
        # The id breaks ties, so the file's order is the same each time it is made.
        return incidents.order_by(*incidents.query.order_by, "-pk")


class IncidentCsvView(_IncidentListExport):
    @extend_schema(
        operation_id="reports_incidents_csv",
        filters=True,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The incidents as CSV.")},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        """The incident list as CSV (UTC times), streamed: any number of incidents in constant memory."""
        response = StreamingHttpResponse(incident_list.csv_pieces(self.incidents()), content_type=CSV_TYPE)
        # A proxy that buffers (nginx does by default) would hold the whole file before sending any.
        response["X-Accel-Buffering"] = "no"
        return attachment(response, f"incidents-{_stamp()}.csv")


class IncidentXlsxView(_IncidentListExport):
    @extend_schema(
        operation_id="reports_incidents_xlsx",
        filters=True,
        responses={
            (200, XLSX_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="The incidents as a workbook."),
        },
    )
    def get(self, request: Request) -> HttpResponse:
        """The incident list as an Excel workbook (UTC times); past Excel's row limit, use the CSV."""
        incidents = self.incidents()
        count = incidents.count()
        if count > incident_list.XLSX_MAX_ROWS:
            raise ValidationError(
                {
                    "detail": [
                        _(
                            "%(count)d incidents are more than a spreadsheet holds (%(limit)d rows): "
                            "narrow the filters or download the CSV at %(url)s."
                        )
                        % {
                            "count": count,
                            "limit": incident_list.XLSX_MAX_ROWS,
                            # The same filters and ordering, as CSV.
                            "url": request.get_full_path().replace("/xlsx/", "/csv/", 1),
                        }
                    ]
                }
            )
        response = HttpResponse(incident_list.xlsx_bytes(incidents), content_type=XLSX_TYPE)
        return attachment(response, f"incidents-{_stamp()}.xlsx")


# --- The period report --------------------------------------------------------------------


def _summary_and_filename(request: Request, suffix: str) -> tuple[Summary, str]:
    period, filters = report_query(request)
    summary = summarize(period, filters, compare=True)
    return summary, f"incident-report-{period.start:%Y%m%d}-{period.end:%Y%m%d}.{suffix}"


class PeriodXlsxView(FileExportView):
    permission_classes = [IsAuthenticated, CanViewReports]

    @extend_schema(
        operation_id="reports_summary_xlsx",
        parameters=REPORT_PARAMETERS,
        responses={(200, XLSX_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="A sheet per table.")},
    )
    def get(self, request: Request) -> HttpResponse:
        """The period report as a workbook: a sheet per table, the previous period beside the headline."""
        summary, filename = _summary_and_filename(request, "xlsx")
        return attachment(HttpResponse(period_xlsx(summary), content_type=XLSX_TYPE), filename)


class PeriodPdfView(FileExportView):
    permission_classes = [IsAuthenticated, CanViewReports]

    @extend_schema(
        operation_id="reports_summary_pdf",
        parameters=REPORT_PARAMETERS,
        responses={(200, PDF_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="Charts and tables.")},
    )
    def get(self, request: Request) -> HttpResponse:
        """The period report as a PDF in the reader's language: headline figures, charts and tables."""
        summary, filename = _summary_and_filename(request, "pdf")
        return attachment(HttpResponse(period_pdf(summary), content_type=PDF_TYPE), filename)


# --- One incident's management report -----------------------------------------------------


def incident_by_number(number: str) -> Incident:
    pk = Incident.pk_from_number(number)
    incident = Incident.objects.filter(pk=pk).first() if pk else None
    if incident is None:
        raise Http404
    return incident


class IncidentReportPdfView(FileExportView):
    permission_classes = [IsAuthenticated, CanViewReports]

    @extend_schema(
        operation_id="incidents_report_pdf",
        responses={(200, PDF_TYPE): OpenApiResponse(OpenApiTypes.BINARY, description="The management report.")},
    )
    def get(self, request: Request, number: str) -> HttpResponse:
        """One incident's report for management: impact, highlights, root cause, SLA, recommendations."""
        report = incident_report(incident_by_number(number))
        response = HttpResponse(incident_pdf(report), content_type=PDF_TYPE)
        return attachment(response, f"{report.incident.number}-report.pdf")
