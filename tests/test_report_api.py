"""`GET /api/v1/reports/summary/`: the period's metrics as JSON, for managers, with a 400 per bad field."""

import datetime as dt
from typing import Any

import pytest
import time_machine

from escalation.models import Team
from incidents.choices import State
from incidents.models import Incident, Service

URL = "/api/v1/reports/summary/"


@pytest.fixture
def march(db: None) -> None:
    team = Team.objects.create(name="One", slug="one")
    service = Service.objects.create(name="Service one", slug="s1", owner_team=team)
    for day, priority in ((2, "P1"), (3, "P2"), (3, "P2")):
        created = dt.datetime(2026, 3, day, 3, tzinfo=dt.UTC)
        made = Incident.objects.create(
            title=f"on {day}",
            priority=priority,
            team=team,
            state=State.RESOLVED,
            created_at=created,
            started_at=created,
            acknowledged_at=created + dt.timedelta(minutes=day * 10),
            mitigated_at=created + dt.timedelta(hours=1),
            resolved_at=created + dt.timedelta(hours=2),
        )
        made.services.add(service)


@pytest.mark.django_db
def test_a_manager_gets_the_summary_with_the_previous_period(march: None, manager: Any, api: Any) -> None:
    response = api(manager).get(URL, {"start": "2026-03-01", "end": "2026-03-31", "tz": "Asia/Jakarta", "compare": 1})
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {
        "start": "2026-03-01",
        "end": "2026-03-31",
        "time_zone": "Asia/Jakarta",
        "starts_at": "2026-02-28T17:00:00Z",
        "ends_at": "2026-03-31T17:00:00Z",
    }
    assert body["total"] == 3
    assert {t["key"]: t["count"] for t in body["by_priority"]} == {"P1": 1, "P2": 2, "P3": 0, "P4": 0}
    assert body["response_times"]["acknowledge"] == {
        "count": 3,
        "mean_seconds": 1600.0,
        "median_seconds": 1800.0,
        "p90_seconds": 1800.0,
    }
    assert body["availability"][0]["service"] == "s1"
    assert body["availability"][0]["downtime_seconds"] == 7200.0  # the two on the 3rd overlap
    assert body["sla"]["response_compliance_percent"] is None
    assert body["previous"]["period"]["end"] == "2026-02-28"
    assert body["previous"]["total"] == 0
    assert len(body["over_time"]) == 31


@pytest.mark.django_db
def test_filters_narrow_the_summary(march: None, manager: Any, api: Any) -> None:
    response = api(manager).get(URL + "?start=2026-03-01&end=2026-03-31&priority=P2&service=s1")
    assert response.status_code == 200
    assert response.json()["total"] == 2
    assert response.json()["filters"] == {"service": ["s1"], "priority": ["P2"]}
    assert "previous" not in response.json() or response.json()["previous"] is None


@pytest.mark.django_db
def test_without_dates_the_last_30_whole_days(manager: Any, api: Any) -> None:
    with time_machine.travel(dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC)):
        response = api(manager).get(URL, {"tz": "UTC"})
    assert (response.json()["period"]["start"], response.json()["period"]["end"]) == ("2026-10-22", "2026-11-20")


@pytest.mark.django_db
def test_bad_parameters_are_a_400_naming_each_field(manager: Any, api: Any) -> None:
    response = api(manager).get(
        URL, {"start": "1 March", "end": "2026-02-30", "tz": "Mars/Olympus", "priority": "P9", "service": "nope"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"start", "end", "tz", "priority", "service"}

    response = api(manager).get(URL, {"start": "2026-03-10", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "end" in response.json()

    response = api(manager).get(URL, {"start": "2000-01-01", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "end" in response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["reporter", "agent"])
def test_only_managers_see_reports(role: str, make_user: Any, api: Any) -> None:
    assert api(make_user(role)).get(URL).status_code == 403


@pytest.mark.django_db
def test_anonymous_is_refused(client: Any) -> None:
    assert client.get(URL).status_code in (401, 403)
