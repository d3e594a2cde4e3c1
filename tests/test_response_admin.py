"""Response coordination in the back office: inlines on the incident page and the records' pages, all through the domain."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from incidents import fix_plan, investigation, lifecycle, response
from incidents.choices import EntryKind
from incidents.models import Implementation, Incident, InvestigationTask, ResponseRole, SolutionOption
from incidents.roles import AGENT, REPORTER
from tests.admin_helpers import admin_url, message_texts
from tests.response_helpers import entries, history_of
from tests.test_admin import change_form_data

pytestmark = pytest.mark.django_db


def staff(make_user: Any, role: str, username: str) -> Any:
    user = make_user(None, username=username)
    user.groups.add(Group.objects.get(name=role))
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def staff_agent(make_user: Any) -> Any:
    return staff(make_user, AGENT, "desk-agent")


@pytest.fixture
def agent_client(staff_agent: Any) -> Client:
    client = Client()
    client.force_login(staff_agent)
    return client


@pytest.fixture
def incident(make_incident: Any) -> Incident:
    return make_incident(title="Checkout returns 502")


def with_row(data: dict[str, Any], prefix: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The change form's data with one new row typed into the inline `prefix`."""
    index = int(data[f"{prefix}-TOTAL_FORMS"])
    row = {f"{prefix}-{index}-{name}": value for name, value in fields.items()}
    return {**data, **row, f"{prefix}-TOTAL_FORMS": str(index + 1)}


def test_the_incident_page_lists_the_team_tasks_and_fix_plan(
    agent_client: Client, incident: Incident, staff_agent: Any, agent: Any
) -> None:
    response.add_responder(incident=incident, actor=agent, user=agent, role="scribe")
    investigation.create_task(incident=incident, actor=agent, title="Read the gateway logs")
    option = fix_plan.propose_option(incident=incident, actor=agent, title="Restart", kind="quick_fix", risk="low")
    fix_plan.choose_option(option=option, actor=agent)

    page = agent_client.get(admin_url(Incident, "change", incident.pk))
    assert page.status_code == 200
    inlines = {inline.formset.model: inline for inline in page.context["inline_admin_formsets"]}
    assert {ResponseRole, InvestigationTask, SolutionOption, Implementation} <= set(inlines)
    assert all(inlines[model].has_add_permission for model in (ResponseRole, InvestigationTask, SolutionOption))
    assert not inlines[ResponseRole].has_change_permission
    content = page.content.decode()
    assert "Read the gateway logs" in content
    assert "Restart" in content


def test_rows_added_in_the_inlines_go_through_the_domain(
    agent_client: Client, incident: Incident, staff_agent: Any, agent: Any
) -> None:
    url = admin_url(Incident, "change", incident.pk)
    data = change_form_data(agent_client.get(url))
    data = with_row(data, "response_roles", {"user": agent.pk, "role": "sme", "expertise": "Payments gateway"})
    data = with_row(data, "tasks", {"title": "Compare gateway certificates", "owner": agent.pk, "expertise": "TLS"})
    data = with_row(data, "solution_options", {"title": "Renew the certificate", "kind": "permanent", "risk": "high"})
    data["war_room_url"] = "https://meet.example.com/inc"

    answer = agent_client.post(url, data)
    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer

    role = ResponseRole.objects.get(incident=incident)
    task = InvestigationTask.objects.get(incident=incident)
    option = SolutionOption.objects.get(incident=incident)
    assert (role.user, role.role, role.expertise, role.added_by) == (agent, "sme", "Payments gateway", staff_agent)
    assert (task.title, task.owner, task.created_by) == ("Compare gateway certificates", agent, staff_agent)
    assert (option.risk, option.created_by) == ("high", staff_agent)
    assert Incident.objects.get(pk=incident.pk).war_room_url == "https://meet.example.com/inc"
    kinds = {entry.kind for entry in incident.timeline.filter(actor=staff_agent)}
    assert {EntryKind.RESPONSE_TEAM, EntryKind.TASK, EntryKind.FIX_PLAN, EntryKind.FIELD_CHANGE} <= kinds
    assert history_of(task)[0].history_user == staff_agent


