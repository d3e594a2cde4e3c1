"""Reading what monitoring sends: Alertmanager v4, PagerDuty Events v2 and the generic JSON shape.

Each parser checks a decoded JSON body and turns it into `ParsedEvent`s, one
per alert, all in one normalised form, or raises `InvalidEvent` naming every
problem. Nothing here touches the database: the request path validates, then
stores the parsed events in one INSERT.

The normalised payload (`ParsedEvent.payload`, kept on `AlertEvent.payload`)::

    {"summary": str, "severity": str, "source": str, "fired_at": ISO 8601 | null,
     "description": str, "labels": {str: str}, "annotations": {str: str},
     "details": object, "links": [{"href": str, "text": str}],
     "images": [{"src": str, "href": str, "alt": str}], "generator_url": str,
     "context": {what else the sender said, e.g. Alertmanager's receiver}}
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.utils.dateparse import parse_datetime

from incidents.choices import AlertAction, Severity

MAX_KEY_LENGTH = 255
MAX_SUMMARY_LENGTH = 1024
MAX_TEXT_LENGTH = 20_000
MAX_LINKS = 50
MAX_ALERTS = 1000
# Alertmanager writes this for "no end known yet".
ZERO_TIME_PREFIX = "0001-01-01"


class InvalidEvent(Exception):  # noqa: N818 — PagerDuty's own name for the error
    """The body is not a valid event; `errors` maps where (a dotted path) to what is wrong."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{where}: {', '.join(what)}" for where, what in errors.items()))
        self.errors = errors


# The parts of an event that make it news; anything else changing is a repeat.
CONTENT_FIELDS = ("summary", "severity", "source", "fired_at", "description", "labels", "annotations", "details")


def content_hash(payload: dict[str, Any]) -> str:
    """What an alert says, as a hash: equal for a sender's retry or a repeat notification."""
    content = {name: payload.get(name) for name in CONTENT_FIELDS}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class ParsedEvent:
    action: str
    dedup_key: str
    group_key: str
    payload: dict[str, Any] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        return content_hash(self.payload) if self.payload else ""


def group_hash(text: str) -> str:
    """Group keys can be long (Alertmanager's name every grouping label); rows keep their hash."""
    return hashlib.sha256(text.encode()).hexdigest()


class _Checker:
    """Collects every problem of one body, each under its dotted path."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def fail(self, where: str, message: str) -> None:
        self.errors.setdefault(where, []).append(message)

    def done(self) -> None:
        if self.errors:
            raise InvalidEvent(self.errors)

    def text(self, data: dict[str, Any], key: str, where: str, *, required: bool = False, limit: int) -> str:
        value = data.get(key)
        if value is None or value == "":
            if required:
                self.fail(where, "This field is required.")
            return ""
        if not isinstance(value, str):
            self.fail(where, "Must be a string.")
            return ""
        if len(value) > limit:
            self.fail(where, f"Must be at most {limit} characters.")
            return ""
        return value

    def mapping(self, data: dict[str, Any], key: str, where: str, *, strings: bool = False) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.fail(where, "Must be an object.")
            return {}
        if strings and not all(isinstance(v, str) for v in value.values()):
            self.fail(where, "Every value must be a string.")
            return {}
        return value

    def timestamp(self, data: dict[str, Any], key: str, where: str) -> str | None:
        value = data.get(key)
        if value in (None, "") or (isinstance(value, str) and value.startswith(ZERO_TIME_PREFIX)):
            return None
        parsed = parse_time(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail(where, "Must be an ISO 8601 date and time.")
            return None
        return parsed.isoformat()

    def links(self, data: dict[str, Any], key: str, where: str, *, url_key: str = "href") -> list[dict[str, str]]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > MAX_LINKS:
            self.fail(where, f"Must be a list of at most {MAX_LINKS} objects.")
            return []
        links: list[dict[str, str]] = []
        for index, item in enumerate(value):
            if not isinstance(item, dict) or not isinstance(item.get(url_key), str) or not item[url_key]:
                self.fail(f"{where}.{index}.{url_key}", "This field is required.")
                continue
            links.append(
                {k: v for k, v in item.items() if isinstance(v, str) and k in (url_key, "href", "text", "alt")}
            )
        return links


def decode_body(raw: bytes) -> Any:
    """A request body as JSON that every database can store, or `InvalidEvent`.

    Refused besides what is not JSON at all: nesting deeper than the decoder
    goes, NaN and infinities (JSON has none; `1e999` decodes to one), and text
    with NUL characters or unpaired surrogates (`\\u0000`, `\\ud800`), which
    PostgreSQL's jsonb and UTF-8 columns cannot hold.
    """
    try:
        body = json.loads(raw, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise InvalidEvent({"body": ["Not valid JSON."]}) from None
    if not _storable(body):
        raise InvalidEvent(
            {"body": ["Numbers must be finite, and text may not hold NUL characters or unpaired surrogates."]}
        )
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def _storable_text(text: str) -> bool:
    if text.isascii():
        return "\x00" not in text
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def _storable(value: Any) -> bool:
    # A loop, not recursion: the decoder may have gone as deep as the interpreter allows.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not _storable_text(item):
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict):
            if not all(_storable_text(key) for key in item):
                return False
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return True


def parse_time(value: str) -> dt.datetime | None:
    # PagerDuty's examples write offsets without a colon (+0000); ISO 8601 allows both.
    try:
        parsed = parse_datetime(value)
    except ValueError:
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    try:
        # 9999-12-31T23:00-05:00 parses, but is past the last moment a datetime holds in UTC.
        parsed.astimezone(dt.UTC)
    except OverflowError:
        return None
    return parsed


def _body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InvalidEvent({"body": ["Must be a JSON object."]})
    return body


def _severity(value: str) -> str:
    return value.strip().lower()


# --- Prometheus Alertmanager, webhook payload version 4 -------------------


def _fingerprint(labels: dict[str, str]) -> str:
    """Alertmanager sends each alert's fingerprint; older senders may not, so derive one from the labels."""
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


