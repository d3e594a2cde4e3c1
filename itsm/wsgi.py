"""The WSGI application: Django's, with a lean lane for alert intake.

Monitoring posts alerts at a rate no person does, to endpoints that use no
session, login, CSRF token, message, translation or history: the intake
paths go through a Django handler with only the middleware they need (the
request id and the security headers) and only the intake's URL patterns,
everything else through the full stack. Both lanes run the same views.

The intake lane also skips Django's check of a kept database connection
before each request (CONN_HEALTH_CHECKS: a `SELECT 1`, a round trip that cost
a fifth of an intake request's CPU). Its views check after the fact instead:
a statement that fails on a kept connection that turns out dead runs once
more on a new one (`incidents.intake.views._on_connection`).

Both lanes get a body sent chunked whole, with its length (itsm/chunked.py).
"""

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.db import connection
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import set_urlconf
from django.utils.module_loading import import_string

from itsm.access_log import with_access_log
from itsm.chunked import with_chunked_bodies

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "itsm.settings")

INTAKE_PREFIX = "/api/v1/integrations/"
# The lane resolves against the intake's own patterns, not every page's before them.
INTAKE_URLCONF = "incidents.intake.urls"
INTAKE_MIDDLEWARE = (
    "itsm.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
)


class IntakeHandler(WSGIHandler):
    """Django's WSGI handler with the middleware chain built from INTAKE_MIDDLEWARE alone."""

    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        handler = convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        for path in reversed(INTAKE_MIDDLEWARE):
            handler = convert_exception_to_response(import_string(path)(handler))
        self._middleware_chain = handler

    def get_response(self, request: HttpRequest) -> HttpResponseBase:
        request.urlconf = INTAKE_URLCONF
        # Counted as checked: the views retry on a dead kept connection (the module's docstring).
        connection.health_check_done = True  # type: ignore[attr-defined]  # Django's own flag, not in its stubs
        try:
            return super().get_response(request)
        finally:
            # Django leaves the request's URL list set on the thread; whatever runs next on it
            # (outside a request, or a test) resolves against every pattern again.
            set_urlconf(None)


StartResponse = Callable[..., Any]

django_application = get_wsgi_application()
intake_application = IntakeHandler()


def route(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    lane = intake_application if environ.get("PATH_INFO", "").startswith(INTAKE_PREFIX) else django_application
    return lane(environ, start_response)


# The HTTP server writes no access log of its own (itsm/access_log.py says why).
application = with_chunked_bodies(route)
if settings.ACCESS_LOG:
    application = with_access_log(application)
