"""Verification after mitigation: the monitoring period, ready to resolve, recurrences and who is told."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.test import Client

from escalation import timers
from escalation.models import (
    EscalationLevel,
    EscalationPolicy,
    Notification,
    SlaPolicy,
    Timer,
    TimerFiring,
)
from escalation.paging import notify_users
from incidents import lifecycle, monitoring, services
from incidents.choices import EntryKind, MonitoringOutcome
from incidents.exceptions import TransitionNotAllowed
from incidents.intake.integrations import create_integration
from incidents.models import Incident, MonitoringPeriod, Service
from incidents.responders import responders
from tests.intake_helpers import AM_PATH, FIRST_FIRED, am_alert, am_notification, bearer, post_json, process

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 18, 3, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def people(make_user: Any) -> dict[str, Any]:
    crew = {}
    for name in ("lead", "fixer", "oncall", "bystander"):
        user = make_user("agent", username=name)
        user.email = f"{name}@example.com"
        user.save()
        crew[name] = user
    return crew


@pytest.fixture
def paging_policy(people: dict[str, Any], service: Service) -> EscalationPolicy:
    """The service's policy pages the on-call person at once."""
    policy = EscalationPolicy.objects.create(name="Payments", repeat_count=0)
    level = EscalationLevel.objects.create(policy=policy, position=1, escalate_after=dt.timedelta(minutes=30))
    level.users.add(people["oncall"])
    service.escalation_policy = policy
    service.save()
    return policy


@pytest.fixture
def mitigated(make_incident: Any, people: dict[str, Any], service: Service, agent: Any) -> Any:
    """A P2 (monitoring 60 min) with an assignee and a commander, mitigated at `at`."""

    def make(at: dt.datetime = START, **fields: Any) -> Incident:
        fields.setdefault("impact", "high")
        fields.setdefault("urgency", "medium")
        fields.setdefault("assignee", people["fixer"])
        fields.setdefault("commander", people["lead"])
        with time_machine.travel(at - 10 * MINUTE, tick=False) as traveller:
            incident = make_incident(services=[service], **fields)
            incident = lifecycle.acknowledge_incident(incident=incident, actor=agent)
            traveller.move_to(at)
            return lifecycle.mitigate_incident(incident=incident, actor=agent, note="Rolled back the deploy")

    return make


def notices(incident: Incident, about: str) -> list[str]:
    """Usernames sent an update notification whose subject has `about`, in order."""
    rows = Notification.objects.filter(incident=incident, kind="update", subject__contains=about).order_by("id")
    return [row.user.username if row.user else "" for row in rows]


def incident_json(api: Any, user: Any, incident: Incident) -> dict[str, Any]:
    response = api(user).get(f"/api/v1/incidents/{incident.number}/")
    assert response.status_code == 200
    return dict(response.json())


def ends_fired(incident: Incident) -> int:
    """How many monitoring deadlines of the incident have fired (other timers fire in the same sweeps)."""
    return TimerFiring.objects.filter(incident=incident, purpose="monitoring_end").count()


def period_of(incident: Incident) -> MonitoringPeriod:
    return MonitoringPeriod.objects.filter(incident=incident).order_by("-id").first()  # type: ignore[return-value]


# --- Settings ----------------------------------------------------------------------


def test_each_priority_has_its_monitoring_period_and_update_cadence() -> None:
    policies = {p.priority: (p.monitoring_period, p.update_every) for p in SlaPolicy.objects.all()}
    assert policies == {
        "P1": (60 * MINUTE, 30 * MINUTE),
        "P2": (60 * MINUTE, 60 * MINUTE),
        "P3": (30 * MINUTE, 4 * 60 * MINUTE),
        "P4": (30 * MINUTE, None),
    }


# --- The monitoring period ----------------------------------------------------------------


def test_mitigating_starts_the_priority_s_monitoring_period(mitigated: Any, api: Any, agent: Any) -> None:
    SlaPolicy.objects.filter(priority="P2").update(monitoring_period=45 * MINUTE)
    incident = mitigated()

    period = period_of(incident)
    assert (period.length, period.started_at, period.ends_at, period.outcome) == (
        45 * MINUTE,
        START,
        START + 45 * MINUTE,
        MonitoringOutcome.RUNNING,
    )
    timer = Timer.objects.get(incident=incident, purpose="monitoring_end")
    assert (timer.clock, timer.due_at, timer.fired_at, timer.cancelled_at) == (
        f"monitoring:{period.pk}",
        START + 45 * MINUTE,
        None,
        None,
    )
    data = incident_json(api, agent, incident)
    assert data["monitoring_ends_at"] == "2026-11-18T03:45:00Z"
    assert data["ready_to_resolve_at"] is None
    assert period.history.first().history_user == agent


