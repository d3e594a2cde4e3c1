"""Status updates: posting and reading them, who may, and their cadence with the overdue reminder."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from escalation import timers
from escalation.models import Notification, SlaPolicy, Timer, TimerFiring
from incidents import lifecycle, services
from incidents.choices import EntryKind
from incidents.exceptions import IncidentConflict
from incidents.models import Incident, Service, StatusUpdate, UpdateCadence
from incidents.updates import post_status_update

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 11, 18, 3, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture
def lead(make_user: Any) -> Any:
    user = make_user("agent", username="lead")
    user.email = "lead@example.com"
    user.save()
    return user


@pytest.fixture
def p1(make_incident: Any, lead: Any, service: Service) -> Incident:
    """A P1 reported at START with a commander: an update is due every 30 minutes."""
    with time_machine.travel(START, tick=False):
        incident: Incident = make_incident(impact="high", urgency="high", services=[service], commander=lead)
    return incident


def url(incident: Incident) -> str:
    return f"/api/v1/incidents/{incident.number}/updates/"


def reminders(incident: Incident) -> list[str]:
    """Who was reminded of an overdue update, in order."""
    rows = Notification.objects.filter(incident=incident, subject__contains="a status update is due").order_by("id")
    return [row.user.username if row.user else "" for row in rows]


def reminder_entries(incident: Incident) -> list[str]:
    return list(incident.timeline.filter(kind=EntryKind.UPDATE_REMINDER).order_by("id").values_list("body", flat=True))


def due_in_json(api: Any, user: Any, incident: Incident) -> Any:
    return api(user).get(f"/api/v1/incidents/{incident.number}/").json()["next_update_due_at"]


def post_at(moment: dt.datetime, incident: Incident, actor: Any, body: str = "Still on it", **kw: Any) -> StatusUpdate:
    with time_machine.travel(moment, tick=False):
        return post_status_update(incident=incident, actor=actor, body=body, audience=kw.get("audience", "internal"))


def sweep_at(moment: dt.datetime) -> None:
    with time_machine.travel(moment, tick=False):
        timers.sweep_due_timers()


# --- Posting and reading -----------------------------------------------------------


def test_an_agent_posts_a_stakeholder_update_and_it_is_on_the_timeline(p1: Incident, api: Any, agent: Any) -> None:
    with time_machine.travel(START + 5 * MINUTE, tick=False):
        response = api(agent).post(
            url(p1), {"body": "Card payments fail; we are rolling back.", "audience": "stakeholders"}, format="json"
        )

    assert response.status_code == 201, response.json()
    body = response.json()
    update = StatusUpdate.objects.get()
    assert body == {
        "id": update.pk,
        "audience": "stakeholders",
        "body": "Card payments fail; we are rolling back.",
        "state": "new",
        "priority": "P1",
        "author": "agus",
        "created_at": "2026-11-18T03:05:00Z",
    }
    entry = update.timeline_entry
    assert entry is not None
    assert (entry.kind, entry.visibility, entry.actor, entry.body) == (
        "status_update",
        "public",
        agent,
        "Card payments fail; we are rolling back.",
    )
    assert entry.data == {"status_update": update.pk, "audience": "stakeholders"}
    history = update.history.get()
    assert (history.history_user, history.history_change_reason) == (agent, "stakeholders status update")


def test_internal_updates_are_for_responders_only(p1: Incident, api: Any, agent: Any, reporter: Any) -> None:
    post_at(START + MINUTE, p1, agent, "Rolling back release 42", audience="internal")
    post_at(START + 2 * MINUTE, p1, agent, "We are on it", audience="stakeholders")

    internal = StatusUpdate.objects.select_related("timeline_entry").get(audience="internal")
    assert internal.timeline_entry is not None
    assert internal.timeline_entry.visibility == "internal"
    agents_view = api(agent).get(url(p1)).json()["results"]
    assert [(u["audience"], u["body"]) for u in agents_view] == [
        ("internal", "Rolling back release 42"),
        ("stakeholders", "We are on it"),
    ]
    reporters_view = api(reporter).get(url(p1)).json()["results"]
    assert [u["body"] for u in reporters_view] == ["We are on it"]
    reporters_timeline = api(reporter).get(f"/api/v1/incidents/{p1.number}/timeline/").json()["results"]
    assert "Rolling back release 42" not in [entry["body"] for entry in reporters_timeline]


def test_reporters_may_not_post_updates(p1: Incident, api: Any, reporter: Any) -> None:
    response = api(reporter).post(url(p1), {"body": "Any news?", "audience": "stakeholders"}, format="json")
    assert response.status_code == 403
    assert not StatusUpdate.objects.exists()
    assert not p1.timeline.filter(kind="status_update", data__has_key="status_update").exists()
    assert api(None).get(url(p1)).status_code == 401


def test_bad_input_is_a_400_with_field_messages(p1: Incident, api: Any, agent: Any) -> None:
    client = api(agent)
    assert client.post(url(p1), {"audience": "internal"}, format="json").json() == {"body": ["This field is required."]}
    assert client.post(url(p1), {"body": "x", "audience": "everyone"}, format="json").json() == {
        "audience": ['"everyone" is not a valid choice.']
    }
    assert client.post(url(p1), {"body": "   ", "audience": "internal"}, format="json").status_code == 400
    assert (
        client.post(url(p1), {"body": "x", "audience": "internal", "state": "closed"}, format="json").status_code == 400
    )
    assert (
        client.post("/api/v1/incidents/INC-999999/updates/", {"body": "x", "audience": "internal"}).status_code == 404
    )
    assert client.get("/api/v1/incidents/INC-999999/updates/").status_code == 404
    assert not StatusUpdate.objects.exists()


def test_closed_and_cancelled_incidents_take_no_updates_but_resolved_ones_do(
    make_incident: Any, api: Any, manager: Any
) -> None:
    cancelled = lifecycle.cancel_incident(incident=make_incident(), actor=manager, reason="Duplicate")
    resolved = lifecycle.investigate_incident(incident=make_incident(), actor=manager)
    resolved = lifecycle.resolve_incident(incident=resolved, actor=manager, root_cause="Disk", resolution="Replaced")

    refused = api(manager).post(url(cancelled), {"body": "x", "audience": "stakeholders"}, format="json")
    assert refused.status_code == 409
    assert refused.json()["state"] == "cancelled"
    with pytest.raises(IncidentConflict):
        post_status_update(incident=cancelled, actor=manager, body="x", audience="internal")

    accepted = api(manager).post(url(resolved), {"body": "Fixed for good.", "audience": "stakeholders"}, format="json")
    assert accepted.status_code == 201
    closed = lifecycle.close_incident(incident=resolved, actor=manager)
    assert api(manager).post(url(closed), {"body": "x", "audience": "internal"}, format="json").status_code == 409
    assert StatusUpdate.objects.count() == 1


# --- The cadence and the reminder ------------------------------------------------------


def test_the_next_update_is_due_by_the_priority_s_cadence(make_incident: Any, api: Any, agent: Any) -> None:
    with time_machine.travel(START, tick=False):
        p1 = make_incident(impact="high", urgency="high")
        p3 = make_incident(impact="medium", urgency="medium")
        p4 = make_incident(impact="low", urgency="low")

    assert due_in_json(api, agent, p1) == "2026-11-18T03:30:00Z"
    assert due_in_json(api, agent, p3) == "2026-11-18T07:00:00Z"
    assert due_in_json(api, agent, p4) is None
    assert not Timer.objects.filter(incident=p4, purpose="update_reminder").exists()


def test_an_overdue_update_reminds_the_commander_once(p1: Incident, api: Any, agent: Any) -> None:
    sweep_at(START + 29 * MINUTE)
    assert reminders(p1) == []

    for minutes in (30, 31, 60, 90, 240):
        sweep_at(START + minutes * MINUTE)

    assert reminders(p1) == ["lead"]
    assert reminder_entries(p1) == [
        "A status update is overdue (due 2026-11-18 03:30 UTC; every 30 min for P1). Reminded lead."
    ]
    assert TimerFiring.objects.filter(incident=p1, purpose="update_reminder").count() == 1
    notice = Notification.objects.get(incident=p1, subject__contains="status update is due")
    assert (notice.kind, notice.address) == ("update", "lead@example.com")
    # Still overdue: the due time stays where it was.
    assert due_in_json(api, agent, p1) == "2026-11-18T03:30:00Z"


def test_an_update_in_time_means_no_reminder_and_arms_the_next_one(p1: Incident, api: Any, agent: Any) -> None:
    post_at(START + 20 * MINUTE, p1, agent, "Rolling back")
    assert due_in_json(api, agent, p1) == "2026-11-18T03:50:00Z"

    sweep_at(START + 30 * MINUTE)
    sweep_at(START + 49 * MINUTE)
    assert reminders(p1) == []

    sweep_at(START + 50 * MINUTE)
    sweep_at(START + 70 * MINUTE)
    assert reminders(p1) == ["lead"]

    # The next update ends that overdue period and starts a new one, reminded once too.
    post_at(START + 75 * MINUTE, p1, agent, "Rolled back; watching", audience="stakeholders")
    assert due_in_json(api, agent, p1) == "2026-11-18T04:45:00Z"
    for minutes in (80, 105, 110, 200):
        sweep_at(START + minutes * MINUTE)
    assert reminders(p1) == ["lead", "lead"]
    assert UpdateCadence.objects.get(incident=p1).updates_posted == 2


def test_without_a_commander_the_assignee_is_reminded_and_otherwise_the_timeline_says_so(
    make_incident: Any, lead: Any
) -> None:
    with time_machine.travel(START, tick=False):
        assigned = make_incident(impact="high", urgency="high", assignee=lead)
        nobody = make_incident(impact="high", urgency="high")
    sweep_at(START + 30 * MINUTE)

    assert reminders(assigned) == ["lead"]
    assert reminders(nobody) == []
    assert reminder_entries(nobody)[0].endswith("Nobody to remind: no commander or assignee.")


def test_a_priority_change_retargets_the_next_update(make_incident: Any, manager: Any, lead: Any, api: Any) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(impact="medium", urgency="medium", commander=lead)
        assert due_in_json(api, manager, incident) == "2026-11-18T07:00:00Z"
        traveller.move_to(START + 10 * MINUTE)
        incident = services.override_priority(incident=incident, actor=manager, priority="P1", reason="Checkout")
    assert due_in_json(api, manager, incident) == "2026-11-18T03:30:00Z"
    timer = Timer.objects.get(incident=incident, purpose="update_reminder")
    assert (timer.due_at, timer.cancelled_at) == (START + 30 * MINUTE, None)

    sweep_at(START + 30 * MINUTE)
    assert reminders(incident) == ["lead"]

    with time_machine.travel(START + 40 * MINUTE, tick=False):
        incident = services.override_priority(incident=incident, actor=manager, priority="P4", reason="Workaround")
    assert due_in_json(api, manager, incident) is None


def test_impact_and_urgency_changes_retarget_too(make_incident: Any, agent: Any, api: Any) -> None:
    with time_machine.travel(START, tick=False):
        incident = make_incident(impact="low", urgency="low")
        assert due_in_json(api, agent, incident) is None
        incident = services.update_incident(
            incident=incident, actor=agent, changes={"impact": "high", "urgency": "high"}
        )
    assert due_in_json(api, agent, incident) == "2026-11-18T03:30:00Z"


def test_mitigated_incidents_still_need_updates_and_resolving_stops_them(
    p1: Incident, api: Any, agent: Any, lead: Any
) -> None:
    with time_machine.travel(START + 5 * MINUTE, tick=False):
        incident = lifecycle.acknowledge_incident(incident=p1, actor=agent)
        incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Failed over")
    sweep_at(START + 30 * MINUTE)
    assert reminders(incident) == ["lead"]

    post_at(START + 35 * MINUTE, incident, agent, "Monitoring the fix", audience="stakeholders")
    with time_machine.travel(START + 40 * MINUTE, tick=False):
        incident = lifecycle.resolve_incident(
            incident=incident, actor=agent, root_cause="Deploy", resolution="Rollback"
        )
    assert due_in_json(api, agent, incident) is None
    assert Timer.objects.get(incident=incident, purpose="update_reminder", level=1).cancelled_at is not None
    sweep_at(START + 5 * 60 * MINUTE)
    assert reminders(incident) == ["lead"]


def test_closing_stops_the_cadence_and_a_reopen_resumes_it(
    make_incident: Any, manager: Any, lead: Any, api: Any
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(impact="medium", urgency="medium", commander=lead)
        incident = lifecycle.investigate_incident(incident=incident, actor=manager)
        traveller.move_to(START + 60 * MINUTE)
        incident = lifecycle.resolve_incident(incident=incident, actor=manager, root_cause="Disk", resolution="Swap")
        assert due_in_json(api, manager, incident) is None
        traveller.move_to(START + 2 * 60 * MINUTE)
        incident = lifecycle.reopen_incident(incident=incident, actor=manager, reason="Full again")
        assert due_in_json(api, manager, incident) == "2026-11-18T07:00:00Z"
        incident = lifecycle.resolve_incident(incident=incident, actor=manager, root_cause="Disk", resolution="Bigger")
        lifecycle.close_incident(incident=incident, actor=manager)
    sweep_at(START + 24 * 60 * MINUTE)

    assert reminders(incident) == []
    assert not Timer.objects.filter(
        incident=incident, purpose="update_reminder", fired_at=None, cancelled_at=None
    ).exists()


def test_a_policy_without_a_cadence_reminds_nobody(make_incident: Any) -> None:
    SlaPolicy.objects.filter(priority="P1").update(update_every=None)
    with time_machine.travel(START, tick=False):
        incident = make_incident(impact="high", urgency="high")
    sweep_at(START + 24 * 60 * MINUTE)
    assert reminder_entries(incident) == []


def test_the_openapi_schema_documents_the_new_paths_and_fields(api: Any, agent: Any) -> None:
    schema = api(agent).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    assert set(paths["/api/v1/incidents/{number}/updates/"]) >= {"get", "post"}
    assert set(paths["/api/v1/incidents/{number}/recurrence/"]) >= {"post"}
    assert set(paths["/api/v1/me/subscriptions/"]) >= {"get", "post"}
    assert set(paths["/api/v1/me/subscriptions/{id}/"]) >= {"delete"}
    components = schema["components"]["schemas"]
    incident = components["Incident"]["properties"]
    assert {"monitoring_ends_at", "ready_to_resolve_at", "next_update_due_at"} <= set(incident)
    # Names clients were generated with stay as they were.
    assert {"ChannelEnum", "IncidentStateEnum", "SubscriptionChannelEnum"} <= set(components)


def test_the_incident_list_reads_the_new_fields_in_a_constant_number_of_queries(
    make_incident: Any, api: Any, agent: Any
) -> None:
    def queries_for_list() -> int:
        client = api(agent)
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/incidents/").status_code == 200
        return len(captured)

    for _ in range(2):
        incident = lifecycle.investigate_incident(incident=make_incident(impact="high", urgency="high"), actor=agent)
        lifecycle.mitigate_incident(incident=incident, actor=agent, note="Failed over")
        post_status_update(incident=incident, actor=agent, body="Watching", audience="internal")
    few = queries_for_list()
    for _ in range(5):
        incident = lifecycle.investigate_incident(incident=make_incident(impact="high", urgency="high"), actor=agent)
        lifecycle.mitigate_incident(incident=incident, actor=agent, note="Failed over")
        post_status_update(incident=incident, actor=agent, body="Watching", audience="internal")
    assert queries_for_list() == few
