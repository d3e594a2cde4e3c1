"""The alert intake endpoints: authenticate, validate, store, answer 202.

The request path does only what the promise needs: the event is accepted
once it is committed, so a 202 is never a lost alert. One statement checks
the key and stores every event of the request (INSERT … SELECT from the
integration with that key hash: a key revoked a moment ago stores nothing),
and the processor (incidents/intake/processing.py) is woken after the commit.
Everything else, de-duplication included, happens there.

These are plain Django views rather than DRF ones: they are the hottest path
in the product, their bodies are not models, and PagerDuty clients expect
PagerDuty's own response shapes.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents.choices import IntegrationKind
from incidents.intake.parsers import (
    InvalidEvent,
    ParsedEvent,
    decode_body,
    parse_alertmanager,
    parse_generic,
    parse_pagerduty,
)
from incidents.intake.sql import column, concrete_fields, prepared_cursor, table
from incidents.intake.wake import count_in_window, wake_processor
from incidents.models import AlertEvent, Integration
from incidents.models.intake import hash_key
from itsm.unavailable import OUTAGE, unavailable

logger = logging.getLogger(__name__)

RATE_WINDOW_SECONDS = 60

T = TypeVar("T")


class Refusal(Exception):  # noqa: N818 — it is a response, not a failure of ours
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers

    @property
    def response(self) -> JsonResponse:
        return JsonResponse(self.body, status=self.status, headers=self.headers)


def _read_json(request: HttpRequest) -> Any:
    """The body as JSON: 413 past INTAKE_MAX_BYTES, 400 (`InvalidEvent`) if it is not JSON we can store."""
    limit = settings.INTAKE_MAX_BYTES
    too_large = Refusal(413, {"detail": f"The body is larger than {limit} bytes."})
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise too_large
    # A body sent chunked comes with its length too (itsm/chunked.py).
    body = request.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return decode_body(body)


def _on_connection(statement: Callable[[CursorWrapper], T], *, prepared: bool = False) -> T:
    """Run `statement` with a cursor (`prepared`: one whose statements are prepared on the server,
    incidents/intake/sql.py); once more on a new connection if the kept one was dead.

    The intake lane does not check a kept connection before each request
    (itsm/wsgi.py). A connection the database dropped while it sat idle (a
    restart, a failover, an idle timeout) fails the first statement sent on it
    without running it; it is closed, and the statement is sent once more on a
    new connection. A failure on a connection that still answers, or on a new
    one, is the database's answer and is raised.
    """
    open_cursor = prepared_cursor if prepared else connection.cursor
    kept = connection.connection is not None
    try:
        with open_cursor() as cursor:
            return statement(cursor)
    except (OperationalError, InterfaceError):
        if not kept or connection.in_atomic_block or connection.is_usable():
            raise
        logger.info("alert intake: the kept database connection was dead; sending again on a new one")
        connection.close()
    with open_cursor() as cursor:
        return statement(cursor)


def _bearer(request: HttpRequest) -> str:
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


@dataclass(frozen=True)
class Door:
    """What the request path needs of an integration: which one a key opens, and its budget."""

    pk: int
    rate_limit_per_minute: int
    key_hash: str
    kind: str


@functools.cache
def _lookup_sql() -> str:
    found, limit, key_hash, kind, active = map(
        column, concrete_fields(Integration, ("id", "rate_limit_per_minute", "key_hash", "kind", "is_active"))
    )
    return f"SELECT {found}, {limit} FROM {table(Integration)} WHERE {key_hash} = %s AND {kind} = %s AND {active}"  # noqa: S608 — names from the model


class _Doors:
    """The integrations this process has seen keys of, to count a request against the right budget
    before the one statement that stores it.

    This is never what lets a request in: the INSERT itself checks the key
    hash, the kind and that the integration is active, so a rotated or
    deactivated key stores nothing from the next request on, in every process.
    An entry only saves the lookup that learns the integration's id and budget;
    a changed budget is read again within `TTL` seconds.
    """

    TTL = 60.0
    SIZE = 4096

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], tuple[Door, float]] = {}

    def get(self, key_hash: str, kind: str) -> Door | None:
        found = self._known.get((key_hash, kind))
        if found is None or time.monotonic() - found[1] > self.TTL:
            return None
        return found[0]

    def remember(self, door: Door) -> None:
        if len(self._known) >= self.SIZE:
            self._known.clear()
        self._known[(door.key_hash, door.kind)] = (door, time.monotonic())

    def forget(self, door: Door) -> None:
        self._known.pop((door.key_hash, door.kind), None)

    def clear(self) -> None:
        self._known.clear()


doors = _Doors()


def _integration(key: str, kind: str, *, fresh: bool = False) -> Door | None:
    """The active integration of `kind` with this key: one indexed query, written out (the ORM's
    query building cost more than the query on this path), unless this process has seen the key
    lately and `fresh` is not asked for; the INSERT checks the key again either way."""
    if not key or len(key) > 255:
        return None
    key_hash = hash_key(key)
    door = None if fresh else doors.get(key_hash, kind)
    if door is not None:
        return door

    def look_up(cursor: CursorWrapper) -> Any:
        cursor.execute(_lookup_sql(), [key_hash, kind])
        return cursor.fetchone()

    row = _on_connection(look_up)
    if row is None:
        return None
    door = Door(pk=row[0], rate_limit_per_minute=row[1], key_hash=key_hash, kind=kind)
    doors.remember(door)
    return door


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


@functools.cache
def _store_sql(rows: int) -> str:
    """INSERT … SELECT the events joined to the integration's row, so that only a key that is still
    active, of this kind and this integration stores anything: the check and the write are one statement."""
    event_fields = concrete_fields(AlertEvent, _STORED_FIELDS)
    pk, key_hash, kind, active = map(column, concrete_fields(Integration, ("id", "key_hash", "kind", "is_active")))
    row = "(" + ", ".join(["%s"] * (len(event_fields) - 1)) + ")"
    return (
        f"INSERT INTO {table(AlertEvent)} ({', '.join(map(column, event_fields))}) "  # noqa: S608 — names from the model
        f"SELECT door.{pk}, event.* FROM (VALUES {', '.join([row] * rows)}) AS event, {table(Integration)} AS door "
        f"WHERE door.{pk} = %s AND door.{key_hash} = %s AND door.{kind} = %s AND door.{active}"
    )


def _store(integration: Door, events: list[ParsedEvent]) -> bool:
    """Store every event in one statement, outside any transaction: whole or not at all.

    False, with nothing stored, when the key no longer opens the integration.
    """
    fields = concrete_fields(AlertEvent, _STORED_FIELDS)[1:]
    received_at = timezone.now()
    door = [integration.pk, integration.key_hash, integration.kind]
    params: list[Any] = []
    for event in events:
        values = (
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
    params.extend(door)

    def insert(cursor: CursorWrapper) -> int:
        cursor.execute(_store_sql(len(events)), params)
        return int(cursor.rowcount)

    stored = _on_connection(insert, prepared=True)
    if stored != len(events):
        doors.forget(integration)
        return False
    transaction.on_commit(wake_processor, robust=True)
    return True


def _intake(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """POST only, no CSRF (machines), and refusals, bad bodies and a database that cannot take the event as answers."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        try:
            return view(request, *args, **kwargs)
        except Refusal as refusal:
            return refusal.response
        except (OperationalError, InterfaceError) as error:
            logger.exception("alert intake: the event could not be stored")
            return (unavailable(error) or OUTAGE).json()

    return csrf_exempt(require_POST(wrapped))


