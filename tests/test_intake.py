"""Alert intake: Alertmanager, PagerDuty Events v2 and generic webhooks, from request to incident."""

import datetime as dt
import functools
import json
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from incidents.choices import AlertStatus, EventOutcome, IntegrationKind, ResolveAction, State
from incidents.intake.integrations import create_integration, rotate_key
from incidents.intake.processing import process_pending_events
from incidents.lifecycle import investigate_incident, resolve_incident
from incidents.models import Alert, AlertEvent, Incident, Integration, Service
from incidents.models.intake import hash_key
from incidents.tasks import purge_alert_events
from tests.intake_helpers import (
    AM_PATH,
    FIRST_FIRED,
    GENERIC_PATH,
    PD_PATH,
    PD_TIMESTAMP,
    am_alert,
    am_notification,
    bearer,
    pd_follow_up,
    pd_trigger,
    post_json,
    process,
)
from tests.threads import run_together

pytestmark = pytest.mark.django_db

MakeIntegration = Callable[..., tuple[Integration, str]]


@pytest.fixture
def make_integration(service: Service) -> MakeIntegration:
    def make(kind: str = IntegrationKind.ALERTMANAGER, **settings: Any) -> tuple[Integration, str]:
        return create_integration(service=service, kind=kind, actor=None, **settings)

    return make


@pytest.fixture
def alertmanager(make_integration: MakeIntegration) -> tuple[Integration, str]:
    return make_integration(IntegrationKind.ALERTMANAGER)


@pytest.fixture
def pagerduty(make_integration: MakeIntegration) -> tuple[Integration, str]:
    return make_integration(IntegrationKind.PAGERDUTY)


def _only_incident() -> Incident:
    incidents = list(Incident.objects.all())
    assert len(incidents) == 1, incidents
    return incidents[0]


def _alert_entries(incident: Incident) -> list[str]:
    return list(
        incident.timeline.filter(kind="alert").order_by("created_at", "id").values_list("data__what", flat=True)
    )


# --- Integrations and keys ------------------------------------------------


def test_the_key_is_stored_only_as_its_hash(alertmanager: tuple[Integration, str]) -> None:
    integration, key = alertmanager
    assert len(key) == 32
    assert int(key, 16) >= 0
    row = Integration.objects.get(pk=integration.pk)
    assert key not in (row.key_hash, row.key_hint, json.dumps(list(Integration.history.values()), default=str))
    assert row.key_hint == key[:6]
    assert row.resolve_action == ResolveAction.MITIGATE


def test_create_integration_prints_the_key_alone_on_the_last_line(service: Service, capsys: Any) -> None:
    call_command("create_integration", service.slug, "pagerduty", "--rate-limit", "0")
    key = capsys.readouterr().out.strip().splitlines()[-1]
    integration = Integration.objects.get()
    assert integration.kind == "pagerduty"
    assert integration.resolve_action == ResolveAction.RESOLVE
    assert integration.rate_limit_per_minute == 0
    response = post_json(Client(), PD_PATH, pd_trigger(key))
    assert response.status_code == 202


