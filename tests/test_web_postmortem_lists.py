"""The lists across incidents: published post-mortems to learn from, and my action items."""

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.action_items import add_action_item, update_action_item
from incidents.models import ActionItem, Incident, PostMortem
from incidents.postmortems import write_postmortem
from tests.postmortem_helpers import published_postmortem

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def numbers_in(html: str) -> list[str]:
    return list(dict.fromkeys(re.findall(r'href="/incidents/(INC-\d+)/postmortem/', html)))


def item_titles(html: str) -> list[str]:
    return re.findall(r'<tr id="item-\d+"[^>]*>\s*<td[^>]*><strong>([^<]+)</strong>', html)


@pytest.fixture
def publish(make_incident: Callable[..., Incident], agent: Any, manager: Any) -> Callable[..., PostMortem]:
    def make(title: str, **changes: Any) -> PostMortem:
        incident = make_incident(title=title, impact="high", urgency="medium")
        return published_postmortem(incident, author=agent, publisher=manager, **changes)

    return make


# --- Published post-mortems --------------------------------------------------------------------------


def test_the_list_shows_published_post_mortems_with_what_they_were_about(
    publish: Callable[..., PostMortem], reporter: Any
) -> None:
    postmortem = publish("Checkout down", summary="Card payments failed for an hour after a certificate expired.")
    html = client_for(reporter).get("/postmortems/").content.decode()
    assert numbers_in(html) == [postmortem.incident.number]
    assert "Checkout down" in html
    assert 'class="badge priority-p2"' in html
    assert f'datetime="{timezone.localtime(postmortem.published_at).isoformat()}"' in html
    assert "Card payments failed for an hour" in html


def test_search_finds_published_post_mortems_and_never_drafts(
    publish: Callable[..., PostMortem], make_incident: Callable[..., Incident], agent: Any
) -> None:
    certificate = publish("Login broken", root_cause="The TLS certificate expired unnoticed.")
    publish("Disk full", root_cause="Logs filled the disk.")
    draft = write_postmortem(
        incident=make_incident(title="Certificate again"), actor=agent, changes={"root_cause": "certificate expired"}
    )
    client = client_for(agent)  # the draft's author: it is theirs, still not in the published list

    assert numbers_in(client.get("/postmortems/?q=certificate").content.decode()) == [certificate.incident.number]
    everything = numbers_in(client.get("/postmortems/").content.decode())
    assert draft.incident.number not in everything
    assert len(everything) == 2
    assert "No published post-mortem matches this search." in client.get("/postmortems/?q=kangaroo").content.decode()


def test_a_published_post_mortem_opens_read_only(publish: Callable[..., PostMortem], reporter: Any) -> None:
    postmortem = publish("Queue stuck", lessons="Watch the queue depth.")
    html = client_for(reporter).get(f"/incidents/{postmortem.incident.number}/postmortem/").content.decode()
    assert "Watch the queue depth." in html
    assert "<textarea" not in html


def test_the_list_pages(publish: Callable[..., PostMortem], agent: Any) -> None:
    for index in range(27):
        publish(f"Incident {index}")
    client = client_for(agent)
    first = numbers_in(client.get("/postmortems/").content.decode())
    second = numbers_in(client.get("/postmortems/?page=2").content.decode())
    assert (len(first), len(second)) == (25, 2)
    assert not set(first) & set(second)


def test_the_list_costs_the_same_queries_whatever_it_shows(publish: Callable[..., PostMortem], agent: Any) -> None:
    client = client_for(agent)
    publish("First")
    with CaptureQueriesContext(connection) as few:
        client.get("/postmortems/?q=")
    for index in range(12):
        publish(f"More {index}")
    with CaptureQueriesContext(connection) as many:
        html = client.get("/postmortems/?q=").content.decode()
    assert len(numbers_in(html)) == 13
    assert len(many) == len(few)


def test_navigation_shows_the_new_pages_to_whom_they_serve(reporter: Any, agent: Any) -> None:
    reporter_nav = client_for(reporter).get("/").content.decode()
    assert 'href="/postmortems/"' in reporter_nav
    assert 'href="/action-items/"' not in reporter_nav
    agent_nav = client_for(agent).get("/action-items/").content.decode()
    assert 'href="/action-items/" aria-current="page"' in agent_nav
    assert client_for(reporter).get("/action-items/").status_code == 403


# --- My action items ------------------------------------------------------------------------------------


@pytest.fixture
def items(
    make_incident: Callable[..., Incident], agent: Any, manager: Any, make_user: Callable[..., Any]
) -> dict[str, ActionItem]:
    postmortem = write_postmortem(incident=make_incident(title="Search slow"), actor=agent)
    today = timezone.localdate()
    colleague = make_user(username="bayu")

    def add(title: str, owner: Any, due: int | None, status: str = "open") -> ActionItem:
        item = add_action_item(
            postmortem=postmortem,
            actor=agent,
            title=title,
            owner=owner,
            due_date=today + dt.timedelta(days=due) if due is not None else None,
        )
        if status != "open":
            item = update_action_item(item=item, actor=agent, changes={"status": status, "resolution_note": "Done"})
        return item

    return {
        "late": add("Late alert", agent, -2),
        "soon": add("Soon index", agent, 3, "in_progress"),
        "undated": add("Undated docs", agent, None),
        "done": add("Finished runbook", agent, -10, "done"),
        "theirs": add("Bayu's item", colleague, 1),
    }


