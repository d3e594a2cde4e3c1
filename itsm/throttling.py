"""The API's rate limits (429 with Retry-After), read from settings at each request.

DRF's throttles copy `DEFAULT_THROTTLE_RATES` when their class is defined, so a
rate changed afterwards (by a test's settings, or by whatever reloads settings)
would be ignored; these read the rate when a request comes in. The rates come
from API_THROTTLE_ANON and API_THROTTLE_USER (itsm/settings.py).
"""

from typing import cast

from rest_framework import throttling
from rest_framework.settings import api_settings


class AnonRateThrottle(throttling.AnonRateThrottle):
    def get_rate(self) -> str | None:
        self.THROTTLE_RATES = cast(dict[str, str | None], api_settings.DEFAULT_THROTTLE_RATES)
        return super().get_rate()


class UserRateThrottle(throttling.UserRateThrottle):
    def get_rate(self) -> str | None:
        self.THROTTLE_RATES = cast(dict[str, str | None], api_settings.DEFAULT_THROTTLE_RATES)
        return super().get_rate()
