"""The back office: every model's pages render, and every change goes through the domain."""

import datetime as dt
from typing import Any

import pytest
from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Model
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from simple_history.utils import get_history_model_for_model

from escalation.models import Team
from incidents import lifecycle, services
from incidents.choices import EntryKind
from incidents.models import Attachment, Incident, PostMortem, Service, TimelineEntry
from incidents.postmortems import write_postmortem
from incidents.roles import AGENT, INCIDENT_MANAGER
from tests.admin_helpers import admin_url, message_texts

pytestmark = pytest.mark.django_db

MODELS: list[type[Model]] = [Service, Incident, TimelineEntry, Attachment, PostMortem, Team]


@pytest.fixture
def staff_agent(make_user: Any) -> Any:
    user = make_user(None, username="backoffice-agent")
    user.groups.add(Group.objects.get(name=AGENT))
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def agent_client(staff_agent: Any) -> Client:
    client = Client()
    client.force_login(staff_agent)
    return client


@pytest.fixture
def incident(make_incident: Any) -> Incident:
    return make_incident(title="Checkout returns 502", impact="medium", urgency="medium")


def _value(field: forms.Field, value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(field, forms.ModelMultipleChoiceField):
        return [str(getattr(item, "pk", item)) for item in value]
    return getattr(value, "pk", value)


def form_data(form: forms.BaseForm) -> dict[str, Any]:
    """What a browser would post back for an unchanged form."""
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        bound = form[name]
        value = bound.value()
        if isinstance(field, forms.SplitDateTimeField):
            local = timezone.localtime(value) if isinstance(value, dt.datetime) else None
            data[f"{bound.html_name}_0"] = local.date().isoformat() if local else ""
            data[f"{bound.html_name}_1"] = local.time().strftime("%H:%M:%S") if local else ""
        elif isinstance(field, forms.BooleanField):
            if value:
                data[bound.html_name] = "on"
        else:
            data[bound.html_name] = _value(field, value)
    return data


def change_form_data(response: Any) -> dict[str, Any]:
    """The change form and its (read-only) inlines, as the page rendered them."""
    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update(form_data(formset.management_form))
        for form in formset.forms:
            data.update(form_data(form))
    return data


@pytest.fixture
def everything(staff_admin: Any, agent: Any, team: Team, service: Service, settings: Any, tmp_path: Any) -> dict:
    settings.MEDIA_ROOT = tmp_path
    incident = services.report_incident(
        reporter=agent, title="Card payments declined", impact="high", urgency="high", services=[service], team=team
    )
    services.add_note(incident=incident, actor=agent, body="Looking at the gateway logs")
    attachment = services.add_attachment(
        incident=incident, actor=agent, file=SimpleUploadedFile("gateway.log", b"502 502 502", "text/plain")
    )
    postmortem = write_postmortem(
        incident=incident, actor=agent, changes={"summary": "Draft: the gateway certificate expired"}
    )
    return {
        Service: service,
        Incident: incident,
        TimelineEntry: incident.timeline.first(),
        Attachment: attachment,
        PostMortem: postmortem,
        Team: team,
    }


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_model_has_a_changelist_and_a_change_page(root_client: Client, everything: dict, model: type) -> None:
    assert root_client.get(admin_url(model, "changelist")).status_code == 200
    obj = everything[model]
    assert root_client.get(admin_url(model, "change", obj.pk)).status_code == 200
    if hasattr(model, "history"):
        assert root_client.get(admin_url(model, "history", obj.pk)).status_code == 200


@pytest.mark.parametrize("model", [Service, Incident, PostMortem, Team], ids=lambda m: m.__name__)
def test_add_pages_render(root_client: Client, model: type) -> None:
    assert root_client.get(admin_url(model, "add")).status_code == 200


def test_timeline_and_attachments_are_read_only(root_client: Client, everything: dict) -> None:
    assert root_client.get(admin_url(TimelineEntry, "add")).status_code == 403
    assert root_client.get(admin_url(Attachment, "add")).status_code == 403
    entry = everything[TimelineEntry]
    response = root_client.post(admin_url(TimelineEntry, "change", entry.pk), {"body": "rewritten"})
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.body != "rewritten"


def test_the_changelist_searches_by_incident_number(root_client: Client, make_incident: Any) -> None:
    wanted = make_incident(title="Search index stale")
    other = make_incident(title="Login page slow")
    response = root_client.get(admin_url(Incident, "changelist"), {"q": wanted.number})
    assert response.status_code == 200
    found = list(response.context["cl"].result_list)
    assert found == [wanted]
    assert other not in found
    response = root_client.get(admin_url(Incident, "changelist"), {"q": wanted.number.lower()})
    assert list(response.context["cl"].result_list) == [wanted]
    # The other admins find an incident's rows by its number too.
    response = root_client.get(admin_url(TimelineEntry, "changelist"), {"q": wanted.number})
    assert {entry.incident_id for entry in response.context["cl"].result_list} == {wanted.pk}


def test_adding_an_incident_reports_it_through_the_domain(
    root_client: Client, staff_admin: Any, service: Service
) -> None:
    response = root_client.post(
        admin_url(Incident, "add"),
        {
            "title": "Webhooks delayed",
            "description": "Deliveries are 10 minutes late",
            "category": "api_disruption",
            "source": "internal",
            "impact": "high",
            "urgency": "medium",
            "priority": "",
            "priority_override_reason": "",
            "services": [str(service.pk)],
            "affected_users": "",
            "started_at_0": "",
            "started_at_1": "",
            "detected_at_0": "",
            "detected_at_1": "",
            "diagnostics": "",
            "team": "",
            "assignee": "",
            "commander": "",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    incident = Incident.objects.get(title="Webhooks delayed")
    assert incident.reporter == staff_admin
    assert incident.priority == "P2"  # from the matrix
    assert incident.priority_overridden is False
    assert list(incident.services.all()) == [service]
    created = incident.timeline.get(kind=EntryKind.CREATED)
    assert created.actor == staff_admin
    history = incident.history.latest("history_date")
    assert history.history_user == staff_admin


def test_an_added_incident_with_a_different_priority_needs_a_reason(root_client: Client) -> None:
    data = {
        "title": "Reports page blank",
        "category": "other",
        "source": "web",
        "impact": "low",
        "urgency": "low",
        "priority": "P1",
        "priority_override_reason": "",
    }
    response = root_client.post(admin_url(Incident, "add"), data)
    assert response.status_code == 200
    assert "priority_override_reason" in response.context["adminform"].form.errors
    assert not Incident.objects.filter(title="Reports page blank").exists()

    response = root_client.post(admin_url(Incident, "add"), {**data, "priority_override_reason": "CEO demo at 3pm"})
    assert response.status_code == 302
    incident = Incident.objects.get(title="Reports page blank")
    assert (incident.priority, incident.priority_overridden) == ("P1", True)


def test_the_change_page_offers_the_allowed_transitions(agent_client: Client, incident: Incident) -> None:
    response = agent_client.get(admin_url(Incident, "change", incident.pk))
    assert response.status_code == 200
    names = [t["name"] for t in response.context["incident_transitions"]]
    assert names == ["acknowledge", "investigate", "cancel"]
    assert admin_url(Incident, "transition", incident.pk, "acknowledge").encode() in response.content
    assert incident.number.encode() in response.content


def test_the_transition_view_acknowledges_through_the_lifecycle(
    agent_client: Client, staff_agent: Any, incident: Incident
) -> None:
    url = admin_url(Incident, "transition", incident.pk, "acknowledge")
    assert agent_client.get(url).status_code == 200
    response = agent_client.post(url, {"note": "On it"})
    assert response.status_code == 302
    assert response["Location"] == admin_url(Incident, "change", incident.pk)
    incident.refresh_from_db()
    assert incident.state == "acknowledged"
    assert incident.acknowledged_at is not None
    entry = incident.timeline.filter(kind=EntryKind.TRANSITION).get()
    assert (entry.actor, entry.body, entry.data["to"]) == (staff_agent, "On it", "acknowledged")
    assert incident.history.latest("history_date").history_user == staff_agent
    assert any("acknowledged" in text.lower() for text in message_texts(response))


def test_a_transition_missing_its_fields_shows_the_form_again(agent_client: Client, incident: Incident) -> None:
    url = admin_url(Incident, "transition", incident.pk, "cancel")
    response = agent_client.post(url, {"reason": "  "})
    assert response.status_code == 200
    assert "reason" in response.context["form"].errors
    incident.refresh_from_db()
    assert incident.state == "new"


def test_a_refused_transition_changes_nothing_and_says_why(
    root_client: Client, agent_client: Client, incident: Incident
) -> None:
    history_rows = incident.history.count()
    url = admin_url(Incident, "transition", incident.pk, "close")
    # The state does not allow it (the superuser has every permission).
    response = root_client.post(url, {"note": ""})
    assert response.status_code == 302
    assert response["Location"] == admin_url(Incident, "change", incident.pk)
    assert any("not allowed" in text for text in message_texts(response))
    # An agent may not close at all.
    response = agent_client.post(url, {"note": ""})
    assert response.status_code == 302
    assert message_texts(response)
    incident.refresh_from_db()
    assert incident.state == "new"
    assert incident.history.count() == history_rows
    assert not incident.timeline.filter(kind=EntryKind.TRANSITION).exists()


def test_a_transition_that_is_not_open_now_is_not_offered(agent_client: Client, incident: Incident) -> None:
    response = agent_client.get(admin_url(Incident, "transition", incident.pk, "resolve"))
    assert response.status_code == 302
    assert message_texts(response)
    assert agent_client.get(admin_url(Incident, "transition", incident.pk, "explode")).status_code == 404


def test_list_actions_run_the_transition_per_incident(
    agent_client: Client, staff_agent: Any, make_incident: Any, manager: Any
) -> None:
    fresh = make_incident(title="Fresh one")
    busy = make_incident(title="Already investigating")
    lifecycle.transition_incident(incident=busy, name="investigate", actor=manager)
    response = agent_client.post(
        admin_url(Incident, "changelist"),
        {"action": "acknowledge_selected", "_selected_action": [str(fresh.pk), str(busy.pk)]},
    )
    assert response.status_code == 302
    fresh.refresh_from_db()
    busy.refresh_from_db()
    assert (fresh.state, busy.state) == ("acknowledged", "investigating")
    assert fresh.history.latest("history_date").history_user == staff_agent
    texts = message_texts(response)
    assert any(fresh.number in text for text in texts)
    assert any(busy.number in text for text in texts)


def test_adding_a_note_from_the_change_page(agent_client: Client, staff_agent: Any, incident: Incident) -> None:
    url = admin_url(Incident, "note", incident.pk)
    assert agent_client.get(url).status_code == 200
    response = agent_client.post(url, {"kind": "note", "visibility": "internal", "body": "Paged the vendor"})
    assert response.status_code == 302
    note = incident.timeline.get(kind=EntryKind.NOTE)
    assert (note.body, note.visibility, note.actor) == ("Paged the vendor", "internal", staff_agent)
    response = agent_client.post(url, {"kind": "note", "visibility": "public", "body": "   "})
    assert response.status_code == 200
    assert "body" in response.context["form"].errors


def test_a_priority_change_needs_a_reason(root_client: Client, staff_admin: Any, incident: Incident) -> None:
    url = admin_url(Incident, "change", incident.pk)
    data = change_form_data(root_client.get(url))
    history_rows = incident.history.count()

    response = root_client.post(url, {**data, "priority": "P1", "priority_override_reason": ""})
    assert response.status_code == 200
    assert "priority_override_reason" in response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert (incident.priority, incident.priority_overridden) == ("P3", False)
    assert incident.history.count() == history_rows

    response = root_client.post(url, {**data, "priority": "P1", "priority_override_reason": "Board meeting demo"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.priority, incident.priority_overridden) == ("P1", True)
    assert incident.priority_override_reason == "Board meeting demo"
    assert incident.timeline.filter(kind=EntryKind.PRIORITY_CHANGE).count() == 1
    assert incident.history.latest("history_date").history_user == staff_admin


def test_an_unchanged_save_changes_nothing(root_client: Client, incident: Incident) -> None:
    url = admin_url(Incident, "change", incident.pk)
    data = change_form_data(root_client.get(url))
    entries, history_rows = incident.timeline.count(), incident.history.count()
    response = root_client.post(url, data)
    assert response.status_code == 302
    assert incident.timeline.count() == entries
    assert incident.history.count() == history_rows


def test_edits_go_through_the_domain_all_or_nothing(
    root_client: Client, staff_admin: Any, incident: Incident, reporter: Any, team: Team
) -> None:
    url = admin_url(Incident, "change", incident.pk)
    data = change_form_data(root_client.get(url))
    # A good detail change with a bad assignee (a reporter is not an agent): nothing is saved.
    response = root_client.post(url, {**data, "title": "Checkout down", "assignee": str(reporter.pk)})
    assert response.status_code == 200
    assert "assignee" in response.context["adminform"].form.errors
    incident.refresh_from_db()
    assert incident.title == "Checkout returns 502"
    assert incident.assignee is None

    response = root_client.post(url, {**data, "title": "Checkout down", "impact": "high", "team": str(team.pk)})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.title, incident.priority, incident.team) == ("Checkout down", "P2", team)
    kinds = set(incident.timeline.values_list("kind", flat=True))
    assert {EntryKind.FIELD_CHANGE, EntryKind.PRIORITY_CHANGE, EntryKind.ASSIGNMENT} <= kinds
    assert incident.history.latest("history_date").history_user == staff_admin


def test_the_state_cannot_be_posted(root_client: Client, incident: Incident) -> None:
    url = admin_url(Incident, "change", incident.pk)
    data = change_form_data(root_client.get(url))
    response = root_client.post(url, {**data, "state": "closed"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == "new"


def test_incidents_are_not_deleted_and_history_is_not_reverted(root_client: Client, incident: Incident) -> None:
    assert root_client.get(admin_url(Incident, "delete", incident.pk)).status_code == 403
    version = incident.history.latest("history_date")
    url = admin_url(Incident, "simple_history", incident.pk, version.history_id)
    assert root_client.get(url).status_code == 200
    assert root_client.post(url, {"title": "Reverted"}).status_code == 403


def test_the_postmortem_admin_writes_through_the_domain(
    agent_client: Client, staff_agent: Any, incident: Incident
) -> None:
    response = agent_client.post(admin_url(PostMortem, "add"), {"incident": str(incident.pk), "summary": "First notes"})
    assert response.status_code == 302
    postmortem = PostMortem.objects.get(incident=incident)
    assert (postmortem.status, postmortem.summary) == ("draft", "First notes")
    assert postmortem.history.latest("history_date").history_user == staff_agent

    url = admin_url(PostMortem, "change", postmortem.pk)
    data = change_form_data(agent_client.get(url))
    # Submitting needs a root cause: refused, and nothing of the form is saved.
    response = agent_client.post(url, {**data, "summary": "Changed", "transition": "submit"})
    assert response.status_code == 302
    assert any("root cause" in text for text in message_texts(response))
    postmortem.refresh_from_db()
    assert (postmortem.status, postmortem.summary) == ("draft", "First notes")

    response = agent_client.post(url, {**data, "root_cause": "The certificate expired.", "transition": "submit"})
    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert (postmortem.status, postmortem.root_cause) == ("in_review", "The certificate expired.")
    assert incident.timeline.filter(kind=EntryKind.POSTMORTEM, body__icontains="post-mortem").exists()


def test_a_service_named_by_an_incident_is_not_deleted(
    root_client: Client, service: Service, make_incident: Any
) -> None:
    make_incident(services=[service])
    response = root_client.post(admin_url(Service, "delete", service.pk), {"post": "yes"})
    assert response.status_code == 200  # the confirmation page lists what protects it
    assert Service.objects.filter(pk=service.pk).exists()


def test_the_incident_changelist_runs_a_constant_number_of_queries(
    root_client: Client, make_incident: Any, agent: Any, team: Team, service: Service
) -> None:
    def make(count: int) -> None:
        for index in range(count):
            make_incident(title=f"Incident {index}", services=[service], team=team, assignee=agent)

    url = admin_url(Incident, "changelist")
    make(3)
    assert root_client.get(url).status_code == 200  # warm the caches
    with CaptureQueriesContext(connection) as few:
        assert root_client.get(url).status_code == 200
    make(27)
    with CaptureQueriesContext(connection) as many:
        response = root_client.get(url)
    assert response.status_code == 200
    assert response.context["cl"].result_count == 30
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


def test_history_rows_name_the_admin_user(root_client: Client, staff_admin: Any, incident: Incident) -> None:
    history_model = get_history_model_for_model(Incident)
    url = admin_url(Incident, "transition", incident.pk, "investigate")
    root_client.post(url, {"note": ""})
    latest = history_model.objects.filter(id=incident.pk).latest("history_date")
    assert (latest.state, latest.history_user) == ("investigating", staff_admin)


def test_an_agent_assigns_from_the_change_form(agent_client: Client, staff_agent: Any, incident: Incident) -> None:
    url = admin_url(Incident, "change", incident.pk)
    response = agent_client.get(url)
    form = response.context["adminform"].form
    # Agents may not override the priority; they pick people through the user autocomplete.
    assert "priority" not in form.fields
    assert "priority_override_reason" not in form.fields
    assert isinstance(form.fields["assignee"].widget.widget, AutocompleteSelect)
    data = change_form_data(response)
    response = agent_client.post(url, {**data, "assignee": str(staff_agent.pk), "commander": str(staff_agent.pk)})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.assignee, incident.commander) == (staff_agent, staff_agent)
    entry = incident.timeline.get(kind=EntryKind.ASSIGNMENT)
    assert entry.actor == staff_agent
    assert incident.history.latest("history_date").history_user == staff_agent


def test_a_manager_edits_teams_without_the_user_autocomplete(make_user: Any, team: Team, agent: Any) -> None:
    manager = make_user(INCIDENT_MANAGER, username="team-lead")
    manager.is_staff = True
    manager.save()
    client = Client()
    client.force_login(manager)
    url = admin_url(Team, "change", team.pk)
    response = client.get(url)
    assert response.status_code == 200
    response = client.post(
        url, {"name": team.name, "slug": team.slug, "email": "", "description": "", "members": [str(agent.pk)]}
    )
    assert response.status_code == 302
    assert list(team.members.all()) == [agent]
    assert team.history.latest("history_date").history_user == manager


def test_a_refused_right_changes_nothing_and_says_why(make_user: Any, make_incident: Any) -> None:
    # May edit incidents but not move them through the lifecycle: linking an open
    # incident as a duplicate would cancel it, so the whole save is refused.
    editor = make_user(None, username="editor")
    editor.is_staff = True
    editor.save()
    editor.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="incidents", codename__in=["view_incident", "change_incident"]
        )
    )
    original, copy = make_incident(title="Original"), make_incident(title="Copy")
    client = Client()
    client.force_login(editor)
    url = admin_url(Incident, "change", copy.pk)
    data = change_form_data(client.get(url))
    response = client.post(url, {**data, "title": "Copy (dup)", "duplicate_of": str(original.pk)})
    assert response.status_code == 302
    assert response["Location"] == url
    assert message_texts(response)
    copy.refresh_from_db()
    assert (copy.title, copy.duplicate_of, copy.state) == ("Copy", None, "new")


def test_a_refused_report_shows_the_domain_error_on_the_form(root_client: Client, reporter: Any) -> None:
    response = root_client.post(
        admin_url(Incident, "add"),
        {
            "title": "Exports time out",
            "category": "other",
            "source": "web",
            "impact": "medium",
            "urgency": "medium",
            "assignee": str(reporter.pk),  # a reporter is not an agent
        },
    )
    assert response.status_code == 200
    assert "assignee" in response.context["adminform"].form.errors
    assert not Incident.objects.filter(title="Exports time out").exists()


def test_the_incident_autocomplete_finds_numbers(root_client: Client, make_incident: Any) -> None:
    wanted = make_incident(title="Queue backlog")
    make_incident(title="Something else")
    response = root_client.get(
        reverse("admin:autocomplete"),
        {"term": wanted.number, "app_label": "incidents", "model_name": "incident", "field_name": "duplicate_of"},
    )
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(wanted.pk)]
