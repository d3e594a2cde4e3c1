"""The incident page's investigation tasks and fix plan: adding and changing tasks, options, implementations."""

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from escalation.models import ResponderProfile
from incidents import fix_plan, investigation, lifecycle
from incidents.choices import EntryKind, FixKind, RiskRating, TaskStatus
from incidents.models import Implementation, Incident, InvestigationTask, SolutionOption
from tests.incident_page_helpers import (
    client_for,
    field_error,
    non_field_errors,
    page_of,
    post,
    section,
    selected,
)
from tests.response_helpers import entries, history_of

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def incident(make_incident: Callable[..., Incident], agent: Any) -> Incident:
    with time_machine.travel(NOW - dt.timedelta(hours=1), tick=False):
        incident = make_incident(title="Checkout is slow")
        return lifecycle.investigate_incident(incident=incident, actor=agent)


# --- Investigation tasks ---------------------------------------------------------------


def test_a_task_is_added_with_its_due_time_in_the_users_time_zone(agent: Any, manager: Any, incident: Incident) -> None:
    ResponderProfile.objects.update_or_create(user=agent, defaults={"time_zone": "Asia/Jakarta"})
    client = client_for(agent)
    with time_machine.travel(NOW, tick=False):
        response = post(
            client,
            incident,
            "tasks/",
            {
                "task-title": "Check the replica lag",
                "task-description": "Compare with last week",
                "task-owner": manager.username,
                "task-expertise": "PostgreSQL",
                "task-due_at": "2026-11-20T18:30",
                "task-status": "open",
            },
        )
    assert response.status_code == 302
    task = InvestigationTask.objects.get(incident=incident)
    assert (task.title, task.owner, task.expertise, task.created_by) == (
        "Check the replica lag",
        manager,
        "PostgreSQL",
        agent,
    )
    assert task.due_at == dt.datetime(2026, 11, 20, 11, 30, tzinfo=dt.UTC)  # 18:30 in Jakarta
    assert history_of(task)[-1].history_user == agent
    with time_machine.travel(NOW, tick=False):
        tasks = section(page_of(client, incident), "tasks")
    assert "Check the replica lag" in tasks
    assert 'datetime="2026-11-20T18:30:00+07:00"' in tasks
    assert "Overdue" not in tasks