def _alertmanager_summary(labels: dict[str, str], annotations: dict[str, str], fingerprint: str) -> str:
    for key in ("summary", "title", "message"):
        if annotations.get(key, "").strip():
            return annotations[key].strip()[:MAX_SUMMARY_LENGTH]
    name = labels.get("alertname", "").strip()
    where = labels.get("instance") or labels.get("job") or ""
    if name and where:
        return f"{name} on {where}"[:MAX_SUMMARY_LENGTH]
    return name or f"Alert {fingerprint}"


def parse_alertmanager(body: Any) -> list[ParsedEvent]:
    """One event per alert of a version 4 notification.

    Alerts are keyed by fingerprint and grouped by the notification's
    groupKey; `firing` triggers, `resolved` resolves.
    """
    body = _body_object(body)
    check = _Checker()
    if body.get("version") != "4":
        check.fail("version", 'Only webhook payload version "4" is understood.')
    group_key = check.text(body, "groupKey", "groupKey", required=True, limit=MAX_TEXT_LENGTH)
    alerts = body.get("alerts")
    if not isinstance(alerts, list):
        check.fail("alerts", "Must be a list.")
        alerts = []
    elif len(alerts) > MAX_ALERTS:
        check.fail("alerts", f"At most {MAX_ALERTS} alerts a request.")
        alerts = []
    context = {
        "receiver": body.get("receiver") if isinstance(body.get("receiver"), str) else "",
        "external_url": body.get("externalURL") if isinstance(body.get("externalURL"), str) else "",
        "group_labels": body.get("groupLabels") if isinstance(body.get("groupLabels"), dict) else {},
        "group_key": group_key,
    }
    events: list[ParsedEvent] = []
    for index, alert in enumerate(alerts):
        where = f"alerts.{index}"
        if not isinstance(alert, dict):
            check.fail(where, "Must be an object.")
            continue
        status = alert.get("status")
        if status not in ("firing", "resolved"):
            check.fail(f"{where}.status", 'Must be "firing" or "resolved".')
        labels = check.mapping(alert, "labels", f"{where}.labels", strings=True)
        if not labels:
            check.fail(f"{where}.labels", "An alert needs at least one label.")
        annotations = check.mapping(alert, "annotations", f"{where}.annotations", strings=True)
        fired_at = check.timestamp(alert, "startsAt", f"{where}.startsAt")
        generator_url = check.text(alert, "generatorURL", f"{where}.generatorURL", limit=2000)
        fingerprint = check.text(alert, "fingerprint", f"{where}.fingerprint", limit=MAX_KEY_LENGTH)
        fingerprint = fingerprint or _fingerprint(labels)
        events.append(
            ParsedEvent(
                action=AlertAction.TRIGGER if status == "firing" else AlertAction.RESOLVE,
                dedup_key=fingerprint,
                group_key=group_hash(f"alertmanager:{group_key}"),
                payload={
                    "summary": _alertmanager_summary(labels, annotations, fingerprint),
                    "severity": _severity(labels.get("severity", "")),
                    "source": labels.get("instance") or labels.get("job") or "",
                    "fired_at": fired_at,
                    "description": annotations.get("description", ""),
                    "labels": labels,
                    "annotations": annotations,
                    "details": {},
                    "links": [{"href": generator_url, "text": "Source"}] if generator_url else [],
                    "images": [],
                    "generator_url": generator_url,
                    "context": context,
                },
            )
        )
    check.done()
    return events


# --- PagerDuty Events API v2 -----------------------------------------------