def test_the_end_of_monitoring_makes_the_incident_ready_to_resolve_once(
    mitigated: Any, api: Any, agent: Any, people: dict[str, Any]
) -> None:
    incident = mitigated()

    with time_machine.travel(START + 59 * MINUTE, tick=False) as traveller:
        timers.sweep_due_timers()
        assert ends_fired(incident) == 0
        traveller.move_to(START + 60 * MINUTE)
        timers.sweep_due_timers()
        assert ends_fired(incident) == 1
        traveller.move_to(START + 2 * 60 * MINUTE)
        timers.sweep_due_timers()
        # The ETA wake-up arriving late finds it fired.
        timer = Timer.objects.get(incident=incident, purpose="monitoring_end")
        assert timers.fire_timer(timer_id=timer.pk, version=timer.version) is False

    period = period_of(incident)
    assert (period.outcome, period.ended_at) == (MonitoringOutcome.READY, START + 60 * MINUTE)
    assert period.history.first().history_user.username == "itsm-system"
    assert ends_fired(incident) == 1
    assert notices(incident, "ready to resolve") == ["fixer", "lead"]
    [entry] = incident.timeline.filter(kind=EntryKind.MONITORING)
    assert entry.body == "Monitoring ended with no recurrence: ready to resolve. Told fixer, lead."
    assert entry.data["told"] == ["fixer", "lead"]
    data = incident_json(api, agent, incident)
    assert (data["state"], data["monitoring_ends_at"], data["ready_to_resolve_at"]) == (
        "mitigated",
        None,
        "2026-11-18T04:00:00Z",
    )


def test_the_eta_wake_up_fires_the_end_of_monitoring_and_the_sweeper_then_finds_nothing(
    mitigated: Any, people: dict[str, Any]
) -> None:
    incident = mitigated()
    timer = Timer.objects.get(incident=incident, purpose="monitoring_end")

    with time_machine.travel(START + 60 * MINUTE, tick=False):
        assert timers.fire_timer(timer_id=timer.pk, version=timer.version) is True
        timers.sweep_due_timers()
    assert ends_fired(incident) == 1

    assert period_of(incident).outcome == MonitoringOutcome.READY
    assert notices(incident, "ready to resolve") == ["fixer", "lead"]


def test_nobody_to_tell_is_said_on_the_timeline(mitigated: Any) -> None:
    incident = mitigated(assignee=None, commander=None)
    with time_machine.travel(START + 60 * MINUTE, tick=False):
        timers.sweep_due_timers()
    [entry] = incident.timeline.filter(kind=EntryKind.MONITORING)
    assert entry.body.endswith("Nobody was told: no assignee or commander.")
    assert not Notification.objects.filter(incident=incident).exists()


def test_resolving_cancels_the_monitoring_deadline(mitigated: Any, agent: Any) -> None:
    incident = mitigated()
    with time_machine.travel(START + 20 * MINUTE, tick=False) as traveller:
        lifecycle.resolve_incident(incident=incident, actor=agent, root_cause="A bad deploy", resolution="Rolled back")
        traveller.move_to(START + 3 * 60 * MINUTE)
        timers.sweep_due_timers()

    assert ends_fired(incident) == 0
    period = period_of(incident)
    assert (period.outcome, period.ended_at) == (MonitoringOutcome.STOPPED, START + 20 * MINUTE)
    timer = Timer.objects.get(incident=incident, purpose="monitoring_end")
    assert (timer.fired_at, timer.cancelled_at) == (None, START + 20 * MINUTE)
    assert not incident.timeline.filter(kind=EntryKind.MONITORING).exists()
    assert notices(incident, "ready to resolve") == []


# --- Recurrences ----------------------------------------------------------------------


