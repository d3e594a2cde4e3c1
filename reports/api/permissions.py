from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

VIEW_REPORTS = "reports.view_reports"


class CanViewReports(BasePermission):
    """Incident managers and admins: the period's figures are management's."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.has_perm(VIEW_REPORTS))
