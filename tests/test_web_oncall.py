"""The on-call page (now, the coming weeks, my shifts, overrides) and acknowledging my pages from the UI."""

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from escalation.models import (
    Channel,
    ContactMethod,
    LayerParticipant,
    Notification,
    OnCallSchedule,
    ResponderProfile,
    RotationLayer,
    ScheduleOverride,
    Team,
)
from escalation.paging import page_users
from incidents.choices import EntryKind, State
from incidents.lifecycle import acknowledge_incident, cancel_incident
from incidents.models import Incident
from incidents.roles import AGENT
from tests.admin_helpers import admin_url

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)  # a Monday
WEEK = dt.timedelta(weeks=1)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def frozen_clock() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def make_schedule(team: Team, name: str = "Primary", *, time_zone: str = "UTC") -> OnCallSchedule:
    return OnCallSchedule.objects.create(team=team, name=name, time_zone=time_zone)


def add_layer(
    schedule: OnCallSchedule,
    users: Sequence[Any],
    *,
    start_date: dt.date = dt.date(2026, 2, 23),
    rotation_length: dt.timedelta = WEEK,
) -> RotationLayer:
    layer = RotationLayer.objects.create(
        schedule=schedule,
        name="Weekly",
        start_date=start_date,
        handoff_time=dt.time(9),
        rotation_length=rotation_length,
    )
    for turn, user in enumerate(users, start=1):
        LayerParticipant.objects.create(layer=layer, user=user, position=turn)
    return layer


@pytest.fixture
def ana(make_user: Callable[..., Any]) -> Any:
    user = make_user(AGENT, username="ana")
    user.first_name, user.last_name, user.email = "Ana", "Lima", "ana@example.com"
    user.save()
    return user


@pytest.fixture
def budi(make_user: Callable[..., Any]) -> Any:
    user = make_user(AGENT, username="budi")
    user.first_name, user.email = "Budi", "budi@example.com"
    user.save()
    return user


@pytest.fixture
def rota(ana: Any, budi: Any) -> dict[str, OnCallSchedule]:
    """Payments: ana and budi take weeks, handing off Mondays 09:00 UTC (budi's week began today). Network: nobody."""
    payments = Team.objects.create(name="Payments", slug="payments")
    network = Team.objects.create(name="Network", slug="network")
    primary = make_schedule(payments)
    add_layer(primary, [ana, budi])
    return {"primary": primary, "nights": make_schedule(network, "Nights")}


def now_rows(response: Any) -> list[tuple[str, str, str | None, dt.datetime | None]]:
    return [
        (team["team"].name, row["schedule"].name, row["user"].username if row["user"] else None, row["until"])
        for team in response.context["teams"]
        for row in team["schedules"]
    ]


def shift_rows(shifts: Sequence[Any]) -> list[tuple[str, dt.datetime, dt.datetime]]:
    return [(shift.user.username, shift.starts_at, shift.ends_at) for shift in shifts]


# --- Who is on call ---------------------------------------------------------------


def test_who_is_on_call_now_per_team_with_contact(ana: Any, rota: dict[str, OnCallSchedule]) -> None:
    ContactMethod.objects.create(
        user=rota["primary"].layers.get().participants.get(position=2).user,
        channel=Channel.EMAIL,
        address="budi.phone@example.com",
    )
    response = client_for(ana).get("/oncall/")
    html = response.content.decode()
    assert response.status_code == 200
    assert now_rows(response) == [
        ("Network", "Nights", None, None),
        ("Payments", "Primary", "budi", utc("2026-03-09T09:00")),
    ]
    assert "⚠ Nobody" in html  # not colour alone
    assert '<a href="mailto:budi@example.com">' in html
    assert '<a href="mailto:budi.phone@example.com">' in html
    feed = f"http://testserver/oncall/schedules/{rota['primary'].feed_token}.ics"
    assert f'<a href="{feed}">' in html
    assert Client().get(feed.removeprefix("http://testserver")).status_code == 200


