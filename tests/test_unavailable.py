"""While the database is away every door answers 503 with Retry-After, never a 500, and comes back by itself.

So does a request whose transaction the database refused because another
held what it needed (a lock, a deadlock): 503 with a message that says so,
and nothing of the request written.

The database is taken away from this process only: its connection is pointed
at a port nobody listens on (PostgreSQL) or at a file in a folder that does not
exist (SQLite), so the shared servers are never touched. bench/faults.py does
the same with real restarts of a private PostgreSQL and Redis under load.
"""

import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection
from django.test import Client
from rest_framework.test import APIClient

from escalation import outbox
from escalation.models import Team
from incidents.intake.integrations import create_integration
from incidents.models import Incident, Service
from itsm.unavailable import CONTENTION, OUTAGE, unavailable
from tests.intake_helpers import PD_PATH, pd_trigger, post_json

pytestmark = pytest.mark.django_db(transaction=True)

ENGLISH = "The service is briefly unavailable (its database cannot be reached); try again shortly."
INDONESIAN = "Layanan sedang tidak tersedia sebentar (basis datanya tidak dapat dihubungi); coba lagi sebentar lagi."
BUSY = "The service was busy with another change to the same records, so nothing was saved; try again."
BUSY_INDONESIAN = (
    "Layanan sedang sibuk dengan perubahan lain pada data yang sama, jadi tidak ada yang disimpan; coba lagi."
)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def database_away(tmp_path: Path) -> Iterator[Callable[[], None]]:
    """Call it to take the database away; it comes back (and is checked) when the test ends."""
    saved = dict(connection.settings_dict)

    def go_away() -> None:
        connection.close()
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = str(tmp_path / "no-such-folder" / "itsm.sqlite3")
        else:
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(_closed_port()))

    yield go_away
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)
    connection.ensure_connection()


def _assert_unavailable(response: Any, *, message: str = ENGLISH) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    if response["Content-Type"].startswith("application/json"):
        assert response.json() == {"detail": message, "code": "unavailable"}
    else:
        assert message in response.content.decode()


def test_api_read_and_write_answer_503_then_recover(
    database_away: Callable[[], None], api: Callable[[Any], APIClient], agent: Any, service: Service
) -> None:
    client = api(agent)
    body = {"title": "Checkout down", "impact": "high", "urgency": "high", "services": [service.slug]}
    database_away()

    _assert_unavailable(client.get("/api/v1/incidents/"))
    _assert_unavailable(client.post("/api/v1/incidents/", body, format="json"))
    _assert_unavailable(client.get("/api/v1/incidents/", headers={"Accept-Language": "id"}), message=INDONESIAN)


def test_api_recovers_once_the_database_is_back(
    database_away: Callable[[], None], api: Callable[[Any], APIClient], agent: Any, service: Service
) -> None:
    client = api(agent)
    saved = dict(connection.settings_dict)
    database_away()
    _assert_unavailable(client.get("/api/v1/incidents/"))

    # Back, with no restart of anything: the next request connects again.
    connection.settings_dict.update(saved)
    body = {"title": "Checkout down", "impact": "high", "urgency": "high", "services": [service.slug]}
    assert client.post("/api/v1/incidents/", body, format="json").status_code == 201
    assert list(Incident.objects.values_list("title", flat=True)) == ["Checkout down"]


def test_a_page_whose_session_cannot_be_loaded_answers_503_in_the_users_language(
    database_away: Callable[[], None], agent: Any
) -> None:
    # The session and the user are loaded by middleware, before any view: Django's 500 handler
    # is where the outage surfaces, and it must say 503.
    client = Client(raise_request_exception=False)
    client.force_login(agent)
    database_away()

    response = client.get("/")
    _assert_unavailable(response)
    assert response["Content-Type"].startswith("text/html")
    _assert_unavailable(client.get("/", headers={"Accept-Language": "id"}), message=INDONESIAN)


def test_the_login_page_post_answers_503(database_away: Callable[[], None], agent: Any) -> None:
    client = Client(raise_request_exception=False)
    database_away()
    response = client.post("/accounts/login/", {"username": agent.username, "password": "a-long-test-password"})
    _assert_unavailable(response)


def test_alert_intake_answers_503_and_stores_nothing_half(database_away: Callable[[], None], service: Service) -> None:
    _, key = create_integration(service=service, kind="pagerduty", actor=None)
    database_away()
    _assert_unavailable(post_json(Client(), PD_PATH, pd_trigger(key)))


def test_health_says_the_database_is_away(database_away: Callable[[], None]) -> None:
    database_away()
    response = Client().get("/healthz")
    assert response.status_code == 503
    assert response.json()["database"] == "error: OperationalError"


def test_an_error_that_is_not_an_outage_is_still_a_500(db: None, settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.unavailable_urls"
    response = Client(raise_request_exception=False).get("/broken/")
    assert response.status_code == 500
    assert "Retry-After" not in response


def test_api_whose_throttle_cache_is_away_serves_requests_uncounted(
    settings: Any, api: Callable[[Any], APIClient], agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The throttles count in the cache (Redis in production): while it is away the API still
    # answers, reads and writes alike, and the log says the limits were not checked.
    client = api(agent)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{_closed_port()}/0",
        }
    }
    assert client.get("/api/v1/incidents/").status_code == 200
    created = client.post("/api/v1/incidents/", {"title": "Checkout is down", "impact": "high", "urgency": "high"})
    assert created.status_code == 201, created.json()
    assert Incident.objects.filter(title="Checkout is down").count() == 1
    assert "API rate limit not checked: the cache is not reachable" in caplog.text


