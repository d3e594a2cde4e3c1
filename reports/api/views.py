from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.api.params import REPORT_PARAMETERS, report_query
from reports.api.permissions import CanViewReports
from reports.api.serializers import ComparedSummarySerializer
from reports.metrics import summarize


class SummaryView(APIView):
    """The period's metrics: counts, response times, downtime, SLA compliance, follow-ups."""

    permission_classes = [IsAuthenticated, CanViewReports]

    @extend_schema(
        operation_id="reports_summary",
        parameters=[
            *REPORT_PARAMETERS,
            OpenApiParameter("compare", OpenApiTypes.BOOL, description="Add the previous period of the same length."),
        ],
        responses=ComparedSummarySerializer,
    )
    def get(self, request: Request) -> Response:
        period, filters = report_query(request)
        compare = request.query_params.get("compare", "").lower() in ("1", "true", "yes")
        summary = summarize(period, filters, compare=compare)
        return Response(ComparedSummarySerializer(summary).data)