def test_times_are_shown_in_the_viewers_time_zone(ana: Any, rota: dict[str, OnCallSchedule]) -> None:
    ResponderProfile.objects.create(user=ana, time_zone="Asia/Jakarta")
    html = client_for(ana).get("/oncall/").content.decode()
    assert '<time datetime="2026-03-09T16:00:00+07:00">' in html  # budi's week ends 09:00 UTC


def test_the_next_two_weeks_by_default_or_as_chosen(ana: Any, rota: dict[str, OnCallSchedule]) -> None:
    client = client_for(ana)
    primary = rota["primary"].pk

    def coming(query: str) -> list[tuple[str, dt.datetime, dt.datetime]]:
        response = client.get(f"/oncall/{query}")
        rows = [row for team in response.context["teams"] for row in team["schedules"]]
        return shift_rows(next(row["shifts"] for row in rows if row["schedule"].pk == primary))

    two_weeks = [
        ("budi", NOW, utc("2026-03-09T09:00")),
        ("ana", utc("2026-03-09T09:00"), utc("2026-03-16T09:00")),
        ("budi", utc("2026-03-16T09:00"), NOW + 2 * WEEK),
    ]
    assert coming("") == two_weeks
    assert coming("?weeks=99") == two_weeks  # not an offered choice: the default
    assert coming("?weeks=1") == [("budi", NOW, utc("2026-03-09T09:00")), ("ana", utc("2026-03-09T09:00"), NOW + WEEK)]
    assert len(coming("?weeks=4")) == 5
    html = client.get("/oncall/?weeks=4").content.decode()
    assert '<option value="4" selected>' in html
    assert "The next 4 weeks" in html


def test_my_shifts_across_schedules(ana: Any, budi: Any, rota: dict[str, OnCallSchedule]) -> None:
    backup = make_schedule(rota["primary"].team, "Backup")
    add_layer(backup, [budi, ana])  # ana's week there is this one
    response = client_for(ana).get("/oncall/")
    mine = [
        (schedule.name, *row)
        for schedule, row in zip(
            [schedule for schedule, _shift in response.context["my_shifts"]],
            shift_rows([shift for _schedule, shift in response.context["my_shifts"]]),
            strict=True,
        )
    ]
    assert mine == [
        ("Backup", "ana", NOW, utc("2026-03-09T09:00")),
        ("Primary", "ana", utc("2026-03-09T09:00"), utc("2026-03-16T09:00")),
        ("Backup", "ana", utc("2026-03-16T09:00"), NOW + 2 * WEEK),
    ]
    assert 'class="my-shift"' in response.content.decode()


def test_the_page_is_for_those_who_may_see_schedules(reporter: Any, ana: Any, rota: dict[str, OnCallSchedule]) -> None:
    assert client_for(reporter).get("/oncall/").status_code == 403
    assert 'href="/oncall/"' not in client_for(reporter).get("/").content.decode()
    assert 'href="/oncall/"' in client_for(ana).get("/").content.decode()


# --- Overrides ------------------------------------------------------------------


def override_data(schedule: OnCallSchedule, user: Any, starts: str, ends: str, reason: str = "Swap") -> dict[str, Any]:
    return {"schedule": schedule.pk, "user": user.username, "starts_at": starts, "ends_at": ends, "reason": reason}


def test_an_agent_adds_an_override_in_their_own_time_zone(ana: Any, rota: dict[str, OnCallSchedule]) -> None:
    ResponderProfile.objects.create(user=ana, time_zone="Asia/Jakarta")
    client = client_for(ana)
    # 16:00 to 20:00 in Jakarta is 09:00 to 13:00 UTC.
    response = client.post(
        "/oncall/overrides/", override_data(rota["primary"], ana, "2026-03-02T16:00", "2026-03-02T20:00")
    )
    assert (response.status_code, response["Location"]) == (302, "/oncall/#overrides")
    override = ScheduleOverride.objects.get()
    assert (override.schedule, override.user, override.starts_at, override.ends_at, override.reason) == (
        rota["primary"],
        ana,
        utc("2026-03-02T09:00"),
        utc("2026-03-02T13:00"),
        "Swap",
    )
    latest = override.history.get()
    assert (latest.history_user, latest.history_change_reason) == (ana, "override added")

    page = client.get("/oncall/")
    assert ("Payments", "Primary", "ana", utc("2026-03-02T13:00")) in now_rows(page)
    assert [o.pk for o in page.context["overrides"]] == [override.pk]


