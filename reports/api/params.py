"""The report query parameters in the API: parsed once, refused with a 400 per field, documented once."""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from reports.filters import ReportFilters
from reports.params import parse_report_query
from reports.periods import Period

REPORT_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First day (included). Default: 30 days before `end`."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (included). Default: yesterday."),
    OpenApiParameter("tz", OpenApiTypes.STR, description="IANA time zone of the days. Default: the user's."),
    OpenApiParameter("service", OpenApiTypes.STR, many=True, description="Service slugs."),
    OpenApiParameter("team", OpenApiTypes.STR, many=True, description="Team slugs."),
    OpenApiParameter("priority", OpenApiTypes.STR, many=True, enum=["P1", "P2", "P3", "P4"]),
    OpenApiParameter("category", OpenApiTypes.STR, many=True, description="Incident categories."),
]


def report_query(request: Request) -> tuple[Period, ReportFilters]:
    try:
        return parse_report_query(request.query_params)
    except DjangoValidationError as error:
        raise ValidationError(error.message_dict) from None