def test_create_integration_refuses_an_unknown_service(db: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No service"):
        call_command("create_integration", "nope", "generic")
    assert not Integration.objects.exists()


def test_only_admins_manage_integration_keys(alertmanager: tuple[Integration, str], manager: Any, service: Any) -> None:
    integration, key = alertmanager
    with pytest.raises(PermissionDenied):
        rotate_key(integration=integration, actor=manager)
    with pytest.raises(PermissionDenied):
        create_integration(service=service, kind="generic", actor=manager)
    assert Integration.objects.get().key_hash == hash_key(key)


def test_a_rotated_key_replaces_the_old_one_at_once(alertmanager: tuple[Integration, str], admin_user: Any) -> None:
    integration, old = alertmanager
    new = rotate_key(integration=integration, actor=admin_user)
    client = Client()
    assert post_json(client, AM_PATH, am_notification(), headers=bearer(old)).status_code == 401
    assert post_json(client, AM_PATH, am_notification(), headers=bearer(new)).status_code == 202
    last = integration.history.first()
    assert last is not None
    assert last.history_user == admin_user
    assert last.history_change_reason == "key rotated"


# --- Alertmanager ---------------------------------------------------------


def test_a_firing_alert_opens_an_incident_with_its_labels_and_link(
    alertmanager: tuple[Integration, str], service: Service
) -> None:
    integration, key = alertmanager
    response = post_json(Client(), AM_PATH, am_notification(), headers=bearer(key))

    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "alerts": 1}
    assert process() == 1
    incident = _only_incident()
    assert incident.source == "monitoring"
    assert incident.priority == "P1"  # severity critical
    assert incident.title == "High 5xx rate on checkout"
    assert list(incident.services.all()) == [service]
    assert incident.team == service.owner_team
    assert incident.started_at == FIRST_FIRED
    assert "alertname: HighErrorRate" in incident.description
    assert "runbook_url: https://runbooks.example.com/checkout/5xx" in incident.description
    alert = Alert.objects.get()
    assert alert.incident == incident
    assert alert.status == AlertStatus.FIRING
    assert alert.dedup_key == "5f3b0c1d2e4a6b78"
    assert alert.labels["instance"] == "checkout-7f9c:8080"
    assert alert.annotations["summary"] == "High 5xx rate on checkout"
    assert alert.generator_url.startswith("http://prometheus.example.com:9090/graph")
    fired = incident.timeline.get(kind="alert")
    assert fired.data["generator_url"] == alert.generator_url
    assert fired.actor is not None
    assert fired.actor.username == "itsm-system"
    assert AlertEvent.objects.get().outcome == EventOutcome.OPENED
    history = incident.history.earliest()
    assert history.history_user.username == "itsm-system"


def test_the_key_may_come_in_the_url(alertmanager: tuple[Integration, str]) -> None:
    _, key = alertmanager
    response = post_json(Client(), f"{AM_PATH}{key}/", am_notification())
    assert response.status_code == 202
    assert AlertEvent.objects.count() == 1


def test_a_repeat_notification_only_counts(alertmanager: tuple[Integration, str]) -> None:
    _, key = alertmanager
    client = Client()
    post_json(client, AM_PATH, am_notification(), headers=bearer(key))
    process()
    post_json(client, AM_PATH, am_notification(), headers=bearer(key))
    process()

    incident = _only_incident()
    alert = Alert.objects.get()
    assert alert.event_count == 2
    assert _alert_entries(incident) == ["fired"]
    assert list(AlertEvent.objects.order_by("id").values_list("outcome", flat=True)) == ["opened", "repeated"]


def test_a_refire_appends_to_the_timeline_of_the_same_incident(alertmanager: tuple[Integration, str]) -> None:
    _, key = alertmanager
    client = Client()
    post_json(client, AM_PATH, am_notification(), headers=bearer(key))
    later = FIRST_FIRED + dt.timedelta(minutes=30)
    post_json(client, AM_PATH, am_notification(am_alert(starts_at=later)), headers=bearer(key))
    process()

    incident = _only_incident()
    assert _alert_entries(incident) == ["fired", "refired"]
    assert Alert.objects.get().fired_at == later


def test_a_resolved_alert_mitigates_the_incident(alertmanager: tuple[Integration, str]) -> None:
    _, key = alertmanager
    client = Client()
    post_json(client, AM_PATH, am_notification(), headers=bearer(key))
    post_json(client, AM_PATH, am_notification(am_alert(status="resolved")), headers=bearer(key))
    process()

    incident = _only_incident()
    assert incident.state == State.MITIGATED
    assert "The alert cleared: High 5xx rate on checkout" in incident.mitigation
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED
    assert alert.resolved_at is not None
    # Nobody had acknowledged it; the system did on the way, and says so.
    transitions = list(incident.timeline.filter(kind="transition").values_list("data__transition", flat=True))
    assert transitions == ["acknowledge", "mitigate"]


def test_an_alert_firing_again_reopens_its_mitigated_incident(alertmanager: tuple[Integration, str]) -> None:
    _, key = alertmanager
    client = Client()
    post_json(client, AM_PATH, am_notification(), headers=bearer(key))
    post_json(client, AM_PATH, am_notification(am_alert(status="resolved")), headers=bearer(key))
    again = FIRST_FIRED + dt.timedelta(minutes=60)
    post_json(client, AM_PATH, am_notification(am_alert(starts_at=again)), headers=bearer(key))
    process()

    incident = _only_incident()
    assert incident.state == State.INVESTIGATING
    assert Alert.objects.filter(incident=incident).count() == 2
    assert Alert.objects.filter(status=AlertStatus.FIRING).count() == 1


