"""The post-mortem admin: its page with the timeline and action items inline, its states, the action items list."""

import datetime as dt
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from incidents import lifecycle
from incidents.action_items import add_action_item
from incidents.choices import EntryKind
from incidents.models import ActionItem, Incident, PostMortem
from incidents.postmortems import submit_postmortem, write_postmortem
from incidents.roles import AGENT, INCIDENT_MANAGER
from tests.admin_helpers import admin_url, message_texts
from tests.test_admin import change_form_data

pytestmark = pytest.mark.django_db


def staff(make_user: Any, username: str, role: str) -> Any:
    user = make_user(None, username=username)
    user.groups.add(Group.objects.get(name=role))
    user.is_staff = True
    user.save()
    return user


@pytest.fixture
def staff_agent(make_user: Any) -> Any:
    return staff(make_user, "backoffice-agent", AGENT)


@pytest.fixture
def staff_manager(make_user: Any) -> Any:
    return staff(make_user, "backoffice-manager", INCIDENT_MANAGER)


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def postmortem(make_incident: Any, staff_agent: Any) -> PostMortem:
    incident = make_incident(title="Card payments declined", impact="high", urgency="high")
    incident = lifecycle.investigate_incident(incident=incident, actor=staff_agent, note="Looking")
    incident = lifecycle.resolve_incident(
        incident=incident, actor=staff_agent, root_cause="Expired", resolution="Renewed"
    )
    return write_postmortem(incident=incident, actor=staff_agent, changes={"summary": "Payments failed"})


def test_the_pages_render_for_staff(root_client: Client, postmortem: PostMortem, staff_agent: Any) -> None:
    item = add_action_item(postmortem=postmortem, actor=staff_agent, title="Alert on expiry")
    for client in (root_client, logged_in(staff_agent)):
        assert client.get(admin_url(PostMortem, "changelist")).status_code == 200
        page = client.get(admin_url(PostMortem, "change", postmortem.pk))
        assert page.status_code == 200
        inlines = {inline.formset.model for inline in page.context["inline_admin_formsets"]}
        assert inlines == {ActionItem, postmortem.moments.model}
        assert client.get(admin_url(PostMortem, "history", postmortem.pk)).status_code == 200
        assert client.get(admin_url(ActionItem, "changelist")).status_code == 200
        assert client.get(admin_url(ActionItem, "change", item.pk)).status_code == 200
        assert client.get(admin_url(ActionItem, "add")).status_code == 200
    assert root_client.get(admin_url(PostMortem, "delete", postmortem.pk)).status_code == 403
    assert root_client.get(admin_url(ActionItem, "delete", item.pk)).status_code == 403


def test_the_page_writes_fields_rows_and_items_through_the_domain(postmortem: PostMortem, staff_agent: Any) -> None:
    client = logged_in(staff_agent)
    url = admin_url(PostMortem, "change", postmortem.pk)
    data = change_form_data(client.get(url))
    first = postmortem.moments.get(source="impact_started")
    index = next(i for i in range(int(data["moments-INITIAL_FORMS"])) if data[f"moments-{i}-id"] == first.pk)
    new_row = int(data["moments-INITIAL_FORMS"])
    now = timezone.localtime()
    data.update(
        {
            "lessons": "Alert before expiry",
            f"moments-{index}-is_key_moment": "on",
            f"moments-{new_row}-occurred_at_0": now.date().isoformat(),
            f"moments-{new_row}-occurred_at_1": "00:00:00",
            f"moments-{new_row}-body": "Vendor notice missed",
            "action_items-0-title": "Alert on certificate expiry",
            "action_items-0-owner": str(staff_agent.pk),
            "action_items-0-due_date": (now.date() + dt.timedelta(days=7)).isoformat(),
        }
    )

    response = client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    postmortem.refresh_from_db()
    assert postmortem.lessons == "Alert before expiry"
    first.refresh_from_db()
    assert first.is_key_moment
    added = postmortem.moments.get(source="author")
    assert added.body == "Vendor notice missed"
    item = ActionItem.objects.get()
    assert (item.title, item.owner, item.incident) == ("Alert on certificate expiry", staff_agent, postmortem.incident)
    for record in (postmortem, first, added, item):
        assert record.history.latest("history_date").history_user == staff_agent


