"""Request bodies sent chunked, without a Content-Length, made readable to Django (itsm/wsgi.py).

Django's WSGI handler reads as many bytes of a body as `Content-Length` says.
A request sent with `Transfer-Encoding: chunked` has none, so Django reads its
body as empty: a JSON event or incident streamed by an HTTP client reaches the
views as no body at all, and is refused for fields it did send. A server that
de-chunks the body marks where it ends with `wsgi.input_terminated` (granian
and gunicorn do); then the body is read here, up to the largest any door
accepts, into a spooled file (in memory up to Django's own in-memory limit,
on disk beyond) and handed on with its length. A larger body is answered 413
without reading the rest. Without the mark nothing is read: reading to the end
of an unmarked stream could wait forever.
"""

import json
import tempfile
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings

StartResponse = Callable[..., Any]
WSGIApplication = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

# Room for a multipart form's boundaries and other fields around the largest attachment.
FORM_ROOM = 64 * 1024
READ_SIZE = 64 * 1024


def body_limit() -> int:
    """The largest body any door accepts: an attachment's form, an alert notification, or a plain form."""
    return max(
        settings.ATTACHMENT_MAX_BYTES + FORM_ROOM, settings.INTAKE_MAX_BYTES, settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    )


def _sent_chunked(environ: dict[str, Any]) -> bool:
    return (
        not environ.get("CONTENT_LENGTH")
        and "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        and bool(environ.get("wsgi.input_terminated"))
    )


def with_chunked_bodies(application: WSGIApplication) -> WSGIApplication:
    """`application`, given chunked bodies whole, with their length; 413 past `body_limit()`."""

    def read_whole(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if not _sent_chunked(environ):
            return application(environ, start_response)
        limit = body_limit()
        source = environ["wsgi.input"]
        # Handed to Django as the request's input, and freed with the request (a temporary file is unlinked).
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE)  # noqa: SIM115
        length = 0
        while chunk := source.read(min(READ_SIZE, limit + 1 - length)):
            body.write(chunk)
            length += len(chunk)
            if length > limit:
                body.close()
                answer = json.dumps({"detail": f"The body is larger than {limit} bytes."}).encode()
                start_response(
                    "413 Request Entity Too Large",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))],
                )
                return [answer]
        body.seek(0)
        environ["wsgi.input"], environ["CONTENT_LENGTH"] = body, str(length)
        return application(environ, start_response)

    return read_whole