def test_alerts_of_one_group_share_an_incident_until_all_clear(alertmanager: tuple[Integration, str]) -> None:
    _, key = alertmanager
    client = Client()
    first = am_alert(instance="checkout-1:8080", fingerprint="1111111111111111")
    second = am_alert(instance="checkout-2:8080", fingerprint="2222222222222222")
    post_json(client, AM_PATH, am_notification(first, second), headers=bearer(key))
    process()
    incident = _only_incident()
    assert incident.alerts.count() == 2

    post_json(client, AM_PATH, am_notification({**first, "status": "resolved"}, second), headers=bearer(key))
    process()
    incident.refresh_from_db()
    assert incident.state == State.NEW
    last = incident.timeline.filter(kind="alert").last()
    assert last is not None
    assert "1 other alert(s) still firing" in last.body

    post_json(client, AM_PATH, am_notification({**second, "status": "resolved"}), headers=bearer(key))
    process()
    incident.refresh_from_db()
    assert incident.state == State.MITIGATED


def test_the_integration_decides_what_clearing_does(make_integration: MakeIntegration) -> None:
    _, resolving = make_integration(IntegrationKind.ALERTMANAGER, resolve_action=ResolveAction.RESOLVE, name="r")
    _, noting = make_integration(IntegrationKind.ALERTMANAGER, resolve_action=ResolveAction.NOTE, name="n")
    client = Client()
    for key, fingerprint in ((resolving, "aaaaaaaaaaaaaaaa"), (noting, "bbbbbbbbbbbbbbbb")):
        post_json(client, AM_PATH, am_notification(am_alert(fingerprint=fingerprint)), headers=bearer(key))
        resolved = am_alert(fingerprint=fingerprint, status="resolved")
        post_json(client, AM_PATH, am_notification(resolved), headers=bearer(key))
    process()

    resolved_incident = Alert.objects.get(dedup_key="aaaaaaaaaaaaaaaa").incident
    noted_incident = Alert.objects.get(dedup_key="bbbbbbbbbbbbbbbb").incident
    assert resolved_incident.state == State.RESOLVED
    assert resolved_incident.root_cause.startswith("Not recorded")
    assert noted_incident.state == State.NEW
    assert noted_incident.timeline.filter(kind="alert", body__startswith="The alert cleared").exists()


def test_a_trigger_after_a_person_resolved_the_incident_opens_a_new_one(
    alertmanager: tuple[Integration, str], agent: Any
) -> None:
    _, key = alertmanager
    client = Client()
    post_json(client, AM_PATH, am_notification(), headers=bearer(key))
    process()
    first = _only_incident()
    investigate_incident(incident=first, actor=agent)
    resolve_incident(
        incident=Incident.objects.get(pk=first.pk), actor=agent, root_cause="Bad deploy", resolution="Rollback"
    )

    again = FIRST_FIRED + dt.timedelta(minutes=90)
    post_json(client, AM_PATH, am_notification(am_alert(starts_at=again)), headers=bearer(key))
    process()

    assert Incident.objects.count() == 2
    assert Alert.objects.get(incident=first).status == AlertStatus.RESOLVED
    assert Alert.objects.exclude(incident=first).get().status == AlertStatus.FIRING


@pytest.mark.parametrize(
    ("headers", "path", "status"),
    [
        ({}, AM_PATH, 401),
        ({"Authorization": "Bearer 0123456789abcdef0123456789abcdef"}, AM_PATH, 401),
        ({"Authorization": "Token 0123456789abcdef0123456789abcdef"}, AM_PATH, 401),
        ({}, f"{AM_PATH}0123456789abcdef0123456789abcdef/", 404),
    ],
)
def test_a_wrong_key_is_refused_and_nothing_is_written(
    alertmanager: tuple[Integration, str], headers: dict[str, str], path: str, status: int
) -> None:
    response = post_json(Client(), path, am_notification(), headers)
    assert response.status_code == status
    assert not AlertEvent.objects.exists()
    assert process() == 0
    assert not Incident.objects.exists()