def parse_pagerduty(body: Any) -> tuple[str, ParsedEvent]:
    """(routing key, event) from an Events API v2 alert event.

    A trigger without a `dedup_key` gets a new UUID, which the response
    returns so the sender can acknowledge or resolve it later.
    """
    body = _body_object(body)
    check = _Checker()
    routing_key = check.text(body, "routing_key", "routing_key", required=True, limit=MAX_KEY_LENGTH)
    action = body.get("event_action")
    if action not in AlertAction.values:
        check.fail("event_action", "Must be one of trigger, acknowledge, resolve.")
    dedup_key = check.text(body, "dedup_key", "dedup_key", limit=MAX_KEY_LENGTH)
    if not dedup_key and action in (AlertAction.ACKNOWLEDGE, AlertAction.RESOLVE):
        check.fail("dedup_key", "This field is required to acknowledge or resolve.")

    payload: dict[str, Any] = {}
    if action == AlertAction.TRIGGER:
        details = body.get("payload")
        if not isinstance(details, dict):
            check.fail("payload", "This field is required and must be an object.")
            details = {}
        summary = check.text(details, "summary", "payload.summary", required=True, limit=MAX_SUMMARY_LENGTH)
        source = check.text(details, "source", "payload.source", required=True, limit=MAX_KEY_LENGTH)
        severity = check.text(details, "severity", "payload.severity", required=True, limit=32)
        if severity and severity not in Severity.values:
            check.fail("payload.severity", "Must be one of critical, error, warning, info.")
        fired_at = check.timestamp(details, "timestamp", "payload.timestamp")
        component = check.text(details, "component", "payload.component", limit=MAX_KEY_LENGTH)
        group = check.text(details, "group", "payload.group", limit=MAX_KEY_LENGTH)
        event_class = check.text(details, "class", "payload.class", limit=MAX_KEY_LENGTH)
        custom = details.get("custom_details")
        links = check.links(body, "links", "links")
        images = check.links(body, "images", "images", url_key="src")
        client = check.text(body, "client", "client", limit=MAX_KEY_LENGTH)
        client_url = check.text(body, "client_url", "client_url", limit=2000)
        if client_url:
            links = [*links, {"href": client_url, "text": client or "Client"}]
        labels = {k: v for k, v in (("component", component), ("group", group), ("class", event_class)) if v}
        payload = {
            "summary": summary,
            "severity": severity,
            "source": source,
            "fired_at": fired_at,
            "description": "",
            "labels": labels,
            "annotations": {},
            "details": custom if isinstance(custom, dict) else ({"details": custom} if custom is not None else {}),
            "links": links,
            "images": images,
            "generator_url": "",
            "context": {"client": client} if client else {},
        }
    check.done()
    dedup_key = dedup_key or uuid.uuid4().hex
    return routing_key, ParsedEvent(
        action=str(action), dedup_key=dedup_key, group_key=group_hash(f"key:{dedup_key}"), payload=payload
    )


# --- The generic JSON webhook ----------------------------------------------


def parse_generic(body: Any) -> ParsedEvent:
    """One event in the generic shape documented in the README (Alert intake → Generic JSON)."""
    body = _body_object(body)
    check = _Checker()
    action = body.get("action", AlertAction.TRIGGER)
    if action not in AlertAction.values:
        check.fail("action", "Must be one of trigger, acknowledge, resolve.")
    dedup_key = check.text(body, "dedup_key", "dedup_key", limit=MAX_KEY_LENGTH)
    if not dedup_key and action in (AlertAction.ACKNOWLEDGE, AlertAction.RESOLVE):
        check.fail("dedup_key", "This field is required to acknowledge or resolve.")
    payload: dict[str, Any] = {}
    group = ""
    if action == AlertAction.TRIGGER:
        title = check.text(body, "title", "title", required=True, limit=MAX_SUMMARY_LENGTH)
        severity = _severity(check.text(body, "severity", "severity", limit=32) or Severity.WARNING)
        if severity not in Severity.values:
            check.fail("severity", "Must be one of critical, error, warning, info.")
        group = check.text(body, "group", "group", limit=MAX_KEY_LENGTH)
        payload = {
            "summary": title,
            "severity": severity,
            "source": check.text(body, "source", "source", limit=MAX_KEY_LENGTH),
            "fired_at": check.timestamp(body, "started_at", "started_at"),
            "description": check.text(body, "description", "description", limit=MAX_TEXT_LENGTH),
            "labels": check.mapping(body, "labels", "labels", strings=True),
            "annotations": {},
            "details": check.mapping(body, "details", "details"),
            "links": check.links(body, "links", "links"),
            "images": [],
            "generator_url": "",
            "context": {"group": group} if group else {},
        }
    check.done()
    dedup_key = dedup_key or uuid.uuid4().hex
    return ParsedEvent(
        action=str(action),
        dedup_key=dedup_key,
        group_key=group_hash(f"group:{group}" if group else f"key:{dedup_key}"),
        payload=payload,
    )
