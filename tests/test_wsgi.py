"""The WSGI application's two lanes: intake with lean middleware, everything else with the full stack."""

import io
import json
import logging
import socket
from typing import Any
from wsgiref.util import setup_testing_defaults

import psycopg
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from incidents.intake.integrations import create_integration
from incidents.models import AlertEvent, Incident
from itsm.chunked import body_limit
from itsm.wsgi import application
from tests.intake_helpers import AM_PATH, PD_PATH, am_alert, am_notification, pd_trigger

pytestmark = pytest.mark.django_db(transaction=True)


def _call(method: str, path: str, body: bytes = b"", **headers: str) -> tuple[str, dict[str, str], bytes]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "SERVER_NAME": "localhost",
        **headers,
    }
    setup_testing_defaults(environ)
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"], answer["headers"] = status, dict(response_headers)

    content = b"".join(application(environ, start_response))
    return answer["status"], answer["headers"], content


def test_intake_runs_through_the_lean_lane(service: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    _, key = create_integration(service=service, kind="pagerduty", actor=None)
    status, headers, content = _call(
        "POST", PD_PATH, json.dumps(pd_trigger(key)).encode(), HTTP_X_REQUEST_ID="req-12345678"
    )

    assert status.startswith("202")
    assert json.loads(content)["dedup_key"] == "srv01/mysql"
    assert AlertEvent.objects.count() == 1
    assert headers["X-Request-ID"] == "req-12345678"
    assert headers["X-Content-Type-Options"] == "nosniff"  # the security middleware still runs
    assert "X-Frame-Options" not in headers  # the clickjacking one (for pages) does not
    assert "Vary" not in headers  # nor sessions or the locale


def test_everything_else_runs_through_the_full_stack(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    status, headers, _ = _call("GET", "/healthz")
    assert status.startswith("200")
    assert headers["X-Frame-Options"] == "DENY"
    assert "X-Request-ID" in headers


def test_the_lean_lane_still_refuses_what_it_must(service: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    create_integration(service=service, kind="pagerduty", actor=None)
    status, _, _ = _call("POST", PD_PATH, b"{", HTTP_HOST="evil.example.com")
    assert status.startswith("400")  # DisallowedHost is answered, not raised
    status, _, content = _call("POST", PD_PATH, b"{")
    assert status.startswith("400")
    assert json.loads(content)["status"] == "invalid event"
    assert not AlertEvent.objects.exists()


def test_the_lean_lane_resolves_only_the_intakes_paths_and_leaves_the_pages_urls_alone(settings: Any) -> None:
    from django.urls import get_urlconf, reverse

    settings.ALLOWED_HOSTS = ["localhost"]
    status, headers, content = _call("POST", "/api/v1/integrations/nothing-here/", b"{}")
    assert status.startswith("404")
    assert headers["Content-Type"] == "application/json"  # the API's 404, not a page
    assert json.loads(content) == {"detail": "Not found."}
    assert get_urlconf() is None  # the lane leaves no URL list of its own on the thread
    # The next request through the full stack resolves against every pattern again.
    status, _, _ = _call("GET", "/healthz")
    assert status.startswith("200")
    assert get_urlconf() in (None, settings.ROOT_URLCONF)
    assert reverse("web:queue") == "/"


def _terminate_this_threads_connection() -> None:
    """The database drops our kept connection, as a restart or an idle timeout would."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])


@pytest.mark.postgres
def test_the_lean_lane_sends_again_on_a_new_connection_when_the_kept_one_was_dropped(
    service: Any, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    _, key = create_integration(service=service, kind="pagerduty", actor=None)
    status, _, _ = _call("POST", PD_PATH, json.dumps(pd_trigger(key, dedup_key="first")).encode())
    assert status.startswith("202")
    kept = connection.connection
    assert kept is not None  # the connection outlives the request (CONN_MAX_AGE)

    _terminate_this_threads_connection()
    with caplog.at_level(logging.INFO, logger="incidents.intake.views"):
        status, _, content = _call("POST", PD_PATH, json.dumps(pd_trigger(key, dedup_key="second")).encode())

    assert status.startswith("202"), content
    assert connection.connection is not kept
    assert sorted(AlertEvent.objects.values_list("dedup_key", flat=True)) == ["first", "second"]
    assert "the kept database connection was dead" in caplog.text


@pytest.mark.postgres
def test_the_lean_lane_answers_503_when_the_new_connection_fails_too(service: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    _, key = create_integration(service=service, kind="pagerduty", actor=None)
    assert _call("POST", PD_PATH, json.dumps(pd_trigger(key, dedup_key="first")).encode())[0].startswith("202")
    _terminate_this_threads_connection()
    saved = dict(connection.settings_dict)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    connection.settings_dict["PORT"] = str(closed_port)
    try:
        status, headers, _ = _call("POST", PD_PATH, json.dumps(pd_trigger(key, dedup_key="second")).encode())
    finally:
        connection.close()
        connection.settings_dict.update(saved)
    assert status.startswith("503")
    assert headers["Retry-After"] == "5"
    assert list(AlertEvent.objects.values_list("dedup_key", flat=True)) == ["first"]


def _prepared_inserts() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE statement LIKE 'INSERT INTO %%'")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.postgres
def test_the_intakes_insert_is_prepared_once_per_connection_and_stores_what_it_was_sent(
    service: Any, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    _, pd_key = create_integration(service=service, kind="pagerduty", actor=None)
    _, am_key = create_integration(service=service, kind="alertmanager", actor=None)
    for dedup_key in ("first", "second", "third"):
        assert _call("POST", PD_PATH, json.dumps(pd_trigger(pd_key, dedup_key=dedup_key)).encode())[0].startswith("202")
    alerts = am_notification(am_alert(fingerprint="aa01"), am_alert(fingerprint="aa02", instance="checkout-2"))
    status, _, _ = _call("POST", AM_PATH, json.dumps(alerts).encode(), HTTP_AUTHORIZATION=f"Bearer {am_key}")
    assert status.startswith("202")

    # One statement for a single event, sent three times, and one for a notification of two alerts.
    prepared = _prepared_inserts()
    assert len(prepared) == 2
    assert all(statement.startswith('INSERT INTO "incidents_alertevent"') for statement in prepared)
    # Bound on the server, the values arrive as they were sent: the payload as JSON, not as text.
    stored = {event.dedup_key: event for event in AlertEvent.objects.all()}
    assert sorted(stored) == ["aa01", "aa02", "first", "second", "third"]
    assert stored["second"].payload["summary"] == pd_trigger(pd_key)["payload"]["summary"]
    assert stored["aa02"].payload["labels"]["instance"] == "checkout-2"
    assert stored["aa01"].group_key == stored["aa02"].group_key != stored["first"].group_key
    assert {event.outcome for event in stored.values()} == {""}
    assert all(event.received_at and event.processed_at is None for event in stored.values())


@pytest.mark.postgres
def test_with_prepared_statements_off_the_intake_prepares_nothing(service: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.DATABASE_PREPARED_STATEMENTS = False  # as behind a pooler that does not keep them
    _, key = create_integration(service=service, kind="pagerduty", actor=None)
    for dedup_key in ("first", "second"):
        assert _call("POST", PD_PATH, json.dumps(pd_trigger(key, dedup_key=dedup_key)).encode())[0].startswith("202")
    assert _prepared_inserts() == []
    assert sorted(AlertEvent.objects.values_list("dedup_key", flat=True)) == ["first", "second"]


@pytest.mark.postgres
def test_while_queries_are_recorded_the_intakes_insert_is_recorded_with_its_values(service: Any, settings: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["localhost"]
    _, key = create_integration(service=service, kind="pagerduty", actor=None)
    with CaptureQueriesContext(connection) as recorded:
        assert _call("POST", PD_PATH, json.dumps(pd_trigger(key, dedup_key="seen")).encode())[0].startswith("202")
    inserts = [query["sql"] for query in recorded.captured_queries if query["sql"].startswith("INSERT")]
    assert len(inserts) == 1
    assert "'seen'" in inserts[0]


def _call_chunked(
    body: bytes | io.BytesIO, *, terminated: bool = True, path: str = PD_PATH, **headers: str
) -> tuple[str, bytes]:
    """A body sent chunked: no Content-Length; a server that de-chunks it says so with wsgi.input_terminated."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": body if isinstance(body, io.BytesIO) else io.BytesIO(body),
        "wsgi.input_terminated": terminated,
        "SERVER_NAME": "localhost",
        **headers,
    }
    setup_testing_defaults(environ)
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        answer["status"] = status

    content = b"".join(application(environ, start_response))
    return answer["status"], content


def test_an_event_sent_chunked_is_read_whole(service: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    _, key = create_integration(service=service, kind="pagerduty", actor=None)
    status, content = _call_chunked(json.dumps(pd_trigger(key)).encode())
    assert status.startswith("202"), content
    assert AlertEvent.objects.get().dedup_key == "srv01/mysql"


def test_a_chunked_event_past_the_intakes_limit_is_refused(service: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.INTAKE_MAX_BYTES = 1024
    _, key = create_integration(service=service, kind="pagerduty", actor=None)
    status, content = _call_chunked(json.dumps(pd_trigger(key, note="x" * 2000)).encode())
    assert status.startswith("413")
    assert json.loads(content) == {"detail": "The body is larger than 1024 bytes."}
    assert not AlertEvent.objects.exists()


def test_a_chunked_body_from_a_server_that_does_not_mark_its_end_is_not_read(service: Any, settings: Any) -> None:
    # Without wsgi.input_terminated, reading past a missing Content-Length could wait forever.
    settings.ALLOWED_HOSTS = ["localhost"]
    _, key = create_integration(service=service, kind="pagerduty", actor=None)
    status, _ = _call_chunked(json.dumps(pd_trigger(key)).encode(), terminated=False)
    assert status.startswith("400")
    assert not AlertEvent.objects.exists()


def test_an_incident_created_over_the_api_with_a_chunked_body_is_read_whole(
    agent: Any, service: Any, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    token, _ = Token.objects.get_or_create(user=agent)
    body = {"title": "Payments failing", "impact": "high", "urgency": "high", "services": ["checkout-payments"]}
    status, content = _call_chunked(
        json.dumps(body).encode(), path="/api/v1/incidents/", HTTP_AUTHORIZATION=f"Token {token.key}"
    )
    assert status.startswith("201"), content
    assert Incident.objects.get().title == "Payments failing"


def test_a_chunked_body_larger_than_any_door_takes_is_refused_unread(agent: Any, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["localhost"]
    limit = body_limit()
    token, _ = Token.objects.get_or_create(user=agent)
    sent = io.BytesIO(b"x" * (limit + 1_000_000))
    status, content = _call_chunked(sent, path="/api/v1/incidents/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert status.startswith("413")
    assert json.loads(content) == {"detail": f"The body is larger than {limit} bytes."}
    assert sent.tell() == limit + 1  # it stopped reading one byte past the limit
    assert not Incident.objects.exists()
