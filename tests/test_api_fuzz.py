"""The API against its own OpenAPI schema: schemathesis generates requests from /api/schema/ and
sends them in-process through the WSGI application, as an admin and as an agent.

Every answer must be something other than a 5xx, carry a status code the schema documents for that
operation, and a body that matches the schema of that status. The number of examples per operation
is bounded (API_FUZZ_EXAMPLES, default below) and the generation derandomized, so a CI run is
repeatable. To search harder locally, raise the number and add schemathesis' coverage phase
(boundary and wrong-typed values of every parameter):
`API_FUZZ_EXAMPLES=50 API_FUZZ_COVERAGE=1 pytest tests/test_api_fuzz.py`.

Path parameters that name an incident or a service are pointed at ones that exist, so requests
get past the 404. Nothing is left out: the exports (CSV, XLSX, PDF) and the multipart upload run
in-process like the rest; Celery tasks and webhooks are only enqueued on commit, which the test's
transaction never reaches.
"""

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from incidents.models import Incident

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "4"))
# The coverage phase sends each operation's boundary and wrong-typed values besides the random ones.
COVERAGE = os.environ.get("API_FUZZ_COVERAGE", "0") == "1"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

application = get_wsgi_application()
# Django's test environment allows the host "testserver" only; collection runs before it is set up.
with override_settings(ALLOWED_HOSTS=["testserver"]):
    schema = schemathesis.openapi.from_wsgi(
        "/api/schema/",
        application,
        headers={"Host": "testserver"},
        config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": COVERAGE}}}),
    )


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    # Like Django's test client: the request's end must not close the connection that holds the
    # test's transaction (the WSGI handler's signals would, outside the test client).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def known_objects(make_incident: Any, service: Any, team: Any, keep_test_connection: None) -> dict[str, str]:
    """Path parameters that name objects which exist, so operations reach past their 404."""
    incident: Incident = make_incident(services=[service])
    return {"number": incident.number, "slug": service.slug}


def _exercise(case: Any, user: Any, known: dict[str, str]) -> None:
    for name, value in known.items():
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = value
    token, _ = Token.objects.get_or_create(user=user)
    case.call_and_validate(headers={"Authorization": f"Token {token.key}", "Host": "testserver"}, checks=CHECKS)


fuzz_settings = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@fuzz_settings
@pytest.mark.django_db
def test_api_as_admin(case: Any, admin_user: Any, known_objects: dict[str, str]) -> None:
    _exercise(case, admin_user, known_objects)


@schema.parametrize()
@fuzz_settings
@pytest.mark.django_db
def test_api_as_agent(case: Any, agent: Any, known_objects: dict[str, str]) -> None:
    _exercise(case, agent, known_objects)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/services/%00/",
        "/api/v1/teams/a%00/",
        "/api/v1/incidents/INC-%00/",
        "/api/v1/incidents/?q=a%00b&service=%00&assignee=%00",
        "/api/v1/postmortems/?owner=%00",
        "/api/v1/oncall/?at=%00",
        "/api/v1/reports/summary/?start=%00",
        "/api/v1/reports/summary/?service=a%00&team=%00",
        "/api/v1/reports/summary/xlsx/?service=%00",
    ],
)
def test_a_nul_in_the_url_is_refused_not_a_server_error(path: str, admin_user: Any, api: Any) -> None:
    # PostgreSQL refuses NUL in text; the request must be answered before it gets there.
    response = api(admin_user).get(path)
    assert response.status_code in (200, 400, 404), (path, response.status_code)
    assert response["Content-Type"] == "application/json"


def test_every_operation_documents_its_error_answers() -> None:
    for path, operations in schema.raw_schema["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert {"401", "403", "429", "503"} <= documented, (method, path)
            if method in ("post", "put", "patch", "delete"):
                assert {"400", "409"} <= documented, (method, path)
            if "{" in path:
                assert "404" in documented, (method, path)
