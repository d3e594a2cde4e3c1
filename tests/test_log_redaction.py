"""Secrets carried in URL paths never reach the logs: Django's request warnings and gunicorn's access log."""

import datetime as dt
import io
import logging
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.test import Client
from gunicorn.config import Config

from incidents.choices import IntegrationKind
from incidents.intake.integrations import create_integration
from incidents.models import Service
from itsm.access_log import AccessLogger
from itsm.redaction import RedactCapabilities, redact


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


def test_gunicorns_access_log_redacts_the_path_and_the_referrer(tmp_path: Path) -> None:
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    logger = AccessLogger(config)
    feed, ack = "c2VjcmV0LWZlZWQtdG9rZW4", "eyJub3RpZmljYXRpb24iOjF9:1tXyZa:sig"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/oncall/users/{feed}.ics",
        "PATH_INFO": f"/oncall/users/{feed}.ics",
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.7",
        "HTTP_REFERER": f"https://itsm.example.com/page/ack/{ack}/",
        "HTTP_USER_AGENT": "calendar",
    }
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])
    request = SimpleNamespace(headers=[("REFERER", environ["HTTP_REFERER"])])
    logger.access(response, request, environ, dt.timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()
    line = (tmp_path / "access.log").read_text()
    assert '"GET /oncall/users/[redacted].ics HTTP/1.1" 200 512' in line
    assert '"https://itsm.example.com/page/ack/[redacted]/"' in line
    assert feed not in line
    assert ack not in line
