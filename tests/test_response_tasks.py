"""Investigation tasks: owners, due times, completion on the timeline, open tasks on the incident."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import investigation, lifecycle
from incidents.choices import EntryKind
from incidents.models import Incident, InvestigationTask
from tests.response_helpers import entries, history_of, incident_path

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


def test_a_task_is_created_with_its_owner_and_due_time(make_incident: Any, agent: Any, manager: Any, api: Any) -> None:
    incident = make_incident()
    with time_machine.travel(NOW, tick=False):
        answer = api(manager).post(
            incident_path(incident, "tasks/"),
            {
                "title": "Check the gateway certificates",
                "description": "The 502s started at 09:12; look at the TLS handshakes.",
                "owner": agent.username,
                "expertise": "TLS",
                "due_at": "2026-11-20T11:00:00Z",
            },
        )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert {key: body[key] for key in ("title", "owner", "expertise", "status", "due_at", "created_by")} == {
        "title": "Check the gateway certificates",
        "owner": "agus",
        "expertise": "TLS",
        "status": "open",
        "due_at": "2026-11-20T11:00:00Z",
        "created_by": "maya",
    }
    [entry] = entries(incident, EntryKind.TASK)
    assert (entry.body, entry.actor, entry.data["event"]) == (
        "Task “Check the gateway certificates” added for agus.",
        manager,
        "created",
    )
    task = InvestigationTask.objects.get(pk=body["id"])
    assert [row.history_user for row in history_of(task)] == [manager]


def test_completing_a_task_writes_the_timeline_with_who_and_when(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident()
    task = investigation.create_task(incident=incident, actor=agent, title="Read the logs")
    with time_machine.travel(NOW, tick=False):
        answer = api(agent).patch(incident_path(incident, f"tasks/{task.pk}/"), {"status": "done"})
    assert answer.status_code == 200, answer.json()
    assert (answer.json()["completed_by"], answer.json()["completed_at"]) == ("agus", "2026-11-20T10:00:00Z")
    done = entries(incident, EntryKind.TASK)[-1]
    assert (done.body, done.actor, done.created_at) == ("Task “Read the logs” done by agus.", agent, NOW)
    assert done.data == {"event": "completed", "task": task.pk, "from": "open", "to": "done"}


def test_reopening_a_done_task_is_allowed_and_audited(make_incident: Any, agent: Any, manager: Any) -> None:
    incident = make_incident()
    task = investigation.create_task(incident=incident, actor=agent, title="Read the logs")
    investigation.update_task(task=task, actor=agent, changes={"status": "done"})
    reopened = investigation.update_task(task=task, actor=manager, changes={"status": "in_progress"})

    assert (reopened.status, reopened.completed_at, reopened.completed_by) == ("in_progress", None, None)
    assert [(row.status, row.history_user) for row in history_of(task)] == [
        ("open", agent),
        ("done", agent),
        ("in_progress", manager),
    ]
    assert [entry.data["event"] for entry in entries(incident, EntryKind.TASK)] == ["created", "completed", "reopened"]
    assert entries(incident, EntryKind.TASK)[-1].body == "Task “Read the logs” reopened by maya."


def test_editing_a_task_keeps_its_history_without_a_timeline_entry(
    make_incident: Any, agent: Any, manager: Any
) -> None:
    incident = make_incident()
    task = investigation.create_task(incident=incident, actor=agent, title="Read the logs")
    investigation.update_task(task=task, actor=manager, changes={"owner": manager, "title": "Read the gateway logs"})
    assert [(row.title, row.owner_id, row.history_user) for row in history_of(task)] == [
        ("Read the logs", None, agent),
        ("Read the gateway logs", manager.pk, manager),
    ]
    assert len(entries(incident, EntryKind.TASK)) == 1


def test_open_tasks_show_on_the_incident(make_incident: Any, agent: Any, api: Any) -> None:
    incident, other = make_incident(), make_incident(title="Other")
    statuses = ["open", "open", "in_progress", "done", "cancelled"]
    for index, status in enumerate(statuses):
        task = investigation.create_task(incident=incident, actor=agent, title=f"Task {index}")
        if status != "open":
            investigation.update_task(task=task, actor=agent, changes={"status": status})
    client = api(agent)
    assert client.get(incident_path(incident)).json()["open_tasks"] == 3
    listed = {row["number"]: row["open_tasks"] for row in client.get("/api/v1/incidents/").json()["results"]}
    assert listed == {incident.number: 3, other.number: 0}
    open_only = client.get(incident_path(incident, "tasks/?status=open")).json()
    assert [row["title"] for row in open_only] == ["Task 0", "Task 1"]


def test_the_incident_list_query_count_stays_flat_with_tasks(
    make_incident: Any, agent: Any, service: Any, team: Any, api: Any
) -> None:
    for i in range(30):
        incident = make_incident(title=f"Incident {i}", services=[service], team=team, assignee=agent, commander=agent)
        investigation.create_task(incident=incident, actor=agent, title="Look at it")
    client = api(agent)

    def queries_for(page_size: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            answer = client.get(f"/api/v1/incidents/?page_size={page_size}")
        assert [row["open_tasks"] for row in answer.json()["results"]] == [1] * page_size
        return len(captured)

    assert queries_for(3) == queries_for(30)


def test_reporters_read_tasks_but_cannot_change_them(make_incident: Any, agent: Any, reporter: Any, api: Any) -> None:
    incident = make_incident()
    task = investigation.create_task(incident=incident, actor=agent, title="Read the logs")
    client = api(reporter)
    assert client.get(incident_path(incident, "tasks/")).status_code == 200
    assert client.get(incident_path(incident, f"tasks/{task.pk}/")).json()["title"] == "Read the logs"
    assert client.post(incident_path(incident, "tasks/"), {"title": "Mine"}).status_code == 403
    assert client.patch(incident_path(incident, f"tasks/{task.pk}/"), {"status": "done"}).status_code == 403
    assert InvestigationTask.objects.get(pk=task.pk).status == "open"
    assert InvestigationTask.objects.count() == 1
    with pytest.raises(PermissionDenied):
        investigation.update_task(task=task, actor=reporter, changes={"status": "done"})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "no title"}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x", "status": "finished"}, "status"),
        ({"title": "x", "status": "done"}, "status"),
        ({"title": "x", "owner": "nobody"}, "owner"),
        ({"title": "x", "due_at": "tomorrow"}, "due_at"),
        ({"title": "x", "priority": "high"}, "priority"),
    ],
)
def test_bad_tasks_are_refused_and_nothing_is_written(
    make_incident: Any, agent: Any, api: Any, body: dict[str, str], field: str
) -> None:
    incident = make_incident()
    answer = api(agent).post(incident_path(incident, "tasks/"), body)
    assert answer.status_code == 400
    assert field in answer.json(), answer.json()
    assert not InvestigationTask.objects.exists()
    assert entries(incident, EntryKind.TASK) == []


def test_a_task_of_another_incident_is_not_found(make_incident: Any, agent: Any, api: Any) -> None:
    incident, other = make_incident(), make_incident(title="Other")
    task = investigation.create_task(incident=other, actor=agent, title="Elsewhere")
    client = api(agent)
    assert client.get(incident_path(incident, f"tasks/{task.pk}/")).status_code == 404
    assert client.patch(incident_path(incident, f"tasks/{task.pk}/"), {"status": "done"}).status_code == 404
    assert client.patch(incident_path(other, f"tasks/{task.pk}/"), {}).status_code == 400


def test_tasks_of_a_closed_incident_do_not_change(make_incident: Any, agent: Any, manager: Any, api: Any) -> None:
    incident = make_incident()
    task = investigation.create_task(incident=incident, actor=agent, title="Read the logs")
    incident = lifecycle.investigate_incident(incident=incident, actor=agent)
    lifecycle.resolve_incident(incident=incident, actor=agent, root_cause="Expired cert", resolution="Renewed")
    # A resolved incident still takes its follow-up work.
    assert api(agent).patch(incident_path(incident, f"tasks/{task.pk}/"), {"status": "done"}).status_code == 200
    lifecycle.close_incident(incident=Incident.objects.get(pk=incident.pk), actor=manager)

    client = api(agent)
    answer = client.patch(incident_path(incident, f"tasks/{task.pk}/"), {"status": "open"})
    assert answer.status_code == 409
    assert "is closed" in answer.json()["detail"]
    assert client.post(incident_path(incident, "tasks/"), {"title": "More"}).status_code == 409
    assert InvestigationTask.objects.get(pk=task.pk).status == "done"
    assert client.get(incident_path(incident, "tasks/")).status_code == 200
