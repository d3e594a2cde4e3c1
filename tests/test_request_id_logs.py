"""Refused requests are logged with their request id (found in the load bench's logs: 409s logged without one)."""

import logging
from collections.abc import Callable
from typing import Any

import pytest

from itsm.request_id import RequestIdFilter


@pytest.fixture
def request_log(caplog: pytest.LogCaptureFixture) -> Callable[[], list[logging.LogRecord]]:
    """What the `django.request` logger wrote, through the filter the log handlers use."""
    caplog.set_level(logging.WARNING, logger="django.request")
    caplog.handler.addFilter(RequestIdFilter())
    return lambda: [record for record in caplog.records if record.name == "django.request"]


@pytest.mark.django_db
def test_a_conflict_is_logged_once_with_its_request_id(
    agent: Any,
    api: Callable[[Any], Any],
    make_incident: Callable[..., Any],
    request_log: Callable[[], list[logging.LogRecord]],
) -> None:
    incident = make_incident()
    client = api(agent)

    response = client.post(
        f"/api/v1/incidents/{incident.number}/transitions/resolve/",
        {"root_cause": "x", "resolution": "y"},
        HTTP_X_REQUEST_ID="load-0123456789",
    )

    assert response.status_code == 409
    assert [(record.status_code, record.request_id) for record in request_log()] == [(409, "load-0123456789")]  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_an_intake_refusal_is_logged_with_its_request_id(
    client: Any, request_log: Callable[[], list[logging.LogRecord]]
) -> None:
    response = client.post(
        "/api/v1/integrations/pagerduty/enqueue",
        data="{}",
        content_type="application/json",
        HTTP_X_REQUEST_ID="load-intake-0001",
    )

    assert response.status_code == 400
    assert [(record.status_code, record.request_id) for record in request_log()] == [(400, "load-intake-0001")]  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_an_answered_request_logs_nothing(
    agent: Any, api: Callable[[Any], Any], request_log: Callable[[], list[logging.LogRecord]]
) -> None:
    assert api(agent).get("/api/v1/incidents/", HTTP_X_REQUEST_ID="load-0123456789").status_code == 200
    assert request_log() == []
