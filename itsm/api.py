"""How the API answers errors raised below it.

Domain functions raise Django's ValidationError and PermissionDenied and the
lifecycle's own errors; each gets its status code here, so no view needs a
try/except and nothing a client sends turns into a 500.
"""

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from itsm.unavailable import unavailable


def _validation_detail(error: DjangoValidationError) -> Any:
    if hasattr(error, "error_dict"):
        return {field: [str(m) for m in messages] for field, messages in error.message_dict.items()}
    return {"non_field_errors": [str(m) for m in error.messages]}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(_validation_detail(exc))
    if isinstance(exc, TransitionNotAllowed | IncidentConflict):
        return Response(
            {
                "detail": exc.message,
                "code": "conflict" if isinstance(exc, IncidentConflict) else "transition_not_allowed",
                "state": exc.state,
                "allowed_transitions": exc.allowed,
            },
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, ProtectedError):
        return Response(
            {"detail": "Still in use by other records; archive it instead.", "code": "protected"},
            status=status.HTTP_409_CONFLICT,
        )
    why = unavailable(exc)
    if why is not None:
        # The database, or the cache the throttles count in, is away, or another change held
        # what this one needed: nothing was written, and the client may retry.
        return Response(why.body(), status=status.HTTP_503_SERVICE_UNAVAILABLE, headers=why.headers())
    return drf_exception_handler(exc, context)
