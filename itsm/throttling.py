"""The API's rate limits (429 with Retry-After), read from settings at each request.

DRF's throttles copy `DEFAULT_THROTTLE_RATES` when their class is defined, so a
rate changed afterwards (by a test's settings, or by whatever reloads settings)
would be ignored; these read the rate when a request comes in. The rates come
from API_THROTTLE_ANON and API_THROTTLE_USER (itsm/settings.py).

The counts live in the cache (Redis in production). While it cannot be
reached, requests go through uncounted, with a warning in the log: a limit
meant to protect the service must not take the whole API down with Redis,
least of all during an incident. The alert intake's budgets do the same.
"""

import logging
from typing import Any, cast

import redis
from rest_framework import throttling
from rest_framework.settings import api_settings

logger = logging.getLogger(__name__)


class _SettingsRate(throttling.SimpleRateThrottle):
    def get_rate(self) -> str | None:
        self.THROTTLE_RATES = cast(dict[str, str | None], api_settings.DEFAULT_THROTTLE_RATES)
        return super().get_rate()

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            logger.warning("API rate limit not checked: the cache is not reachable", exc_info=True)
            return True


class AnonRateThrottle(_SettingsRate, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(_SettingsRate, throttling.UserRateThrottle):
    pass
