"""The post-mortem page's timeline and action items: edited, added, removed, marked, regenerated, followed up."""

import datetime as dt
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from escalation.models import ResponderProfile
from incidents import lifecycle
from incidents.action_items import add_action_item
from incidents.choices import MomentSource
from incidents.models import ActionItem, Incident, PostMortem, PostMortemMoment
from incidents.postmortem_timeline import add_moment
from incidents.postmortems import write_postmortem
from tests.postmortem_helpers import published_postmortem

pytestmark = pytest.mark.django_db

JAKARTA = zoneinfo.ZoneInfo("Asia/Jakarta")


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def postmortem(make_incident: Callable[..., Incident], agent: Any) -> PostMortem:
    incident = make_incident(
        title="Search slow", impact="high", urgency="high", started_at=timezone.now() - dt.timedelta(hours=2)
    )
    incident = lifecycle.investigate_incident(incident=incident, actor=agent, note="Looking at the index")
    incident = lifecycle.resolve_incident(incident=incident, actor=agent, root_cause="Index", resolution="Rebuilt")
    return write_postmortem(incident=incident, actor=agent, changes={"summary": "Slow", "root_cause": "Index"})


def url(postmortem: PostMortem, rest: str = "") -> str:
    return f"/incidents/{postmortem.incident.number}/postmortem/{rest}"


def generated(postmortem: PostMortem) -> PostMortemMoment:
    return postmortem.moments.get(source=MomentSource.IMPACT_STARTED)


# --- The timeline ------------------------------------------------------------------------------------


def test_the_timeline_shows_its_moments_in_order_in_the_users_zone(postmortem: PostMortem, agent: Any) -> None:
    ResponderProfile.objects.update_or_create(user=agent, defaults={"time_zone": "Asia/Jakarta"})
    moment = generated(postmortem)
    html = client_for(agent).get(url(postmortem)).content.decode()
    assert html.index("Impact began.") < html.index("Detected.") < html.index("Looking at the index")
    assert f'datetime="{moment.occurred_at.astimezone(JAKARTA).isoformat()}"' in html
    assert "Times in Asia/Jakarta." in html


