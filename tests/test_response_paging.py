"""Paging a responder into the team: through the paging machinery, by a team's on-call person or by name."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core import mail

from escalation import delivery
from escalation.models import Channel, ContactMethod, DeliveryStatus, Notification, NotificationRule, Team
from incidents import lifecycle, response
from incidents.choices import EntryKind
from incidents.models import Incident, ResponseRole
from tests.response_helpers import entries, incident_path, put_on_call

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def dba(make_user: Any) -> Any:
    user = make_user("agent", username="dewi")
    user.email = "dewi@example.com"
    user.save()
    return user


@pytest.fixture
def databases(dba: Any) -> Team:
    team = Team.objects.create(name="Databases", slug="databases")
    put_on_call(team, dba)
    return team


@pytest.fixture
def email_backend(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def test_paging_a_team_pages_its_oncall_person_and_adds_the_sme(
    make_incident: Any, agent: Any, dba: Any, databases: Team, api: Any
) -> None:
    # Two ways to reach Dewi: her rules say a webhook at once and email five minutes later.
    hook = ContactMethod.objects.create(user=dba, channel=Channel.WEBHOOK, address="https://hooks.example.com/dewi")
    email = ContactMethod.objects.create(user=dba, channel=Channel.EMAIL, address="dewi.pager@example.com")
    NotificationRule.objects.create(user=dba, contact_method=hook)
    NotificationRule.objects.create(user=dba, contact_method=email, delay=dt.timedelta(minutes=5))
    with time_machine.travel(NOW, tick=False):
        incident = make_incident()
        lifecycle.investigate_incident(incident=incident, actor=agent)
        answer = api(agent).post(
            incident_path(incident, "roles/page/"),
            {"team": "databases", "expertise": "PostgreSQL", "message": "Replica lag on the payments cluster"},
        )

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert (body["role"]["user"], body["role"]["role"], body["role"]["expertise"]) == ("dewi", "sme", "PostgreSQL")
    assert body["role"]["paged_at"] == "2026-11-20T10:00:00Z"
    notifications = Notification.objects.filter(incident=incident).order_by("id")
    assert [n["id"] for n in body["notifications"]] == [n.pk for n in notifications]
    assert [(n.user, n.channel, n.address, n.kind, n.level, n.status) for n in notifications] == [
        (dba, "webhook", "https://hooks.example.com/dewi", "page", None, "pending"),
        (dba, "email", "dewi.pager@example.com", "page", None, "pending"),
    ]
    assert [n.next_attempt_at for n in notifications] == [NOW, NOW + dt.timedelta(minutes=5)]
    assert all(n.body.endswith("\n\nReplica lag on the payments cluster") for n in notifications)
    assert all(n.idempotency_key.startswith(f"inc{incident.pk}:responder:") for n in notifications)

    role = ResponseRole.objects.get(incident=incident)
    assert (role.user, role.role, role.expertise, role.added_by) == (dba, "sme", "PostgreSQL", agent)
    [entry] = entries(incident, EntryKind.RESPONSE_TEAM)
    assert entry.actor == agent
    assert entry.body == (
        "Paged dewi (on call for Databases) to join as Subject-matter expert (PostgreSQL): "
        "Replica lag on the payments cluster"
    )
    assert entry.data == {
        "event": "paged",
        "role": "sme",
        "user": "dewi",
        "expertise": "PostgreSQL",
        "team": "databases",
        "notifications": [n.pk for n in notifications],
    }


def test_a_responder_page_is_delivered_though_the_incident_is_acknowledged(
    make_incident: Any, agent: Any, dba: Any, email_backend: None
) -> None:
    # Escalation pages stop at acknowledgement; a page to join the team is not about that.
    incident = make_incident()
    lifecycle.acknowledge_incident(incident=incident, actor=agent)
    paged = response.page_responder(
        incident=incident, actor=agent, user=dba, expertise="PostgreSQL", message="Please join the bridge"
    )
    [notification] = paged.notifications

    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.SENT
    [message] = mail.outbox
    assert message.to == ["dewi@example.com"]
    assert "Please join the bridge" in message.body


def test_a_responder_page_is_dropped_once_the_incident_is_over(make_incident: Any, agent: Any, dba: Any) -> None:
    incident = make_incident()
    paged = response.page_responder(incident=incident, actor=agent, user=dba, expertise="DNS", message="Join us")
    lifecycle.cancel_incident(incident=incident, actor=agent, reason="False alarm")
    [notification] = paged.notifications
    assert delivery.deliver_notification(notification_id=notification.pk) == DeliveryStatus.CANCELLED


def test_paging_a_person_with_a_role(make_incident: Any, agent: Any, dba: Any, api: Any) -> None:
    incident = make_incident()
    answer = api(agent).post(
        incident_path(incident, "roles/page/"),
        {"user": "dewi", "role": "communications_lead", "message": "Please run the customer updates"},
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["role"]["role"] == "communications_lead"
    [notification] = Notification.objects.filter(incident=incident)
    assert (notification.address, notification.channel) == ("dewi@example.com", "email")


def test_paging_someone_on_the_team_again_pages_without_a_second_role(make_incident: Any, agent: Any, dba: Any) -> None:
    incident = make_incident()
    first = response.page_responder(incident=incident, actor=agent, user=dba, expertise="DNS", message="Join us")
    second = response.page_responder(incident=incident, actor=agent, user=dba, expertise="DNS", message="Still needed")
    assert first.role.pk == second.role.pk
    assert Notification.objects.filter(incident=incident).count() == 2
    assert ResponseRole.objects.filter(incident=incident).count() == 1


def test_paging_a_commander_hands_over_command(make_incident: Any, agent: Any, dba: Any) -> None:
    incident = make_incident(commander=agent)
    paged = response.page_responder(incident=incident, actor=agent, user=dba, role="commander", message="Take over")
    assert (paged.role.user, paged.role.role) == (dba, "commander")
    assert Incident.objects.get(pk=incident.pk).commander == dba
    assert ResponseRole.objects.filter(incident=incident, role="commander", ended_at__isnull=True).count() == 1


def test_a_team_with_nobody_on_call_is_a_400_and_nothing_is_written(
    make_incident: Any, agent: Any, team: Team, api: Any
) -> None:
    incident = make_incident()
    answer = api(agent).post(
        incident_path(incident, "roles/page/"), {"team": team.slug, "expertise": "Payments", "message": "Help"}
    )
    assert answer.status_code == 400
    assert answer.json() == {"team": ["Nobody in Payments is on call now; page a person by name instead."]}
    assert not ResponseRole.objects.filter(incident=incident).exists()
    assert not Notification.objects.filter(incident=incident).exists()
    assert entries(incident, EntryKind.RESPONSE_TEAM) == []


def test_someone_who_cannot_be_reached_is_a_400(make_incident: Any, make_user: Any, agent: Any, api: Any) -> None:
    incident = make_incident()
    make_user("agent", username="no-email")
    answer = api(agent).post(
        incident_path(incident, "roles/page/"), {"user": "no-email", "expertise": "Payments", "message": "Help"}
    )
    assert answer.status_code == 400
    assert answer.json() == {"user": ["no-email has no email address or active contact method to page."]}
    assert not ResponseRole.objects.filter(incident=incident).exists()
    assert not Notification.objects.filter(incident=incident).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"expertise": "DNS", "message": "Help"}, "non_field_errors"),
        ({"user": "dewi", "team": "databases", "expertise": "DNS", "message": "Help"}, "non_field_errors"),
        ({"user": "dewi", "expertise": "DNS"}, "message"),
        ({"user": "dewi", "message": "Help"}, "expertise"),
        ({"team": "no-such-team", "expertise": "DNS", "message": "Help"}, "team"),
    ],
)
def test_bad_pages_are_refused(
    make_incident: Any, agent: Any, dba: Any, databases: Team, api: Any, body: dict[str, str], field: str
) -> None:
    incident = make_incident()
    answer = api(agent).post(incident_path(incident, "roles/page/"), body)
    assert answer.status_code == 400
    assert field in answer.json()
    assert not Notification.objects.filter(incident=incident).exists()
    assert not ResponseRole.objects.filter(incident=incident).exists()