def test_a_key_of_another_kind_or_an_inactive_integration_is_refused(
    make_integration: MakeIntegration,
) -> None:
    _, generic_key = make_integration(IntegrationKind.GENERIC)
    inactive, inactive_key = make_integration(IntegrationKind.ALERTMANAGER)
    Integration.objects.filter(pk=inactive.pk).update(is_active=False)
    client = Client()
    assert post_json(client, AM_PATH, am_notification(), headers=bearer(generic_key)).status_code == 401
    assert post_json(client, AM_PATH, am_notification(), headers=bearer(inactive_key)).status_code == 401
    assert not AlertEvent.objects.exists()


GENERIC_EVENT = {"title": "Disk full on db-1", "severity": "error", "dedup_key": "disk-db-1"}


@pytest.mark.parametrize("stops", ["rotated", "deactivated"])
@pytest.mark.parametrize(
    ("kind", "send", "refused"),
    [
        (IntegrationKind.ALERTMANAGER, lambda c, key: post_json(c, AM_PATH, am_notification(), bearer(key)), 401),
        (IntegrationKind.ALERTMANAGER, lambda c, key: post_json(c, f"{AM_PATH}{key}/", am_notification()), 404),
        (
            IntegrationKind.ALERTMANAGER,
            lambda c, key: post_json(c, AM_PATH, {**am_notification(), "alerts": []}, bearer(key)),
            401,
        ),
        (IntegrationKind.GENERIC, lambda c, key: post_json(c, GENERIC_PATH, GENERIC_EVENT, bearer(key)), 401),
        (IntegrationKind.PAGERDUTY, lambda c, key: post_json(c, PD_PATH, pd_trigger(key)), 404),
    ],
)
def test_a_key_that_stops_working_is_refused_at_once_by_a_process_that_knew_it(
    make_integration: MakeIntegration, admin_user: Any, kind: str, send: Any, refused: int, stops: str
) -> None:
    integration, key = make_integration(kind)
    client = Client()
    assert send(client, key).status_code == 202
    stored = AlertEvent.objects.count()
    if stops == "rotated":
        rotate_key(integration=integration, actor=admin_user)
    else:
        Integration.objects.filter(pk=integration.pk).update(is_active=False)
    assert send(client, key).status_code == refused
    assert AlertEvent.objects.count() == stored


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ("{not json", "body"),
        ("[1, 2]", "body"),
        (json.dumps({**am_notification(), "version": "3"}), "version"),
        (json.dumps({**am_notification(), "alerts": "all of them"}), "alerts"),
        (json.dumps(am_notification({**am_alert(), "labels": {}})), "alerts.0.labels"),
        (json.dumps(am_notification({**am_alert(), "status": "pending"})), "alerts.0.status"),
        (json.dumps(am_notification({**am_alert(), "startsAt": "yesterday"})), "alerts.0.startsAt"),
        (json.dumps(am_notification({**am_alert(), "labels": {"severity": 3}})), "alerts.0.labels"),
    ],
)
def test_a_malformed_notification_is_a_400_naming_the_field(
    alertmanager: tuple[Integration, str], body: str, field: str
) -> None:
    _, key = alertmanager
    response = Client().post(AM_PATH, body, content_type="application/json", headers=bearer(key))
    assert response.status_code == 400
    assert field in response.json()
    assert not AlertEvent.objects.exists()


def test_one_bad_alert_refuses_the_whole_notification(alertmanager: tuple[Integration, str]) -> None:
    _, key = alertmanager
    body = am_notification(am_alert(), {**am_alert(fingerprint="ffffffffffffffff"), "status": "pending"})
    assert post_json(Client(), AM_PATH, body, headers=bearer(key)).status_code == 400
    assert not AlertEvent.objects.exists()


def test_an_oversized_body_is_a_413_and_nothing_is_written(
    alertmanager: tuple[Integration, str], settings: Any
) -> None:
    _, key = alertmanager
    settings.INTAKE_MAX_BYTES = 4096
    huge = am_alert()
    huge["annotations"]["description"] = "x" * 5000
    response = post_json(Client(), AM_PATH, am_notification(huge), headers=bearer(key))
    assert response.status_code == 413
    assert not AlertEvent.objects.exists()


def test_only_post_is_allowed(alertmanager: tuple[Integration, str]) -> None:
    _, key = alertmanager
    assert Client().get(AM_PATH, headers=bearer(key)).status_code == 405


