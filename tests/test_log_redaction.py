"""Secrets carried in URL paths never reach the logs: Django's request warnings and the access log."""

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.test import Client

from incidents.choices import IntegrationKind
from incidents.intake.integrations import create_integration
from incidents.models import Service
from itsm.access_log import with_access_log
from itsm.redaction import RedactCapabilities, redact
from itsm.wsgi import application


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Bad Request: /page/ack/eyJub3RpZmljYXRpb24iOjd9:1tX:abc/", "Bad Request: /page/ack/[redacted]/"),
        ('"GET /oncall/users/Zm9vYmFy-_x.ics HTTP/1.1" 200', '"GET /oncall/users/[redacted].ics HTTP/1.1" 200'),
        ("/oncall/schedules/abc123.ics?x=1", "/oncall/schedules/[redacted].ics?x=1"),
        ("POST /api/v1/integrations/generic/k3y-s3cret/", "POST /api/v1/integrations/generic/[redacted]/"),
        (
            "<WSGIRequest: POST '/api/v1/integrations/alertmanager/k3y'>",
            "<WSGIRequest: POST '/api/v1/integrations/alertmanager/[redacted]'>",
        ),
        # Paths without a secret are left as they are.
        ("GET /api/v1/integrations/generic/ 202", "GET /api/v1/integrations/generic/ 202"),
        ("GET /oncall/pages/ 200", "GET /oncall/pages/ 200"),
        ("GET /api/v1/integrations/pagerduty/enqueue 202", "GET /api/v1/integrations/pagerduty/enqueue 202"),
    ],
)
def test_redact_replaces_only_the_secret(line: str, expected: str) -> None:
    assert redact(line) == expected


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the configured console handler (settings.LOGGING) writes, captured."""
    handler = next(h for h in logging.getLogger().handlers if any(isinstance(f, RedactCapabilities) for f in h.filters))
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


@pytest.mark.django_db
def test_a_refused_alert_is_logged_without_its_integration_key(service: Service, console: io.StringIO) -> None:
    _, key = create_integration(service=service, kind=IntegrationKind.GENERIC, actor=None)
    response = Client().post(f"/api/v1/integrations/generic/{key}/", "not json", content_type="application/json")
    assert response.status_code == 400
    written = console.getvalue()
    assert "Bad Request: /api/v1/integrations/generic/[redacted]/" in written
    assert key not in written


@pytest.mark.django_db
def test_a_dead_acknowledgement_link_is_logged_without_its_token(console: io.StringIO) -> None:
    token = "eyJub3RpZmljYXRpb24iOjF9:1tXyZa:Q2hlY2tvdXQ"
    assert Client().get(f"/page/ack/{token}/").status_code == 400
    written = console.getvalue()
    assert "/page/ack/[redacted]/" in written
    assert token not in written


def _get(path: str, **headers: str) -> str:
    """Ask the WSGI application (with its access log) for `path`; return the status line."""
    environ: dict[str, Any] = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SERVER_NAME": "localhost", **headers}
    setup_testing_defaults(environ)
    answer: list[str] = []
    b"".join(application(environ, lambda status, headers, exc_info=None: answer.append(status)))
    return answer[0]


@pytest.mark.django_db(transaction=True)  # the request closes the connection as it ends
def test_the_access_log_names_each_request_without_the_secrets_in_its_path_or_referrer(
    console: io.StringIO, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    feed, ack = "c2VjcmV0LWZlZWQtdG9rZW4", "eyJub3RpZmljYXRpb24iOjF9:1tXyZa:sig"
    status = _get(
        f"/oncall/users/{feed}.ics",
        QUERY_STRING="x=1",
        HTTP_REFERER=f"https://itsm.example.com/page/ack/{ack}/",
        HTTP_X_REQUEST_ID="req-0123456789",
        SERVER_PROTOCOL="HTTP/1.1",
    )
    (line,) = [json.loads(line) for line in console.getvalue().splitlines() if '"itsm.access"' in line]
    assert line["message"].startswith(f'"GET /oncall/users/[redacted].ics?x=1 HTTP/1.1" {status.split()[0]} ')
    assert line["request_id"] == "req-0123456789"  # the request's own, though its context has ended
    written = console.getvalue()
    assert feed not in written
    assert ack not in written


def test_the_access_log_writes_the_redacted_fields_apart(caplog: pytest.LogCaptureFixture) -> None:
    def answer(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("202 Accepted", [("Content-Length", "2"), ("X-Request-ID", "abc12345")])
        return [b"{}"]

    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/api/v1/integrations/generic/k3y-s3cret/",
        "HTTP_REFERER": "https://itsm.example.com/page/ack/t0ken/",
    }
    setup_testing_defaults(environ)
    with caplog.at_level(logging.INFO, logger="itsm.access"):
        assert b"".join(with_access_log(answer)(environ, lambda *args: None)) == b"{}"
    (record,) = caplog.records
    assert (record.method, record.status, record.bytes, record.request_id) == ("POST", 202, "2", "abc12345")  # type: ignore[attr-defined]
    assert record.path == "/api/v1/integrations/generic/[redacted]/"  # type: ignore[attr-defined]
    assert record.referer == "https://itsm.example.com/page/ack/[redacted]/"  # type: ignore[attr-defined]
    assert "k3y-s3cret" not in record.getMessage()
    assert record.duration_ms >= 0  # type: ignore[attr-defined]


def test_no_access_log_when_it_is_turned_off() -> None:
    import itsm.wsgi

    # The outermost wrapper of the WSGI application: the access log's, on by default outside DEBUG.
    assert itsm.wsgi.application.__qualname__ == "with_access_log.<locals>.logged"
    code = "import itsm.wsgi; print(itsm.wsgi.application.__qualname__)"
    env = {**os.environ, "ACCESS_LOG": "false"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)  # noqa: S603
    assert done.stdout.strip() == "with_chunked_bodies.<locals>.read_whole"
