"""Alert intake under hostile bodies (hypothesis): the parsers and the endpoints.

Properties:
1. For any JSON value, and any bytes, the parsers and the body decoder either
   give events or raise `InvalidEvent`; never another exception.
2. Over HTTP, any body gets 202, 400 or 413 (never a 5xx), and a refused body
   stores nothing.
3. A valid event keeps what it said: labels, annotations, keys, summary and
   severity come out of the parser as they went in.
"""

import datetime as dt
import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from incidents.choices import AlertAction, IntegrationKind
from incidents.intake.integrations import create_integration
from incidents.intake.parsers import (
    InvalidEvent,
    decode_body,
    parse_alertmanager,
    parse_generic,
    parse_pagerduty,
)
from incidents.models import AlertEvent
from tests.intake_helpers import AM_PATH, GENERIC_PATH, PD_PATH, am_alert, am_notification, bearer, pd_trigger

fuzz = settings(max_examples=100, derandomize=True, deadline=None, database=None)
http_fuzz = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as senders write it: any Unicode but NUL (refused by decode_body) and surrogates (not UTF-8).
text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(text, children, max_size=4),
    max_leaves=20,
)
PARSERS = [parse_alertmanager, parse_pagerduty, parse_generic]


def _refusal(call: Any, *args: Any) -> InvalidEvent | None:
    """The documented refusal `call` raised, or None; any other exception fails the test."""
    try:
        call(*args)
    except InvalidEvent as error:
        return error
    return None


def _parses_or_refuses(parser: Any, body: Any) -> None:
    error = _refusal(parser, body)
    if error is not None:
        assert error.errors, "a refusal names what is wrong"
        assert all(isinstance(where, str) and what for where, what in error.errors.items())


def _shaped_like(valid: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """`valid` with any of its fields (nested objects too) replaced by arbitrary JSON or left out."""

    def field(value: Any) -> st.SearchStrategy[Any]:
        if isinstance(value, dict):
            return _shaped_like(value)
        if isinstance(value, list) and value and isinstance(value[0], dict):
            return st.lists(_shaped_like(value[0]), max_size=3) | json_values
        return st.just(value) | json_values

    return st.fixed_dictionaries({}, optional={key: field(value) for key, value in valid.items()})


@pytest.mark.parametrize("parser", PARSERS, ids=lambda parser: parser.__name__)
@given(body=json_values)
@fuzz
def test_any_json_is_parsed_or_refused(parser: Any, body: Any) -> None:
    _parses_or_refuses(parser, body)


@given(body=_shaped_like(am_notification(am_alert(), am_alert(status="resolved", fingerprint="b"))))
@fuzz
def test_alertmanager_like_bodies_are_parsed_or_refused(body: dict[str, Any]) -> None:
    _parses_or_refuses(parse_alertmanager, body)


@given(body=_shaped_like(pd_trigger("a-routing-key")))
@fuzz
def test_pagerduty_like_bodies_are_parsed_or_refused(body: dict[str, Any]) -> None:
    _parses_or_refuses(parse_pagerduty, body)


GENERIC_EVENT = {
    "action": "trigger",
    "dedup_key": "db-1/disk",
    "title": "Disk almost full",
    "severity": "warning",
    "group": "db",
    "source": "db-1",
    "started_at": "2026-01-02T03:04:05Z",
    "description": "92% used",
    "labels": {"host": "db-1"},
    "details": {"used": 0.92},
    "links": [{"href": "https://grafana.example.com/d/disk", "text": "Dashboard"}],
}


@given(body=_shaped_like(GENERIC_EVENT))
@fuzz
def test_generic_like_bodies_are_parsed_or_refused(body: dict[str, Any]) -> None:
    _parses_or_refuses(parse_generic, body)


@given(raw=st.binary(max_size=200) | json_values.map(lambda value: json.dumps(value).encode()))
@example(raw=b"[" * 100_000)
@example(raw=b'{"title": NaN}')
@example(raw=b'{"title": 1e999}')
@example(raw=b'{"title": "a\\u0000b"}')
@example(raw=b'{"title": "\\ud800"}')
@example(raw=b'{"\\udfff": 1}')
@example(raw=b"\xff\xfe{}")
@fuzz
def test_any_bytes_decode_or_are_refused(raw: bytes) -> None:
    error = _refusal(decode_body, raw)
    if error is not None:
        assert list(error.errors) == ["body"]
        return
    # What is accepted can be written as strict UTF-8 JSON again, as the database will.
    json.dumps(decode_body(raw), allow_nan=False, ensure_ascii=False).encode()


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-05:00", "10000-01-01T00:00:00Z", "2026-02-30T00:00:00Z"])
def test_a_time_that_cannot_be_held_in_utc_is_refused(moment: str) -> None:
    body = {"title": "Disk almost full", "started_at": moment}
    with pytest.raises(InvalidEvent) as refused:
        parse_generic(body)
    assert refused.value.errors == {"started_at": ["Must be an ISO 8601 date and time."]}


@given(moment=st.datetimes(timezones=st.timezones()) | text)
@fuzz
def test_an_accepted_time_converts_to_utc(moment: Any) -> None:
    value = moment.isoformat() if hasattr(moment, "isoformat") else moment
    if _refusal(parse_generic, {"title": "t", "started_at": value}) is None:
        fired_at = parse_generic({"title": "t", "started_at": value}).payload["fired_at"]
        assert fired_at is None or dt.datetime.fromisoformat(fired_at).astimezone(dt.UTC)


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000, b'{"a": NaN}', b'{"a": -Infinity}', b'{"a": 1e999}', b'{"a": "\\u0000"}', b'{"a": "\\ud83d"}'],
)
def test_bodies_no_database_can_store_are_refused(raw: bytes) -> None:
    with pytest.raises(InvalidEvent):
        decode_body(raw)


