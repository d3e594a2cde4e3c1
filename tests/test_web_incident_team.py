"""The incident page's response team and war room: roles, command, paging a responder, meeting links."""

from collections.abc import Callable
from typing import Any

import pytest

from escalation.models import Channel, ContactMethod, Notification, NotificationRule, Team
from incidents import lifecycle, response
from incidents.choices import ResponseRoleKind
from incidents.models import Incident, ResponseRole
from tests.incident_page_helpers import (
    client_for,
    field_error,
    non_field_errors,
    page_of,
    post,
    section,
    selected,
)
from tests.response_helpers import history_of, put_on_call

pytestmark = pytest.mark.django_db


@pytest.fixture
def dba(make_user: Any) -> Any:
    user = make_user("agent", username="dewi")
    user.first_name, user.last_name, user.email = "Dewi", "Lestari", "dewi@example.com"
    user.save()
    return user


@pytest.fixture
def databases(dba: Any) -> Team:
    team = Team.objects.create(name="Databases", slug="databases")
    put_on_call(team, dba)
    return team


@pytest.fixture
def incident(make_incident: Callable[..., Incident], agent: Any) -> Incident:
    incident = make_incident(title="Checkout is slow")
    return lifecycle.investigate_incident(incident=incident, actor=agent)


# --- Roles --------------------------------------------------------------------


def test_a_person_joins_the_team_in_a_role_from_the_page(agent: Any, dba: Any, incident: Incident) -> None:
    client = client_for(agent)
    response_ = post(
        client, incident, "team/", {"role-user": "dewi", "role-role": "sme", "role-expertise": "PostgreSQL"}
    )
    assert response_.status_code == 302
    role = ResponseRole.objects.get(incident=incident, user=dba)
    assert (role.role, role.expertise, role.added_by, role.ended_at) == ("sme", "PostgreSQL", agent, None)
    assert history_of(role)[-1].history_user == agent
    html = page_of(client, incident)
    assert "Dewi Lestari joined the response team as Subject-matter expert." in html
    team = section(html, "team")
    assert "Dewi Lestari" in team
    assert "Subject-matter expert · PostgreSQL" in team
    assert f'action="/incidents/{incident.number}/team/{role.pk}/end/"' in team


def test_an_expert_without_expertise_is_a_field_error_and_nothing_is_written(
    agent: Any, dba: Any, incident: Incident
) -> None:
    response_ = post(client_for(agent), incident, "team/", {"role-user": "dewi", "role-role": "sme"})
    html = response_.content.decode()
    assert response_.status_code == 400
    assert field_error(html, "id_role-expertise") == "This field is required."
    assert selected(html, "role-user", "dewi")
    assert selected(html, "role-role", "sme")
    assert "There is a problem" in html
    assert not ResponseRole.objects.filter(incident=incident).exists()


def test_ending_a_role_keeps_it_behind_the_disclosure(agent: Any, dba: Any, incident: Incident) -> None:
    role = response.add_responder(incident=incident, actor=agent, user=dba, role=ResponseRoleKind.SCRIBE)
    client = client_for(agent)
    assert post(client, incident, f"team/{role.pk}/end/").status_code == 302
    role.refresh_from_db()
    assert role.ended_at is not None
    assert role.ended_by == agent
    assert history_of(role)[-1].history_user == agent
    team = section(page_of(client, incident), "team")
    assert "1 ended role" in team
    assert "ended by agus" in team
    assert f"/team/{role.pk}/end/" not in team


def test_a_role_of_another_incident_is_a_404(
    agent: Any, dba: Any, incident: Incident, make_incident: Callable[..., Incident]
) -> None:
    other = make_incident(title="Other")
    role = response.add_responder(incident=other, actor=agent, user=dba, role=ResponseRoleKind.SCRIBE)
    assert post(client_for(agent), incident, f"team/{role.pk}/end/").status_code == 404
    role.refresh_from_db()
    assert role.ended_at is None


def test_command_is_handed_over_from_the_page(agent: Any, manager: Any, incident: Incident) -> None:
    client = client_for(agent)
    assert post(client, incident, "team/commander/", {"command-user": agent.username}).status_code == 302
    assert post(client, incident, "team/commander/", {"command-user": manager.username}).status_code == 302
    incident.refresh_from_db()
    assert incident.commander == manager
    assert incident.history.first().history_user == agent
    roles = ResponseRole.objects.filter(incident=incident, role="commander").order_by("id")
    assert [(r.user, r.ended_at is None) for r in roles] == [(agent, False), (manager, True)]
    html = page_of(client, incident)
    assert "★ Incident commander" in section(html, "team")
    assert "Hand over command" in html


def test_a_reporter_cannot_command_and_the_form_says_so(agent: Any, reporter: Any, incident: Incident) -> None:
    response_ = post(client_for(agent), incident, "team/commander/", {"command-user": reporter.username})
    assert response_.status_code == 400
    assert "cannot command an incident" in field_error(response_.content.decode(), "id_command-user")
    incident.refresh_from_db()
    assert incident.commander is None


# --- Paging a responder --------------------------------------------------------------


