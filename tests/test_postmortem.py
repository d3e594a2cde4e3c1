"""Post-mortems through their domain functions: the document, its states and who moves them, the close guard."""

import datetime as dt
import functools
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from incidents import lifecycle
from incidents.choices import EntryKind
from incidents.exceptions import TransitionNotAllowed
from incidents.models import PostMortem
from incidents.postmortems import (
    allowed_postmortem_transitions,
    publish_postmortem,
    reopen_postmortem,
    return_postmortem_to_draft,
    submit_postmortem,
    write_postmortem,
)
from tests.postmortem_helpers import published_postmortem

pytestmark = pytest.mark.django_db

READY = {"summary": "Logins failed for 40 minutes.", "root_cause": "The certificate expired."}


@pytest.fixture
def resolved(make_incident: Any, agent: Any, service: Any) -> Any:
    def make(*, impact: str = "high", urgency: str = "high", mitigate: bool = True) -> Any:
        started = timezone.now() - dt.timedelta(hours=2)
        incident = make_incident(
            impact=impact, urgency=urgency, started_at=started, affected_users=1200, services=[service]
        )
        incident = lifecycle.investigate_incident(incident=incident, actor=agent)
        if mitigate:
            incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Rolled back")
        return lifecycle.resolve_incident(
            incident=incident, actor=agent, root_cause="A bad deploy", resolution="Reverted"
        )

    return make


def postmortem_entries(incident: Any) -> list[tuple[str, str, str]]:
    return [
        (entry.data["transition"], entry.actor.username, entry.visibility)
        for entry in incident.timeline.filter(kind=EntryKind.POSTMORTEM).order_by("id")
    ]


def test_the_first_write_takes_what_the_incident_knows(resolved: Any, agent: Any, service: Any) -> None:
    incident = resolved()

    postmortem = write_postmortem(incident=incident, actor=agent, changes={"summary": "First notes"})

    assert (postmortem.status, postmortem.summary, postmortem.author) == ("draft", "First notes", agent)
    assert (postmortem.downtime_started_at, postmortem.downtime_ended_at) == (
        incident.started_at,
        incident.mitigated_at,
    )
    assert postmortem.downtime == incident.mitigated_at - incident.started_at
    assert (postmortem.affected_users, postmortem.root_cause) == (1200, "A bad deploy")
    assert list(postmortem.affected_services.all()) == [service]
    assert postmortem.moments.count() > 0
    # One post-mortem per incident: the next write changes it.
    again = write_postmortem(incident=incident, actor=agent, changes={"lessons": "Deploy slower"})
    assert again.pk == postmortem.pk
    assert PostMortem.objects.get().lessons == "Deploy slower"


def test_without_a_mitigation_the_downtime_ends_at_the_resolution(resolved: Any, agent: Any) -> None:
    incident = resolved(mitigate=False)
    postmortem = write_postmortem(incident=incident, actor=agent)
    assert postmortem.downtime_ended_at == incident.resolved_at


def test_every_field_is_editable_and_the_history_names_the_writer(
    resolved: Any, agent: Any, make_user: Any, service: Any
) -> None:
    incident = resolved()
    other_agent = make_user(username="sari")
    start = timezone.now() - dt.timedelta(hours=3)
    changes = {
        **READY,
        "downtime_started_at": start,
        "downtime_ended_at": start + dt.timedelta(minutes=40),
        "affected_users": 60000,
        "affected_services": [],
        "contributing_factors": "No expiry alert",
        "what_went_well": "Fast diagnosis",
        "what_went_badly": "Slow certificate issue",
        "lessons": "Automate renewals",
        "author": other_agent,
    }
    write_postmortem(incident=incident, actor=agent)
    postmortem = write_postmortem(incident=incident, actor=other_agent, changes=changes)

    postmortem.refresh_from_db()
    for field, value in changes.items():
        if field != "affected_services":
            assert getattr(postmortem, field) == value
    assert not postmortem.affected_services.exists()
    assert postmortem.downtime == dt.timedelta(minutes=40)
    history = list(postmortem.history.order_by("history_date", "history_id"))
    assert history[0].history_user == agent
    assert history[0].history_change_reason == "started"
    assert {h.history_user for h in history[1:]} >= {other_agent}
    assert history[-1].author == other_agent


def test_bad_input_is_refused_field_by_field_and_nothing_is_written(resolved: Any, agent: Any, reporter: Any) -> None:
    incident = resolved()
    start = timezone.now() - dt.timedelta(hours=1)
    with pytest.raises(ValidationError) as refused:
        write_postmortem(
            incident=incident,
            actor=agent,
            changes={
                "downtime_started_at": start,
                "downtime_ended_at": start - dt.timedelta(minutes=1),
                "summary": "Would be lost",
            },
        )
    assert "downtime_ended_at" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        write_postmortem(incident=incident, actor=agent, changes={"author": reporter, "affected_users": -1})
    assert set(refused.value.message_dict) == {"author", "affected_users"}
    with pytest.raises(ValidationError) as refused:
        write_postmortem(incident=incident, actor=agent, changes={"status": "published"})
    assert "status" in refused.value.message_dict

    assert not PostMortem.objects.exists()
    assert not incident.timeline.filter(kind=EntryKind.POSTMORTEM).exists()


