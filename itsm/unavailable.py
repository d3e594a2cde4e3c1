"""A plain 503 with `Retry-After` when the database (or Redis) is away, wherever it failed.

DRF's views and the alert intake answer an outage themselves. Everything else
(a page, the admin, or a middleware such as the session and the user being
loaded before any view runs) ends in Django's uncaught-exception handling,
which calls `handler500`: `server_error` below looks at the exception being
handled and answers 503 instead of 500 when it is an outage, in the client's
language, as JSON for the API and as a small page for people.

The page is rendered without a request context: the context processors would
ask the unreachable database for the user.
"""

import sys

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.defaults import server_error as django_server_error

# Seconds a client is asked to wait; a PostgreSQL restart takes a few.
RETRY_AFTER_SECONDS = 5

OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def is_outage(error: BaseException | None) -> bool:
    """Whether `error` (or what caused it) says a server we depend on cannot be reached."""
    while error is not None:
        if isinstance(error, OUTAGES):
            return True
        error = error.__cause__ or error.__context__
    return False


def unavailable_message() -> str:
    return _("The service is briefly unavailable (its database cannot be reached); try again shortly.")


def unavailable_body() -> dict[str, str]:
    return {"detail": unavailable_message(), "code": "unavailable"}


def retry_after() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_SECONDS)}


def unavailable_json() -> JsonResponse:
    return JsonResponse(unavailable_body(), status=503, headers=retry_after())


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return unavailable_json()
    page = render_to_string(
        "503.html",
        {"message": unavailable_message(), "retry_after": RETRY_AFTER_SECONDS, "LANGUAGE_CODE": get_language()},
    )
    return HttpResponse(page, status=503, headers=retry_after())


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """`handler500`: 503 for an outage, Django's own 500 for anything else."""
    if is_outage(sys.exc_info()[1]):
        return unavailable_response(request)
    return django_server_error(request, template_name)
