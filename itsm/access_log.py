"""The access log: a line for every request, written by the WSGI application itself (itsm/wsgi.py).

The HTTP server (granian) writes none of its own: its format names the path
as sent, and some paths carry a secret (itsm/redaction.py). Here the path and
the referrer are redacted before anything is written, whatever server runs
the application. The time is until the response began: a streamed export
goes on after its line is written.
"""

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from itsm.redaction import redact

logger = logging.getLogger("itsm.access")

StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def with_access_log(application: WSGIApplication) -> WSGIApplication:
    """`application`, logging each request it answers to the `itsm.access` logger at INFO."""

    def logged(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        began = time.perf_counter()
        answer: dict[str, Any] = {}

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return start_response(status, headers, exc_info)

        body = application(environ, start)
        if logger.isEnabledFor(logging.INFO):
            _write(environ, answer, milliseconds=(time.perf_counter() - began) * 1000)
        return body

    return logged


def _write(environ: dict[str, Any], answer: dict[str, Any], *, milliseconds: float) -> None:
    path = environ.get("PATH_INFO", "")
    if environ.get("QUERY_STRING"):
        path = f"{path}?{environ['QUERY_STRING']}"
    path = redact(path)
    method = environ.get("REQUEST_METHOD", "")
    status = int(str(answer.get("status", "0")).split(" ", 1)[0] or 0)
    headers = {name.lower(): value for name, value in answer.get("headers", [])}
    logger.info(
        '"%s %s %s" %s %.1f ms',
        method,
        path,
        environ.get("SERVER_PROTOCOL", ""),
        status,
        milliseconds,
        extra={
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(milliseconds, 1),
            "bytes": headers.get("content-length", ""),
            "remote_addr": environ.get("REMOTE_ADDR", ""),
            "referer": redact(environ.get("HTTP_REFERER", "")),
            "user_agent": environ.get("HTTP_USER_AGENT", ""),
            # The request's own id (RequestIdMiddleware has reset its context by now).
            "request_id": headers.get("x-request-id", ""),
        },
    )
