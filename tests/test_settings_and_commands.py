"""Settings fail loudly on bad values; the management commands scripts rely on."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from escalation.models import Team
from incidents.models import Incident, Service
from itsm import env

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("name", "value", "reader"),
    [
        ("DEBUG", "maybe", lambda: env.env_bool("DEBUG", default=False)),
        ("DATABASE_CONN_MAX_AGE", "sixty", lambda: env.env_int("DATABASE_CONN_MAX_AGE", 60)),
        ("DATABASE_CONN_MAX_AGE", "-1", lambda: env.env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)),
        ("TIME_ZONE", "Mars/Olympus", lambda: env.env_time_zone("TIME_ZONE", "UTC")),
        ("DATABASE_URL", "mysqlx://db/itsm", lambda: env.env_database("DATABASE_URL", "sqlite:///x")),
        ("EMAIL_URL", "pigeon://coop", lambda: env.env_email("EMAIL_URL", "consolemail://")),
    ],
)
def test_bad_values_are_refused_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, reader: Any
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        reader()


def test_good_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "Yes")
    monkeypatch.setenv("ALLOWED_HOSTS", "itsm.example.com, .example.org")
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/itsm")
    monkeypatch.setenv("EMAIL_URL", "smtp+tls://mailer:secret@smtp.example.com:587")
    assert env.env_bool("DEBUG", default=False) is True
    assert env.env_list("ALLOWED_HOSTS", []) == ["itsm.example.com", ".example.org"]
    database = env.env_database("DATABASE_URL", "sqlite:///x")
    assert (database["ENGINE"], database["HOST"], database["NAME"]) == ("django.db.backends.postgresql", "db", "itsm")
    email = env.env_email("EMAIL_URL", "consolemail://")
    assert (email["EMAIL_HOST"], email["EMAIL_PORT"], email["EMAIL_USE_TLS"]) == ("smtp.example.com", 587, True)


def _start_django(**overrides: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    environment.update(overrides)
    return subprocess.run(  # noqa: S603 — our own interpreter and manage.py
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_secret_key_is_required_unless_debug() -> None:
    refused = _start_django()
    assert refused.returncode != 0
    assert "SECRET_KEY must be set" in refused.stderr
    assert _start_django(DEBUG="true").returncode == 0
    assert _start_django(SECRET_KEY="a-real-secret").returncode == 0


@pytest.mark.django_db
def test_create_api_token_prints_the_key_last(agent: Any) -> None:
    out = StringIO()
    call_command("create_api_token", agent.username, stdout=out)
    assert out.getvalue().splitlines()[-1] == Token.objects.get(user=agent).key

    again = StringIO()
    call_command("create_api_token", agent.username, stdout=again)
    assert again.getvalue().splitlines()[-1] == Token.objects.get(user=agent).key

    rotated = StringIO()
    old = Token.objects.get(user=agent).key
    call_command("create_api_token", agent.username, "--rotate", stdout=rotated)
    assert rotated.getvalue().splitlines()[-1] != old
    assert not Token.objects.filter(key=old).exists()


@pytest.mark.django_db
def test_create_api_token_for_unknown_user_fails() -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="ghost"):
        call_command("create_api_token", "ghost", stdout=StringIO())
    assert Token.objects.count() == 0


@pytest.mark.django_db
def test_demo_data_covers_every_state_and_is_idempotent() -> None:
    from escalation.models import EscalationPolicy, OnCallSchedule
    from incidents.models import Integration
    from incidents.models.intake import hash_key

    output = StringIO()
    call_command("load_demo_data", stdout=output)
    key = output.getvalue().split("integration: Demo Alertmanager, key ")[1].split()[0]
    assert Integration.objects.get().key_hash == hash_key(key)
    counts = (
        Incident.objects.count(),
        Service.objects.count(),
        Team.objects.count(),
        EscalationPolicy.objects.count(),
        OnCallSchedule.objects.count(),
    )
    assert counts[1:] == (6, 4, 4, 4)
    assert not Service.objects.filter(escalation_policy=None).exists()
    states = set(Incident.objects.values_list("state", flat=True))
    assert states == {"new", "acknowledged", "investigating", "on_hold", "mitigated", "resolved", "closed", "cancelled"}
    seeds = dict(Incident.objects.values_list("title", "priority"))
    assert seeds["Payments failing for all users at checkout"] == "P1"
    assert seeds["Dashboard not loading the latest data"] == "P2"
    assert seeds["Partner bank API down"] == "P1"
    assert seeds["Shipment tracking updates arrive late"] == "P3"

    output = StringIO()
    call_command("load_demo_data", stdout=output)
    assert key not in output.getvalue()
    assert Integration.objects.count() == 1
    assert (
        Incident.objects.count(),
        Service.objects.count(),
        Team.objects.count(),
        EscalationPolicy.objects.count(),
        OnCallSchedule.objects.count(),
    ) == counts


@pytest.mark.django_db
def test_requests_carry_a_request_id_into_logs(agent: Any, api: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="incidents")
    client = api(agent)

    response = client.post("/api/v1/incidents/", {"title": "Down"}, HTTP_X_REQUEST_ID="req-0123456789")

    assert response["X-Request-ID"] == "req-0123456789"
    record = next(r for r in caplog.records if r.name == "incidents.services")
    assert record.incident == response.json()["number"]  # type: ignore[attr-defined]
    assert client.get("/api/v1/incidents/", HTTP_X_REQUEST_ID="bad id!")["X-Request-ID"] != "bad id!"


def test_json_log_lines_carry_request_id_and_incident() -> None:
    import json
    import logging

    from pythonjsonlogger.json import JsonFormatter

    from itsm.request_id import RequestIdFilter

    record = logging.LogRecord("incidents", logging.INFO, __file__, 1, "incident %s reported", ("INC-7",), None)
    record.incident = "INC-7"
    RequestIdFilter().filter(record)
    line = JsonFormatter("%(levelname)s %(name)s %(request_id)s %(message)s").format(record)
    assert json.loads(line) == {
        "levelname": "INFO",
        "name": "incidents",
        "request_id": "",
        "message": "incident INC-7 reported",
        "incident": "INC-7",
    }


@pytest.mark.django_db
def test_every_role_permission_exists() -> None:
    from django.contrib.auth.models import Group

    from incidents.roles import ROLE_PERMISSIONS

    for role, names in ROLE_PERMISSIONS.items():
        granted = {f"{p.content_type.app_label}.{p.codename}" for p in Group.objects.get(name=role).permissions.all()}
        assert granted == set(names), role
