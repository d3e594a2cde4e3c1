"""Pages in the user's own time zone and language (their responder profile's)."""

import zoneinfo
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation


class UserTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = _zone_of(request)
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        return self.get_response(request)


def _zone_of(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    profile = getattr(user, "responder_profile", None)
    if profile is None:
        return None
    try:
        return zoneinfo.ZoneInfo(profile.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class UserLanguageMiddleware:
    """The language the user chose in their profile wins over the browser's and the cookie's.

    Django's LocaleMiddleware runs before anyone is logged in and picks the
    language from the cookie or the browser; this one, after authentication,
    switches to the user's own choice and keeps the language cookie in step,
    so the login page after a log-out speaks it too. Users without a choice
    keep what LocaleMiddleware picked (the language switcher's cookie).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = _language_of(request)
        if language is not None:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        response = self.get_response(request)
        name = settings.LANGUAGE_COOKIE_NAME
        # A view that set the cookie itself (a new choice, from the profile or the switcher) has the last word.
        if language is not None and request.COOKIES.get(name) != language and name not in response.cookies:
            set_language_cookie(response, language)
        return response


def set_language_cookie(response: HttpResponse, language: str) -> None:
    """Remember the language in Django's own cookie, with Django's cookie settings."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def _language_of(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    profile = getattr(user, "responder_profile", None)
    language = getattr(profile, "language", "")
    if language and language in dict(settings.LANGUAGES):
        return str(language)
    return None