# --- Over HTTP ---------------------------------------------------------------


@pytest.fixture
def keys(service: Any) -> dict[str, str]:
    return {
        kind: create_integration(service=service, kind=kind, actor=None)[1]
        for kind in (IntegrationKind.ALERTMANAGER, IntegrationKind.PAGERDUTY, IntegrationKind.GENERIC)
    }


def _post(path: str, raw: bytes, key: str | None) -> Any:
    headers = bearer(key) if key else None
    return Client().post(path, raw, content_type="application/json", headers=headers)


hostile_bodies = (
    st.binary(max_size=300)
    | json_values.map(lambda value: json.dumps(value).encode())
    | _shaped_like(am_notification(am_alert())).map(lambda value: json.dumps(value).encode())
    | _shaped_like(GENERIC_EVENT).map(lambda value: json.dumps(value).encode())
)


@pytest.mark.django_db
@given(raw=hostile_bodies, door=st.sampled_from(["alertmanager", "pagerduty", "generic"]))
@example(raw=b"[" * 100_000, door="generic")
@example(raw=b'{"title": "x", "details": {"a": 1e999}}', door="generic")
@example(raw=b'{"title": "\\u0000"}', door="generic")
@http_fuzz
def test_any_body_is_accepted_or_refused_and_a_refusal_writes_nothing(
    raw: bytes, door: str, keys: dict[str, str]
) -> None:
    before = AlertEvent.objects.count()
    if door == "pagerduty":
        response = _post(PD_PATH, raw, None)
        allowed = {202, 400, 404}  # PagerDuty's 404: a routing key that opens nothing
    else:
        response = _post(AM_PATH if door == "alertmanager" else GENERIC_PATH, raw, keys[door])
        allowed = {202, 400}
    assert response.status_code in allowed, (response.status_code, response.content[:300])
    assert response["Content-Type"] == "application/json"
    stored = AlertEvent.objects.count() - before
    # Accepted: one row per alert (Alertmanager says how many), else one; refused: none at all.
    expected = response.json().get("alerts", 1) if response.status_code == 202 else 0
    assert stored == expected


