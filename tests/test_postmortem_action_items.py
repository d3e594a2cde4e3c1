"""Follow-up action items: their rules, that they outlive the incident, and the list across incidents."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import ProtectedError
from django.utils import timezone

from incidents import lifecycle
from incidents.action_items import add_action_item, update_action_item
from incidents.models import ActionItem, Incident, PostMortem
from incidents.postmortems import write_postmortem
from tests.postmortem_helpers import published_postmortem

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 3, 10)
NOON = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def postmortem(make_incident: Any, agent: Any) -> PostMortem:
    incident = make_incident(impact="high", urgency="high")
    incident = lifecycle.investigate_incident(incident=incident, actor=agent)
    incident = lifecycle.resolve_incident(incident=incident, actor=agent, root_cause="Expired", resolution="Renewed")
    return write_postmortem(incident=incident, actor=agent)


def test_an_item_belongs_to_the_postmortem_and_its_incident(postmortem: PostMortem, agent: Any) -> None:
    item = add_action_item(
        postmortem=postmortem, actor=agent, title="Alert on expiry", owner=agent, due_date=TODAY, kind="detect"
    )
    assert (item.postmortem, item.incident, item.created_by, item.status) == (
        postmortem,
        postmortem.incident,
        agent,
        "open",
    )
    assert item.history.get().history_user == agent


def test_bad_items_are_refused_and_nothing_is_written(postmortem: PostMortem, agent: Any, reporter: Any) -> None:
    with pytest.raises(ValidationError) as refused:
        add_action_item(postmortem=postmortem, actor=agent, title=" ", owner=reporter, kind="nonsense")
    assert set(refused.value.message_dict) == {"title", "owner", "kind"}
    with pytest.raises(ValidationError) as refused:
        add_action_item(postmortem=postmortem, actor=agent, title="Drop it", status="wont_do")
    assert set(refused.value.message_dict) == {"resolution_note"}
    with pytest.raises(PermissionDenied):
        add_action_item(postmortem=postmortem, actor=reporter, title="Mine")
    assert not ActionItem.objects.exists()


def test_status_owner_and_due_date_change_through_the_domain_with_history(
    postmortem: PostMortem, agent: Any, make_user: Any
) -> None:
    sari = make_user(username="sari")
    item = add_action_item(postmortem=postmortem, actor=agent, title="Automate renewal")

    item = update_action_item(
        item=item, actor=sari, changes={"status": "in_progress", "owner": sari, "due_date": TODAY}
    )
    assert (item.status, item.owner, item.due_date, item.completed_at) == ("in_progress", sari, TODAY, None)
    with time_machine.travel(NOON, tick=False):
        item = update_action_item(item=item, actor=sari, changes={"status": "done"})
    assert item.completed_at == NOON
    item = update_action_item(item=item, actor=agent, changes={"status": "open"})
    assert item.completed_at is None

    with pytest.raises(ValidationError) as refused:
        update_action_item(item=item, actor=agent, changes={"status": "wont_do"})
    assert "resolution_note" in refused.value.message_dict
    assert ActionItem.objects.get().status == "open"
    item = update_action_item(
        item=item, actor=agent, changes={"status": "wont_do", "resolution_note": "Replaced by the new CA"}
    )
    assert item.status == "wont_do"

    history = [(h.status, h.history_user.username) for h in item.history.order_by("history_id")]
    assert history == [
        ("open", "agus"),
        ("in_progress", "sari"),
        ("done", "sari"),
        ("open", "agus"),
        ("wont_do", "agus"),
    ]


def test_items_outlive_the_incident(postmortem: PostMortem, agent: Any, manager: Any) -> None:
    incident = postmortem.incident
    published_postmortem(incident, author=agent, publisher=manager)
    items = [
        add_action_item(postmortem=postmortem, actor=agent, title="Alert on expiry", owner=agent, due_date=TODAY),
        add_action_item(postmortem=postmortem, actor=agent, title="Automate renewal", status="in_progress"),
    ]
    before = [(i.pk, i.status, i.owner_id, i.due_date, i.updated_at, i.completed_at, i.history.count()) for i in items]

    incident = lifecycle.close_incident(incident=incident, actor=manager)

    assert incident.state == "closed"
    after = [
        (i.pk, i.status, i.owner_id, i.due_date, i.updated_at, i.completed_at, i.history.count())
        for i in ActionItem.objects.order_by("pk")
    ]
    assert after == before
    # They go on after the incident is closed and the post-mortem published...
    item = update_action_item(item=items[0], actor=agent, changes={"status": "done"})
    assert item.status == "done"
    add_action_item(postmortem=PostMortem.objects.get(), actor=agent, title="Found later")
    # ...and deleting the incident would delete them, so it is refused.
    with pytest.raises(ProtectedError):
        Incident.objects.filter(pk=incident.pk).delete()
    assert ActionItem.objects.count() == 3


# --- The list across incidents ------------------------------------------------------


@pytest.fixture
def items(postmortem: PostMortem, make_incident: Any, agent: Any, manager: Any, make_user: Any) -> dict[str, Any]:
    sari = make_user(username="sari")
    other = write_postmortem(incident=make_incident(title="Dashboard stale"), actor=sari)
    made: dict[str, Any] = {
        "late": add_action_item(postmortem=postmortem, actor=agent, title="Late", owner=agent, due_date=TODAY - dt.timedelta(days=1)),
        "today": add_action_item(postmortem=postmortem, actor=agent, title="Today", owner=sari, due_date=TODAY),
        "late_done": add_action_item(
            postmortem=postmortem, actor=agent, title="Late but done", owner=agent,
            due_date=TODAY - dt.timedelta(days=5), status="done",
        ),
        "late_started": add_action_item(
            postmortem=other, actor=sari, title="Late, started", owner=sari,
            due_date=TODAY - dt.timedelta(days=2), status="in_progress",
        ),
        "no_date": add_action_item(postmortem=other, actor=sari, title="Someday"),
    }  # fmt: skip
    made["sari"] = sari
    made["other"] = other
    return made


def titles(response: Any) -> list[str]:
    assert response.status_code == 200, response.json()
    return [item["title"] for item in response.json()["results"]]


def test_the_list_filters_by_status_owner_mine_overdue_and_incident(
    items: dict[str, Any], postmortem: PostMortem, agent: Any, api: Any
) -> None:
    client = api(agent)
    url = "/api/v1/action-items/"
    with time_machine.travel(NOON, tick=False):
        assert titles(client.get(url, {"overdue": "true", "ordering": "due_date"})) == ["Late, started", "Late"]
        assert set(titles(client.get(url, {"overdue": "false"}))) == {"Today", "Late but done", "Someday"}
        body = client.get(url, {"overdue": "true"}).json()["results"]
        assert all(item["overdue"] for item in body)
        assert not client.get(url, {"overdue": "false"}).json()["results"][0]["overdue"]
    assert set(titles(client.get(url, {"status": ["open", "in_progress"]}))) == {
        "Late",
        "Today",
        "Late, started",
        "Someday",
    }
    assert set(titles(client.get(url, {"status": "done"}))) == {"Late but done"}
    assert set(titles(client.get(url, {"mine": "true"}))) == {"Late", "Late but done"}
    assert set(titles(api(items["sari"]).get(url, {"mine": "true"}))) == {"Today", "Late, started"}
    assert set(titles(client.get(url, {"owner": "sari"}))) == {"Today", "Late, started"}
    assert set(titles(client.get(url, {"owner": "none"}))) == {"Someday"}
    number = postmortem.incident.number
    assert set(titles(client.get(url, {"incident": number}))) == {"Late", "Today", "Late but done"}
    assert titles(client.get(url, {"incident": "INC-999999"})) == []
    first = client.get(url, {"status": "open", "ordering": "-title"}).json()["results"][0]
    assert (first["title"], first["incident"], first["owner"]) == ("Today", number, "sari")
    assert client.get(url, {"status": "bogus"}).status_code == 400


def test_the_list_is_paginated_and_ordered(items: dict[str, Any], agent: Any, api: Any) -> None:
    client = api(agent)
    page = client.get("/api/v1/action-items/", {"page_size": 2, "ordering": "due_date"}).json()
    assert page["count"] == 5
    assert [item["title"] for item in page["results"]] == ["Late but done", "Late, started"]
    assert page["next"]
    default = titles(client.get("/api/v1/action-items/"))
    # Due first, the soonest first; those without a date last.
    assert default[0] == "Late but done"
    assert default[-1] == "Someday"


def test_patch_changes_status_owner_and_due_date_through_the_domain(
    items: dict[str, Any], agent: Any, reporter: Any, api: Any
) -> None:
    item = items["late"]
    url = f"/api/v1/action-items/{item.pk}/"
    response = api(agent).patch(url, {"status": "in_progress", "owner": "sari", "due_date": "2026-04-01"})
    assert response.status_code == 200, response.json()
    assert (response.json()["status"], response.json()["owner"], response.json()["due_date"]) == (
        "in_progress",
        "sari",
        "2026-04-01",
    )
    assert ActionItem.objects.get(pk=item.pk).history.latest("history_date").history_user == agent

    refused = api(agent).patch(url, {"status": "wont_do"})
    assert refused.status_code == 400
    assert "resolution_note" in refused.json()
    assert api(agent).patch(url, {"owner": "rina"}).status_code == 400
    assert api(agent).patch(url, {"incident": "INC-1"}).status_code == 400
    assert ActionItem.objects.get(pk=item.pk).status == "in_progress"

    assert api(reporter).get("/api/v1/action-items/").status_code == 403
    assert api(reporter).patch(url, {"status": "done"}).status_code == 403
    assert api(agent).delete(url).status_code == 405
    assert ActionItem.objects.filter(pk=item.pk).exists()


def test_nested_items_are_read_with_the_postmortem_and_added_by_agents(
    postmortem: PostMortem, agent: Any, manager: Any, reporter: Any, api: Any
) -> None:
    url = f"/api/v1/incidents/{postmortem.incident.number}/postmortem/action-items/"
    response = api(agent).post(url, {"title": "Alert on expiry", "owner": "agus", "due_date": "2026-04-01"})
    assert response.status_code == 201, response.json()
    assert response.json()["incident"] == postmortem.incident.number
    assert api(agent).post(url, {"title": ""}).status_code == 400
    assert api(reporter).post(url, {"title": "Mine"}).status_code in (403, 404)
    assert ActionItem.objects.count() == 1
    # A draft's items are for responders; once published, reporters read them too.
    assert api(reporter).get(url).status_code == 404
    published_postmortem(postmortem.incident, author=agent, publisher=manager)
    assert [i["title"] for i in api(reporter).get(url).json()["results"]] == ["Alert on expiry"]
    assert api(agent).post(url, {"title": "Found after publishing"}).status_code == 201


def test_overdue_is_relative_to_today(items: dict[str, Any]) -> None:
    today = items["today"]
    with time_machine.travel(NOON, tick=False):
        assert not today.is_overdue()
    with time_machine.travel(NOON + dt.timedelta(days=1), tick=False):
        assert today.is_overdue()
        assert timezone.localdate() == TODAY + dt.timedelta(days=1)