def test_a_bad_override_is_refused_by_field_keeping_what_was_typed(ana: Any, rota: dict[str, OnCallSchedule]) -> None:
    client = client_for(ana)
    backwards = client.post(
        "/oncall/overrides/", override_data(rota["primary"], ana, "2026-03-03T12:00", "2026-03-03T08:00", "Dentist")
    )
    html = backwards.content.decode()
    assert backwards.status_code == 400
    assert 'id="id_ends_at_error"' in html
    assert "The override must end after it starts." in html
    assert 'value="Dentist"' in html
    assert 'value="2026-03-03T12:00"' in html
    assert "<details open>" in html

    over = client.post(
        "/oncall/overrides/", override_data(rota["primary"], ana, "2026-03-01T08:00", "2026-03-01T12:00")
    )
    assert over.status_code == 400
    assert "already over" in over.content.decode()
    missing = client.post("/oncall/overrides/", {"schedule": rota["primary"].pk})
    assert missing.status_code == 400
    assert 'id="id_user_error"' in missing.content.decode()
    assert not ScheduleOverride.objects.exists()


def test_an_inactive_person_cannot_take_a_shift(ana: Any, budi: Any, rota: dict[str, OnCallSchedule]) -> None:
    budi.is_active = False
    budi.save()
    response = client_for(ana).post(
        "/oncall/overrides/", override_data(rota["primary"], budi, "2026-03-03T08:00", "2026-03-03T12:00")
    )
    assert response.status_code == 400
    assert not ScheduleOverride.objects.exists()


def test_reporters_may_not_add_overrides(reporter: Any, ana: Any, rota: dict[str, OnCallSchedule]) -> None:
    response = client_for(reporter).post(
        "/oncall/overrides/", override_data(rota["primary"], ana, "2026-03-03T08:00", "2026-03-03T12:00")
    )
    assert response.status_code == 403
    assert not ScheduleOverride.objects.exists()


def test_the_override_form_shows_only_to_those_who_may_add_one(
    make_user: Callable[..., Any], ana: Any, rota: dict[str, OnCallSchedule]
) -> None:
    viewer = make_user(None, username="viewer")
    viewer.user_permissions.add(Permission.objects.get(codename="view_oncallschedule"))
    client = client_for(viewer)
    assert "Add an override" not in client.get("/oncall/").content.decode()
    assert (
        client.post(
            "/oncall/overrides/", override_data(rota["primary"], ana, "2026-03-03T08:00", "2026-03-03T12:00")
        ).status_code
        == 403
    )
    assert not ScheduleOverride.objects.exists()
    assert "Add an override" in client_for(ana).get("/oncall/").content.decode()


def admin_schedule_data(schedule: OnCallSchedule, rows: list[dict[str, str]]) -> dict[str, str]:
    data = {
        "team": str(schedule.team_id),
        "name": schedule.name,
        "time_zone": schedule.time_zone,
        "layers-TOTAL_FORMS": "0",
        "layers-INITIAL_FORMS": "0",
        "overrides-TOTAL_FORMS": str(len(rows)),
        "overrides-INITIAL_FORMS": str(sum(1 for row in rows if row.get("id"))),
    }
    for index, row in enumerate(rows):
        data |= {f"overrides-{index}-{name}": value for name, value in row.items()}
        data[f"overrides-{index}-schedule"] = str(schedule.pk)
    return data


