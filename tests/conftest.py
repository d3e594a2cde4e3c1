"""Fixtures shared by the suite: users per role, incidents, API clients.

The database is the real one the run is configured for: PostgreSQL in CI's
first pass, the embedded SQLite file in the second.
"""

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import translation
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from escalation.models import Team
from incidents.models import Incident, Service
from incidents.roles import AGENT, INCIDENT_MANAGER, REPORTER
from incidents.services import report_incident
from itsm.celery import app as celery_app
from tests.receivers import Receiver, running_receiver

User = get_user_model()
ROLES = (REPORTER, AGENT, INCIDENT_MANAGER)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if connection.vendor == "postgresql":
        # CI runs the suite twice; pages checked in a browser or in every language do not depend on
        # the database engine, so its PostgreSQL pass leaves them to the embedded default's pass.
        if os.environ.get("ITSM_PAGES_IN_OTHER_PASS"):
            once = pytest.mark.skip(reason="page checks: CI runs them in its embedded-default pass")
            for item in items:
                if "pages" in item.keywords:
                    item.add_marker(once)
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL; CI runs it in its PostgreSQL pass")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    # The pages are tested in Indonesian too; the .mo files are built, not kept in git.
    from incidents.management.commands.compile_translations import compile_catalogues

    compile_catalogues()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    # The default hasher is slow on purpose; the suite makes many users.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def plain_static_files(settings: Any) -> None:
    # Production serves hashed names from collectstatic's manifest; tests do not run collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def immediate_intake_wake_ups(settings: Any) -> None:
    # Each test sees its own wake-ups at once: a trailing one (tests/test_intake_wake.py) would
    # publish from a thread of its own after the test, into the next one's eager tasks.
    settings.INTAKE_WAKE_GAP_MS = 0


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    # Throttle counters live in the cache (Redis in CI); each test starts from zero.
    cache.clear()


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    # A page requested in Indonesian leaves Indonesian active in the test's thread (the locale
    # middleware activates a language per request and never puts it back); a worker process
    # speaks the default, and so must the next test, whichever test ran before it.
    yield
    translation.deactivate()


@pytest.fixture
def make_user(db: None) -> Callable[..., Any]:
    counter = iter(range(1, 10_000))

    def make(role: str | None = AGENT, *, username: str | None = None, superuser: bool = False) -> Any:
        name = username or f"{role or 'user'}-{next(counter)}"
        user = User.objects.create_user(username=name, password="a-long-test-password", is_superuser=superuser)
        if role is not None:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def reporter(make_user: Callable[..., Any]) -> Any:
    return make_user(REPORTER, username="rina")


@pytest.fixture
def agent(make_user: Callable[..., Any]) -> Any:
    return make_user(AGENT, username="agus")


@pytest.fixture
def manager(make_user: Callable[..., Any]) -> Any:
    return make_user(INCIDENT_MANAGER, username="maya")


@pytest.fixture
def admin_user(make_user: Callable[..., Any]) -> Any:
    return make_user(None, username="root", superuser=True)


@pytest.fixture
def staff_admin(make_user: Callable[..., Any]) -> Any:
    user = make_user(None, username="backoffice-root", superuser=True)
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def root_client(staff_admin: Any) -> Client:
    """A logged-in superuser in the back office."""
    client = Client()
    client.force_login(staff_admin)
    return client


@pytest.fixture
def team(db: None) -> Team:
    return Team.objects.create(name="Payments", slug="payments")


@pytest.fixture
def service(team: Team) -> Service:
    return Service.objects.create(name="Checkout payments", slug="checkout-payments", owner_team=team)


@pytest.fixture
def make_incident(agent: Any) -> Callable[..., Incident]:
    def make(*, reporter: Any = None, **fields: Any) -> Incident:
        fields.setdefault("title", "Payments failing for all users")
        return report_incident(reporter=reporter or agent, **fields)

    return make


@pytest.fixture
def api() -> Callable[[Any], APIClient]:
    """An API client that authenticates as `user` with a real token."""

    def client_for(user: Any) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (see tests/receivers.py)."""
    with running_receiver() as server:
        yield server


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    # Tasks run in-process when enqueued, so the path through the queue is exercised without a broker.
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous
