"""Escalation policies: levels, delays, repeats, on-call targets, manual tiers, exactly-once firing."""

import datetime as dt
import threading
import time
from collections import Counter
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from escalation import timers
from escalation.models import (
    ContactMethod,
    EscalationLevel,
    EscalationPolicy,
    EscalationRun,
    LayerParticipant,
    Notification,
    NotificationRule,
    OnCallSchedule,
    RotationLayer,
    Timer,
    TimerFiring,
)
from incidents import lifecycle
from incidents.models import Incident
from tests.threads import run_together

START = dt.datetime(2026, 11, 18, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def responders(make_user: Any) -> dict[str, Any]:
    people = {}
    for name in ("first", "second", "boss", "oncall"):
        user = make_user("agent", username=name)
        user.email = f"{name}@example.com"
        user.save()
        people[name] = user
    return people


@pytest.fixture
def policy(responders: dict[str, Any], service: Any) -> EscalationPolicy:
    policy = EscalationPolicy.objects.create(name="Payments", repeat_count=1)
    first = EscalationLevel.objects.create(policy=policy, position=1, escalate_after=dt.timedelta(minutes=5))
    first.users.add(responders["first"])
    second = EscalationLevel.objects.create(policy=policy, position=2, escalate_after=dt.timedelta(minutes=10))
    second.users.add(responders["second"])
    second.manager_teams.add(service.owner_team)
    service.owner_team.managers.add(responders["boss"])
    service.escalation_policy = policy
    service.save()
    return policy


def paged(incident: Any) -> list[tuple[str, int | None]]:
    rows = Notification.objects.filter(incident=incident, kind="page").select_related("user").order_by("id")
    return [(n.user.username if n.user else "", n.level) for n in rows]


@pytest.mark.django_db
def test_p1_pages_level_by_level_until_acknowledged(make_incident: Any, service: Any, policy: Any, agent: Any) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high", services=[service])
        timers.sweep_due_timers()
        assert paged(incident) == [("first", 1)]

        traveller.move_to(START + dt.timedelta(minutes=4, seconds=59))
        timers.sweep_due_timers()
        assert paged(incident) == [("first", 1)]

        traveller.move_to(START + dt.timedelta(minutes=5))
        timers.sweep_due_timers()
        assert paged(incident) == [("first", 1), ("second", 2), ("boss", 2)]

        traveller.move_to(START + dt.timedelta(minutes=6))
        lifecycle.acknowledge_incident(incident=incident, actor=agent)
        traveller.move_to(START + dt.timedelta(hours=2))
        timers.sweep_due_timers()

    assert paged(incident) == [("first", 1), ("second", 2), ("boss", 2)]
    run = EscalationRun.objects.get(incident=incident)
    assert (run.trigger, run.stop_reason) == ("created", "acknowledged")
    assert not Timer.objects.filter(
        incident=incident, purpose="escalation_step", fired_at=None, cancelled_at=None
    ).exists()
    bodies = list(incident.timeline.filter(data__has_key="paged").values_list("body", flat=True))
    assert bodies == ["Paged first (level 1).", "Paged second, boss (level 2)."]


@pytest.mark.django_db
def test_repeats_then_stops(make_incident: Any, service: Any, policy: Any) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high", services=[service])
        for minutes in (0, 5, 15, 20, 30, 60):
            traveller.move_to(START + dt.timedelta(minutes=minutes))
            timers.sweep_due_timers()
    levels = [level for _, level in paged(incident)]
    assert levels == [1, 2, 2, 1, 2, 2]
    assert EscalationRun.objects.get(incident=incident).stop_reason == "all levels paged"


@pytest.mark.django_db
def test_steps_that_fire_out_of_order_each_page_and_the_run_ends_after_the_last(
    make_incident: Any, service: Any, policy: Any
) -> None:
    # After the workers were away, every step of a run is overdue at once, and the wake-ups may
    # take them in any order: the last one firing first must not end the run before the others page.
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high", services=[service])
        steps = list(Timer.objects.filter(incident=incident, purpose="escalation_step").order_by("-level"))
        assert [step.level for step in steps] == [3, 2, 1, 0]
        traveller.move_to(START + dt.timedelta(hours=1))
        run = EscalationRun.objects.get(incident=incident)

        for fired, step in enumerate(steps, 1):
            assert timers.fire_timer(timer_id=step.pk, version=step.version) is True
            run.refresh_from_db()
            assert (run.stopped_at is not None) == (fired == len(steps)), f"after {fired} step(s)"

    assert Counter(level for _, level in paged(incident)) == {1: 2, 2: 4}
    assert TimerFiring.objects.filter(incident=incident, purpose="escalation_step").count() == 4
    assert run.stop_reason == "all levels paged"


@pytest.mark.django_db
def test_policy_snapshot_is_not_moved_by_later_edits(
    make_incident: Any, service: Any, policy: Any, responders: Any
) -> None:
    with time_machine.travel(START, tick=False) as traveller:
        incident = make_incident(impact="high", urgency="high", services=[service])
        level = policy.levels.get(position=2)
        level.users.set([responders["oncall"]])
        traveller.move_to(START + dt.timedelta(minutes=5))
        timers.sweep_due_timers()
    assert ("second", 2) in paged(incident)
    assert ("oncall", 2) not in paged(incident)


@pytest.mark.django_db
def test_on_call_person_of_a_team_is_paged(make_incident: Any, service: Any, responders: Any, team: Any) -> None:
    policy = EscalationPolicy.objects.create(name="On call", is_default=True)
    level = EscalationLevel.objects.create(policy=policy, position=1)
    level.oncall_teams.add(team)
    schedule = OnCallSchedule.objects.create(team=team, name="Primary", time_zone="Asia/Jakarta")
    layer = RotationLayer.objects.create(
        schedule=schedule, name="Weekly", start_date=dt.date(2026, 11, 2), rotation_length=dt.timedelta(days=7)
    )
    LayerParticipant.objects.create(layer=layer, user=responders["second"], position=1)
    LayerParticipant.objects.create(layer=layer, user=responders["oncall"], position=2)

    # Weekly turns from Monday 2 November 09:00 Jakarta: 2 Nov second, 9 Nov oncall, 16 Nov second.
    with time_machine.travel(START, tick=False):
        incident = make_incident(impact="high", urgency="high")
        timers.sweep_due_timers()
    assert paged(incident) == [("second", 1)]


@pytest.mark.django_db
def test_notification_rules_choose_channels_and_delays(
    make_incident: Any, service: Any, policy: Any, responders: Any
) -> None:
    first = responders["first"]
    hook = ContactMethod.objects.create(user=first, channel="webhook", address="http://127.0.0.1:9/hook")
    chat = ContactMethod.objects.create(user=first, channel="slack", address="http://127.0.0.1:9/chat")
    NotificationRule.objects.create(user=first, contact_method=hook)
    NotificationRule.objects.create(user=first, contact_method=chat, delay=dt.timedelta(minutes=2))
    with time_machine.travel(START, tick=False):
        incident = make_incident(impact="high", urgency="high", services=[service])
        timers.sweep_due_timers()
    rows = Notification.objects.filter(incident=incident).order_by("id")
    assert [(n.channel, n.next_attempt_at - START) for n in rows] == [
        ("webhook", dt.timedelta(0)),
        ("slack", dt.timedelta(minutes=2)),
    ]


@pytest.mark.django_db
def test_p3_pages_only_when_its_acknowledge_sla_warns(make_incident: Any, service: Any, policy: Any) -> None:
    with time_machine.travel(dt.datetime(2026, 11, 16, 9, tzinfo=dt.UTC), tick=False) as traveller:
        incident = make_incident(impact="medium", urgency="medium", services=[service])
        timers.sweep_due_timers()
        assert paged(incident) == []
        traveller.move_to(dt.datetime(2026, 11, 16, 12, tzinfo=dt.UTC))  # 75% of 4 business hours
        timers.sweep_due_timers()
    assert paged(incident) == [("first", 1)]
    assert EscalationRun.objects.get(incident=incident).trigger == "sla_warning"


@pytest.mark.django_db
def test_a_step_fires_exactly_once(make_incident: Any, service: Any, policy: Any) -> None:
    with time_machine.travel(START, tick=False):
        incident = make_incident(impact="high", urgency="high", services=[service])
        step = Timer.objects.get(incident=incident, purpose="escalation_step", level=0)

        assert timers.fire_timer(timer_id=step.pk, version=step.version) is True
        assert timers.fire_timer(timer_id=step.pk, version=step.version) is False
        assert timers.fire_timer(timer_id=step.pk) is False
        # Even if the timer row were wrongly reset, the firing's unique key refuses a second page.
        Timer.objects.filter(pk=step.pk).update(fired_at=None)
        assert timers.fire_timer(timer_id=step.pk) is False

    assert paged(incident) == [("first", 1)]
    assert TimerFiring.objects.filter(incident=incident, purpose="escalation_step").count() == 1


@pytest.mark.django_db
def test_arming_sets_new_steps_moves_pending_ones_and_leaves_fired_ones(make_incident: Any) -> None:
    with time_machine.travel(START, tick=False):
        incident = make_incident(impact="low", urgency="low")
        at = [START + dt.timedelta(minutes=minutes) for minutes in (0, 5, 10, 15)]
        first = timers.arm_timers(
            incident=incident, purpose="escalation_step", clock="test", steps=[(0, at[0]), (1, at[1])]
        )
        assert [(t.level, t.version) for t in first] == [(0, 1), (1, 1)]
        Timer.objects.filter(pk=first[0].pk).update(fired_at=START)
        timers.disarm_timers(incident=incident, clock="test")

        again = timers.arm_timers(
            incident=incident, purpose="escalation_step", clock="test", steps=[(0, at[2]), (1, at[2]), (2, at[3])]
        )

        # Step 0 fired: left out and untouched. Step 1 moved and armed again. Step 2 is new.
        assert [(t.level, t.pk) for t in again] == [(1, first[1].pk), (2, again[1].pk)]
        rows = {t.level: t for t in Timer.objects.filter(incident=incident, clock="test")}
        assert (rows[0].due_at, rows[0].version, rows[0].fired_at) == (at[0], 1, START)
        assert (rows[1].due_at, rows[1].version, rows[1].cancelled_at) == (at[2], 3, None)
        assert (rows[2].due_at, rows[2].version) == (at[3], 1)
        assert [t.version for t in again] == [rows[1].version, rows[2].version]
        assert timers.arm_timer(incident=incident, purpose="escalation_step", clock="test", due_at=at[3]) is None


@pytest.mark.django_db
def test_stale_or_early_wake_ups_do_nothing(make_incident: Any, service: Any, policy: Any) -> None:
    with time_machine.travel(START, tick=False):
        incident = make_incident(impact="high", urgency="high", services=[service])
        second = Timer.objects.get(incident=incident, purpose="escalation_step", level=1)
        assert timers.fire_timer(timer_id=second.pk, version=second.version) is False  # not due yet
        assert timers.fire_timer(timer_id=second.pk, version=second.version + 1) is False
    assert Timer.objects.get(pk=second.pk).fired_at is None


@pytest.mark.django_db
def test_manual_escalation_pages_the_next_tier(
    make_incident: Any, service: Any, policy: Any, agent: Any, reporter: Any, api: Any
) -> None:
    incident = make_incident(impact="medium", urgency="medium", services=[service])
    path = f"/api/v1/incidents/{incident.number}/escalate/"

    assert api(reporter).post(path, {"note": "Please help"}).status_code == 403
    response = api(agent).post(path, {"note": "Needs the database team"})
    assert response.status_code == 200, response.json()
    assert response.json()["support_tier"] == 2
    assert paged(incident) == [("second", 2), ("boss", 2)]
    assert incident.history.first().history_user == agent

    top = api(agent).post(path, {})
    assert top.status_code == 400
    assert "highest support tier" in top.json()["non_field_errors"][0]
    assert paged(incident) == [("second", 2), ("boss", 2)]


@pytest.mark.django_db
def test_escalation_without_a_policy_is_said_on_the_timeline(make_incident: Any) -> None:
    incident = make_incident(impact="high", urgency="high")
    assert incident.timeline.filter(data__escalation="no_policy").count() == 1
    assert not EscalationRun.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_step_firing_while_the_incident_is_acknowledged_waits_instead_of_deadlocking(
    make_incident: Any, service: Any, policy: Any, agent: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    incident = make_incident(impact="high", urgency="high", services=[service])
    step = Timer.objects.filter(purpose="escalation_step", fired_at=None, cancelled_at=None).order_by("level").first()
    assert step is not None
    Timer.objects.filter(pk=step.pk).update(due_at=timezone.now() - dt.timedelta(seconds=1))

    # The firing pauses inside its transaction until the acknowledgement has started, so the two
    # overlap every time; taken in opposite orders, their locks deadlocked here.
    claimed, acknowledging = threading.Event(), threading.Event()
    page_step = timers._ACTIONS["escalation_step"]

    def slow_page_step(timer: Timer) -> None:
        claimed.set()
        acknowledging.wait(timeout=10)
        time.sleep(0.5)
        page_step(timer)

    monkeypatch.setitem(timers._ACTIONS, "escalation_step", slow_page_step)
    failures: list[BaseException] = []

    def fire() -> bool:
        try:
            return timers.fire_timer(timer_id=step.pk)
        except BaseException as error:  # noqa: BLE001 — reported by the assertion below
            failures.append(error)
            raise

    def acknowledge() -> Any:
        claimed.wait(timeout=10)
        acknowledging.set()
        try:
            return lifecycle.acknowledge_incident(incident=Incident.objects.get(pk=incident.pk), actor=agent)
        except BaseException as error:  # noqa: BLE001
            failures.append(error)
            raise

    fired, acknowledged = run_together([fire, acknowledge])
    assert failures == []
    assert fired is True
    assert acknowledged.state == "acknowledged"
    # The step fired first and paged its level; the acknowledgement then stopped the run.
    assert Notification.objects.filter(incident=incident, kind="page", level=step.level % 2 + 1).exists()
    assert TimerFiring.objects.filter(timer=step).count() == 1
    run = EscalationRun.objects.get(incident=incident)
    assert run.stop_reason == "acknowledged"
    assert not Timer.objects.filter(incident=incident, purpose="escalation_step", fired_at=None, cancelled_at=None)