def test_a_recurrence_reopens_and_notifies_every_responder_once(
    make_incident: Any, service: Service, paging_policy: Any, people: dict[str, Any], agent: Any
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(
            impact="high", urgency="high", services=[service], assignee=people["fixer"], commander=people["lead"]
        )
        timers.sweep_due_timers()  # pages the on-call person
        incident = lifecycle.acknowledge_incident(incident=incident, actor=people["fixer"])
        incident = lifecycle.mitigate_incident(incident=incident, actor=people["fixer"], note="Failed over")
        traveller.move_to(START + 20 * MINUTE)
        incident = monitoring.report_recurrence(incident=incident, actor=agent, reason="Errors are back at 5%")
        with pytest.raises(TransitionNotAllowed):
            monitoring.report_recurrence(incident=incident, actor=agent, reason="Still failing")
        traveller.move_to(START + 3 * 60 * MINUTE)
        timers.sweep_due_timers()

    assert incident.state == "investigating"
    assert incident.mitigated_at is None
    assert notices(incident, "recurred") == ["fixer", "lead", "oncall"]
    notice = Notification.objects.filter(incident=incident, subject__contains="recurred").earliest("id")
    assert notice.body.endswith(
        "came back after it was mitigated and is being investigated again: Errors are back at 5%"
    )
    period = period_of(incident)
    assert (period.outcome, period.ended_at) == (MonitoringOutcome.RECURRED, START + 20 * MINUTE)
    timer = Timer.objects.get(incident=incident, purpose="monitoring_end")
    assert timer.fired_at is None
    assert timer.cancelled_at is not None
    assert notices(incident, "ready to resolve") == []
    reopened = incident.timeline.filter(kind=EntryKind.TRANSITION, data__transition="reopen").get()
    assert (reopened.actor, reopened.body) == (agent, "Errors are back at 5%")


def test_a_reopen_through_the_api_is_a_recurrence_too(
    mitigated: Any, api: Any, agent: Any, people: dict[str, Any]
) -> None:
    incident = mitigated()
    response = api(agent).post(
        f"/api/v1/incidents/{incident.number}/transitions/reopen/", {"reason": "Back again"}, format="json"
    )
    assert response.status_code == 200
    assert notices(incident, "recurred") == ["fixer", "lead"]
    assert period_of(incident).outcome == MonitoringOutcome.RECURRED


def test_reopening_a_resolved_incident_notifies_its_responders(mitigated: Any, agent: Any) -> None:
    incident = mitigated()
    incident = lifecycle.resolve_incident(incident=incident, actor=agent, root_cause="Deploy", resolution="Rollback")
    incident = lifecycle.reopen_incident(incident=incident, actor=agent, reason="It failed again tonight")

    assert notices(incident, "recurred") == ["fixer", "lead"]
    assert "after it was resolved" in Notification.objects.filter(subject__contains="recurred").earliest("id").body


def test_the_recurrence_endpoint(mitigated: Any, api: Any, agent: Any, reporter: Any) -> None:
    incident = mitigated()
    path = f"/api/v1/incidents/{incident.number}/recurrence/"

    assert api(agent).post(path, {}, format="json").json() == {"reason": ["This field is required."]}
    assert api(agent).post(path, {"reason": "  "}, format="json").status_code == 400
    assert api(reporter).post(path, {"reason": "Broken again"}, format="json").status_code == 403
    assert (
        api(agent).post("/api/v1/incidents/INC-999999/recurrence/", {"reason": "x"}, format="json").status_code == 404
    )
    assert notices(incident, "recurred") == []

    response = api(agent).post(path, {"reason": "Broken again"}, format="json")
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["monitoring_ends_at"]) == ("investigating", None)

    again = api(agent).post(path, {"reason": "Still broken"}, format="json")
    assert again.status_code == 409
    assert again.json()["state"] == "investigating"
    assert notices(incident, "recurred") == ["fixer", "lead"]


def test_an_alert_firing_again_is_a_recurrence(service: Service, people: dict[str, Any], agent: Any) -> None:
    _, key = create_integration(service=service, kind="alertmanager", actor=None)
    client = Client()
    post_json(client, AM_PATH, am_notification(), headers=bearer(key))
    process()
    incident = Incident.objects.get()
    services.assign_incident(incident=incident, actor=agent, assignee=people["fixer"])
    post_json(client, AM_PATH, am_notification(am_alert(status="resolved")), headers=bearer(key))
    process()
    incident.refresh_from_db()
    assert incident.state == "mitigated"
    assert period_of(incident).outcome == MonitoringOutcome.RUNNING

    post_json(client, AM_PATH, am_notification(am_alert(starts_at=FIRST_FIRED + 60 * MINUTE)), headers=bearer(key))
    process()

    incident.refresh_from_db()
    assert incident.state == "investigating"
    assert period_of(incident).outcome == MonitoringOutcome.RECURRED
    assert notices(incident, "recurred") == ["fixer"]