# --- PagerDuty Events API v2 ----------------------------------------------


def test_a_trigger_opens_an_incident_and_answers_as_pagerduty_does(pagerduty: tuple[Integration, str]) -> None:
    _, key = pagerduty
    response = post_json(Client(), PD_PATH, pd_trigger(key))

    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": "srv01/mysql"}
    process()
    incident = _only_incident()
    assert incident.title == "Example alert on host1.example.com"
    assert incident.priority == "P4"  # severity info
    alert = Alert.objects.get()
    assert alert.details == {"ping time": "1500ms", "load avg": 0.75}
    assert alert.labels == {"component": "postgres", "group": "prod-datapipe", "class": "deploy"}
    assert {"href": "https://example.com/", "text": "Link text"} in alert.links
    assert {"href": "https://monitoring.example.com", "text": "Sample Monitoring Service"} in alert.links
    assert alert.fired_at == PD_TIMESTAMP


def test_a_trigger_without_a_dedup_key_gets_one(pagerduty: tuple[Integration, str]) -> None:
    _, key = pagerduty
    client = Client()
    first = post_json(client, PD_PATH, pd_trigger(key, dedup_key=None)).json()["dedup_key"]
    second = post_json(client, PD_PATH, pd_trigger(key, dedup_key=None)).json()["dedup_key"]
    assert len(first) == 32
    assert first != second
    process()
    assert Incident.objects.count() == 2
    post_json(client, PD_PATH, pd_follow_up(key, "resolve", first))
    process()
    assert Alert.objects.get(dedup_key=first).incident.state == State.RESOLVED


def test_triggers_with_one_dedup_key_share_an_incident(pagerduty: tuple[Integration, str]) -> None:
    _, key = pagerduty
    client = Client()
    post_json(client, PD_PATH, pd_trigger(key))
    post_json(client, PD_PATH, pd_trigger(key))  # a client's retry: the same event again
    post_json(client, PD_PATH, pd_trigger(key, summary="Replication lag 40 s on host1", severity="error"))
    process()

    incident = _only_incident()
    alert = Alert.objects.get()
    assert alert.event_count == 3
    assert alert.summary == "Replication lag 40 s on host1"
    assert _alert_entries(incident) == ["fired", "refired"]


def test_an_alert_keeps_its_content_through_repeats_refires_and_a_resolve(pagerduty: tuple[Integration, str]) -> None:
    """A batch reads only part of the open alerts it holds; what it writes back must not lose the rest."""
    _, key = pagerduty
    client = Client()
    post_json(client, PD_PATH, pd_trigger(key))
    process()
    # Later batches: a repeat and an acknowledge, then a re-fire with new details and a resolve together.
    post_json(client, PD_PATH, pd_trigger(key))
    post_json(client, PD_PATH, pd_follow_up(key, "acknowledge"))
    process()
    alert = Alert.objects.get()
    assert (alert.status, alert.event_count, alert.severity) == (AlertStatus.ACKNOWLEDGED, 3, "info")
    assert alert.details == {"ping time": "1500ms", "load avg": 0.75}

    post_json(client, PD_PATH, pd_trigger(key, severity="error", custom_details={"ping time": "9000ms"}))
    post_json(client, PD_PATH, pd_follow_up(key, "resolve"))
    process()
    alert = Alert.objects.get()
    assert (alert.status, alert.event_count, alert.severity) == (AlertStatus.RESOLVED, 5, "error")
    assert alert.details == {"ping time": "9000ms"}
    assert alert.links[0]["href"] == "https://example.com/"
    assert alert.resolved_at is not None