def _key_refused(in_url: bool) -> Refusal:
    if in_url:
        return Refusal(404, {"detail": "Not found."})
    return Refusal(
        401,
        {"detail": "Send this integration's key as 'Authorization: Bearer <key>' or in the URL."},
        headers={"WWW-Authenticate": 'Bearer realm="itsm"'},
    )


def _authenticated(request: HttpRequest, key: str | None, kind: str, *, fresh: bool = False) -> Door:
    """The integration whose key came in the URL (404 if unknown) or as a Bearer token (401)."""
    integration = _integration(_bearer(request) if key is None else key, kind, fresh=fresh)
    if integration is None:
        raise _key_refused(key is not None)
    return integration


def _store_or_refuse(request: HttpRequest, integration: Door, key: str | None, events: list[ParsedEvent]) -> None:
    if events and _store(integration, events):
        return
    # Nothing was stored: either the key stopped working since this process
    # last saw it, or there was nothing to store and the key is checked afresh.
    if not events and _integration(_bearer(request) if key is None else key, integration.kind, fresh=True):
        return
    raise _key_refused(key is not None)


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
    _store_or_refuse(request, integration, key, events)
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
    _store_or_refuse(request, integration, key, [event])
    return JsonResponse({"status": "accepted", "dedup_key": event.dedup_key}, status=202)


def _pagerduty_invalid(errors: list[str], *, status: int = 400, message: str = "Event object is invalid") -> Refusal:
    return Refusal(status, {"status": "invalid event", "message": message, "errors": errors})


def _unknown_routing_key() -> Refusal:
    return _pagerduty_invalid(
        ["'routing_key' does not match an active Events API v2 integration"],
        status=404,
        message="Unknown routing key",
    )


@_intake
def pagerduty_enqueue(request: HttpRequest) -> JsonResponse:
    """PagerDuty Events API v2 (`/v2/enqueue`), with PagerDuty's answers: 202, 400 invalid event, 429."""
    try:
        routing_key, event = parse_pagerduty(_read_json(request))
    except InvalidEvent as error:
        raise _pagerduty_invalid([f"'{where}' {'; '.join(what)}" for where, what in error.errors.items()]) from None
    integration = _integration(routing_key, IntegrationKind.PAGERDUTY)
    if integration is None:
        raise _unknown_routing_key()
    _check_rate(
        integration,
        1,
        {"status": "throttle event", "message": "Requests for this service are arriving too quickly. Retry later."},
    )
    if not _store(integration, [event]):
        raise _unknown_routing_key()
    return JsonResponse({"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}, status=202)
