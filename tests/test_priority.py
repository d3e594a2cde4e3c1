"""The impact × urgency matrix and the audited manual override."""

from typing import Any

import pytest

from incidents.priority import priority_for

MATRIX = {
    ("high", "high"): "P1",
    ("high", "medium"): "P2",
    ("high", "low"): "P3",
    ("medium", "high"): "P2",
    ("medium", "medium"): "P3",
    ("medium", "low"): "P4",
    ("low", "high"): "P3",
    ("low", "medium"): "P4",
    ("low", "low"): "P4",
}


@pytest.mark.parametrize(("impact", "urgency"), sorted(MATRIX))
def test_matrix_function(impact: str, urgency: str) -> None:
    assert priority_for(impact=impact, urgency=urgency) == MATRIX[(impact, urgency)]


@pytest.mark.django_db
@pytest.mark.parametrize(("impact", "urgency"), sorted(MATRIX))
def test_created_incident_takes_priority_from_matrix(agent: Any, api: Any, impact: str, urgency: str) -> None:
    response = api(agent).post("/api/v1/incidents/", {"title": "Checkout down", "impact": impact, "urgency": urgency})
    assert response.status_code == 201
    assert (response.json()["priority"], response.json()["priority_overridden"]) == (MATRIX[(impact, urgency)], False)


@pytest.mark.django_db
def test_patching_impact_recomputes_priority_and_writes_timeline(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident(impact="medium", urgency="high")
    assert incident.priority == "P2"

    response = api(agent).patch(f"/api/v1/incidents/{incident.number}/", {"impact": "high"})

    assert response.status_code == 200
    assert response.json()["priority"] == "P1"
    change = incident.timeline.get(kind="priority_change")
    assert (change.data["from"], change.data["to"], change.actor) == ("P2", "P1", agent)


@pytest.mark.django_db
def test_override_needs_a_reason_and_the_right(make_incident: Any, agent: Any, manager: Any, api: Any) -> None:
    incident = make_incident(impact="low", urgency="low")
    path = f"/api/v1/incidents/{incident.number}/"

    no_reason = api(manager).patch(path, {"priority": "P1"})
    assert no_reason.status_code == 400
    assert "priority_override_reason" in no_reason.json()

    not_allowed = api(agent).patch(path, {"priority": "P1", "priority_override_reason": "CEO is watching"})
    assert not_allowed.status_code == 403

    incident.refresh_from_db()
    assert (incident.priority, incident.priority_overridden) == ("P4", False)
    assert not incident.timeline.filter(kind="priority_change").exists()

    done = api(manager).patch(path, {"priority": "P1", "priority_override_reason": "Largest customer affected"})
    assert done.status_code == 200
    assert (done.json()["priority"], done.json()["priority_overridden"]) == ("P1", True)
    assert done.json()["priority_override_reason"] == "Largest customer affected"
    record = incident.history.first()
    assert (record.history_user, record.priority) == (manager, "P1")
    assert "Largest customer affected" in record.history_change_reason


@pytest.mark.django_db
def test_overridden_priority_survives_impact_change(make_incident: Any, manager: Any, api: Any) -> None:
    incident = make_incident(impact="low", urgency="low")
    path = f"/api/v1/incidents/{incident.number}/"
    api(manager).patch(path, {"priority": "P2", "priority_override_reason": "Regulatory exposure"})

    response = api(manager).patch(path, {"impact": "high", "urgency": "high"})

    assert response.status_code == 200
    assert (response.json()["priority"], response.json()["impact"]) == ("P2", "high")


@pytest.mark.django_db
def test_reporter_cannot_override_at_creation(reporter: Any, api: Any) -> None:
    response = api(reporter).post(
        "/api/v1/incidents/",
        {"title": "Slow", "impact": "low", "urgency": "low", "priority": "P1", "priority_override_reason": "Urgent!"},
    )
    assert response.status_code == 403


@pytest.mark.django_db
def test_manager_override_at_creation_is_kept(manager: Any, api: Any) -> None:
    response = api(manager).post(
        "/api/v1/incidents/",
        {
            "title": "Slow",
            "impact": "low",
            "urgency": "low",
            "priority": "P2",
            "priority_override_reason": "Launch day",
        },
    )
    assert response.status_code == 201
    assert (response.json()["priority"], response.json()["priority_overridden"]) == ("P2", True)