def test_acknowledge_then_resolve_then_trigger_again(pagerduty: tuple[Integration, str]) -> None:
    _, key = pagerduty
    client = Client()
    post_json(client, PD_PATH, pd_trigger(key))
    assert post_json(client, PD_PATH, pd_follow_up(key, "acknowledge")).status_code == 202
    process()
    first = _only_incident()
    assert first.state == State.ACKNOWLEDGED
    assert Alert.objects.get().status == AlertStatus.ACKNOWLEDGED

    post_json(client, PD_PATH, pd_follow_up(key, "resolve"))
    process()
    first.refresh_from_db()
    assert first.state == State.RESOLVED

    # PagerDuty: a trigger after resolve opens a new incident.
    post_json(client, PD_PATH, pd_trigger(key))
    process()
    assert Incident.objects.count() == 2
    assert Incident.objects.exclude(pk=first.pk).get().state == State.NEW


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_or_resolve_for_an_unknown_key_is_dropped(pagerduty: tuple[Integration, str], action: str) -> None:
    _, key = pagerduty
    response = post_json(Client(), PD_PATH, pd_follow_up(key, action, "never-triggered"))
    assert response.status_code == 202
    process()
    assert not Incident.objects.exists()
    assert AlertEvent.objects.get().outcome == EventOutcome.DROPPED


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"event_action": "explode"}, "'event_action'"),
        ({"routing_key": ""}, "'routing_key'"),
        ({"payload": None}, "'payload'"),
        ({"payload": {"source": "host1", "severity": "info"}}, "'payload.summary'"),
        ({"payload": {"summary": "x", "source": "host1", "severity": "fatal"}}, "'payload.severity'"),
        ({"payload": {"summary": "x" * 1025, "source": "h", "severity": "info"}}, "'payload.summary'"),
        ({"payload": {"summary": "x", "source": "h", "severity": "info", "timestamp": "soon"}}, "'payload.timestamp'"),
        ({"dedup_key": "k" * 256}, "'dedup_key'"),
        ({"links": [{"text": "no href"}]}, "'links.0.href'"),
    ],
)
def test_an_invalid_event_is_a_400_in_pagerdutys_words(
    pagerduty: tuple[Integration, str], change: dict[str, Any], error: str
) -> None:
    _, key = pagerduty
    response = post_json(Client(), PD_PATH, {**pd_trigger(key), **change})
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "invalid event"
    assert body["message"] == "Event object is invalid"
    assert any(message.startswith(error) for message in body["errors"]), body
    assert not AlertEvent.objects.exists()


def test_acknowledge_without_a_dedup_key_is_invalid(pagerduty: tuple[Integration, str]) -> None:
    _, key = pagerduty
    response = post_json(Client(), PD_PATH, {"routing_key": key, "event_action": "acknowledge"})
    assert response.status_code == 400
    assert response.json()["errors"][0].startswith("'dedup_key'")


def test_an_unknown_routing_key_is_a_404_and_nothing_is_written(pagerduty: tuple[Integration, str]) -> None:
    response = post_json(Client(), PD_PATH, pd_trigger("0123456789abcdef0123456789abcdef"))
    assert response.status_code == 404
    assert response.json()["status"] == "invalid event"
    assert not AlertEvent.objects.exists()


def test_over_the_rate_limit_is_a_429_with_retry_after(make_integration: MakeIntegration) -> None:
    _, key = make_integration(IntegrationKind.PAGERDUTY, rate_limit_per_minute=2)
    client = Client()
    codes = [post_json(client, PD_PATH, pd_trigger(key, dedup_key=f"k{i}")).status_code for i in range(3)]
    assert codes[:2] == [202, 202]
    if codes[2] == 202:
        # The minute turned between the requests; the next one is in the new window's budget.
        codes[2] = post_json(client, PD_PATH, pd_trigger(key, dedup_key="k3")).status_code
        codes[2] = post_json(client, PD_PATH, pd_trigger(key, dedup_key="k4")).status_code
    response = post_json(client, PD_PATH, pd_trigger(key, dedup_key="k5"))
    assert response.status_code == 429
    assert response.json()["status"] == "throttle event"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert not AlertEvent.objects.filter(dedup_key="k5").exists()


# --- Generic JSON ---------------------------------------------------------


