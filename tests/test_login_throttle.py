"""Failed logins are counted per username and per address and refused for a while (django-axes).

The web login, the admin's and the browsable API's share authenticate(), so a
lockout earned on one holds on the others. The refusal is a 429 page in the
reader's language; a success resets the count; nothing logged holds a password.
"""

import datetime as dt
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "a-long-test-password"  # noqa: S105 — make_user's
WRONG = "not-the-password-7731"  # noqa: S105


@pytest.fixture(autouse=True)
def three_tries(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=15)


def _login(client: Client, username: str, password: str, path: str = "/accounts/login/") -> Any:
    return client.post(path, {"username": username, "password": password})


def _fail(client: Client, username: str, times: int, path: str = "/accounts/login/") -> list[int]:
    return [_login(client, username, WRONG, path).status_code for _ in range(times)]


def test_the_third_failure_locks_the_username_out(reporter: Any) -> None:
    client = Client()

    assert _fail(client, "rina", 3) == [200, 200, 429]
    locked = _login(client, "rina", PASSWORD)

    assert locked.status_code == 429
    assert locked["Retry-After"] == str(15 * 60)
    assert "Too many failed logins" in locked.content.decode()
    assert "Try again in 15 minutes." in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_said_in_indonesian(reporter: Any) -> None:
    client = Client(headers={"accept-language": "id"})
    _fail(client, "rina", 3)

    page = _login(client, "rina", PASSWORD).content.decode()

    assert "Terlalu banyak login yang gagal" in page
    assert "Coba lagi dalam 15 menit." in page


def test_the_address_is_locked_for_every_username(reporter: Any, agent: Any) -> None:
    _fail(Client(REMOTE_ADDR="198.51.100.7"), "nobody-here", 3)

    assert _login(Client(REMOTE_ADDR="198.51.100.7"), "agus", PASSWORD).status_code == 429
    # From elsewhere, an account that did not fail logs in.
    assert _login(Client(REMOTE_ADDR="198.51.100.8"), "agus", PASSWORD).status_code == 302


def test_admin_and_browsable_api_logins_share_the_count(staff_admin: Any) -> None:
    client = Client()
    _fail(client, "backoffice-root", 1, "/admin/login/")
    _fail(client, "backoffice-root", 1, "/api-auth/login/")
    _fail(client, "backoffice-root", 1, "/accounts/login/")

    assert _login(client, "backoffice-root", PASSWORD, "/admin/login/").status_code == 429
    assert _login(client, "backoffice-root", PASSWORD, "/api-auth/login/").status_code == 429


def test_a_success_resets_the_count(reporter: Any) -> None:
    client = Client()
    _fail(client, "rina", 2)
    assert _login(client, "rina", PASSWORD).status_code == 302
    client.logout()

    assert _fail(client, "rina", 2) == [200, 200]
    assert _login(client, "rina", PASSWORD).status_code == 302


def test_the_pause_ends_after_the_cool_off(reporter: Any) -> None:
    client = Client()
    _fail(client, "rina", 3)

    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16)):
        assert _login(client, "rina", PASSWORD).status_code == 302


def test_attempts_are_recorded_without_the_password(reporter: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _fail(Client(), "rina", 3)
    _login(Client(), "rina", PASSWORD)

    attempt = AccessAttempt.objects.get(username="rina")
    # The refused try counts too, even with the right password.
    assert attempt.failures_since_start == 4
    assert attempt.ip_address == "127.0.0.1"
    assert WRONG not in attempt.post_data
    assert "login refused: too many failures" in caplog.text
    for secret in (WRONG, PASSWORD):
        assert secret not in caplog.text
        assert all(secret not in str(record.__dict__) for record in caplog.records)


def test_the_limits_come_from_the_environment() -> None:
    environment = {**os.environ, "DEBUG": "true", "LOGIN_FAILURE_LIMIT": "7", "LOGIN_COOLOFF_MINUTES": "45"}
    shown = subprocess.run(  # noqa: S603 — our own interpreter and manage.py
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s; "
            "print(s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME.total_seconds(), s.AXES_ENABLED)",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert shown.stdout.splitlines()[-1].split() == ["7", "2700.0", "True"]


def test_old_login_records_are_purged_and_recent_ones_kept(agent: Any, manager: Any, settings: Any) -> None:
    from axes.models import AccessLog
    from django.contrib.sessions.models import Session

    from incidents.tasks import purge_login_records

    settings.LOGIN_LOG_RETENTION_DAYS = 90
    long_ago, recently = Client(), Client()
    with time_machine.travel(timezone.now() - dt.timedelta(days=100), tick=False):
        assert _login(long_ago, agent.username, PASSWORD).status_code == 302
    assert _login(recently, manager.username, PASSWORD).status_code == 302
    assert AccessLog.objects.count() == 2
    assert Session.objects.count() == 2

    assert purge_login_records() == 1

    assert list(AccessLog.objects.values_list("username", flat=True)) == [manager.username]
    # The old session had expired (two weeks after it began); the recent one still logs its user in.
    assert list(Session.objects.values_list("session_key", flat=True)) == [recently.cookies["sessionid"].value]
    assert recently.get("/").status_code == 200