@pytest.mark.django_db
def test_an_oversized_body_is_refused_before_it_is_read(keys: dict[str, str], settings: Any) -> None:
    settings.INTAKE_MAX_BYTES = 2048
    response = _post(GENERIC_PATH, b" " * 2049, keys[IntegrationKind.GENERIC])
    assert response.status_code == 413
    assert AlertEvent.objects.count() == 0


# --- Valid events keep what they said -----------------------------------------

names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,15}", fullmatch=True)
labels = st.dictionaries(names, text.filter(str.strip), min_size=1, max_size=6)


@given(
    alerts=st.lists(
        st.fixed_dictionaries(
            {
                "status": st.sampled_from(["firing", "resolved"]),
                "labels": labels,
                "annotations": st.dictionaries(names, text, max_size=4),
                "fingerprint": st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
            }
        ),
        min_size=1,
        max_size=5,
    ),
    group_key=text.filter(str.strip),
)
@fuzz
def test_alertmanager_alerts_round_trip(alerts: list[dict[str, Any]], group_key: str) -> None:
    body = {"version": "4", "groupKey": group_key, "alerts": alerts}
    events = parse_alertmanager(json.loads(json.dumps(body)))
    assert len(events) == len(alerts)
    for event, alert in zip(events, alerts, strict=True):
        assert event.action == (AlertAction.TRIGGER if alert["status"] == "firing" else AlertAction.RESOLVE)
        assert event.dedup_key == alert["fingerprint"]
        assert event.payload["labels"] == alert["labels"]
        assert event.payload["annotations"] == alert["annotations"]
        assert event.payload["severity"] == alert["labels"].get("severity", "").strip().lower()
        assert event.payload["description"] == alert["annotations"].get("description", "")
        assert event.payload["context"]["group_key"] == group_key
    assert len({event.group_key for event in events}) == 1


@given(
    summary=text.filter(str.strip),
    source=text.filter(str.strip),
    severity=st.sampled_from(["critical", "error", "warning", "info"]),
    dedup_key=text.filter(str.strip),
    component=text,
    custom=st.dictionaries(text, json_values, max_size=4),
)
@fuzz
def test_pagerduty_triggers_round_trip(
    summary: str, source: str, severity: str, dedup_key: str, component: str, custom: dict[str, Any]
) -> None:
    body = {
        "routing_key": "a-routing-key",
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": summary,
            "source": source,
            "severity": severity,
            "component": component,
            "custom_details": custom,
        },
    }
    routing_key, event = parse_pagerduty(json.loads(json.dumps(body)))
    assert routing_key == "a-routing-key"
    assert (event.action, event.dedup_key) == (AlertAction.TRIGGER, dedup_key)
    assert (event.payload["summary"], event.payload["source"]) == (summary, source)
    assert event.payload["severity"] == severity
    assert event.payload["labels"] == ({"component": component} if component else {})
    assert event.payload["details"] == custom


@given(
    title=text.filter(str.strip),
    severity=st.sampled_from(["critical", "error", "warning", "info"]),
    dedup_key=text.filter(str.strip),
    event_labels=st.dictionaries(names, text, max_size=5),
    details=st.dictionaries(text, json_values, max_size=4),
)
@fuzz
def test_generic_triggers_round_trip(
    title: str, severity: str, dedup_key: str, event_labels: dict[str, str], details: dict[str, Any]
) -> None:
    body = {"title": title, "severity": severity, "dedup_key": dedup_key, "labels": event_labels, "details": details}
    event = parse_generic(decode_body(json.dumps(body).encode()))
    assert (event.action, event.dedup_key) == (AlertAction.TRIGGER, dedup_key)
    assert (event.payload["summary"], event.payload["severity"]) == (title, severity)
    assert event.payload["labels"] == event_labels
    assert event.payload["details"] == details