def test_the_generic_webhook_opens_groups_and_clears(make_integration: MakeIntegration) -> None:
    _, key = make_integration(IntegrationKind.GENERIC)
    client = Client()
    first = {
        "title": "Disk 95% full on db-1",
        "severity": "error",
        "group": "db-cluster",
        "dedup_key": "disk-db-1",
        "source": "db-1",
        "started_at": "2026-11-21T07:00:00Z",
        "links": [{"href": "https://grafana.example.com/d/disk", "text": "Dashboard"}],
        "details": {"used_bytes": 9.5e11},
    }
    response = post_json(client, GENERIC_PATH, first, headers=bearer(key))
    assert response.status_code == 202
    assert response.json() == {"status": "accepted", "dedup_key": "disk-db-1"}
    post_json(client, f"{GENERIC_PATH}{key}/", {**first, "dedup_key": "disk-db-2", "title": "Disk full on db-2"})
    process()
    incident = _only_incident()
    assert incident.priority == "P2"
    assert incident.alerts.count() == 2

    for dedup_key in ("disk-db-1", "disk-db-2"):
        post_json(client, GENERIC_PATH, {"action": "resolve", "dedup_key": dedup_key}, headers=bearer(key))
    process()
    incident.refresh_from_db()
    assert incident.state == State.MITIGATED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "title"),
        ({"title": "x", "severity": "meh"}, "severity"),
        ({"title": "x", "action": "snooze"}, "action"),
        ({"action": "resolve"}, "dedup_key"),
        ({"title": "x", "details": [1]}, "details"),
        ({"title": "x", "started_at": "noon"}, "started_at"),
    ],
)
def test_the_generic_webhook_names_what_is_wrong(make_integration: MakeIntegration, body: Any, field: str) -> None:
    _, key = make_integration(IntegrationKind.GENERIC)
    response = post_json(Client(), GENERIC_PATH, body, headers=bearer(key))
    assert response.status_code == 400
    assert field in response.json()
    assert not AlertEvent.objects.exists()


# --- Processing -----------------------------------------------------------


def test_a_failing_event_is_marked_and_does_not_hold_up_the_rest(make_integration: MakeIntegration) -> None:
    broken, broken_key = make_integration(IntegrationKind.GENERIC, name="broken")
    Integration.objects.filter(pk=broken.pk).update(severity_map={"warning": {"impact": "huge", "urgency": "high"}})
    _, good_key = make_integration(IntegrationKind.GENERIC, name="good")
    client = Client()
    post_json(client, GENERIC_PATH, {"title": "Broken mapping"}, headers=bearer(broken_key))
    post_json(client, GENERIC_PATH, {"title": "Fine"}, headers=bearer(good_key))
    assert process() == 2

    failed, fine = AlertEvent.objects.order_by("id")
    assert failed.outcome == EventOutcome.FAILED
    assert failed.error == "impact: 'huge' is not a valid choice."
    assert fine.outcome == EventOutcome.OPENED
    assert _only_incident().title == "Fine"


def test_a_future_firing_time_is_clamped_to_when_the_alert_arrived(alertmanager: tuple[Integration, str]) -> None:
    _, key = alertmanager
    future = timezone.now() + dt.timedelta(hours=3)
    post_json(Client(), AM_PATH, am_notification(am_alert(starts_at=future)), headers=bearer(key))
    process()
    assert _only_incident().started_at <= timezone.now()


def test_old_processed_events_are_purged(alertmanager: tuple[Integration, str], settings: Any) -> None:
    _, key = alertmanager
    post_json(Client(), AM_PATH, am_notification(), headers=bearer(key))
    post_json(Client(), AM_PATH, am_notification(), headers=bearer(key))
    process()
    old = timezone.now() - dt.timedelta(days=settings.INTAKE_EVENT_RETENTION_DAYS + 1)
    AlertEvent.objects.filter(pk=AlertEvent.objects.order_by("id").values_list("pk", flat=True)[0]).update(
        received_at=old
    )
    post_json(Client(), AM_PATH, am_notification(), headers=bearer(key))  # pending: never purged

    assert purge_alert_events() == 1
    assert AlertEvent.objects.count() == 2
    assert Alert.objects.get().event_count == 2


@pytest.mark.django_db(transaction=True)
def test_the_request_wakes_the_processor_after_commit(alertmanager: tuple[Integration, str]) -> None:
    from itsm.celery import app as celery_app

    _, key = alertmanager
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        response = post_json(Client(), AM_PATH, am_notification(), headers=bearer(key))
    finally:
        celery_app.conf.task_always_eager = previous
    assert response.status_code == 202
    # The wake-up ran the processor (eagerly, in this process) once the event was committed.
    assert AlertEvent.objects.get().outcome == EventOutcome.OPENED
    assert Incident.objects.count() == 1


