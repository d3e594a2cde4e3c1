"""A plain 503 with `Retry-After` when the database (or Redis) is away, wherever it failed.

Two causes, each told as it is:

- an outage: the database or the cache cannot be reached (retry in a few
  seconds);
- contention: the database undid the request's transaction because another
  one held what it needed (a deadlock, a serialisation failure, a lock not
  granted in time; on SQLite, a database locked by another writer). Nothing
  of the request was written, and a retry a moment later will normally pass.

DRF's views and the alert intake answer an outage themselves. Everything else
(a page, the admin, or a middleware such as the session and the user being
loaded before any view runs) ends in Django's uncaught-exception handling,
which calls `handler500`: `server_error` below looks at the exception being
handled and answers 503 instead of 500 when it is an outage, in the client's
language, as JSON for the API and as a small page for people.

The page is rendered without a request context: the context processors would
ask the unreachable database for the user.
"""

import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.functional import Promise
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.defaults import server_error as django_server_error

OUTAGES: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


# SQLSTATEs of a transaction the database refused because another held what it needed:
# serialization_failure, deadlock_detected, lock_not_available.
CONTENTION_STATES = frozenset({"40001", "40P01", "55P03"})


@dataclass(frozen=True)
class Unavailable:
    """Why a request could not be served just now, and when to try again."""

    code: str
    retry_after: int
    message: Promise  # translated when read, in the request's language

    def body(self) -> dict[str, str]:
        return {"detail": str(self.message), "code": self.code}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}

    def json(self) -> JsonResponse:
        return JsonResponse(self.body(), status=503, headers=self.headers())


# A PostgreSQL restart takes a few seconds; a lock is usually free again within one.
OUTAGE = Unavailable(
    "unavailable", 5, _("The service is briefly unavailable (its database cannot be reached); try again shortly.")
)
CONTENTION = Unavailable(
    "busy", 1, _("The service was busy with another change to the same records, so nothing was saved; try again.")
)


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    while error is not None:
        yield error
        error = error.__cause__ or error.__context__


def _is_contention(error: BaseException) -> bool:
    if getattr(error, "sqlstate", None) in CONTENTION_STATES:  # psycopg's errors carry their SQLSTATE
        return True
    return isinstance(error, sqlite3.OperationalError) and "locked" in str(error)


def unavailable(error: BaseException | None) -> Unavailable | None:
    """CONTENTION or OUTAGE when `error` (or what caused it) is one, else None: a fault of ours."""
    causes = list(_chain(error))
    if any(map(_is_contention, causes)):
        return CONTENTION
    if any(isinstance(cause, OUTAGES) for cause in causes):
        return OUTAGE
    return None


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def unavailable_response(request: HttpRequest, why: Unavailable) -> HttpResponse:
    if _wants_json(request):
        return why.json()
    page = render_to_string(
        "503.html",
        {"message": why.message, "retry_after": why.retry_after, "LANGUAGE_CODE": get_language()},
    )
    return HttpResponse(page, status=503, headers=why.headers())


def server_error(request: HttpRequest, template_name: str = "500.html") -> HttpResponse:
    """`handler500`: 503 for an outage or contention, Django's own 500 for anything else."""
    why = unavailable(sys.exc_info()[1])
    if why is not None:
        return unavailable_response(request, why)
    return django_server_error(request, template_name)
