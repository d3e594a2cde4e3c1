"""The answer to a login refused because of too many failures (django-axes' AXES_LOCKOUT_CALLABLE).

429 with Retry-After, in the reader's language, from the login page, the admin's
and the browsable API's alike.
"""

import logging
import math
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    # Who and from where; never what was typed as the password.
    logger.warning(
        "login refused: too many failures",
        extra={"username": (credentials or {}).get("username", ""), "ip": request.META.get("REMOTE_ADDR", "")},
    )
    response = render(
        request,
        "registration/locked_out.html",
        {"minutes": math.ceil(seconds / 60), "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