def test_my_action_items_are_mine_and_not_done_by_default_soonest_first(
    items: dict[str, ActionItem], agent: Any
) -> None:
    html = client_for(agent).get("/action-items/").content.decode()
    assert item_titles(html) == ["Late alert", "Soon index", "Undated docs"]
    assert html.count("Overdue</strong>") == 1  # a word, with its symbol, on the late one only
    assert 'class="overdue-row"' in html


def test_filters_status_overdue_and_sort(items: dict[str, ActionItem], agent: Any) -> None:
    client = client_for(agent)
    assert item_titles(client.get("/action-items/?status=done").content.decode()) == ["Finished runbook"]
    assert item_titles(client.get("/action-items/?status=in_progress").content.decode()) == ["Soon index"]
    assert item_titles(client.get("/action-items/?overdue=on").content.decode()) == ["Late alert"]
    assert item_titles(client.get("/action-items/?status=any&sort=-due").content.decode()) == [
        "Soon index",
        "Late alert",
        "Finished runbook",
        "Undated docs",
    ]


def test_everyones_items_are_for_managers(items: dict[str, ActionItem], agent: Any, manager: Any) -> None:
    agent_page = client_for(agent).get("/action-items/?scope=all").content.decode()
    assert "Bayu&#x27;s item" not in agent_page
    assert 'name="scope"' not in agent_page
    manager_page = client_for(manager).get("/action-items/?scope=all").content.decode()
    assert item_titles(manager_page) == ["Late alert", "Bayu&#x27;s item", "Soon index", "Undated docs"]


def test_changing_a_status_from_the_list_keeps_the_filters(items: dict[str, ActionItem], agent: Any) -> None:
    item = items["late"]
    back = "/action-items/?overdue=on&sort=due"
    response = client_for(agent).post(
        f"/action-items/{item.pk}/status/",
        {f"item-{item.pk}-status": "done", f"item-{item.pk}-resolution_note": "Alert added", "next": back},
    )
    assert response.status_code == 302
    assert response["Location"] == back
    item.refresh_from_db()
    assert (item.status, item.resolution_note) == ("done", "Alert added")
    assert item.history.first().history_user == agent


def test_a_status_change_goes_back_only_to_the_list(items: dict[str, ActionItem], agent: Any) -> None:
    item = items["late"]
    response = client_for(agent).post(
        f"/action-items/{item.pk}/status/",
        {f"item-{item.pk}-status": "in_progress", "next": "https://evil.example/action-items/"},
    )
    assert response["Location"] == "/action-items/"


def test_wont_do_from_the_list_needs_a_reason_and_keeps_the_page(items: dict[str, ActionItem], agent: Any) -> None:
    item = items["soon"]
    response = client_for(agent).post(
        f"/action-items/{item.pk}/status/",
        {f"item-{item.pk}-status": "wont_do", f"item-{item.pk}-resolution_note": "", "next": "/action-items/?sort=due"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Say why this will not be done." in html
    assert re.search(r'<option value="wont_do" selected>', html)  # what was chosen stays chosen
    assert item_titles(html) == ["Late alert", "Soon index", "Undated docs"]
    item.refresh_from_db()
    assert item.status == "in_progress"


def test_htmx_swaps_just_the_row(items: dict[str, ActionItem], agent: Any) -> None:
    item = items["late"]
    client = client_for(agent)
    page = client.get("/action-items/").content.decode()
    assert f'hx-post="/action-items/{item.pk}/status/"' in page
    assert 'hx-target="closest tr"' in page

    done = client.post(
        f"/action-items/{item.pk}/status/",
        {f"item-{item.pk}-status": "done", f"item-{item.pk}-resolution_note": "", "next": "/action-items/"},
        headers={"HX-Request": "true"},
    )
    assert done.status_code == 200
    row = done.content.decode()
    assert row.lstrip().startswith(f'<tr id="item-{item.pk}"')
    assert "Saved" in row
    assert "Overdue" not in row  # done is never late

    refused = client.post(
        f"/action-items/{items['soon'].pk}/status/",
        {f"item-{items['soon'].pk}-status": "wont_do", "next": "/action-items/"},
        headers={"HX-Request": "true"},
    )
    assert refused.status_code == 400
    assert "Say why this will not be done." in refused.content.decode()
    assert "<html" not in refused.content.decode()


def test_my_action_items_cost_the_same_queries_whatever_they_show(
    items: dict[str, ActionItem], agent: Any, make_incident: Callable[..., Incident]
) -> None:
    client = client_for(agent)
    with CaptureQueriesContext(connection) as few:
        client.get("/action-items/?status=any")
    for index in range(10):
        postmortem = write_postmortem(incident=make_incident(title=f"More {index}"), actor=agent)
        add_action_item(postmortem=postmortem, actor=agent, title=f"More {index}", owner=agent)
    with CaptureQueriesContext(connection) as many:
        html = client.get("/action-items/?status=any").content.decode()
    assert len(item_titles(html)) == 14
    assert len(many) == len(few)