def test_the_admin_writes_overrides_through_the_same_function(
    root_client: Client, staff_admin: Any, ana: Any, rota: dict[str, OnCallSchedule]
) -> None:
    schedule = rota["primary"]
    schedule.layers.all().delete()  # the layer inline is not part of this form
    row = {
        "id": "",
        "user": str(ana.pk),
        "starts_at_0": "2026-03-03",
        "starts_at_1": "08:00:00",
        "ends_at_0": "2026-03-03",
        "ends_at_1": "12:00:00",
        "reason": "Cover",
    }
    past = row | {"starts_at_0": "2026-03-01", "ends_at_0": "2026-03-01"}
    url = admin_url(OnCallSchedule, "change", schedule.pk)

    refused = root_client.post(url, admin_schedule_data(schedule, [past]))
    assert refused.status_code == 200
    assert "already over" in refused.content.decode()
    assert not ScheduleOverride.objects.exists()

    assert root_client.post(url, admin_schedule_data(schedule, [row])).status_code == 302
    override = ScheduleOverride.objects.get()
    latest = override.history.get()
    assert (override.user, override.starts_at, latest.history_user, latest.history_change_reason) == (
        ana,
        utc("2026-03-03T08:00"),
        staff_admin,
        "override added",
    )

    changed = row | {"id": str(override.pk), "ends_at_1": "14:00:00"}
    assert root_client.post(url, admin_schedule_data(schedule, [changed])).status_code == 302
    override.refresh_from_db()
    assert override.ends_at == utc("2026-03-03T14:00")
    assert override.history.first().history_change_reason == "override changed: ends_at"

    removed = changed | {"DELETE": "on"}
    assert root_client.post(url, admin_schedule_data(schedule, [removed])).status_code == 302
    assert not ScheduleOverride.objects.exists()
    assert ScheduleOverride.history.filter(history_type="-").get().history_user == staff_admin


# --- My pages -------------------------------------------------------------------


def page(incident: Incident, user: Any, level: int = 1) -> Notification:
    [notification] = page_users(incident=incident, users=[user], key=f"test:{incident.pk}:{level}", level=level)
    return notification


def ack_entries(incident: Incident) -> int:
    return incident.timeline.filter(kind=EntryKind.TRANSITION, data__transition="acknowledge").count()


def test_my_pages_list_the_open_incidents_i_was_paged_for(
    ana: Any, budi: Any, make_incident: Callable[..., Incident]
) -> None:
    older = make_incident(title="Checkout down")
    newer = make_incident(title="Search slow")
    acknowledged = make_incident(title="Already handled")
    finished = make_incident(title="False alarm")
    first = page(older, ana)
    with time_machine.travel(NOW + dt.timedelta(minutes=5), tick=False):
        second = page(newer, ana)
        page(acknowledged, ana)
        page(finished, ana)
    page(newer, budi)
    acknowledge_incident(incident=acknowledged, actor=budi)
    cancel_incident(incident=finished, actor=budi, reason="Monitoring glitch")

    response = client_for(ana).get("/oncall/pages/")
    html = response.content.decode()
    shown = [row["notification"].pk for row in response.context["rows"]]
    assert shown[1:] == [second.pk, first.pk]  # newest first, only mine, only open incidents
    assert response.context["rows"][0]["notification"].incident == acknowledged
    assert f'action="/oncall/pages/{first.pk}/acknowledge/"' in html
    assert "✓ Acknowledged" in html
    assert "False alarm" not in html