def test_a_refused_row_rolls_back_the_whole_page(postmortem: PostMortem, staff_agent: Any) -> None:
    client = logged_in(staff_agent)
    url = admin_url(PostMortem, "change", postmortem.pk)
    data = change_form_data(client.get(url))
    data.update({"lessons": "Would be lost", "action_items-0-title": "Drop it", "action_items-0-status": "wont_do"})

    response = client.post(url, data)

    assert response.status_code == 200
    assert "resolution_note" in str(response.context["adminform"].form.errors)
    postmortem.refresh_from_db()
    assert (postmortem.lessons, ActionItem.objects.count()) == ("", 0)


def test_state_changes_go_through_the_domain_and_publishing_is_for_managers(
    postmortem: PostMortem, staff_agent: Any, staff_manager: Any
) -> None:
    agent_client, manager_client = logged_in(staff_agent), logged_in(staff_manager)
    url = admin_url(PostMortem, "change", postmortem.pk)
    data = change_form_data(agent_client.get(url))
    assert [
        value for value, _label in agent_client.get(url).context["adminform"].form.fields["transition"].choices
    ] == [
        "",
        "submit",
    ]

    response = agent_client.post(url, {**data, "transition": "submit", "transition_note": "Ready"})
    assert response.status_code == 302
    postmortem.refresh_from_db()
    assert postmortem.status == "in_review"
    entry = postmortem.incident.timeline.get(kind=EntryKind.POSTMORTEM)
    assert (entry.actor, entry.body) == (staff_agent, "Post-mortem submitted for review. Ready")

    changelist = admin_url(PostMortem, "changelist")
    refused = agent_client.post(changelist, {"action": "publish_selected", "_selected_action": [postmortem.pk]})
    assert any("may not publish" in text for text in message_texts(refused))
    postmortem.refresh_from_db()
    assert postmortem.status == "in_review"

    manager_client.post(changelist, {"action": "publish_selected", "_selected_action": [postmortem.pk]})
    postmortem.refresh_from_db()
    assert (postmortem.status, postmortem.published_by) == ("published", staff_manager)

    # Published: the fields and the timeline are read-only; the manager may reopen with a reason.
    page = manager_client.get(url)
    form = page.context["adminform"].form
    assert "summary" not in form.fields
    assert [value for value, _label in form.fields["transition"].choices] == ["", "reopen"]
    moments = next(i for i in page.context["inline_admin_formsets"] if i.formset.model is not ActionItem)
    assert not moments.has_change_permission
    data = change_form_data(page)
    refused = manager_client.post(url, {**data, "transition": "reopen"})
    assert refused.status_code == 200
    assert "transition_note" in refused.context["adminform"].form.errors
    postmortem.refresh_from_db()
    assert postmortem.status == "published"
    manager_client.post(url, {**data, "transition": "reopen", "transition_note": "New findings"})
    postmortem.refresh_from_db()
    assert postmortem.status == "draft"


def test_regenerate_from_the_page_and_the_list(postmortem: PostMortem, staff_agent: Any) -> None:
    client = logged_in(staff_agent)
    postmortem.moments.filter(kind="transition")[0].delete()
    url = admin_url(PostMortem, "change", postmortem.pk)
    data = change_form_data(client.get(url))
    response = client.post(url, {**data, "regenerate_timeline": "on"})
    assert response.status_code == 302
    assert postmortem.moments.filter(kind="transition").count() == 2

    postmortem.moments.filter(kind="transition").delete()
    client.post(
        admin_url(PostMortem, "changelist"), {"action": "regenerate_selected", "_selected_action": [postmortem.pk]}
    )
    assert postmortem.moments.filter(kind="transition").count() == 2


