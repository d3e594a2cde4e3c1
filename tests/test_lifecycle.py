"""Every transition of DESIGN.md's table: allowed, refused, guarded and permitted."""

from typing import Any

import pytest
from simple_history.utils import get_history_model_for_model

from incidents import lifecycle
from incidents.models import Incident, TimelineEntry
from incidents.postmortems import write_postmortem
from tests.postmortem_helpers import published_postmortem

# transition → (sources, target), exactly DESIGN.md's table
TABLE = {
    "acknowledge": ({"new"}, "acknowledged"),
    "investigate": ({"new", "acknowledged"}, "investigating"),
    "hold": ({"acknowledged", "investigating"}, "on_hold"),
    "resume": ({"on_hold"}, "investigating"),
    "mitigate": ({"acknowledged", "investigating"}, "mitigated"),
    "resolve": ({"investigating", "mitigated"}, "resolved"),
    "reopen": ({"mitigated", "resolved"}, "investigating"),
    "close": ({"resolved"}, "closed"),
    "cancel": ({"new", "acknowledged", "investigating"}, "cancelled"),
}
STATES = ["new", "acknowledged", "investigating", "on_hold", "mitigated", "resolved", "closed", "cancelled"]
FIELDS: dict[str, dict[str, str]] = {
    "hold": {"reason": "Waiting for the vendor"},
    "mitigate": {"note": "Rolled back to the previous release"},
    "resolve": {"root_cause": "A bad deploy", "resolution": "Fixed the config and redeployed"},
    "reopen": {"reason": "The errors are back"},
    "cancel": {"reason": "False alarm"},
}
PATH_TO = {
    "new": [],
    "acknowledged": ["acknowledge"],
    "investigating": ["investigate"],
    "on_hold": ["acknowledge", "hold"],
    "mitigated": ["investigate", "mitigate"],
    "resolved": ["investigate", "resolve"],
    "closed": ["investigate", "resolve", "close"],
    "cancelled": ["cancel"],
}
ALLOWED_PAIRS = [(name, source) for name, (sources, _) in TABLE.items() for source in sorted(sources)]
REFUSED_PAIRS = [(name, state) for name in TABLE for state in STATES if state not in TABLE[name][0]]


def allowed_from(state: str) -> list[str]:
    """What a manager may run from `state` on a P3, in the lifecycle's order."""
    return [name for name in lifecycle.TRANSITIONS if state in TABLE[name][0]]


@pytest.fixture
def incident_in(make_incident: Any, manager: Any) -> Any:
    def bring_to(state: str, **fields: Any) -> Incident:
        fields.setdefault("impact", "medium")
        fields.setdefault("urgency", "medium")
        incident = make_incident(**fields)
        for name in PATH_TO[state]:
            incident = lifecycle.transition_incident(
                incident=incident, name=name, actor=manager, **FIELDS.get(name, {})
            )
        assert incident.state == state
        return incident

    return bring_to


def url(incident: Incident, name: str) -> str:
    return f"/api/v1/incidents/{incident.number}/transitions/{name}/"


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "source"), ALLOWED_PAIRS)
def test_allowed_transition_moves_state_and_is_audited(
    incident_in: Any, manager: Any, api: Any, name: str, source: str
) -> None:
    incident = incident_in(source)
    entries_before = incident.timeline.count()

    response = api(manager).post(url(incident, name), {"note": "by the book", **FIELDS.get(name, {})}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["state"] == TABLE[name][1]
    incident.refresh_from_db()
    assert incident.state == TABLE[name][1]
    entry = incident.timeline.order_by("-id").first()
    assert incident.timeline.count() == entries_before + 1
    assert (entry.kind, entry.actor, entry.data["from"], entry.data["to"]) == (
        "transition",
        manager,
        source,
        TABLE[name][1],
    )
    latest = incident.history.first()
    assert (latest.history_user, latest.state) == (manager, TABLE[name][1])


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "state"), REFUSED_PAIRS)
def test_illegal_transition_is_409_with_allowed_list_and_changes_nothing(
    incident_in: Any, manager: Any, api: Any, name: str, state: str
) -> None:
    incident = incident_in(state)
    entries_before = incident.timeline.count()
    history_before = incident.history.count()

    response = api(manager).post(url(incident, name), FIELDS.get(name, {}), format="json")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "transition_not_allowed"
    assert body["state"] == state
    assert body["allowed_transitions"] == allowed_from(state)
    incident.refresh_from_db()
    assert incident.state == state
    assert incident.timeline.count() == entries_before
    assert incident.history.count() == history_before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "source", "missing"),
    [
        ("hold", "investigating", ["reason"]),
        ("mitigate", "investigating", ["note"]),
        ("resolve", "investigating", ["resolution", "root_cause"]),
        ("reopen", "resolved", ["reason"]),
        ("cancel", "new", ["reason"]),
    ],
)
def test_transition_without_required_fields_is_400(
    incident_in: Any, manager: Any, api: Any, name: str, source: str, missing: list[str]
) -> None:
    incident = incident_in(source)

    response = api(manager).post(url(incident, name), {"note": "", **dict.fromkeys(missing, "   ")}, format="json")

    assert response.status_code == 400
    assert sorted(response.json()) == missing
    incident.refresh_from_db()
    assert incident.state == source


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(TABLE))
def test_reporter_may_run_no_transition(incident_in: Any, reporter: Any, api: Any, name: str) -> None:
    source = sorted(TABLE[name][0])[0]
    incident = incident_in(source)

    response = api(reporter).post(url(incident, name), FIELDS.get(name, {}), format="json")

    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.state == source


