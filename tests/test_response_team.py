"""The response team: one commander at a time, in step with Incident.commander; roles kept as history."""

import functools
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from incidents import lifecycle, response, services
from incidents.choices import EntryKind
from incidents.exceptions import IncidentFinished
from incidents.models import Incident, ResponseRole
from incidents.roles import REPORTER
from tests.response_helpers import entries, history_of, incident_path
from tests.threads import run_together

pytestmark = pytest.mark.django_db


def active_commanders(incident: Incident) -> list[str]:
    rows = ResponseRole.objects.filter(incident=incident, role="commander", ended_at__isnull=True)
    return [row.user.username for row in rows.select_related("user")]


def test_naming_a_commander_hands_over_and_keeps_the_incident_field_in_step(
    make_incident: Any, agent: Any, manager: Any
) -> None:
    incident = make_incident()

    first = response.name_commander(incident=incident, actor=manager, user=agent)
    second = response.name_commander(incident=incident, actor=agent, user=manager)

    incident.refresh_from_db()
    first.refresh_from_db()
    assert incident.commander == manager
    assert active_commanders(incident) == ["maya"]
    assert (first.ended_by, first.ended_at is not None) == (agent, True)
    assert (second.user, second.added_by, second.ended_at) == (manager, agent, None)
    assert [entry.body for entry in entries(incident, EntryKind.RESPONSE_TEAM)] == [
        "agus is the incident commander.",
        "maya took over command from agus.",
    ]
    assert [(row.commander_id, row.history_user) for row in history_of(incident)][-2:] == [
        (agent.pk, manager),
        (manager.pk, agent),
    ]
    assert [(row.ended_at is None, row.history_user) for row in history_of(first)] == [(True, manager), (False, agent)]


def test_naming_the_current_commander_again_changes_nothing(make_incident: Any, agent: Any) -> None:
    incident = make_incident()
    role = response.name_commander(incident=incident, actor=agent, user=agent)
    again = response.name_commander(incident=incident, actor=agent, user=agent)
    assert again.pk == role.pk
    assert len(entries(incident, EntryKind.RESPONSE_TEAM)) == 1


def test_reporting_and_assigning_keep_the_team_in_step(make_incident: Any, agent: Any, manager: Any) -> None:
    incident = make_incident(commander=agent)
    assert active_commanders(incident) == ["agus"]

    services.assign_incident(incident=incident, actor=manager, commander=manager)
    assert active_commanders(incident) == ["maya"]
    assert Incident.objects.get(pk=incident.pk).commander == manager

    services.assign_incident(incident=incident, actor=manager, commander=None)
    assert active_commanders(incident) == []
    assert Incident.objects.get(pk=incident.pk).commander is None
    ended = ResponseRole.objects.filter(incident=incident).order_by("id")
    assert [(row.user.username, row.ended_by) for row in ended] == [("agus", manager), ("maya", manager)]
    # The assignment entry tells the story; the team does not repeat it.
    assert entries(incident, EntryKind.RESPONSE_TEAM) == []
    assert len(entries(incident, EntryKind.ASSIGNMENT)) == 2


def test_the_api_patch_of_commander_goes_through_the_team(
    make_incident: Any, agent: Any, manager: Any, api: Any
) -> None:
    incident = make_incident()
    assert api(manager).patch(incident_path(incident), {"commander": agent.username}).status_code == 200
    team = api(manager).get(incident_path(incident, "roles/")).json()
    assert [(row["user"], row["role"], row["added_by"]) for row in team] == [("agus", "commander", "maya")]