def test_acknowledging_a_page_from_the_ui(ana: Any, make_incident: Callable[..., Incident]) -> None:
    incident = make_incident(title="Checkout down")
    notification = page(incident, ana)
    client = client_for(ana)

    response = client.post(f"/oncall/pages/{notification.pk}/acknowledge/")
    assert (response.status_code, response["Location"]) == (302, "/oncall/pages/")
    incident.refresh_from_db()
    assert (incident.state, incident.acknowledged_at) == (State.ACKNOWLEDGED, NOW)
    assert incident.history.first().history_user == ana
    entry = incident.timeline.get(kind=EntryKind.TRANSITION)
    assert (entry.actor, entry.data["transition"]) == (ana, "acknowledge")
    follow = client.get("/oncall/pages/").content.decode()
    assert f"{incident.number} acknowledged" in follow
    assert f'action="/oncall/pages/{notification.pk}/acknowledge/"' not in follow

    again = client.post(f"/oncall/pages/{notification.pk}/acknowledge/", follow=True)
    assert again.status_code == 200
    assert f"{incident.number} was already acknowledged." in again.content.decode()
    assert ack_entries(incident) == 1


def test_a_page_about_an_incident_that_moved_on_is_a_409_with_a_message(
    ana: Any, budi: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Checkout down")
    notification = page(incident, ana)
    cancel_incident(incident=incident, actor=budi, reason="Duplicate")
    response = client_for(ana).post(f"/oncall/pages/{notification.pk}/acknowledge/")
    assert response.status_code == 409
    assert f"{incident.number} is Cancelled now: there is nothing to acknowledge." in response.content.decode()
    incident.refresh_from_db()
    assert (incident.state, incident.acknowledged_at) == (State.CANCELLED, None)


def test_someone_elses_page_is_not_found(ana: Any, budi: Any, make_incident: Callable[..., Incident]) -> None:
    incident = make_incident(title="Checkout down")
    theirs = page(incident, budi)
    assert client_for(ana).post(f"/oncall/pages/{theirs.pk}/acknowledge/").status_code == 404
    incident.refresh_from_db()
    assert incident.state == State.NEW
    assert client_for(ana).get(f"/oncall/pages/{theirs.pk}/acknowledge/").status_code == 405


def test_the_on_call_page_counts_the_pages_waiting(
    ana: Any, rota: dict[str, OnCallSchedule], make_incident: Any
) -> None:
    page(make_incident(title="One"), ana)
    page(make_incident(title="Two"), ana)
    assert "My pages (2 waiting)" in client_for(ana).get("/oncall/").content.decode()


# --- Query counts ---------------------------------------------------------------


def test_the_on_call_page_costs_the_same_queries_whatever_it_shows(
    make_user: Callable[..., Any], ana: Any, rota: dict[str, OnCallSchedule]
) -> None:
    client = client_for(ana)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/oncall/?weeks=4").status_code == 200
    for index in range(6):
        team = Team.objects.create(name=f"Team {index}", slug=f"team-{index}")
        people = [make_user(AGENT, username=f"p{index}-{turn}") for turn in range(3)]
        for person in people:
            ContactMethod.objects.create(user=person, channel=Channel.EMAIL, address=f"{person.username}@example.com")
        for name in ("Day", "Night"):
            schedule = make_schedule(team, name)
            add_layer(schedule, [*people, ana], rotation_length=dt.timedelta(days=1))
            ScheduleOverride.objects.create(
                schedule=schedule,
                user=people[0],
                starts_at=NOW + dt.timedelta(days=2),
                ends_at=NOW + dt.timedelta(days=3),
            )
    with CaptureQueriesContext(connection) as many:
        response = client.get("/oncall/?weeks=4")
    assert sum(len(row["shifts"]) for team in response.context["teams"] for row in team["schedules"]) > 300
    assert len(response.context["my_shifts"]) > 50
    assert len(many) == len(few)


def test_my_pages_cost_the_same_queries_whatever_they_show(ana: Any, make_incident: Callable[..., Incident]) -> None:
    client = client_for(ana)
    page(make_incident(title="first"), ana)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/oncall/pages/").status_code == 200
    for index in range(15):
        incident = make_incident(title=f"more {index}")
        page(incident, ana)
        if index % 3 == 0:
            acknowledge_incident(incident=incident, actor=ana)
    with CaptureQueriesContext(connection) as many:
        response = client.get("/oncall/pages/")
    assert len(response.context["rows"]) == 16
    assert len(many) == len(few)