@pytest.mark.django_db
def test_agent_may_not_close_but_manager_may(incident_in: Any, agent: Any, manager: Any, api: Any) -> None:
    incident = incident_in("resolved")

    assert api(agent).post(url(incident, "close"), {}, format="json").status_code == 403
    incident.refresh_from_db()
    assert incident.state == "resolved"
    assert "close" not in api(agent).get(f"/api/v1/incidents/{incident.number}/").json()["allowed_transitions"]

    assert api(manager).post(url(incident, "close"), {}, format="json").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize(("impact", "urgency"), [("high", "high"), ("high", "medium")])
def test_p1_and_p2_close_only_with_a_published_postmortem(
    incident_in: Any, manager: Any, api: Any, impact: str, urgency: str
) -> None:
    incident = incident_in("resolved", impact=impact, urgency=urgency)
    assert incident.priority in ("P1", "P2")

    refused = api(manager).post(url(incident, "close"), {}, format="json")
    assert refused.status_code == 409
    assert "post-mortem" in refused.json()["detail"]
    assert refused.json()["allowed_transitions"] == ["reopen"]

    write_postmortem(incident=incident, actor=manager, changes={"summary": "Draft only"})
    assert api(manager).post(url(incident, "close"), {}, format="json").status_code == 409

    published_postmortem(incident, author=manager, publisher=manager, summary="What happened and why")
    response = api(manager).post(url(incident, "close"), {}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "closed"


@pytest.mark.django_db
def test_p3_closes_without_a_postmortem(incident_in: Any, manager: Any, api: Any) -> None:
    incident = incident_in("resolved")
    assert incident.priority == "P3"
    assert api(manager).post(url(incident, "close"), {}, format="json").status_code == 200


@pytest.mark.django_db
def test_lifecycle_stamps_and_clears_timestamps(incident_in: Any, manager: Any) -> None:
    incident = incident_in("new")
    assert incident.acknowledged_at is None

    incident = lifecycle.investigate_incident(incident=incident, actor=manager)
    assert incident.acknowledged_at is not None  # investigating from new acknowledges too
    incident = lifecycle.mitigate_incident(incident=incident, actor=manager, note="Failover")
    assert (incident.mitigated_at is not None, incident.mitigation) == (True, "Failover")
    incident = lifecycle.resolve_incident(
        incident=incident, actor=manager, root_cause="Disk full", resolution="Cleaned"
    )
    assert (incident.root_cause, incident.resolution) == ("Disk full", "Cleaned")
    assert incident.resolved_at is not None
    assert incident.mitigated_at is not None
    assert incident.acknowledged_at is not None
    assert incident.resolved_at >= incident.mitigated_at >= incident.acknowledged_at

    incident = lifecycle.reopen_incident(incident=incident, actor=manager, reason="Recurred")
    assert (incident.state, incident.mitigated_at, incident.resolved_at) == ("investigating", None, None)

    incident = lifecycle.resolve_incident(
        incident=incident, actor=manager, root_cause="Disk full", resolution="Bigger disk"
    )
    incident = lifecycle.close_incident(incident=incident, actor=manager)
    assert incident.closed_at is not None


@pytest.mark.django_db
def test_state_field_cannot_be_written_directly(incident_in: Any) -> None:
    incident = incident_in("new")
    with pytest.raises(AttributeError):
        incident.state = "closed"
    assert Incident.objects.get(pk=incident.pk).state == "new"


@pytest.mark.django_db
def test_unknown_transition_is_404(incident_in: Any, manager: Any, api: Any) -> None:
    incident = incident_in("new")
    assert api(manager).post(url(incident, "teleport"), {}, format="json").status_code == 404
    assert TimelineEntry.objects.filter(incident=incident, kind="transition").count() == 0


@pytest.mark.django_db
def test_history_model_records_every_transition_with_actor(incident_in: Any, agent: Any, manager: Any) -> None:
    incident = incident_in("closed")
    history = (
        get_history_model_for_model(Incident).objects.filter(id=incident.pk).order_by("history_date", "history_id")
    )
    assert [(h.state, h.history_user) for h in history] == [
        ("new", agent),
        ("investigating", manager),
        ("resolved", manager),
        ("closed", manager),
    ]
