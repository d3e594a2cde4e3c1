"""A post-mortem's timeline: generated from the incident's events in order with actors, edited, regenerated."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError

from incidents import lifecycle, services
from incidents.choices import EntryKind, MomentSource
from incidents.models import Incident, PostMortemMoment
from incidents.postmortem_timeline import add_moment, regenerate_timeline, remove_moment, update_moment
from incidents.postmortems import submit_postmortem, write_postmortem

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def at(minutes: int) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


@pytest.fixture
def people(reporter: Any, agent: Any, manager: Any, make_user: Any) -> dict[str, Any]:
    return {"rina": reporter, "agus": agent, "maya": manager, "sari": make_user(username="sari")}


@pytest.fixture
def story(people: dict[str, Any]) -> Incident:
    """Report → acknowledge → note → assign → mitigate → resolve, each by someone else at its own minute."""
    with time_machine.travel(at(5), tick=False):
        incident = services.report_incident(
            reporter=people["rina"],
            title="Tracking pages lag the carrier",
            impact="medium",
            urgency="medium",
            started_at=at(-20),
            detected_at=at(-10),
        )
    with time_machine.travel(at(8), tick=False):
        incident = lifecycle.acknowledge_incident(incident=incident, actor=people["agus"], note="Looking")
    with time_machine.travel(at(15), tick=False):
        services.add_note(incident=incident, actor=people["sari"], body="The carrier feed is 2 h behind")
    with time_machine.travel(at(20), tick=False):
        incident = services.assign_incident(incident=incident, actor=people["maya"], assignee=people["sari"])
    with time_machine.travel(at(45), tick=False):
        incident = lifecycle.mitigate_incident(incident=incident, actor=people["sari"], note="Feed restarted")
    with time_machine.travel(at(90), tick=False):
        return lifecycle.resolve_incident(
            incident=incident, actor=people["agus"], root_cause="Feed worker stuck", resolution="Watchdog added"
        )


def rows(incident: Incident) -> list[tuple[dt.datetime, str | None, str, str]]:
    return [
        (row.occurred_at, row.actor.username if row.actor else None, row.source, row.kind)
        for row in PostMortemMoment.objects.filter(postmortem__incident=incident).select_related("actor")
    ]


def test_the_generated_timeline_matches_the_incidents_events_in_order_with_actors(
    story: Incident, people: dict[str, Any]
) -> None:
    with time_machine.travel(at(200), tick=False):
        postmortem = write_postmortem(incident=story, actor=people["agus"])

    assert rows(story) == [
        (at(-20), None, "impact_started", ""),
        (at(-10), None, "detected", ""),
        (at(5), "rina", "entry", "created"),
        (at(8), "agus", "entry", "transition"),
        (at(15), "sari", "entry", "note"),
        (at(20), "maya", "entry", "assignment"),
        (at(45), "sari", "entry", "transition"),
        (at(90), "agus", "entry", "transition"),
    ]
    # Row for row, the incident's own timeline: the same moments, the same people, the same order.
    entries = list(story.timeline.order_by("created_at", "id"))
    generated = list(postmortem.moments.filter(source=MomentSource.ENTRY))
    assert [(r.source_entry_id, r.occurred_at, r.actor_id) for r in generated] == [
        (e.pk, e.created_at, e.actor_id) for e in entries
    ]
    bodies = [row.body for row in postmortem.moments.all()]
    assert bodies[2] == "Reported: Tracking pages lag the carrier (P3)."
    assert bodies[3] == "New → Acknowledged: Looking"
    assert bodies[4] == "Note: The carrier feed is 2 h behind"
    assert "assignee" in bodies[5]
    assert "sari" in bodies[5]
    assert bodies[6] == "Acknowledged → Mitigated: Feed restarted"
    assert bodies[7].startswith("Mitigated → Resolved")
    assert {row.history.get().history_user for row in postmortem.moments.all()} == {people["agus"]}


def test_the_postmortems_own_state_changes_stay_off_its_timeline(story: Incident, agent: Any) -> None:
    postmortem = write_postmortem(incident=story, actor=agent, changes={"summary": "S", "root_cause": "R"})
    submit_postmortem(postmortem=postmortem, actor=agent)
    regenerate_timeline(postmortem=postmortem, actor=agent)
    assert story.timeline.filter(kind=EntryKind.POSTMORTEM).count() == 1
    assert not postmortem.moments.filter(kind=EntryKind.POSTMORTEM).exists()


def test_the_author_edits_adds_removes_and_marks_key_moments(story: Incident, people: dict[str, Any]) -> None:
    agent = people["agus"]
    postmortem = write_postmortem(incident=story, actor=agent)
    mitigation = postmortem.moments.get(kind="transition", occurred_at=at(45))

    mitigation = update_moment(
        moment=mitigation,
        actor=agent,
        changes={"body": "Sari restarted the feed worker", "is_key_moment": True, "occurred_at": at(44)},
    )
    added = add_moment(
        postmortem=postmortem,
        actor=agent,
        occurred_at=at(-25),
        body="Carrier changed its API limits",
        is_key_moment=True,
        by=people["maya"],
    )
    note = postmortem.moments.get(kind="note")
    remove_moment(moment=note, actor=agent)

    assert list(postmortem.moments.values_list("body", flat=True))[:2] == [
        "Carrier changed its API limits",
        "Impact began.",
    ]
    assert (added.source, added.actor, added.is_generated) == (MomentSource.AUTHOR, people["maya"], False)
    assert (mitigation.body, mitigation.occurred_at, mitigation.is_key_moment) == (
        "Sari restarted the feed worker",
        at(44),
        True,
    )
    assert not PostMortemMoment.objects.filter(pk=note.pk).exists()
    removed = PostMortemMoment.history.filter(id=note.pk).latest("history_date")
    assert (removed.history_type, removed.history_user) == ("-", agent)
    assert mitigation.history.latest("history_date").history_user == agent

    with pytest.raises(ValidationError) as refused:
        add_moment(postmortem=postmortem, actor=agent, occurred_at=at(10**7), body=" ")
    assert set(refused.value.message_dict) == {"occurred_at", "body"}


def test_regenerate_keeps_the_authors_rows_and_key_marks_and_rebuilds_the_rest(
    story: Incident, people: dict[str, Any]
) -> None:
    agent = people["agus"]
    with time_machine.travel(at(100), tick=False):
        postmortem = write_postmortem(incident=story, actor=agent)
    acknowledge = postmortem.moments.get(occurred_at=at(8))
    mitigation = postmortem.moments.get(occurred_at=at(45))
    note = postmortem.moments.get(kind="note")
    update_moment(moment=acknowledge, actor=agent, changes={"is_key_moment": True})
    update_moment(moment=mitigation, actor=agent, changes={"body": "Edited by hand", "is_key_moment": True})
    remove_moment(moment=note, actor=agent)
    own = add_moment(postmortem=postmortem, actor=agent, occurred_at=at(50), body="Customers told", is_key_moment=True)
    with time_machine.travel(at(120), tick=False):
        services.add_note(incident=story, actor=people["sari"], body="Watchdog verified")
    # A source that no longer exists takes its row (and its key mark) with it.
    resolution = postmortem.moments.get(occurred_at=at(90))
    update_moment(moment=resolution, actor=agent, changes={"is_key_moment": True})
    assert resolution.source_entry is not None
    resolution.source_entry.delete()

    regenerate_timeline(postmortem=postmortem, actor=agent)

    after = {row.pk: row for row in postmortem.moments.all()}
    assert after[acknowledge.pk].is_key_moment
    assert (after[mitigation.pk].body, after[mitigation.pk].is_key_moment) == (
        "Acknowledged → Mitigated: Feed restarted",
        True,
    )
    assert (after[own.pk].body, after[own.pk].is_key_moment) == ("Customers told", True)
    assert resolution.pk not in after
    restored = postmortem.moments.get(kind="note", occurred_at=at(15))
    assert (restored.body, restored.is_key_moment) == ("Note: The carrier feed is 2 h behind", False)
    assert postmortem.moments.filter(kind="note", occurred_at=at(120), actor=people["sari"]).exists()
    assert [row.occurred_at for row in postmortem.moments.all()] == sorted(row.occurred_at for row in after.values())
    assert [row.is_key_moment for row in postmortem.moments.all()].count(True) == 3
    assert restored.history.get().history_user == agent
