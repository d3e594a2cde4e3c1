"""The alert intake endpoints: authenticate, validate, store, answer 202.

The request path does only what the promise needs: the event is accepted
once it is committed, so a 202 is never a lost alert. One query finds the
integration by the hash of its key, one INSERT stores every event of the
request, and the processor (incidents/intake/processing.py) is woken after
the commit. Everything else, de-duplication included, happens there.

These are plain Django views rather than DRF ones: they are the hottest path
in the product, their bodies are not models, and PagerDuty clients expect
PagerDuty's own response shapes.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.choices import IntegrationKind
from incidents.intake.parsers import (
    InvalidEvent,
    ParsedEvent,
    parse_alertmanager,
    parse_generic,
    parse_pagerduty,
)
from incidents.intake.sql import column, concrete_fields, table
from incidents.intake.wake import count_in_window, wake_processor
from incidents.models import AlertEvent, Integration
from incidents.models.intake import hash_key

logger = logging.getLogger(__name__)

RATE_WINDOW_SECONDS = 60


class Refusal(Exception):  # noqa: N818 — it is a response, not a failure of ours
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.response = JsonResponse(body, status=status, headers=headers)


def _read_json(request: HttpRequest) -> Any:
    """The body as JSON: 413 past INTAKE_MAX_BYTES, 400 if it is not JSON."""
    limit = settings.INTAKE_MAX_BYTES
    too_large = Refusal(413, {"detail": f"The body is larger than {limit} bytes."})
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidEvent({"body": ["Not valid JSON."]}) from None


def _bearer(request: HttpRequest) -> str:
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class Door:
    """What the request path needs of an integration."""

    pk: int
    rate_limit_per_minute: int


@functools.cache
def _lookup_sql() -> str:
    found, limit, key_hash, kind, active = map(
        column, concrete_fields(Integration, ("id", "rate_limit_per_minute", "key_hash", "kind", "is_active"))
    )
    return f"SELECT {found}, {limit} FROM {table(Integration)} WHERE {key_hash} = %s AND {kind} = %s AND {active}"  # noqa: S608 — names from the model


def _integration(key: str, kind: str) -> Door | None:
    """The active integration of `kind` with this key: one indexed query, written out (the ORM's
    query building cost more than the query on this path)."""
    if not key or len(key) > 255:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_lookup_sql(), [hash_key(key), kind])
        row = cursor.fetchone()
    return Door(pk=row[0], rate_limit_per_minute=row[1]) if row else None


def _check_rate(integration: Door, count: int, refusal: dict[str, Any]) -> None:
    """Count `count` events against the integration's per-minute budget; 429 past it.

    A fixed one-minute window in the cache (shared through Redis when there is
    one). If the cache is down, events are let through rather than lost.
    """
    limit = integration.rate_limit_per_minute
    if not limit:
        return
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"itsm:intake-rate:{integration.pk}:{window}"
    try:
        used = count_in_window(key, count, seconds=RATE_WINDOW_SECONDS * 2)
    except Exception:  # the cache is only a throttle; never refuse an alert because it is away
        logger.warning("intake rate limit not checked: the cache is not reachable", exc_info=True)
        return
    if used > limit:
        retry_after = max(1, int((window + 1) * RATE_WINDOW_SECONDS - now))
        raise Refusal(429, refusal, headers={"Retry-After": str(retry_after)})


_STORED_FIELDS = (
    "integration",
    "action",
    "dedup_key",
    "group_key",
    "payload",
    "content_hash",
    "received_at",
    "outcome",
    "error",
)


def _store(integration: Door, events: list[ParsedEvent]) -> None:
    """One INSERT of every event, outside any transaction: stored whole or not at all."""
    fields = concrete_fields(AlertEvent, _STORED_FIELDS)
    received_at = timezone.now()
    params: list[Any] = []
    for event in events:
        values = (
            integration.pk,
            event.action,
            event.dedup_key,
            event.group_key,
            event.payload,
            event.content_hash,
            received_at,
            "",
            "",
        )
        params.extend(field.get_db_prep_save(value, connection) for field, value in zip(fields, values, strict=True))
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    columns = ", ".join(map(column, fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table(AlertEvent)} ({columns}) VALUES {', '.join([row] * len(events))}",  # noqa: S608 — names from the model
            params,
        )
    transaction.on_commit(wake_processor, robust=True)


def _intake(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """POST only, no CSRF (machines), and refusals, bad bodies and a database outage as answers."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except Refusal as refusal:
            return refusal.response
        except (OperationalError, InterfaceError):
            logger.exception("alert intake: the database is not reachable")
            return JsonResponse(
                {"detail": "The database is not reachable; try again shortly."},
                status=503,
                headers={"Retry-After": "5"},
            )

    return csrf_exempt(require_POST(wrapped))