def test_reporters_read_but_do_not_write(resolved: Any, reporter: Any) -> None:
    incident = resolved()
    with pytest.raises(PermissionDenied):
        write_postmortem(incident=incident, actor=reporter, changes={"summary": "Mine"})
    assert not PostMortem.objects.exists()


def test_agents_submit_and_take_back_managers_publish_and_reopen(resolved: Any, agent: Any, manager: Any) -> None:
    incident = resolved()
    postmortem = write_postmortem(incident=incident, actor=agent)
    assert allowed_postmortem_transitions(postmortem=postmortem, user=agent) == []

    with pytest.raises(TransitionNotAllowed) as refused:
        submit_postmortem(postmortem=postmortem, actor=agent)
    assert "summary and the root cause" in refused.value.message
    assert PostMortem.objects.get().status == "draft"

    postmortem = write_postmortem(incident=incident, actor=agent, changes=READY)
    assert allowed_postmortem_transitions(postmortem=postmortem, user=agent) == ["submit"]
    postmortem = submit_postmortem(postmortem=postmortem, actor=agent, note="Please review")
    assert (postmortem.status, postmortem.submitted_at is not None) == ("in_review", True)
    assert allowed_postmortem_transitions(postmortem=postmortem, user=agent) == ["return_to_draft"]
    assert allowed_postmortem_transitions(postmortem=postmortem, user=manager) == ["return_to_draft", "publish"]

    postmortem = return_postmortem_to_draft(postmortem=postmortem, actor=manager, note="Add the lessons")
    assert (postmortem.status, postmortem.submitted_at) == ("draft", None)
    postmortem = submit_postmortem(postmortem=postmortem, actor=agent)

    with pytest.raises(PermissionDenied):
        publish_postmortem(postmortem=postmortem, actor=agent)
    assert PostMortem.objects.get().status == "in_review"

    postmortem = publish_postmortem(postmortem=postmortem, actor=manager)
    assert (postmortem.status, postmortem.published_by) == ("published", manager)
    assert postmortem.published_at is not None

    with pytest.raises(PermissionDenied):
        reopen_postmortem(postmortem=postmortem, actor=agent, reason="Wrong cause")
    with pytest.raises(ValidationError) as no_reason:
        reopen_postmortem(postmortem=postmortem, actor=manager, reason=" ")
    assert "reason" in no_reason.value.message_dict
    assert PostMortem.objects.get().status == "published"

    postmortem = reopen_postmortem(postmortem=postmortem, actor=manager, reason="The root cause was wrong")
    assert (postmortem.status, postmortem.published_at, postmortem.published_by) == ("draft", None, None)

    assert postmortem_entries(incident) == [
        ("submit", "agus", "internal"),
        ("return_to_draft", "maya", "internal"),
        ("submit", "agus", "internal"),
        ("publish", "maya", "public"),
        ("reopen", "maya", "public"),
    ]
    reopened = incident.timeline.filter(kind=EntryKind.POSTMORTEM).order_by("id").last()
    assert "The root cause was wrong" in reopened.body
    moves = [
        (h.status, h.history_user.username)
        for h in postmortem.history.order_by("history_date", "history_id")
        if h.history_change_reason and ":" in h.history_change_reason and "→" in h.history_change_reason
    ]
    assert moves == [
        ("in_review", "agus"),
        ("draft", "maya"),
        ("in_review", "agus"),
        ("published", "maya"),
        ("draft", "maya"),
    ]


@pytest.mark.parametrize(
    ("state", "name"),
    [("draft", "publish"), ("draft", "reopen"), ("draft", "return_to_draft"), ("in_review", "submit")],
)
def test_a_state_that_does_not_allow_the_move_is_refused(
    resolved: Any, agent: Any, manager: Any, state: str, name: str
) -> None:
    postmortem = write_postmortem(incident=resolved(), actor=agent, changes=READY)
    if state == "in_review":
        postmortem = submit_postmortem(postmortem=postmortem, actor=agent)
    moves = {
        "publish": lambda: publish_postmortem(postmortem=postmortem, actor=manager),
        "reopen": lambda: reopen_postmortem(postmortem=postmortem, actor=manager, reason="Because"),
        "return_to_draft": lambda: return_postmortem_to_draft(postmortem=postmortem, actor=manager),
        "submit": lambda: submit_postmortem(postmortem=postmortem, actor=manager),
    }
    with pytest.raises(TransitionNotAllowed) as refused:
        moves[name]()
    assert refused.value.state == state
    assert PostMortem.objects.get().status == state