def _post(path: str, body: Any, headers: dict[str, str]) -> int:
    return int(post_json(Client(), path, body, headers).status_code)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_triggers_open_one_incident(
    pagerduty: tuple[Integration, str], alertmanager: tuple[Integration, str]
) -> None:
    _, pd_key = pagerduty
    _, am_key = alertmanager
    bodies: list[tuple[str, Any, dict[str, str]]] = [(PD_PATH, pd_trigger(pd_key), {}) for _ in range(8)]
    bodies += [(AM_PATH, am_notification(), bearer(am_key)) for _ in range(8)]
    assert run_together([functools.partial(_post, *item) for item in bodies]) == [202] * 16
    run_together([functools.partial(process_pending_events, batch_size=3)] * 3)

    assert AlertEvent.objects.filter(processed_at__isnull=True).count() == 0
    assert Incident.objects.count() == 2
    assert Alert.objects.count() == 2
    assert sorted(Alert.objects.values_list("event_count", flat=True)) == [8, 8]


def test_the_api_lists_an_incidents_alerts_for_responders(
    alertmanager: tuple[Integration, str], api: Any, agent: Any, reporter: Any
) -> None:
    _, key = alertmanager
    post_json(Client(), AM_PATH, am_notification(), headers=bearer(key))
    process()
    incident = _only_incident()
    path = f"/api/v1/incidents/{incident.number}/alerts/"

    response = api(agent).get(path)
    assert response.status_code == 200
    (alert,) = response.json()["results"]
    assert alert["dedup_key"] == "5f3b0c1d2e4a6b78"
    assert alert["labels"]["alertname"] == "HighErrorRate"
    assert alert["generator_url"].startswith("http://prometheus.example.com:9090/")
    assert alert["status"] == "firing"
    assert api(reporter).get(path).status_code == 403


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batches_of_any_size_reach_the_same_result(make_integration: MakeIntegration, seed: int) -> None:
    """The processor keeps a batch's alerts in memory; one event at a time must end the same way."""
    rng = random.Random(seed)
    script = []
    for _ in range(60):
        key = f"key-{rng.randrange(4)}"
        action = rng.choices(["trigger", "acknowledge", "resolve"], weights=[6, 1, 2])[0]
        summary = rng.choice(["Disk full", "Disk full", "Disk almost full"])
        script.append((action, key, summary))

    def run(name: str, batch_size: int) -> list[Any]:
        integration, key = make_integration(IntegrationKind.PAGERDUTY, name=name, rate_limit_per_minute=0)
        client = Client()
        for action, dedup_key, summary in script:
            body = pd_trigger(key, dedup_key=dedup_key, summary=summary)
            if action != "trigger":
                body = pd_follow_up(key, action, dedup_key)
            assert post_json(client, PD_PATH, body).status_code == 202
        process_pending_events(batch_size=batch_size)
        outcomes = list(
            AlertEvent.objects.filter(integration=integration).order_by("id").values_list("outcome", flat=True)
        )
        alerts = [
            (alert.dedup_key, alert.status, alert.event_count, alert.summary, alert.incident.state)
            for alert in Alert.objects.filter(integration=integration).select_related("incident").order_by("id")
        ]
        entries = sorted(
            Incident.objects.filter(alerts__integration=integration).distinct().values_list("timeline__kind", flat=True)
        )
        return [outcomes, alerts, entries]

    one_by_one = run("one by one", 1)
    all_at_once = run("all at once", 500)
    for part, (single, batched) in enumerate(zip(one_by_one, all_at_once, strict=True)):
        for index, (a, b) in enumerate(zip(single, batched, strict=True)):
            assert a == b, (part, index, script)
    assert EventOutcome.FAILED not in one_by_one[0]


@pytest.mark.django_db(transaction=True)
def test_a_gathering_run_takes_what_arrives_meanwhile(pagerduty: tuple[Integration, str]) -> None:
    """While a run pauses between batches, events that arrive are taken by the same run."""
    _, key = pagerduty
    post_json(Client(), PD_PATH, pd_trigger(key, dedup_key="first"))

    def second() -> None:
        try:
            post_json(Client(), PD_PATH, pd_trigger(key, dedup_key="second"))
        finally:
            connection.close()

    arrived = threading.Timer(0.05, second)
    arrived.start()
    try:
        processed = process_pending_events(gather_seconds=0.3)
    finally:
        arrived.join()
    assert processed == 2
    assert Incident.objects.count() == 2
