"""The demo data's closed P1: a published post-mortem with a believable story and open follow-ups."""

from io import StringIO

import pytest
from django.core.management import call_command

from incidents.models import ActionItem, Incident, PostMortem, PostMortemMoment
from incidents.postmortem_selectors import overdue_condition

pytestmark = pytest.mark.django_db


def snapshot() -> tuple[int, ...]:
    return (
        Incident.objects.count(),
        PostMortem.objects.count(),
        PostMortemMoment.objects.count(),
        ActionItem.objects.count(),
    )


def test_the_demo_has_a_closed_p1_with_its_published_postmortem_and_open_items() -> None:
    call_command("load_demo_data", stdout=StringIO())

    incident = Incident.objects.get(title="Login outage after certificate expiry")
    assert (incident.priority, incident.state) == ("P1", "closed")
    postmortem = incident.postmortem
    assert (postmortem.status, postmortem.published_by.username, postmortem.author.username) == (
        "published",
        "maya",
        "agus",
    )
    for field in ("summary", "root_cause", "contributing_factors", "what_went_well", "what_went_badly", "lessons"):
        assert getattr(postmortem, field).strip(), field
    assert postmortem.downtime is not None
    assert postmortem.downtime.total_seconds() == 40 * 60
    moments = list(postmortem.moments.all())
    assert [m.occurred_at for m in moments] == sorted(m.occurred_at for m in moments)
    key = [m for m in moments if m.is_key_moment]
    assert len(key) >= 4
    assert any(m.source == "author" for m in key)
    assert {m.actor.username for m in moments if m.actor} >= {"maya", "agus", "sari"}
    # The story happened within the impact window, not when the demo was loaded.
    mitigated = next(m for m in moments if m.body.startswith("Investigating → Mitigated"))
    assert mitigated.occurred_at == postmortem.downtime_ended_at

    items = ActionItem.objects.filter(incident=incident)
    pending = items.filter(status__in=["open", "in_progress"])
    assert pending.count() >= 2
    assert pending.filter(overdue_condition()).count() == 1
    assert items.filter(status="done").exists()
    assert all(item.owner is not None and item.due_date is not None for item in items)


def test_loading_the_demo_twice_changes_nothing() -> None:
    call_command("load_demo_data", stdout=StringIO())
    first = snapshot()
    output = StringIO()
    call_command("load_demo_data", stdout=output)
    assert snapshot() == first
    assert "exists  Login outage after certificate expiry" in output.getvalue()