def test_a_send_is_recorded_once_the_database_is_back(database_away: Callable[[], None], team: Team) -> None:
    # A worker that has sent a page writes that down when the database returns, rather than
    # leaving the row claimed for CLAIM_LEASE and sending it again afterwards.
    saved = dict(connection.settings_dict)
    tries: list[int] = []

    def record() -> int:
        tries.append(1)
        if len(tries) == 2:
            connection.settings_dict.update(saved)  # back, as after a restart
        return Team.objects.filter(pk=team.pk).update(name="Payments (recorded)")

    database_away()
    assert outbox.record_after_send(record) == 1
    assert len(tries) == 2
    assert Team.objects.get(pk=team.pk).name == "Payments (recorded)"


def test_a_send_not_recorded_within_the_patience_is_left_to_the_lease(
    database_away: Callable[[], None], team: Team
) -> None:
    database_away()
    with pytest.raises(OperationalError):
        outbox.record_after_send(lambda: Team.objects.filter(pk=team.pk).update(name="never"), patience=0)


# --- contention: the database refused the transaction, and nothing was written ---------------


@pytest.fixture
def incident_locked_elsewhere(make_incident: Callable[..., Incident]) -> Iterator[Incident]:
    """An incident whose row another session holds locked, while this one waits at most 200 ms for a lock."""
    incident = make_incident()
    other = connection.get_new_connection(connection.get_connection_params())
    try:
        other.execute("SELECT id FROM incidents_incident WHERE id = %s FOR UPDATE", [incident.pk])
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")
        yield incident
    finally:
        other.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def _assert_nothing_written(incident: Incident) -> None:
    fresh = Incident.objects.get(pk=incident.pk)
    assert fresh.state == "new"
    assert not fresh.timeline.filter(kind="transition").exists()
    assert fresh.history.count() == incident.history.count()


@pytest.mark.postgres
def test_an_api_transition_that_cannot_get_its_lock_answers_503_busy_and_writes_nothing(
    incident_locked_elsewhere: Incident, api: Callable[[Any], APIClient], agent: Any
) -> None:
    incident = incident_locked_elsewhere
    history = incident.history.count()
    path = f"/api/v1/incidents/{incident.number}/transitions/acknowledge/"

    response = api(agent).post(path, {}, format="json")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json() == {"detail": BUSY, "code": "busy"}
    _assert_nothing_written(incident)
    assert incident.history.count() == history


@pytest.mark.postgres
def test_a_page_transition_that_cannot_get_its_lock_answers_503_busy_in_the_users_language(
    incident_locked_elsewhere: Incident, agent: Any
) -> None:
    incident = incident_locked_elsewhere
    client = Client(raise_request_exception=False)
    client.force_login(agent)

    response = client.post(
        f"/incidents/{incident.number}/transitions/acknowledge/", {}, headers={"Accept-Language": "id"}
    )

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert BUSY_INDONESIAN in page
    assert "basis datanya tidak dapat dihubungi" not in page
    _assert_nothing_written(incident)


def _as_django_raises_it(error: BaseException) -> OperationalError:
    """`error` wrapped as Django's database layer raises a driver's error: from it."""
    with pytest.raises(OperationalError) as wrapped:
        raise OperationalError(str(error)) from error
    return wrapped.value


@pytest.mark.postgres
def test_a_deadlock_is_contention_not_an_outage() -> None:
    # Two sessions, each holding one advisory lock and asking for the other's: PostgreSQL
    # breaks the cycle by refusing one of them (deadlock_detected, 40P01).
    params = connection.get_connection_params()
    first, second = (connection.get_new_connection(params) for _ in range(2))
    refused: list[BaseException] = []
    both_hold = threading.Barrier(2)

    def ask_for(session: psycopg.Connection[Any], held: int, wanted: int) -> None:
        try:
            session.execute("SET deadlock_timeout = '50ms'")
            session.execute("SELECT pg_advisory_xact_lock(%s)", [held])
            both_hold.wait(timeout=10)
            session.execute("SELECT pg_advisory_xact_lock(%s)", [wanted])
        except psycopg.errors.DeadlockDetected as error:
            refused.append(error)
        finally:
            session.rollback()

    try:
        other = threading.Thread(target=ask_for, args=(second, 2, 1))
        other.start()
        ask_for(first, 1, 2)
        other.join(timeout=10)
    finally:
        first.close()
        second.close()

    assert len(refused) == 1
    assert unavailable(refused[0]) is CONTENTION
    assert unavailable(_as_django_raises_it(refused[0])) is CONTENTION


def test_a_locked_sqlite_database_is_contention(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None)
    blocked = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError) as error:
            blocked.execute("BEGIN IMMEDIATE")
    finally:
        writer.close()
        blocked.close()

    assert unavailable(error.value) is CONTENTION


def test_what_is_neither_contention_nor_an_outage_is_ours(tmp_path: Path) -> None:
    with pytest.raises(sqlite3.OperationalError) as unreachable:
        sqlite3.connect(tmp_path / "no-such-folder" / "db.sqlite3")
    assert unavailable(_as_django_raises_it(unreachable.value)) is OUTAGE

    assert unavailable(ValueError("a bug of ours")) is None
    assert unavailable(None) is None