def test_a_task_without_a_title_keeps_what_was_typed_and_writes_nothing(
    agent: Any, manager: Any, incident: Incident
) -> None:
    response = post(
        client_for(agent),
        incident,
        "tasks/",
        {"task-title": "", "task-description": "Look at the slow query log", "task-owner": manager.username},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert field_error(html, "id_task-title") == "This field is required."
    assert "Look at the slow query log</textarea>" in html
    assert selected(html, "task-owner", manager.username)
    assert "<details open>\n    <summary>Add a task</summary>" in html
    assert not InvestigationTask.objects.exists()


def test_open_tasks_come_first_and_overdue_ones_say_so_in_words(agent: Any, incident: Incident) -> None:
    with time_machine.travel(NOW - dt.timedelta(hours=1), tick=False):
        investigation.create_task(incident=incident, actor=agent, title="Later", due_at=NOW + dt.timedelta(hours=2))
        late = investigation.create_task(
            incident=incident, actor=agent, title="Late", due_at=NOW - dt.timedelta(minutes=5)
        )
        investigation.create_task(incident=incident, actor=agent, title="Whenever")
        done = investigation.create_task(incident=incident, actor=agent, title="Finished one")
        investigation.update_task(task=done, actor=agent, changes={"status": TaskStatus.DONE})
    with time_machine.travel(NOW, tick=False):
        tasks = section(page_of(client_for(agent), incident), "tasks")
    open_part, done_part = tasks.split('<details class="finished-tasks">')
    titles = re.findall(r"<strong>(.*?)</strong>", open_part)
    assert [t for t in titles if t in ("Later", "Late", "Whenever")] == ["Late", "Later", "Whenever"]
    assert open_part.count("Overdue") == 1
    late_row = re.search(rf'<tr class="task task-open overdue">.*?{late.title}.*?</tr>', open_part, re.S)
    assert late_row is not None
    assert "▲" in late_row.group(0)
    assert "Finished one" in done_part
    assert "1 task done or cancelled" in done_part


def test_a_task_is_done_from_the_page_and_only_what_changed_is_written(
    agent: Any, manager: Any, incident: Incident
) -> None:
    task = investigation.create_task(
        incident=incident,
        actor=agent,
        title="Check the replica lag",
        owner=agent,
        due_at=NOW + dt.timedelta(minutes=30, seconds=17),  # a due time with seconds, as the API allows
    )
    client = client_for(manager)
    form = page_of(client, incident)
    assert f'name="task-{task.pk}-due_at" value="' in form
    response = post(
        client,
        incident,
        f"tasks/{task.pk}/",
        {
            f"task-{task.pk}-status": "done",
            f"task-{task.pk}-owner": agent.username,
            f"task-{task.pk}-expertise": "",
            f"task-{task.pk}-due_at": timezone.localtime(task.due_at).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.status, task.completed_by) == ("done", manager)
    assert task.due_at == NOW + dt.timedelta(minutes=30, seconds=17)  # untouched, not rounded
    last = history_of(task)[-1]
    assert (last.history_user, last.history_change_reason) == (manager, "task changed: status")
    assert entries(incident, EntryKind.TASK)[-1].body == "Task “Check the replica lag” done by maya."


def test_a_bad_due_time_on_a_task_is_a_field_error(agent: Any, incident: Incident) -> None:
    task = investigation.create_task(incident=incident, actor=agent, title="Check")
    response = post(
        client_for(agent),
        incident,
        f"tasks/{task.pk}/",
        {f"task-{task.pk}-status": "in_progress", f"task-{task.pk}-due_at": "tomorrow-ish"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert field_error(html, f"id_task-{task.pk}-due_at") == "Enter a valid date/time."
    assert selected(html, f"task-{task.pk}-status", "in_progress")
    assert 'value="tomorrow-ish"' in html
    task.refresh_from_db()
    assert task.status == TaskStatus.OPEN


def test_a_reporter_sees_tasks_without_controls_and_is_refused(agent: Any, reporter: Any, incident: Incident) -> None:
    task = investigation.create_task(incident=incident, actor=agent, title="Check the replica lag")
    client = client_for(reporter)
    tasks = section(page_of(client, incident), "tasks")
    assert "Check the replica lag" in tasks
    assert "<form" not in tasks
    refused = post(client, incident, f"tasks/{task.pk}/", {f"task-{task.pk}-status": "done"})
    assert refused.status_code == 403
    refused = post(client, incident, "tasks/", {"task-title": "Mine", "task-status": "open"})
    assert refused.status_code == 403
    assert list(InvestigationTask.objects.values_list("title", "status")) == [("Check the replica lag", "open")]


# --- The fix plan --------------------------------------------------------------------------


def _option(incident: Incident, actor: Any, **fields: Any) -> SolutionOption:
    fields = {"title": "Restart the pool", "kind": FixKind.QUICK_FIX, "risk": RiskRating.LOW, **fields}
    return fix_plan.propose_option(incident=incident, actor=actor, **fields)


def test_an_option_is_proposed_edited_and_chosen_from_the_page(agent: Any, incident: Incident) -> None:
    client = client_for(agent)
    response = post(
        client,
        incident,
        "fix-plan/options/",
        {
            "option-title": "Fail over to the replica",
            "option-kind": "quick_fix",
            "option-risk": "high",
            "option-description": "Promote replica 2",
            "option-rollback_plan": "",
        },
    )
    assert response.status_code == 302
    option = SolutionOption.objects.get(incident=incident)
    assert (option.kind, option.risk, option.created_by) == ("quick_fix", "high", agent)
    plan = section(page_of(client, incident), "fix-plan")
    assert "None yet: required before this high-risk option is implemented." in plan

    edited = post(
        client,
        incident,
        f"fix-plan/options/{option.pk}/",
        {
            f"option-{option.pk}-title": "Fail over to the replica",
            f"option-{option.pk}-kind": "quick_fix",
            f"option-{option.pk}-risk": "high",
            f"option-{option.pk}-description": "Promote replica 2",
            f"option-{option.pk}-notes": "",
            f"option-{option.pk}-rollback_plan": "Point the app back at the primary",
        },
    )
    assert edited.status_code == 302
    option.refresh_from_db()
    assert option.rollback_plan == "Point the app back at the primary"
    last = history_of(option)[-1]
    assert (last.history_user, last.history_change_reason) == (agent, "option changed: rollback_plan")

    assert post(client, incident, f"fix-plan/options/{option.pk}/choose/").status_code == 302
    option.refresh_from_db()
    assert (option.is_chosen, option.chosen_by) == (True, agent)
    plan = section(page_of(client, incident), "fix-plan")
    assert "✓ </span>Chosen" in plan
    assert f"/fix-plan/options/{option.pk}/choose/" not in plan
    assert f"/fix-plan/options/{option.pk}/implementations/" in plan


def test_an_option_without_a_title_is_a_field_error(agent: Any, incident: Incident) -> None:
    response = post(
        client_for(agent),
        incident,
        "fix-plan/options/",
        {"option-title": " ", "option-kind": "permanent", "option-risk": "low", "option-notes": "Needs a deploy"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert field_error(html, "id_option-title") == "This field is required."
    assert "Needs a deploy</textarea>" in html
    assert selected(html, "option-kind", "permanent")
    assert not SolutionOption.objects.exists()


def _implementation(prefix: str = "impl", **fields: str) -> dict[str, str]:
    data = {
        "window_start": "2026-11-20T09:00",
        "window_end": "2026-11-20T09:30",
        "communicated_to": "Support desk, payments team",
        "executed_by": "agus",
        "supervised_by": "",
        "executed_at": "2026-11-20T09:10",
        "outcome": "succeeded",
        "outcome_notes": "Latency back to normal",
        "rolled_back": "unknown",
        "rollback_plan": "",
        **fields,
    }
    return {f"{prefix}-{key}": value for key, value in data.items()}


def test_an_implementation_of_the_chosen_option_is_recorded(agent: Any, manager: Any, incident: Incident) -> None:
    option = fix_plan.choose_option(option=_option(incident, agent), actor=agent)
    client = client_for(agent)
    with time_machine.travel(NOW, tick=False):
        response = post(
            client, incident, f"fix-plan/options/{option.pk}/implementations/", _implementation(supervised_by="maya")
        )
    assert response.status_code == 302
    done = Implementation.objects.get(incident=incident)
    assert (done.option, done.executed_by, done.supervised_by, done.recorded_by) == (option, agent, manager, agent)
    assert (done.window_start, done.outcome, done.rolled_back) == (
        dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC),
        "succeeded",
        False,
    )
    assert history_of(done)[-1].history_user == agent
    plan = section(page_of(client, incident), "fix-plan")
    assert "Support desk, payments team" in plan
    assert "Succeeded" in plan


def test_a_high_risk_option_without_a_rollback_plan_is_refused_by_the_field(agent: Any, incident: Incident) -> None:
    option = fix_plan.choose_option(option=_option(incident, agent, risk=RiskRating.HIGH), actor=agent)
    with time_machine.travel(NOW, tick=False):
        response = post(
            client_for(agent), incident, f"fix-plan/options/{option.pk}/implementations/", _implementation()
        )
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        field_error(html, "id_impl-rollback_plan") == "“Restart the pool” is high-risk: write its rollback plan first."
    )
    assert "Support desk, payments team</textarea>" in html
    assert selected(html, "impl-outcome", "succeeded")
    assert not Implementation.objects.exists()
    option.refresh_from_db()
    assert option.rollback_plan == ""


def test_a_rollback_plan_typed_with_the_implementation_is_kept_with_the_option(agent: Any, incident: Incident) -> None:
    option = fix_plan.choose_option(option=_option(incident, agent, risk=RiskRating.HIGH), actor=agent)
    with time_machine.travel(NOW, tick=False):
        response = post(
            client_for(agent),
            incident,
            f"fix-plan/options/{option.pk}/implementations/",
            _implementation(rollback_plan="Restore the old pool size", outcome="rolled_back", rolled_back="true"),
        )
    assert response.status_code == 302
    option.refresh_from_db()
    assert option.rollback_plan == "Restore the old pool size"
    done = Implementation.objects.get()
    assert (done.outcome, done.rolled_back) == ("rolled_back", True)


def test_an_implementation_with_a_window_ending_first_or_of_an_unchosen_option_is_refused(
    agent: Any, incident: Incident
) -> None:
    chosen = fix_plan.choose_option(option=_option(incident, agent), actor=agent)
    other = _option(incident, agent, title="Rewrite the query")
    client = client_for(agent)
    with time_machine.travel(NOW, tick=False):
        backwards = post(
            client,
            incident,
            f"fix-plan/options/{chosen.pk}/implementations/",
            _implementation(window_end="2026-11-20T08:00"),
        )
        unchosen = post(client, incident, f"fix-plan/options/{other.pk}/implementations/", _implementation())
    assert backwards.status_code == 400
    assert field_error(backwards.content.decode(), "id_impl-window_end") == "The window must end after it starts."
    assert unchosen.status_code == 400
    assert "Only the chosen option can be implemented" in non_field_errors(unchosen.content.decode())
    assert not Implementation.objects.exists()


def test_a_reporter_sees_the_fix_plan_without_controls(agent: Any, reporter: Any, incident: Incident) -> None:
    option = fix_plan.choose_option(option=_option(incident, agent), actor=agent)
    client = client_for(reporter)
    plan = section(page_of(client, incident), "fix-plan")
    assert "Restart the pool" in plan
    assert "<form" not in plan
    assert post(client, incident, f"fix-plan/options/{option.pk}/choose/").status_code == 403
    with time_machine.travel(NOW, tick=False):
        refused = post(client, incident, f"fix-plan/options/{option.pk}/implementations/", _implementation())
    assert refused.status_code == 403
    assert not Implementation.objects.exists()


def test_an_option_edited_to_a_bad_kind_keeps_the_edit_open_with_what_was_typed(agent: Any, incident: Incident) -> None:
    option = _option(incident, agent)
    response = post(
        client_for(agent),
        incident,
        f"fix-plan/options/{option.pk}/",
        {
            f"option-{option.pk}-title": "Restart the pool twice",
            f"option-{option.pk}-kind": "miracle",
            f"option-{option.pk}-risk": "low",
            f"option-{option.pk}-notes": "Careful with the cache",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Select a valid choice." in field_error(html, f"id_option-{option.pk}-kind")
    assert 'value="Restart the pool twice"' in html
    assert "Careful with the cache</textarea>" in html
    option.refresh_from_db()
    assert (option.title, option.notes) == ("Restart the pool", "")
    assert len(history_of(option)) == 1