def test_paging_a_team_pages_its_oncall_person_and_shows_the_notifications(
    agent: Any, dba: Any, databases: Team, incident: Incident
) -> None:
    hook = ContactMethod.objects.create(user=dba, channel=Channel.WEBHOOK, address="https://hooks.example.com/dewi")
    NotificationRule.objects.create(user=dba, contact_method=hook)
    client = client_for(agent)
    response_ = post(
        client,
        incident,
        "team/page/",
        {"page-team": "databases", "page-role": "sme", "page-expertise": "PostgreSQL", "page-message": "Replica lag"},
    )
    assert response_.status_code == 302
    [notification] = Notification.objects.filter(incident=incident)
    assert (notification.user, notification.channel, notification.kind) == (dba, "webhook", "page")
    role = ResponseRole.objects.get(incident=incident, user=dba)
    assert role.paged_at is not None
    assert role.added_by == agent
    html = page_of(client, incident)
    assert "Paged Dewi Lestari to join as Subject-matter expert: 1 notification (Webhook (signed JSON))." in html
    team = section(html, "team")
    assert "1 page or notification sent" in team
    assert notification.subject in team
    assert "Pending" in team
    # A webhook's address may carry a credential: the page never shows it.
    assert "hooks.example.com" not in html


def test_paging_needs_a_team_or_a_person_and_keeps_the_message(agent: Any, incident: Incident) -> None:
    response_ = post(client_for(agent), incident, "team/page/", {"page-role": "sme", "page-message": "Need a DBA now"})
    html = response_.content.decode()
    assert response_.status_code == 400
    assert "Page either a team or a person." in non_field_errors(html)
    assert "Need a DBA now</textarea>" in html
    assert not Notification.objects.exists()
    assert not ResponseRole.objects.filter(incident=incident).exists()


def test_paging_a_team_with_nobody_on_call_is_a_field_error(agent: Any, incident: Incident) -> None:
    Team.objects.create(name="Network", slug="network")
    response_ = post(
        client_for(agent), incident, "team/page/", {"page-team": "network", "page-role": "scribe", "page-message": "x"}
    )
    assert response_.status_code == 400
    assert "Nobody in Network is on call now" in field_error(response_.content.decode(), "id_page-team")
    assert not Notification.objects.exists()


# --- The war room ------------------------------------------------------------------


def test_the_war_room_and_chat_links_are_saved_and_shown_as_links(agent: Any, incident: Incident) -> None:
    client = client_for(agent)
    response_ = post(
        client,
        incident,
        "war-room/",
        {
            "links-war_room_url": "https://meet.example.com/inc",
            "links-chat_channel_url": "https://chat.example.com/c/1",
        },
    )
    assert response_.status_code == 302
    incident.refresh_from_db()
    assert (incident.war_room_url, incident.chat_channel_url) == (
        "https://meet.example.com/inc",
        "https://chat.example.com/c/1",
    )
    assert incident.history.first().history_user == agent
    html = page_of(client, incident)
    assert '<a href="https://meet.example.com/inc" rel="noopener noreferrer" target="_blank">' in section(html, "team")
    header = html.split('<header class="incident-header">')[1].split("</header>")[0]
    assert 'href="https://chat.example.com/c/1"' in header


def test_a_war_room_link_that_is_not_http_is_refused_with_what_was_typed(agent: Any, incident: Incident) -> None:
    response_ = post(
        client_for(agent),
        incident,
        "war-room/",
        {"links-war_room_url": "javascript:alert(1)", "links-chat_channel_url": "https://chat.example.com/c/1"},
    )
    html = response_.content.decode()
    assert response_.status_code == 400
    assert field_error(html, "id_links-war_room_url") == "Give an http:// or https:// address."
    assert 'value="https://chat.example.com/c/1"' in html
    incident.refresh_from_db()
    assert (incident.war_room_url, incident.chat_channel_url) == ("", "")
    assert 'href="javascript' not in html


# --- Who sees what --------------------------------------------------------------------


def test_a_reporter_sees_the_team_but_no_controls_and_is_refused(
    agent: Any, reporter: Any, dba: Any, incident: Incident
) -> None:
    response.add_responder(incident=incident, actor=agent, user=dba, role=ResponseRoleKind.SCRIBE)
    client = client_for(reporter)
    team = section(page_of(client, incident), "team")
    assert "Dewi Lestari" in team
    for control in ("/team/page/", "/team/commander/", "/end/", "/war-room/", 'action="/incidents/'):
        assert control not in team
    assert "pages and notifications sent" not in team.lower()
    refused = post(client, incident, "team/", {"role-user": "dewi", "role-role": "scribe"})
    assert refused.status_code == 403
    assert ResponseRole.objects.filter(incident=incident).count() == 1


def test_a_cancelled_incident_takes_no_more_team_changes(agent: Any, dba: Any, incident: Incident) -> None:
    lifecycle.cancel_incident(incident=incident, actor=agent, reason="False alarm")
    client = client_for(agent)
    assert "/team/page/" not in page_of(client, incident)
    refused = post(client, incident, "team/", {"role-user": "dewi", "role-role": "scribe"})
    assert refused.status_code == 409
    assert "no longer change" in refused.content.decode()
    assert not ResponseRole.objects.filter(incident=incident).exists()