def test_the_database_holds_one_active_commander(make_incident: Any, agent: Any, manager: Any) -> None:
    incident = make_incident(commander=agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        ResponseRole.objects.create(incident=incident, user=manager, role="commander")
    ResponseRole.objects.filter(incident=incident).update(ended_at=incident.created_at)
    ResponseRole.objects.create(incident=incident, user=manager, role="commander")


def _name_commander(client: Any, path: str, username: str) -> int:
    return int(client.post(path, {"user": username, "role": "commander"}).status_code)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_commanders_named_at_once_leave_exactly_one(
    make_incident: Any, make_user: Any, agent: Any, manager: Any, api: Any
) -> None:
    other = make_user("agent", username="sari")
    for _round in range(5):
        incident = make_incident()
        path = incident_path(incident, "roles/")
        codes = run_together(
            [
                functools.partial(_name_commander, api(agent), path, other.username),
                functools.partial(_name_commander, api(manager), path, agent.username),
            ]
        )
        assert codes == [201, 201]
        commanders = active_commanders(incident)
        assert len(commanders) == 1
        assert Incident.objects.get(pk=incident.pk).commander.username == commanders[0]
        assert ResponseRole.objects.filter(incident=incident, role="commander").count() == 2


def test_a_person_holds_several_roles_but_not_the_same_one_twice(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident()
    path = incident_path(incident, "roles/")
    client = api(agent)
    assert client.post(path, {"user": agent.username, "role": "scribe"}).status_code == 201
    assert client.post(path, {"user": agent.username, "role": "sme", "expertise": "Postgres"}).status_code == 201
    assert client.post(path, {"user": agent.username, "role": "sme", "expertise": "Kafka"}).status_code == 201

    again = client.post(path, {"user": agent.username, "role": "scribe"})
    assert again.status_code == 400
    assert "already holds this role" in again.json()["user"][0]
    team = client.get(path).json()
    assert [(row["role"], row["expertise"]) for row in team] == [("scribe", ""), ("sme", "Postgres"), ("sme", "Kafka")]
    assert len(entries(incident, EntryKind.RESPONSE_TEAM)) == 3


def test_bad_roles_are_refused_and_nothing_is_written(make_incident: Any, make_user: Any, agent: Any, api: Any) -> None:
    incident = make_incident()
    gone = make_user("agent", username="gone")
    gone.is_active = False
    gone.save()
    reporter = make_user(REPORTER, username="reporter-2")
    path = incident_path(incident, "roles/")
    client = api(agent)

    cases = [
        ({"user": agent.username, "role": "sme"}, "expertise"),
        ({"user": agent.username, "role": "captain"}, "role"),
        ({"user": gone.username, "role": "scribe"}, "user"),
        ({"user": reporter.username, "role": "commander"}, "user"),
        ({"user": agent.username, "role": "scribe", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        answer = client.post(path, body)
        assert answer.status_code == 400, body
        assert field in answer.json(), answer.json()
    assert not ResponseRole.objects.filter(incident=incident).exists()
    assert entries(incident, EntryKind.RESPONSE_TEAM) == []
    with pytest.raises(ValidationError):
        response.add_responder(incident=incident, actor=agent, user=gone, role="scribe")


def test_ending_a_role_keeps_it_in_the_history(make_incident: Any, agent: Any, manager: Any, api: Any) -> None:
    incident = make_incident()
    scribe = response.add_responder(incident=incident, actor=manager, user=agent, role="scribe")
    client = api(manager)

    assert client.delete(incident_path(incident, f"roles/{scribe.pk}/")).status_code == 204
    assert client.delete(incident_path(incident, f"roles/{scribe.pk}/")).status_code == 204

    assert client.get(incident_path(incident, "roles/")).json() == []
    [row] = client.get(incident_path(incident, "roles/?all=1")).json()
    assert (row["user"], row["ended_by"], row["active"]) == ("agus", "maya", False)
    assert [entry.body for entry in entries(incident, EntryKind.RESPONSE_TEAM)] == [
        "agus joined the response team as Scribe.",
        "agus is no longer Scribe.",
    ]
    assert [row.history_user for row in history_of(scribe)] == [manager, manager]
    assert client.delete(incident_path(incident, "roles/999999/")).status_code == 404


def test_ending_the_commanders_role_leaves_nobody_in_command(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident(commander=agent)
    role = ResponseRole.objects.get(incident=incident)
    assert api(agent).delete(incident_path(incident, f"roles/{role.pk}/")).status_code == 204
    assert Incident.objects.get(pk=incident.pk).commander is None
    assert active_commanders(incident) == []
    assert (
        entries(incident, EntryKind.RESPONSE_TEAM)[-1].body == "agus no longer commands the incident; nobody does now."
    )


def test_reporters_read_the_team_but_cannot_change_it(make_incident: Any, reporter: Any, agent: Any, api: Any) -> None:
    incident = make_incident(commander=agent)
    role = ResponseRole.objects.get(incident=incident)
    client = api(reporter)
    assert client.get(incident_path(incident, "roles/")).status_code == 200
    assert client.post(incident_path(incident, "roles/"), {"user": "rina", "role": "scribe"}).status_code == 403
    assert client.delete(incident_path(incident, f"roles/{role.pk}/")).status_code == 403
    assert client.post(incident_path(incident, "roles/page/"), {"user": "agus", "message": "x"}).status_code == 403
    assert ResponseRole.objects.filter(incident=incident, ended_at__isnull=True).count() == 1
    with pytest.raises(PermissionDenied):
        response.add_responder(incident=incident, actor=reporter, user=agent, role="scribe")


def test_a_closed_or_cancelled_incident_refuses_team_changes(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident()
    lifecycle.cancel_incident(incident=incident, actor=agent, reason="False alarm")
    answer = api(agent).post(incident_path(incident, "roles/"), {"user": agent.username, "role": "scribe"})
    assert answer.status_code == 409
    assert (
        answer.json()["detail"]
        == f"{incident.number} is cancelled; its response team, tasks and fix plan no longer change."
    )
    assert not ResponseRole.objects.filter(incident=incident).exists()
    with pytest.raises(IncidentFinished):
        response.name_commander(incident=incident, actor=agent, user=agent)


def test_an_unknown_incident_is_a_404(agent: Any, api: Any) -> None:
    client = api(agent)
    for path in ("roles/", "tasks/", "plan/"):
        assert client.get(f"/api/v1/incidents/INC-424242/{path}").status_code == 404
        assert client.get(f"/api/v1/incidents/nonsense/{path}").status_code == 404
    assert client.post("/api/v1/incidents/INC-424242/roles/", {"user": "agus", "role": "scribe"}).status_code == 404


# --- War room and chat channel links ---------------------------------------------------


def test_meeting_links_are_set_through_the_incident_patch(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident()
    answer = api(agent).patch(
        incident_path(incident),
        {"war_room_url": "https://meet.example.com/inc-war-room", "chat_channel_url": "https://chat.example.com/c/inc"},
    )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["war_room_url"], body["chat_channel_url"]) == (
        "https://meet.example.com/inc-war-room",
        "https://chat.example.com/c/inc",
    )
    [change] = entries(incident, EntryKind.FIELD_CHANGE)
    assert change.data == {"fields": ["war_room_url", "chat_channel_url"]}
    latest = history_of(incident)[-1]
    assert (latest.war_room_url, latest.history_user) == ("https://meet.example.com/inc-war-room", agent)


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://files.example.com/bridge", "meet.example.com/room", "https://"]
)
def test_meeting_links_must_be_http_urls(make_incident: Any, agent: Any, api: Any, url: str) -> None:
    incident = make_incident()
    answer = api(agent).patch(incident_path(incident), {"war_room_url": url, "title": "Renamed"})
    assert answer.status_code == 400
    assert answer.json() == {"war_room_url": ["Give an http:// or https:// address."]}
    fresh = Incident.objects.get(pk=incident.pk)
    assert (fresh.war_room_url, fresh.title) == ("", incident.title)
    assert entries(incident, EntryKind.FIELD_CHANGE) == []


def test_a_meeting_link_can_be_removed(make_incident: Any, agent: Any) -> None:
    incident = make_incident()
    services.update_incident(incident=incident, actor=agent, changes={"chat_channel_url": "http://chat.example.com/x"})
    services.update_incident(incident=incident, actor=agent, changes={"chat_channel_url": " "})
    assert Incident.objects.get(pk=incident.pk).chat_channel_url == ""