def test_the_add_page_starts_a_postmortem_for_the_incident(make_incident: Any, staff_agent: Any) -> None:
    incident: Incident = make_incident(title="Dashboard stale")
    client = logged_in(staff_agent)
    assert client.get(admin_url(PostMortem, "add") + f"?incident={incident.pk}").status_code == 200
    response = client.post(admin_url(PostMortem, "add"), {"incident": str(incident.pk), "summary": "Stale data"})
    assert response.status_code == 302
    postmortem = PostMortem.objects.get(incident=incident)
    assert (postmortem.author, postmortem.moments.filter(source="entry").count()) == (staff_agent, 1)


# --- Action items -------------------------------------------------------------------


@pytest.fixture
def items(postmortem: PostMortem, staff_agent: Any, make_user: Any) -> dict[str, ActionItem]:
    other = staff(make_user, "other-agent", AGENT)
    today = timezone.localdate()
    return {
        "late": add_action_item(
            postmortem=postmortem, actor=staff_agent, title="Late", owner=staff_agent,
            due_date=today - dt.timedelta(days=2),
        ),
        "soon": add_action_item(
            postmortem=postmortem, actor=staff_agent, title="Soon", owner=other, due_date=today + dt.timedelta(days=2)
        ),
        "done": add_action_item(
            postmortem=postmortem, actor=staff_agent, title="Done late", owner=other,
            due_date=today - dt.timedelta(days=9), status="done",
        ),
    }  # fmt: skip


def listed(client: Client, **params: Any) -> set[str]:
    response = client.get(admin_url(ActionItem, "changelist"), params)
    assert response.status_code == 200
    return {item.title for item in response.context["cl"].result_list}


def test_the_action_items_list_filters_by_status_owner_and_overdue(
    items: dict[str, ActionItem], staff_agent: Any
) -> None:
    client = logged_in(staff_agent)
    assert listed(client) == {"Late", "Soon", "Done late"}
    assert listed(client, overdue="yes") == {"Late"}
    assert listed(client, overdue="no") == {"Soon", "Done late"}
    assert listed(client, status__exact="done") == {"Done late"}
    assert listed(client, owner__id__exact=staff_agent.pk) == {"Late"}
    assert listed(client, q=items["late"].incident.number) == {"Late", "Soon", "Done late"}


def test_an_action_item_changes_through_the_domain(items: dict[str, ActionItem], staff_agent: Any) -> None:
    client = logged_in(staff_agent)
    item = items["soon"]
    url = admin_url(ActionItem, "change", item.pk)
    data = change_form_data(client.get(url))

    refused = client.post(url, {**data, "status": "wont_do"})
    assert refused.status_code == 200
    assert "resolution_note" in refused.context["adminform"].form.errors
    item.refresh_from_db()
    assert item.status == "open"

    response = client.post(url, {**data, "status": "wont_do", "resolution_note": "Covered by the new CA"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.completed_at is not None) == ("wont_do", True)
    assert item.history.latest("history_date").history_user == staff_agent

    client.post(admin_url(ActionItem, "changelist"), {"action": "mark_done", "_selected_action": [items["late"].pk]})
    assert ActionItem.objects.get(pk=items["late"].pk).status == "done"


def test_items_are_added_on_their_own_page(postmortem: PostMortem, staff_agent: Any) -> None:
    submit_postmortem(
        postmortem=write_postmortem(incident=postmortem.incident, actor=staff_agent, changes={"root_cause": "X"}),
        actor=staff_agent,
    )
    client = logged_in(staff_agent)
    response = client.post(
        admin_url(ActionItem, "add"),
        {"postmortem": str(postmortem.pk), "title": "Rotate keys yearly", "kind": "prevent", "status": "open"},
    )
    assert response.status_code == 302
    item = ActionItem.objects.get()
    assert (item.created_by, item.incident_id) == (staff_agent, postmortem.incident_id)
