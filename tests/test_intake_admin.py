"""The intake back office: keys shown once, rotation, the alert and event pages."""

from typing import Any

import pytest
from django.test import Client

from escalation.models import Team
from incidents.choices import EventOutcome, IntegrationKind, ResolveAction
from incidents.intake.integrations import create_integration
from incidents.models import Alert, AlertEvent, Incident, Integration, Service
from incidents.models.intake import default_severity_map, hash_key
from incidents.roles import INCIDENT_MANAGER
from tests.admin_helpers import admin_url, message_texts
from tests.intake_helpers import AM_PATH, GENERIC_PATH, am_notification, bearer, post_json, process

pytestmark = pytest.mark.django_db


def _key_in(messages: list[str]) -> str:
    text = next(message for message in messages if "<code>" in message)
    return text.split("<code>")[1].split("</code>")[0]


def _add_form(service: Service, **changes: Any) -> dict[str, Any]:
    return {
        "name": "Prometheus production",
        "service": service.pk,
        "kind": IntegrationKind.ALERTMANAGER,
        "is_active": "on",
        "severity_map": '{"critical": {"impact": "high", "urgency": "high"}}',
        "category": "server_downtime",
        "resolve_action": ResolveAction.RESOLVE,
        "rate_limit_per_minute": 600,
        **changes,
    }


def test_adding_an_integration_shows_its_key_once(root_client: Client, service: Service, staff_admin: Any) -> None:
    response = root_client.post(admin_url(Integration, "add"), _add_form(service), follow=True)
    assert response.status_code == 200
    key = _key_in(message_texts(response))
    integration = Integration.objects.get()
    assert integration.key_hash == hash_key(key)
    assert integration.resolve_action == ResolveAction.RESOLVE
    assert integration.category == "server_downtime"
    assert integration.created_by == staff_admin
    assert integration.history.get().history_user == staff_admin

    page = root_client.get(admin_url(Integration, "change", integration.pk)).content.decode()
    assert key not in page
    assert integration.key_hint in page
    assert "/api/v1/integrations/alertmanager/" in page
    assert post_json(Client(), AM_PATH, am_notification(), bearer(key)).status_code == 202


def test_a_bad_severity_mapping_is_refused_on_the_form(root_client: Client, service: Service) -> None:
    form = _add_form(service, severity_map='{"critical": {"impact": "enormous", "urgency": "high"}}')
    response = root_client.post(admin_url(Integration, "add"), form)
    assert response.status_code == 200
    assert "impact and urgency are each one of high, medium, low" in response.content.decode()
    assert not Integration.objects.exists()


def test_the_rotate_action_shows_new_keys_and_kills_the_old(root_client: Client, service: Service) -> None:
    integration, old = create_integration(service=service, kind=IntegrationKind.GENERIC, actor=None)
    response = root_client.post(
        admin_url(Integration, "changelist"),
        {"action": "rotate_keys", "_selected_action": [integration.pk]},
        follow=True,
    )
    new = _key_in(message_texts(response))
    assert new != old
    client = Client()
    assert post_json(client, GENERIC_PATH, {"title": "x"}, bearer(old)).status_code == 401
    assert post_json(client, GENERIC_PATH, {"title": "x"}, bearer(new)).status_code == 202


def test_managers_see_integrations_but_cannot_change_them(
    make_user: Any, service: Service, root_client: Client
) -> None:
    integration, _ = create_integration(service=service, kind=IntegrationKind.GENERIC, actor=None)
    manager = make_user(INCIDENT_MANAGER, username="ops-lead")
    manager.is_staff = True
    manager.save()
    client = Client()
    client.force_login(manager)
    assert client.get(admin_url(Integration, "changelist")).status_code == 200
    page = client.get(admin_url(Integration, "change", integration.pk))
    assert page.status_code == 200
    assert 'name="name"' not in page.content.decode()  # read-only
    assert client.get(admin_url(Integration, "add")).status_code == 403
    response = client.post(
        admin_url(Integration, "changelist"), {"action": "rotate_keys", "_selected_action": [integration.pk]}
    )
    assert Integration.objects.get().key_hash == integration.key_hash
    assert response.status_code in (200, 302)


def test_alert_event_and_incident_pages_show_what_monitoring_said(root_client: Client, service: Service) -> None:
    _, key = create_integration(service=service, kind=IntegrationKind.ALERTMANAGER, actor=None)
    post_json(Client(), AM_PATH, am_notification(), bearer(key))
    process()
    alert = Alert.objects.get()

    alert_page = root_client.get(admin_url(Alert, "change", alert.pk)).content.decode()
    assert "runbook_url" in alert_page
    assert 'href="http://prometheus.example.com:9090/graph?' in alert_page
    assert root_client.get(admin_url(Alert, "changelist")).status_code == 200
    assert root_client.get(admin_url(AlertEvent, "changelist")).status_code == 200
    event = AlertEvent.objects.get()
    assert root_client.get(admin_url(AlertEvent, "change", event.pk)).status_code == 200
    incident_page = root_client.get(admin_url(Incident, "change", alert.incident_id)).content.decode()
    assert admin_url(Alert, "change", alert.pk) in incident_page


def test_failed_events_can_be_processed_again(root_client: Client, service: Service) -> None:
    integration, key = create_integration(service=service, kind=IntegrationKind.GENERIC, actor=None)
    Integration.objects.filter(pk=integration.pk).update(severity_map={"warning": {"impact": "x", "urgency": "y"}})
    post_json(Client(), GENERIC_PATH, {"title": "Queue backlog"}, bearer(key))
    process()
    event = AlertEvent.objects.get()
    assert event.outcome == EventOutcome.FAILED

    Integration.objects.filter(pk=integration.pk).update(severity_map=default_severity_map())
    response = root_client.post(
        admin_url(AlertEvent, "changelist"),
        {"action": "process_again", "_selected_action": [event.pk]},
        follow=True,
    )
    assert "1 event(s) will be processed again." in message_texts(response)
    process()
    event.refresh_from_db()
    assert event.outcome == EventOutcome.OPENED
    assert Incident.objects.get().title == "Queue backlog"


def test_alerts_are_read_only_even_for_admins(root_client: Client, service: Service) -> None:
    team = Team.objects.create(name="Other", slug="other")
    other = Service.objects.create(name="Other", slug="other", owner_team=team)
    _, key = create_integration(service=other, kind=IntegrationKind.ALERTMANAGER, actor=None)
    post_json(Client(), AM_PATH, am_notification(), bearer(key))
    process()
    alert = Alert.objects.get()
    page = root_client.get(admin_url(Alert, "change", alert.pk)).content.decode()
    assert 'name="summary"' not in page
    assert root_client.get(admin_url(Alert, "add")).status_code == 403