def test_editing_a_moments_text_and_time(postmortem: PostMortem, agent: Any) -> None:
    ResponderProfile.objects.update_or_create(user=agent, defaults={"time_zone": "Asia/Jakarta"})
    moment = generated(postmortem)
    when = (timezone.now() - dt.timedelta(hours=3)).replace(second=0, microsecond=0)
    prefix = f"moment-{moment.pk}"

    response = client_for(agent).post(
        url(postmortem, f"timeline/{moment.pk}/"),
        {
            f"{prefix}-occurred_at": when.astimezone(JAKARTA).strftime("%Y-%m-%dT%H:%M"),
            f"{prefix}-body": "Impact began: search timed out for everyone.",
            f"{prefix}-visibility": "public",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == url(postmortem) + "#timeline"
    moment.refresh_from_db()
    assert (moment.occurred_at, moment.body) == (when, "Impact began: search timed out for everyone.")
    latest = moment.history.first()
    assert (latest.history_user, latest.history_change_reason) == (agent, "edited: occurred_at, body")


def test_a_moment_without_text_keeps_what_was_typed(postmortem: PostMortem, agent: Any) -> None:
    moment = generated(postmortem)
    prefix = f"moment-{moment.pk}"
    response = client_for(agent).post(
        url(postmortem, f"timeline/{moment.pk}/"),
        {f"{prefix}-occurred_at": "2001-02-03T04:05", f"{prefix}-body": "", f"{prefix}-visibility": "public"},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert f'id="id_{prefix}-body_error"' in html
    assert 'value="2001-02-03T04:05"' in html
    assert "<details open" in html
    moment.refresh_from_db()
    assert moment.body == "Impact began."


def test_marking_and_unmarking_a_key_moment(postmortem: PostMortem, agent: Any) -> None:
    moment = generated(postmortem)
    client = client_for(agent)

    client.post(url(postmortem, f"timeline/{moment.pk}/key/"), {"key": "1"})
    moment.refresh_from_db()
    assert moment.is_key_moment
    html = client.get(url(postmortem)).content.decode()
    assert "★ </span>Key moment" in html  # a symbol and a word, not colour

    client.post(url(postmortem, f"timeline/{moment.pk}/key/"), {"key": "0"})
    moment.refresh_from_db()
    assert not moment.is_key_moment
    assert moment.history.first().history_user == agent


def test_adding_a_moment_of_ones_own(postmortem: PostMortem, agent: Any, manager: Any) -> None:
    when = timezone.now() - dt.timedelta(minutes=50)
    response = client_for(agent).post(
        url(postmortem, "timeline/"),
        {
            "add-moment-occurred_at": when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M"),
            "add-moment-body": "Customer support saw the first complaint.",
            "add-moment-visibility": "public",
            "add-moment-is_key_moment": "on",
            "add-moment-by": manager.username,
        },
    )
    assert response.status_code == 302
    moment = postmortem.moments.get(source=MomentSource.AUTHOR)
    assert (moment.body, moment.is_key_moment, moment.actor, moment.visibility) == (
        "Customer support saw the first complaint.",
        True,
        manager,
        "public",
    )
    assert moment.history.first().history_user == agent


def test_a_moment_in_the_future_is_the_domains_field_error(postmortem: PostMortem, agent: Any) -> None:
    later = timezone.now() + dt.timedelta(days=2)
    response = client_for(agent).post(
        url(postmortem, "timeline/"),
        {
            "add-moment-occurred_at": later.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M"),
            "add-moment-body": "Typed with care",
            "add-moment-visibility": "internal",
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "A moment of the incident cannot be in the future." in html
    assert "Typed with care" in html
    assert not postmortem.moments.filter(source=MomentSource.AUTHOR).exists()


def test_removing_a_moment_and_regenerating_with_a_confirmation(postmortem: PostMortem, agent: Any) -> None:
    client = client_for(agent)
    moment = generated(postmortem)
    mine = add_moment(postmortem=postmortem, actor=agent, occurred_at=timezone.now(), body="Mine")
    detected = postmortem.moments.get(source=MomentSource.DETECTED)
    client.post(url(postmortem, f"timeline/{detected.pk}/key/"), {"key": "1"})

    assert client.post(url(postmortem, f"timeline/{moment.pk}/remove/")).status_code == 302
    assert not postmortem.moments.filter(source=MomentSource.IMPACT_STARTED).exists()

    unconfirmed = client.post(url(postmortem, "timeline/regenerate/"), {})
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm." in unconfirmed.content.decode()
    assert not postmortem.moments.filter(source=MomentSource.IMPACT_STARTED).exists()

    confirmed = client.post(url(postmortem, "timeline/regenerate/"), {"regenerate-confirm": "on"})
    assert confirmed.status_code == 302
    assert postmortem.moments.filter(source=MomentSource.IMPACT_STARTED).exists()  # back
    assert postmortem.moments.filter(pk=mine.pk).exists()  # the author's row is kept
    detected.refresh_from_db()
    assert detected.is_key_moment  # and so is the key mark


def test_a_published_timeline_has_no_controls_and_refuses_changes(
    postmortem: PostMortem, agent: Any, manager: Any
) -> None:
    published_postmortem(postmortem.incident, author=agent, publisher=manager)
    client = client_for(agent)
    html = client.get(url(postmortem)).content.decode()
    assert "/timeline/regenerate/" not in html
    assert "/key/" not in html
    moment = generated(postmortem)
    refused = client.post(url(postmortem, f"timeline/{moment.pk}/remove/"))
    assert refused.status_code == 409
    assert "reopens it before it can change" in refused.content.decode()
    assert postmortem.moments.filter(pk=moment.pk).exists()


def test_a_moment_of_another_post_mortem_is_a_404(
    postmortem: PostMortem, agent: Any, make_incident: Callable[..., Incident]
) -> None:
    other = write_postmortem(incident=make_incident(title="Other"), actor=agent)
    foreign = other.moments.first()
    assert foreign is not None
    assert client_for(agent).post(url(postmortem, f"timeline/{foreign.pk}/remove/")).status_code == 404
    assert PostMortemMoment.objects.filter(pk=foreign.pk).exists()


# --- Action items ----------------------------------------------------------------------------------------


def test_adding_an_action_item(postmortem: PostMortem, agent: Any, manager: Any) -> None:
    due = timezone.localdate() + dt.timedelta(days=14)
    response = client_for(agent).post(
        url(postmortem, "action-items/"),
        {
            "add-item-title": "Alert on index size",
            "add-item-description": "Page before the disk fills.",
            "add-item-kind": "detect",
            "add-item-owner": manager.username,
            "add-item-due_date": due.isoformat(),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == url(postmortem) + "#action-items"
    item = ActionItem.objects.get()
    assert (item.title, item.kind, item.owner, item.due_date, item.status, item.created_by) == (
        "Alert on index size",
        "detect",
        manager,
        due,
        "open",
        agent,
    )
    assert item.history.first().history_user == agent
    assert "Alert on index size" in client_for(agent).get(url(postmortem)).content.decode()


def test_an_action_item_without_a_title_keeps_what_was_typed(postmortem: PostMortem, agent: Any) -> None:
    response = client_for(agent).post(
        url(postmortem, "action-items/"),
        {"add-item-title": "", "add-item-description": "Careful description", "add-item-kind": "prevent"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_add-item-title_error"' in html
    assert "Careful description" in html
    assert not ActionItem.objects.exists()


def test_changing_an_action_items_status_owner_and_due_date(postmortem: PostMortem, agent: Any, manager: Any) -> None:
    item = add_action_item(postmortem=postmortem, actor=agent, title="Rebuild nightly")
    due = timezone.localdate() + dt.timedelta(days=3)
    response = client_for(agent).post(
        url(postmortem, f"action-items/{item.pk}/"),
        {
            f"item-{item.pk}-status": "in_progress",
            f"item-{item.pk}-owner": manager.username,
            f"item-{item.pk}-due_date": due.isoformat(),
            f"item-{item.pk}-resolution_note": "",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.owner, item.due_date) == ("in_progress", manager, due)
    latest = item.history.first()
    assert (latest.history_user, latest.history_change_reason) == (agent, "changed: status, owner, due_date")


def test_wont_do_needs_a_reason(postmortem: PostMortem, agent: Any) -> None:
    item = add_action_item(postmortem=postmortem, actor=agent, title="Rewrite search")
    client = client_for(agent)
    fields = {f"item-{item.pk}-status": "wont_do", f"item-{item.pk}-owner": "", f"item-{item.pk}-due_date": ""}

    refused = client.post(
        url(postmortem, f"action-items/{item.pk}/"), {**fields, f"item-{item.pk}-resolution_note": ""}
    )
    assert refused.status_code == 400
    html = refused.content.decode()
    assert f'id="id_item-{item.pk}-resolution_note_error"' in html
    assert "Say why this will not be done." in html
    item.refresh_from_db()
    assert item.status == "open"

    reason = "Replaced by the new search service"
    accepted = client.post(
        url(postmortem, f"action-items/{item.pk}/"), {**fields, f"item-{item.pk}-resolution_note": reason}
    )
    assert accepted.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.resolution_note) == ("wont_do", reason)
    assert item.completed_at is not None


def test_a_published_post_mortem_still_takes_action_items(postmortem: PostMortem, agent: Any, manager: Any) -> None:
    published_postmortem(postmortem.incident, author=agent, publisher=manager)
    client = client_for(agent)
    assert f'action="{url(postmortem, "action-items/")}"' in client.get(url(postmortem)).content.decode()
    response = client.post(url(postmortem, "action-items/"), {"add-item-title": "Later", "add-item-kind": "other"})
    assert response.status_code == 302
    assert ActionItem.objects.get().title == "Later"


def test_a_reporter_sees_action_items_but_changes_none(
    postmortem: PostMortem, agent: Any, manager: Any, reporter: Any
) -> None:
    item = add_action_item(postmortem=postmortem, actor=agent, title="Visible follow-up")
    published_postmortem(postmortem.incident, author=agent, publisher=manager)
    client = client_for(reporter)
    html = client.get(url(postmortem)).content.decode()
    assert "Visible follow-up" in html
    assert "/action-items/" not in html
    refused = client.post(
        url(postmortem, f"action-items/{item.pk}/"),
        {f"item-{item.pk}-status": "done", f"item-{item.pk}-resolution_note": ""},
    )
    assert refused.status_code == 403
    item.refresh_from_db()
    assert item.status == "open"