def test_a_second_mitigation_gets_a_monitoring_period_of_its_own(mitigated: Any, agent: Any) -> None:
    incident = mitigated()
    with time_machine.travel(START + 60 * MINUTE, tick=False) as traveller:
        timers.sweep_due_timers()
        traveller.move_to(START + 70 * MINUTE)
        incident = monitoring.report_recurrence(incident=incident, actor=agent, reason="Back")
        traveller.move_to(START + 80 * MINUTE)
        incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Scaled out")
        traveller.move_to(START + 139 * MINUTE)
        timers.sweep_due_timers()
        assert ends_fired(incident) == 1
        traveller.move_to(START + 140 * MINUTE)
        timers.sweep_due_timers()
        assert ends_fired(incident) == 2

    first, second = MonitoringPeriod.objects.filter(incident=incident).order_by("id")
    assert (first.outcome, first.ends_at) == (MonitoringOutcome.READY, START + 60 * MINUTE)
    assert (second.outcome, second.started_at, second.ended_at) == (
        MonitoringOutcome.READY,
        START + 80 * MINUTE,
        START + 140 * MINUTE,
    )
    clocks = list(
        TimerFiring.objects.filter(incident=incident, purpose="monitoring_end")
        .order_by("id")
        .values_list("clock", flat=True)
    )
    assert clocks == [f"monitoring:{first.pk}", f"monitoring:{second.pk}"]
    assert notices(incident, "ready to resolve") == ["fixer", "lead", "fixer", "lead"]
    assert notices(incident, "recurred") == ["fixer", "lead"]


def test_a_recurrence_before_the_end_leaves_only_the_new_period_to_fire(mitigated: Any, agent: Any) -> None:
    incident = mitigated()
    with time_machine.travel(START + 10 * MINUTE, tick=False) as traveller:
        incident = monitoring.report_recurrence(incident=incident, actor=agent, reason="Back")
        traveller.move_to(START + 30 * MINUTE)
        incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Scaled out")
        traveller.move_to(START + 60 * MINUTE)
        timers.sweep_due_timers()
        assert ends_fired(incident) == 0
        traveller.move_to(START + 90 * MINUTE)
        timers.sweep_due_timers()
        assert ends_fired(incident) == 1

    first, second = MonitoringPeriod.objects.filter(incident=incident).order_by("id")
    assert (first.outcome, second.outcome) == (MonitoringOutcome.RECURRED, MonitoringOutcome.READY)
    assert second.ended_at == START + 90 * MINUTE


# --- Who the responders are --------------------------------------------------------------


def test_responders_are_the_assignee_the_commander_and_whoever_was_paged(
    make_incident: Any, service: Service, paging_policy: Any, people: dict[str, Any]
) -> None:
    with time_machine.travel(START, tick=False):
        incident = make_incident(
            impact="high", urgency="high", services=[service], assignee=people["fixer"], commander=people["fixer"]
        )
        timers.sweep_due_timers()

    assert responders(incident) == [people["fixer"], people["oncall"]]

    people["oncall"].is_active = False
    people["oncall"].save()
    assert responders(incident) == [people["fixer"]]


def test_the_response_team_are_responders_until_their_role_ends(
    make_incident: Any, people: dict[str, Any], agent: Any
) -> None:
    from incidents.response import add_responder, end_role

    incident = make_incident(assignee=people["fixer"])
    scribe = add_responder(incident=incident, actor=agent, user=people["lead"], role="scribe")
    add_responder(incident=incident, actor=agent, user=people["fixer"], role="sme", expertise="PostgreSQL")
    assert responders(incident) == [people["fixer"], people["lead"]]

    end_role(incident=incident, actor=agent, role=scribe)
    assert responders(incident) == [people["fixer"]]


def test_messages_about_two_incidents_to_one_person_are_both_written(
    make_incident: Any, people: dict[str, Any]
) -> None:
    first, second = make_incident(), make_incident()
    for incident in (first, second, first):
        notify_users(incident=incident, users=[people["lead"]], key="tier2", subject="s", body="b")

    assert Notification.objects.filter(user=people["lead"]).count() == 2
    assert {n.incident_id for n in Notification.objects.filter(user=people["lead"])} == {first.pk, second.pk}


def test_a_policy_without_a_monitoring_period_makes_a_mitigated_incident_ready_at_once(mitigated: Any) -> None:
    SlaPolicy.objects.filter(priority="P2").update(monitoring_period=dt.timedelta(0))
    incident = mitigated()
    assert period_of(incident).ends_at == START

    with time_machine.travel(START, tick=False):
        timers.sweep_due_timers()

    assert (period_of(incident).outcome, period_of(incident).ended_at) == (MonitoringOutcome.READY, START)
