"""The incident page's monitoring period and status updates: the ready banner, recurrences, the update cadence."""

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
import time_machine

from escalation import timers
from incidents import lifecycle, updates
from incidents.choices import State, UpdateAudience
from incidents.models import Incident, StatusUpdate
from tests.incident_page_helpers import client_for, field_error, page_of, post, section

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 11, 18, 3, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def mitigated(make_incident: Callable[..., Incident], agent: Any) -> Incident:
    """A P2 (monitoring for 60 min, an update every 60 min), mitigated at START."""
    with time_machine.travel(START - 10 * MINUTE, tick=False) as traveller:
        incident = make_incident(title="Checkout is slow", impact="high", urgency="medium")
        incident = lifecycle.acknowledge_incident(incident=incident, actor=agent)
        traveller.move_to(START)
        return lifecycle.mitigate_incident(incident=incident, actor=agent, note="Rolled back the deploy")


def header_of(html: str) -> str:
    return html.split('<header class="incident-header">')[1].split("</header>")[0]


# --- The monitoring period ----------------------------------------------------------------


def test_a_mitigated_incident_shows_when_its_monitoring_ends(agent: Any, mitigated: Incident) -> None:
    with time_machine.travel(START + 5 * MINUTE, tick=False):
        html = page_of(client_for(agent), mitigated)
    assert "watching for a recurrence until" in header_of(html)
    assert 'datetime="2026-11-18T04:00:00+00:00"' in section(html, "monitoring")
    assert "Ready to resolve" not in html


def test_when_monitoring_ends_a_clear_banner_says_ready_to_resolve(agent: Any, mitigated: Incident) -> None:
    with time_machine.travel(START + 61 * MINUTE, tick=False):
        timers.sweep_due_timers()
        html = page_of(client_for(agent), mitigated)
    banner = header_of(html)
    assert '<p class="banner ready" role="status">' in banner
    assert "✓" in banner
    assert "Ready to resolve" in banner
    assert 'href="#do-resolve"' in banner
    assert 'id="do-resolve"' in html
    assert "Ended without recurrence: ready to resolve" in section(html, "monitoring")


def test_a_recurrence_reopens_the_incident_from_the_page(agent: Any, mitigated: Incident) -> None:
    client = client_for(agent)
    with time_machine.travel(START + 20 * MINUTE, tick=False):
        assert "/recurrence/" in section(page_of(client, mitigated), "monitoring")
        response = post(client, mitigated, "recurrence/", {"recurrence-reason": "Errors are back at 5%"})
    assert response.status_code == 302
    mitigated.refresh_from_db()
    assert mitigated.state == State.INVESTIGATING
    assert mitigated.history.first().history_user == agent
    assert mitigated.timeline.filter(kind="transition", data__reason="Errors are back at 5%").exists()
    monitoring = section(page_of(client, mitigated), "monitoring")
    assert "Ended by a recurrence" in monitoring
    assert "/recurrence/" not in monitoring  # investigating: nothing to reopen


def test_a_recurrence_needs_a_reason(agent: Any, mitigated: Incident) -> None:
    response = post(client_for(agent), mitigated, "recurrence/", {"recurrence-reason": ""})
    assert response.status_code == 400
    assert field_error(response.content.decode(), "id_recurrence-reason") == "This field is required."
    mitigated.refresh_from_db()
    assert mitigated.state == State.MITIGATED


def test_a_recurrence_on_an_incident_that_is_not_mitigated_is_a_409(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Fresh")
    response = post(client_for(agent), incident, "recurrence/", {"recurrence-reason": "Back again"})
    assert response.status_code == 409
    assert "reopen" in response.content.decode().lower()
    incident.refresh_from_db()
    assert incident.state == State.NEW


def test_a_reporter_sees_no_monitoring_and_cannot_report_a_recurrence(reporter: Any, mitigated: Incident) -> None:
    client = client_for(reporter)
    html = page_of(client, mitigated)
    assert section(html, "monitoring") == ""
    assert "/recurrence/" not in html
    assert post(client, mitigated, "recurrence/", {"recurrence-reason": "Back"}).status_code == 403
    mitigated.refresh_from_db()
    assert mitigated.state == State.MITIGATED


# --- Status updates ---------------------------------------------------------------------------


def test_an_update_is_posted_for_stakeholders_and_the_next_one_is_due(agent: Any, mitigated: Incident) -> None:
    client = client_for(agent)
    with time_machine.travel(START + 10 * MINUTE, tick=False):
        response = post(
            client,
            mitigated,
            "updates/",
            {"update-body": "Checkout works again; we keep watching.", "update-audience": "stakeholders"},
        )
        assert response.status_code == 302
        html = page_of(client, mitigated)
    update = StatusUpdate.objects.get(incident=mitigated)
    assert (update.audience, update.author, update.state) == ("stakeholders", agent, "mitigated")
    assert update.history.first().history_user == agent
    assert "Update sent to the stakeholders." in html
    part = section(html, "updates")
    assert "Checkout works again; we keep watching." in part
    assert "Next update due" in part
    assert 'datetime="2026-11-18T04:10:00+00:00"' in part  # an hour after the update, for a P2
    assert "overdue" not in part.lower()


def test_an_overdue_update_is_a_warning_in_words(agent: Any, mitigated: Incident) -> None:
    with time_machine.travel(START + 2 * 60 * MINUTE, tick=False):
        html = page_of(client_for(agent), mitigated)
    assert "Status update overdue" in header_of(html)
    part = section(html, "updates")
    assert "▲" in part
    assert "Update overdue" in part
    assert "<details open>\n    <summary>Post a status update</summary>" in part


def test_an_empty_update_keeps_the_audience_and_writes_nothing(agent: Any, mitigated: Incident) -> None:
    response = post(client_for(agent), mitigated, "updates/", {"update-body": "  ", "update-audience": "internal"})
    html = response.content.decode()
    assert response.status_code == 400
    assert field_error(html, "id_update-body") == "This field is required."
    assert '<option value="internal" selected>' in html
    assert not StatusUpdate.objects.exists()


def test_a_closed_incident_takes_no_more_updates(agent: Any, manager: Any, make_incident: Any) -> None:
    incident = make_incident(title="Small", impact="low", urgency="low")
    lifecycle.cancel_incident(incident=incident, actor=agent, reason="False alarm")
    client = client_for(agent)
    assert "/updates/" not in page_of(client, incident)
    response = post(client, incident, "updates/", {"update-body": "Anything?", "update-audience": "internal"})
    assert response.status_code == 409
    assert "takes no more status updates" in response.content.decode()
    assert not StatusUpdate.objects.exists()


def test_a_reporter_sees_stakeholder_updates_only_and_cannot_post(
    agent: Any, reporter: Any, mitigated: Incident
) -> None:
    updates.post_status_update(
        incident=mitigated, actor=agent, body="For everyone", audience=UpdateAudience.STAKEHOLDERS
    )
    updates.post_status_update(incident=mitigated, actor=agent, body="Team only", audience=UpdateAudience.INTERNAL)
    client = client_for(reporter)
    html = page_of(client, mitigated)
    assert "For everyone" in section(html, "updates")
    assert "Team only" not in html
    assert "/updates/" not in html
    assert "Next update due" not in html
    refused = post(client, mitigated, "updates/", {"update-body": "Me too", "update-audience": "stakeholders"})
    assert refused.status_code == 403
    assert StatusUpdate.objects.count() == 2