def _authenticated(request: HttpRequest, key: str | None, kind: str) -> Door:
    """The integration whose key came in the URL (404 if unknown) or as a Bearer token (401)."""
    if key is not None:
        integration = _integration(key, kind)
        if integration is None:
            raise Refusal(404, {"detail": "Not found."})
        return integration
    integration = _integration(_bearer(request), kind)
    if integration is None:
        raise Refusal(
            401,
            {"detail": "Send this integration's key as 'Authorization: Bearer <key>' or in the URL."},
            headers={"WWW-Authenticate": 'Bearer realm="itsm"'},
        )
    return integration


def _invalid(error: InvalidEvent) -> JsonResponse:
    return JsonResponse(error.errors, status=400)


@_intake
def alertmanager(request: HttpRequest, key: str | None = None) -> JsonResponse:
    """Prometheus Alertmanager's webhook (payload version 4): one event per alert."""
    integration = _authenticated(request, key, IntegrationKind.ALERTMANAGER)
    try:
        events = parse_alertmanager(_read_json(request))
    except InvalidEvent as error:
        return _invalid(error)
    _check_rate(integration, len(events), {"detail": "Too many alerts for this integration; retry later."})
    if events:
        _store(integration, events)
    return JsonResponse({"status": "accepted", "alerts": len(events)}, status=202)


@_intake
def generic(request: HttpRequest, key: str | None = None) -> JsonResponse:
    """The generic JSON webhook (README: Alert intake → Generic JSON)."""
    integration = _authenticated(request, key, IntegrationKind.GENERIC)
    try:
        event = parse_generic(_read_json(request))
    except InvalidEvent as error:
        return _invalid(error)
    _check_rate(integration, 1, {"detail": "Too many events for this integration; retry later."})
    _store(integration, [event])
    return JsonResponse({"status": "accepted", "dedup_key": event.dedup_key}, status=202)


def _pagerduty_invalid(errors: list[str], *, status: int = 400, message: str = "Event object is invalid") -> Refusal:
    return Refusal(status, {"status": "invalid event", "message": message, "errors": errors})


@_intake
def pagerduty_enqueue(request: HttpRequest) -> JsonResponse:
    """PagerDuty Events API v2 (`/v2/enqueue`), with PagerDuty's answers: 202, 400 invalid event, 429."""
    try:
        routing_key, event = parse_pagerduty(_read_json(request))
    except InvalidEvent as error:
        raise _pagerduty_invalid([f"'{where}' {'; '.join(what)}" for where, what in error.errors.items()]) from None
    integration = _integration(routing_key, IntegrationKind.PAGERDUTY)
    if integration is None:
        raise _pagerduty_invalid(
            ["'routing_key' does not match an active Events API v2 integration"],
            status=404,
            message="Unknown routing key",
        )
    _check_rate(
        integration,
        1,
        {"status": "throttle event", "message": "Requests for this service are arriving too quickly. Retry later."},
    )
    _store(integration, [event])
    return JsonResponse({"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}, status=202)
