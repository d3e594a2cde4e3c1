"""`GET /metrics`: off by default, a bearer token when on, and the exact figures of a hand-built data set.

The data set: four incidents (a new P1, an acknowledged P1 whose response SLA was breached,
a resolved P3, a cancelled P4); two pages, one by email and one by webhook; four alert
events through the generic intake (a critical trigger that opens a P1 incident, the same trigger
again, its resolve, which mitigates that incident, and one more not processed yet).
"""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from escalation import contacts
from escalation.models import SlaClock
from escalation.paging import page_users
from escalation.sla import record_breach
from incidents import lifecycle
from incidents.choices import Level
from incidents.intake.integrations import create_integration
from incidents.models import Incident, Service
from tests.intake_helpers import GENERIC_PATH, bearer, post_json, process

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-scrape-token"  # noqa: S105 — a test's own token


@pytest.fixture
def metrics_on(settings: Any) -> None:
    settings.METRICS_TOKEN = TOKEN


def scrape(token: str | None = TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return Client().get("/metrics", headers=headers)


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as (name, sorted labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.fixture
def world(manager: Any, agent: Any, make_incident: Callable[..., Incident], service: Service) -> dict[str, Incident]:
    made = {
        "new": make_incident(title="Checkout down", impact=Level.HIGH, urgency=Level.HIGH),
        "acknowledged": make_incident(title="Search down", impact=Level.HIGH, urgency=Level.HIGH),
        "resolved": make_incident(title="VPN drops"),
        "cancelled": make_incident(title="Typo", impact=Level.LOW, urgency=Level.LOW),
    }
    record_breach(clock=SlaClock.objects.get(incident=made["acknowledged"], kind="acknowledge"), at=timezone.now())
    lifecycle.transition_incident(incident=made["acknowledged"], name="acknowledge", actor=manager)
    for name, fields in [
        ("acknowledge", {}),
        ("investigate", {}),
        ("mitigate", {"note": "Restarted"}),
        ("resolve", {"root_cause": "A leak", "resolution": "Patched"}),
    ]:
        made["resolved"] = lifecycle.transition_incident(incident=made["resolved"], name=name, actor=manager, **fields)
    lifecycle.transition_incident(incident=made["cancelled"], name="cancel", actor=manager, reason="Not a problem")

    for person, channel, address in [
        (manager, "email", "maya@example.com"),
        (agent, "webhook", "https://hooks.example.com/agus"),
    ]:
        method = contacts.add_contact_method(user=person, actor=person, channel=channel, address=address)
        contacts.add_notification_rule(user=person, actor=person, contact_method=method, delay=dt.timedelta(0))
    page_users(incident=made["new"], users=[manager, agent], key="metrics-test", level=None)

    _integration, key = create_integration(service=service, kind="generic", actor=None)
    client = Client()
    trigger = {"action": "trigger", "dedup_key": "disk-full", "title": "Disk full on db-1", "severity": "critical"}
    for body in (trigger, trigger, {"action": "resolve", "dedup_key": "disk-full"}):
        assert post_json(client, GENERIC_PATH, body, bearer(key)).status_code == 202
    process()
    assert post_json(client, GENERIC_PATH, {**trigger, "dedup_key": "cpu"}, bearer(key)).status_code == 202
    return made


def test_the_endpoint_is_off_without_a_token(world: dict[str, Incident], settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert scrape().status_code == 404
    assert scrape(None).status_code == 404


@pytest.mark.usefixtures("metrics_on")
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Token {TOKEN}", "Bearer ", f"Basic {TOKEN}"])
def test_a_scrape_without_the_right_token_is_refused(header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    response = Client().get("/metrics", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert b"itsm_" not in response.content


@pytest.mark.usefixtures("metrics_on")
def test_the_figures_are_read_from_the_database(world: dict[str, Incident]) -> None:
    response = scrape()
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    found = samples(response.content.decode())

    open_incidents = {labels: value for (name, labels), value in found.items() if name == "itsm_open_incidents"}
    assert len(open_incidents) == 4 * 5  # every priority and open state, at zero too
    assert {labels: value for labels, value in open_incidents.items() if value} == {
        (("priority", "P1"), ("state", "new")): 1.0,
        (("priority", "P1"), ("state", "acknowledged")): 1.0,
        # The alert's own incident: a critical alert opens a P1, and its resolve mitigates it.
        (("priority", "P1"), ("state", "mitigated")): 1.0,
    }
    assert {labels: value for (name, labels), value in found.items() if name == "itsm_incidents_total"} == {
        (("priority", "P1"),): 3.0,
        (("priority", "P2"),): 0.0,
        (("priority", "P3"),): 1.0,
        (("priority", "P4"),): 1.0,
    }
    breaches = {labels: value for (name, labels), value in found.items() if name == "itsm_sla_breaches_total"}
    assert len(breaches) == 2 * 4
    assert {labels: value for labels, value in breaches.items() if value} == {
        (("clock", "acknowledge"), ("priority", "P1")): 1.0
    }
    assert {labels: value for (name, labels), value in found.items() if name == "itsm_pages_total"} == {
        (("channel", "email"), ("status", "pending")): 1.0,
        (("channel", "webhook"), ("status", "pending")): 1.0,
    }
    assert {labels: value for (name, labels), value in found.items() if name == "itsm_alert_events_total"} == {
        (("outcome", "opened"),): 1.0,
        (("outcome", "repeated"),): 1.0,
        (("outcome", "resolved"),): 1.0,
        (("outcome", "pending"),): 1.0,
    }


@pytest.mark.usefixtures("metrics_on")
def test_a_scrape_costs_the_same_queries_whatever_the_data(world: dict[str, Incident], manager: Any) -> None:
    with CaptureQueriesContext(connection) as few:
        scrape()
    for index in range(5):
        incident = Incident.objects.create(title=f"more {index}", priority="P2")
        lifecycle.transition_incident(incident=incident, name="acknowledge", actor=manager)
    with CaptureQueriesContext(connection) as many:
        assert scrape().status_code == 200
    assert len(many) == len(few)
    assert len([query for query in many if "GROUP BY" in query["sql"]]) == 4