def test_a_published_postmortem_is_final_until_reopened(resolved: Any, agent: Any, manager: Any) -> None:
    from incidents.postmortem_timeline import add_moment, regenerate_timeline, remove_moment, update_moment

    incident = resolved()
    postmortem = published_postmortem(incident, author=agent, publisher=manager)
    moment = postmortem.moments.all()[0]
    attempts = [
        lambda: write_postmortem(incident=incident, actor=manager, changes={"summary": "Rewritten"}),
        lambda: add_moment(postmortem=postmortem, actor=manager, occurred_at=timezone.now(), body="Late addition"),
        lambda: update_moment(moment=moment, actor=manager, changes={"is_key_moment": True}),
        lambda: remove_moment(moment=moment, actor=manager),
        lambda: regenerate_timeline(postmortem=postmortem, actor=manager),
    ]
    before = postmortem.moments.count()
    for attempt in attempts:
        with pytest.raises(TransitionNotAllowed) as refused:
            attempt()
        assert refused.value.allowed == ["reopen"]
    postmortem.refresh_from_db()
    assert (postmortem.summary, postmortem.moments.count()) == ("What happened and why", before)
    assert not postmortem.moments.filter(is_key_moment=True).exists()

    reopen_postmortem(postmortem=postmortem, actor=manager, reason="More to say")
    write_postmortem(incident=incident, actor=agent, changes={"summary": "Rewritten"})
    assert PostMortem.objects.get().summary == "Rewritten"


# --- The close guard ---------------------------------------------------------


@pytest.mark.parametrize(("impact", "urgency", "priority"), [("high", "high", "P1"), ("high", "medium", "P2")])
def test_p1_and_p2_close_only_with_a_published_postmortem(
    resolved: Any, agent: Any, manager: Any, impact: str, urgency: str, priority: str
) -> None:
    incident = resolved(impact=impact, urgency=urgency)
    assert incident.priority == priority

    with pytest.raises(TransitionNotAllowed) as refused:
        lifecycle.close_incident(incident=incident, actor=manager)
    assert "published post-mortem" in refused.value.message
    assert refused.value.allowed == ["reopen"]

    postmortem = write_postmortem(incident=incident, actor=agent, changes=READY)
    with pytest.raises(TransitionNotAllowed):
        lifecycle.close_incident(incident=incident, actor=manager)
    postmortem = submit_postmortem(postmortem=postmortem, actor=agent)
    with pytest.raises(TransitionNotAllowed):
        lifecycle.close_incident(incident=incident, actor=manager)
    incident.refresh_from_db()
    assert incident.state == "resolved"

    publish_postmortem(postmortem=postmortem, actor=manager)
    incident = lifecycle.close_incident(incident=incident, actor=manager)
    assert incident.state == "closed"


@pytest.mark.parametrize(("impact", "urgency", "priority"), [("medium", "medium", "P3"), ("low", "low", "P4")])
def test_p3_and_p4_close_without_a_postmortem(
    resolved: Any, manager: Any, impact: str, urgency: str, priority: str
) -> None:
    incident = resolved(impact=impact, urgency=urgency)
    assert incident.priority == priority
    assert lifecycle.close_incident(incident=incident, actor=manager).state == "closed"
    assert not PostMortem.objects.exists()


def test_reopening_the_postmortem_of_a_closed_incident_leaves_the_incident_closed(
    resolved: Any, agent: Any, manager: Any
) -> None:
    incident = resolved()
    postmortem = published_postmortem(incident, author=agent, publisher=manager)
    lifecycle.close_incident(incident=incident, actor=manager)

    reopen_postmortem(postmortem=postmortem, actor=manager, reason="New findings")

    incident.refresh_from_db()
    assert (incident.state, PostMortem.objects.get().status) == ("closed", "draft")


# --- Two people at once -----------------------------------------------------------


def test_a_move_decided_on_a_stale_status_is_a_conflict(resolved: Any, agent: Any, manager: Any) -> None:
    from incidents.exceptions import IncidentConflict

    seen_by_agent = write_postmortem(incident=resolved(), actor=agent, changes=READY)
    seen_by_manager = PostMortem.objects.get(pk=seen_by_agent.pk)
    submit_postmortem(postmortem=seen_by_agent, actor=agent)

    with pytest.raises(IncidentConflict) as conflict:
        submit_postmortem(postmortem=seen_by_manager, actor=manager)

    assert (conflict.value.state, conflict.value.allowed) == ("in_review", ["return_to_draft", "publish"])
    assert seen_by_agent.incident.timeline.filter(kind=EntryKind.POSTMORTEM).count() == 1


def _publish(client: Any, path: str) -> int:
    return int(client.post(path, {}, format="json").status_code)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_publishes_on_postgres_exactly_one_wins(
    resolved: Any, agent: Any, manager: Any, make_user: Any, api: Any
) -> None:
    from incidents.roles import INCIDENT_MANAGER
    from tests.threads import run_together

    other_manager = make_user(INCIDENT_MANAGER, username="mira")
    incident = resolved()
    postmortem = write_postmortem(incident=incident, actor=agent, changes=READY)
    submit_postmortem(postmortem=postmortem, actor=agent)
    path = f"/api/v1/incidents/{incident.number}/postmortem/publish/"

    clients = [api(manager), api(other_manager)]
    codes = run_together([functools.partial(_publish, client, path) for client in clients])

    assert sorted(codes) == [200, 409]
    assert incident.timeline.filter(kind=EntryKind.POSTMORTEM, data__transition="publish").count() == 1
    assert PostMortem.objects.get().status == "published"
