"""The API's own rate limits: 429 with Retry-After, per user and for anonymous callers.

Intake has its per-integration limit (tests/test_intake.py). The rates are read
at each request (itsm/throttling.py), so the settings fixture can lower them.
"""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_rates(settings: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "2/minute", "user": "3/minute"},
    }


def test_a_user_past_the_rate_gets_429_with_retry_after(
    low_rates: None, api: Callable[[Any], APIClient], reporter: Any, agent: Any
) -> None:
    client = api(reporter)
    statuses = [client.get("/api/v1/services/").status_code for _ in range(4)]
    refused = client.get("/api/v1/services/")

    assert statuses == [200, 200, 200, 429]
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60
    assert "throttled" in refused.json()["detail"].lower()
    # The count is the user's own: someone else is still served.
    assert api(agent).get("/api/v1/services/").status_code == 200


def test_anonymous_callers_are_limited_by_address(low_rates: None) -> None:
    client = APIClient()
    statuses = [client.get("/api/docs/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    assert int(client.get("/api/docs/")["Retry-After"]) > 0


def test_the_rates_come_from_settings(settings: Any, api: Callable[[Any], APIClient], reporter: Any) -> None:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "1/minute", "user": "1/minute"},
    }
    client = api(reporter)

    assert [client.get("/api/v1/services/").status_code for _ in range(2)] == [200, 429]