def test_a_commander_added_in_the_inline_takes_over_command(
    agent_client: Client, make_incident: Any, staff_agent: Any, agent: Any
) -> None:
    incident = make_incident(commander=agent)
    url = admin_url(Incident, "change", incident.pk)
    data = with_row(
        change_form_data(agent_client.get(url)), "response_roles", {"user": staff_agent.pk, "role": "commander"}
    )
    assert agent_client.post(url, data).status_code == 302
    assert Incident.objects.get(pk=incident.pk).commander == staff_agent
    active = ResponseRole.objects.filter(incident=incident, role="commander", ended_at__isnull=True)
    assert [row.user for row in active] == [staff_agent]


def test_a_refused_inline_row_shows_why_and_saves_nothing(agent_client: Client, incident: Incident, agent: Any) -> None:
    risky = fix_plan.propose_option(
        incident=incident, actor=agent, title="Rotate root CA", kind="permanent", risk="high"
    )
    fix_plan.choose_option(option=risky, actor=agent)
    url = admin_url(Incident, "change", incident.pk)
    data = change_form_data(agent_client.get(url))
    data["title"] = "Checkout down"
    data = with_row(
        data,
        "implementations",
        {
            "option": risky.pk,
            "window_start_0": "2026-11-20",
            "window_start_1": "10:00:00",
            "window_end_0": "2026-11-20",
            "window_end_1": "11:00:00",
            "executed_at_0": "2026-11-20",
            "executed_at_1": "10:05:00",
            "outcome": "succeeded",
        },
    )
    answer = agent_client.post(url, data)
    assert answer.status_code == 200
    errors = answer.context["adminform"].form.non_field_errors()
    assert any("rollback plan" in str(error) for error in errors)
    assert not Implementation.objects.exists()
    assert Incident.objects.get(pk=incident.pk).title == "Checkout returns 502"


def test_reporters_see_the_inlines_without_adding(make_user: Any, incident: Incident, agent: Any) -> None:
    investigation.create_task(incident=incident, actor=agent, title="Read the gateway logs")
    client = Client()
    client.force_login(staff(make_user, REPORTER, "desk-reporter"))
    page = client.get(admin_url(Incident, "change", incident.pk))
    assert page.status_code == 200
    inlines = {inline.formset.model: inline for inline in page.context["inline_admin_formsets"]}
    assert not inlines[InvestigationTask].has_add_permission
    assert "Read the gateway logs" in page.content.decode()


def test_a_closed_incident_offers_no_new_rows(agent_client: Client, incident: Incident, agent: Any) -> None:
    lifecycle.cancel_incident(incident=incident, actor=agent, reason="Duplicate")
    page = agent_client.get(admin_url(Incident, "change", incident.pk))
    inlines = {inline.formset.model: inline for inline in page.context["inline_admin_formsets"]}
    assert not any(inlines[model].has_add_permission for model in (ResponseRole, InvestigationTask, SolutionOption))


def test_the_task_list_and_a_status_change_on_its_page(
    agent_client: Client, incident: Incident, staff_agent: Any, agent: Any
) -> None:
    task = investigation.create_task(incident=incident, actor=agent, title="Read the gateway logs", owner=agent)
    listing = agent_client.get(admin_url(InvestigationTask, "changelist"), {"status__exact": "open"})
    assert listing.status_code == 200
    assert "Read the gateway logs" in listing.content.decode()
    assert agent_client.get(admin_url(InvestigationTask, "changelist"), {"q": incident.number}).status_code == 200

    url = admin_url(InvestigationTask, "change", task.pk)
    data = {"title": task.title, "description": "", "owner": agent.pk, "expertise": "", "status": "done"}
    data.update({"due_at_0": "", "due_at_1": ""})
    answer = agent_client.post(url, data)
    assert answer.status_code == 302, answer.context["adminform"].form.errors if answer.context else answer
    task.refresh_from_db()
    assert (task.status, task.completed_by) == ("done", staff_agent)
    assert entries(incident, EntryKind.TASK)[-1].body == "Task “Read the gateway logs” done by desk-agent."


