"""Strict readers for settings that come from the environment.

Every reader fails loudly with `ImproperlyConfigured` naming the variable and
the value it could not understand: a typo in production must stop the process,
not quietly turn a feature off.
"""

import os
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import environ
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str | None = None, *, required: bool = False) -> str:
    value = _raw(name)
    if value:
        return value
    if required:
        raise ImproperlyConfigured(f"{name} must be set.")
    return default or ""


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use one of true/false, yes/no, on/off, 1/0.")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    value = _raw(name)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} is below the minimum of {minimum}.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_time_zone(name: str, default: str) -> str:
    value = _raw(name) or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name}={value!r} is not an IANA time zone such as 'Asia/Jakarta'.") from None
    return value


def env_database(name: str, default: str) -> dict[str, Any]:
    value = _raw(name) or default
    scheme = value.split(":", 1)[0]
    if scheme not in environ.Env.DB_SCHEMES:
        known = ", ".join(sorted(environ.Env.DB_SCHEMES))
        raise ImproperlyConfigured(f"{name} has the unknown scheme {scheme!r}; use one of: {known}.")
    try:
        config = environ.Env.db_url_config(value)
    except Exception as error:  # django-environ raises several kinds for a malformed URL
        raise ImproperlyConfigured(f"{name} is not a database URL ({error}).") from None
    return config


def env_email(name: str, default: str) -> dict[str, Any]:
    value = _raw(name) or default
    scheme = value.split(":", 1)[0]
    if scheme not in environ.Env.EMAIL_SCHEMES:
        known = ", ".join(sorted(environ.Env.EMAIL_SCHEMES))
        raise ImproperlyConfigured(f"{name} has the unknown scheme {scheme!r}; use one of: {known}.")
    try:
        config = environ.Env.email_url_config(value)
    except Exception as error:
        raise ImproperlyConfigured(f"{name} is not an email URL ({error}).") from None
    return config