def test_a_task_is_added_from_its_own_page(agent_client: Client, incident: Incident, staff_agent: Any) -> None:
    answer = agent_client.post(
        admin_url(InvestigationTask, "add"),
        {
            "incident": incident.pk,
            "title": "Check DNS",
            "description": "",
            "expertise": "DNS",
            "due_at_0": "",
            "due_at_1": "",
        },
    )
    assert answer.status_code == 302
    task = InvestigationTask.objects.get()
    assert (task.incident, task.created_by) == (incident, staff_agent)


def test_roles_are_ended_by_a_list_action(
    agent_client: Client, incident: Incident, staff_agent: Any, agent: Any
) -> None:
    role = response.add_responder(incident=incident, actor=agent, user=agent, role="scribe")
    answer = agent_client.post(
        admin_url(ResponseRole, "changelist"), {"action": "end_selected", "_selected_action": [str(role.pk)]}
    )
    assert answer.status_code == 302
    role.refresh_from_db()
    assert (role.ended_by, role.ended_at is not None) == (staff_agent, True)
    assert message_texts(answer) == ["1 role(s) ended."]


def test_an_option_is_chosen_by_a_list_action(agent_client: Client, incident: Incident, agent: Any) -> None:
    first = fix_plan.propose_option(incident=incident, actor=agent, title="Restart", kind="quick_fix", risk="low")
    second = fix_plan.propose_option(incident=incident, actor=agent, title="Replace", kind="permanent", risk="low")
    url = admin_url(SolutionOption, "changelist")

    both = agent_client.post(url, {"action": "choose_selected", "_selected_action": [str(first.pk), str(second.pk)]})
    assert message_texts(both) == ["Choose one option per incident."]
    assert not SolutionOption.objects.filter(is_chosen=True).exists()

    agent_client.post(url, {"action": "choose_selected", "_selected_action": [str(second.pk)]})
    assert list(SolutionOption.objects.filter(is_chosen=True)) == [second]


def test_the_record_pages_render(root_client: Client, incident: Incident, agent: Any) -> None:
    role = response.add_responder(incident=incident, actor=agent, user=agent, role="scribe")
    task = investigation.create_task(incident=incident, actor=agent, title="Read the gateway logs")
    option = fix_plan.propose_option(incident=incident, actor=agent, title="Restart", kind="quick_fix", risk="low")
    fix_plan.choose_option(option=option, actor=agent)
    implementation = fix_plan.record_implementation(
        incident=incident,
        actor=agent,
        option=option,
        window_start=incident.created_at,
        window_end=incident.created_at.replace(year=incident.created_at.year + 1),
        outcome="succeeded",
    )
    for model, record in (
        (ResponseRole, role),
        (InvestigationTask, task),
        (SolutionOption, option),
        (Implementation, implementation),
    ):
        assert root_client.get(admin_url(model, "changelist")).status_code == 200, model
        assert root_client.get(admin_url(model, "change", record.pk)).status_code == 200, model
        assert root_client.get(admin_url(model, "history", record.pk)).status_code == 200, model


def test_an_option_is_edited_on_its_page(
    agent_client: Client, incident: Incident, staff_agent: Any, agent: Any
) -> None:
    option = fix_plan.propose_option(
        incident=incident, actor=agent, title="Rotate root CA", kind="permanent", risk="high"
    )
    url = admin_url(SolutionOption, "change", option.pk)
    data = {
        "title": option.title,
        "kind": "permanent",
        "risk": "high",
        "description": "",
        "notes": "",
        "rollback_plan": "Restore the old chain from the vault.",
    }
    assert agent_client.post(url, data).status_code == 302
    option.refresh_from_db()
    assert option.rollback_plan == "Restore the old chain from the vault."
    assert history_of(option)[-1].history_user == staff_agent
