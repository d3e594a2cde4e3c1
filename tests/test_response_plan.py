"""The fix plan: options, one chosen at a time, a rollback plan before a high-risk fix, implementation records."""

import datetime as dt
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from incidents import fix_plan, lifecycle
from incidents.choices import EntryKind
from incidents.models import Implementation, Incident, SolutionOption
from tests.response_helpers import entries, history_of, incident_path

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
WINDOW = {"window_start": "2026-11-20T10:30:00Z", "window_end": "2026-11-20T11:00:00Z"}


def propose(incident: Incident, actor: Any, **fields: Any) -> SolutionOption:
    values = {"title": "Restart the gateway", "kind": "quick_fix", "risk": "low", **fields}
    return fix_plan.propose_option(incident=incident, actor=actor, **values)


def implement(client: Any, incident: Incident, target: SolutionOption, **fields: Any) -> Any:
    body = {"option": target.pk, **WINDOW, "outcome": "succeeded", **fields}
    return client.post(incident_path(incident, "plan/implementations/"), body)


def test_options_are_proposed_and_shown_in_the_plan(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident()
    client = api(agent)
    answer = client.post(
        incident_path(incident, "plan/options/"),
        {
            "title": "Fail over to the standby gateway",
            "kind": "quick_fix",
            "risk": "medium",
            "description": "Point the payment DNS at the standby.",
            "notes": "The standby was patched last week.",
            "rollback_plan": "Point DNS back; TTL is 60 s.",
        },
    )
    assert answer.status_code == 201, answer.json()
    assert (answer.json()["kind"], answer.json()["risk"], answer.json()["chosen"]) == ("quick_fix", "medium", False)
    plan = client.get(incident_path(incident, "plan/")).json()
    assert [option["title"] for option in plan["options"]] == ["Fail over to the standby gateway"]
    assert (plan["chosen"], plan["implementations"]) == (None, [])
    [entry] = entries(incident, EntryKind.FIX_PLAN)
    assert entry.body == "Solution option “Fail over to the standby gateway” proposed (quick fix, medium risk)."


def test_choosing_another_option_unchooses_the_first_audited(
    make_incident: Any, agent: Any, manager: Any, api: Any
) -> None:
    incident = make_incident()
    quick = propose(incident, agent)
    permanent = propose(incident, agent, title="Replace the certificate chain", kind="permanent")
    client = api(agent)

    assert client.post(incident_path(incident, f"plan/options/{quick.pk}/choose/")).status_code == 200
    answer = api(manager).post(incident_path(incident, f"plan/options/{permanent.pk}/choose/"))
    assert answer.status_code == 200
    assert (answer.json()["chosen"], answer.json()["chosen_by"]) == (True, "maya")

    quick.refresh_from_db()
    assert (quick.is_chosen, quick.chosen_at, quick.chosen_by) == (False, None, None)
    assert client.get(incident_path(incident, "plan/")).json()["chosen"] == permanent.pk
    assert [(row.is_chosen, row.history_user) for row in history_of(quick)] == [
        (False, agent),
        (True, agent),
        (False, manager),
    ]
    assert [entry.body for entry in entries(incident, EntryKind.FIX_PLAN)][-2:] == [
        "Chose “Restart the gateway” (quick fix, low risk) for the fix.",
        "Chose “Replace the certificate chain” (permanent fix, low risk) for the fix. "
        "It replaces “Restart the gateway”.",
    ]


def test_the_database_holds_one_chosen_option(make_incident: Any, agent: Any) -> None:
    incident = make_incident()
    first, second = propose(incident, agent), propose(incident, agent, title="Other")
    fix_plan.choose_option(option=first, actor=agent)
    with pytest.raises(IntegrityError), transaction.atomic():
        SolutionOption.objects.filter(pk=second.pk).update(is_chosen=True)


def test_a_high_risk_option_needs_its_rollback_plan_before_it_is_implemented(
    make_incident: Any, agent: Any, api: Any
) -> None:
    incident = make_incident()
    risky = propose(incident, agent, title="Rotate the root certificate", kind="permanent", risk="high")
    fix_plan.choose_option(option=risky, actor=agent)
    client = api(agent)
    timeline_before = incident.timeline.count()

    answer = implement(client, incident, risky)
    assert answer.status_code == 400
    assert answer.json() == {
        "rollback_plan": ["“Rotate the root certificate” is high-risk: write its rollback plan first."]
    }
    assert not Implementation.objects.exists()
    assert incident.timeline.count() == timeline_before

    patch = client.patch(
        incident_path(incident, f"plan/options/{risky.pk}/"), {"rollback_plan": "Restore the old chain from vault."}
    )
    assert patch.status_code == 200
    assert implement(client, incident, risky).status_code == 201


def test_only_the_chosen_option_can_be_implemented(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident()
    chosen, other = propose(incident, agent), propose(incident, agent, title="Other")
    fix_plan.choose_option(option=chosen, actor=agent)
    client = api(agent)

    answer = implement(client, incident, other)
    assert answer.status_code == 400
    assert answer.json() == {"option": ["Only the chosen option can be implemented; choose it first."]}
    assert not Implementation.objects.exists()
    with pytest.raises(ValidationError):
        fix_plan.record_implementation(
            incident=incident, actor=agent, option=other, window_start=NOW, window_end=NOW, outcome="failed"
        )


def test_an_implementation_records_the_attempt_on_the_timeline(
    make_incident: Any, agent: Any, manager: Any, api: Any
) -> None:
    incident = make_incident()
    option = propose(incident, agent)
    fix_plan.choose_option(option=option, actor=agent)
    with time_machine.travel(NOW, tick=False):
        answer = implement(
            api(manager),
            incident,
            option,
            communicated_to="Support leads, #payments-status",
            executed_by=agent.username,
            supervised_by=manager.username,
            outcome="failed",
            outcome_notes="The gateway came back with the same error.",
            rolled_back=True,
        )
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert {key: body[key] for key in ("option", "executed_by", "supervised_by", "outcome", "rolled_back")} == {
        "option": option.pk,
        "executed_by": "agus",
        "supervised_by": "maya",
        "outcome": "failed",
        "rolled_back": True,
    }
    assert (body["executed_at"], body["recorded_by"], body["window_end"]) == (
        "2026-11-20T10:00:00Z",
        "maya",
        "2026-11-20T11:00:00Z",
    )
    entry = entries(incident, EntryKind.FIX_PLAN)[-1]
    assert (entry.body, entry.actor) == ("Implemented “Restart the gateway” by agus: failed, rolled back.", manager)
    implementation = Implementation.objects.get()
    assert [row.history_user for row in history_of(implementation)] == [manager]
    plan = api(agent).get(incident_path(incident, "plan/")).json()
    assert [row["id"] for row in plan["implementations"]] == [implementation.pk]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"window_end": "2026-11-20T10:30:00Z"}, "window_end"),
        ({"window_end": "2026-11-20T10:00:00Z"}, "window_end"),
        ({"outcome": "rolled_back", "rolled_back": False}, "rolled_back"),
        ({"outcome": "succeeded", "rolled_back": True}, "rolled_back"),
        ({"outcome": "partly"}, "outcome"),
        ({"executed_by": "nobody"}, "executed_by"),
        ({"executed_at": "2030-01-01T00:00:00Z"}, "executed_at"),
        ({"option": 999999}, "option"),
    ],
)
def test_bad_implementations_are_refused_and_nothing_is_written(
    make_incident: Any, agent: Any, api: Any, fields: dict[str, Any], field: str
) -> None:
    incident = make_incident()
    option = propose(incident, agent)
    fix_plan.choose_option(option=option, actor=agent)
    with time_machine.travel(NOW, tick=False):
        answer = implement(api(agent), incident, option, **fields)
    assert answer.status_code == 400
    assert field in answer.json(), answer.json()
    assert not Implementation.objects.exists()


def test_rolled_back_follows_the_outcome(make_incident: Any, agent: Any) -> None:
    incident = make_incident()
    option = propose(incident, agent)
    fix_plan.choose_option(option=option, actor=agent)
    implementation = fix_plan.record_implementation(
        incident=incident,
        actor=agent,
        option=option,
        window_start=NOW,
        window_end=NOW + dt.timedelta(hours=1),
        outcome="rolled_back",
    )
    assert implementation.rolled_back is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "quick_fix", "risk": "low"}, "title"),
        ({"title": "x", "kind": "hotfix", "risk": "low"}, "kind"),
        ({"title": "x", "kind": "quick_fix", "risk": "extreme"}, "risk"),
        ({"title": "x", "kind": "quick_fix"}, "risk"),
    ],
)
def test_bad_options_are_refused(make_incident: Any, agent: Any, api: Any, body: dict[str, str], field: str) -> None:
    incident = make_incident()
    answer = api(agent).post(incident_path(incident, "plan/options/"), body)
    assert answer.status_code == 400
    assert field in answer.json()
    assert not SolutionOption.objects.exists()


def test_reporters_read_the_plan_but_cannot_change_it(make_incident: Any, agent: Any, reporter: Any, api: Any) -> None:
    incident = make_incident()
    option = propose(incident, agent)
    client = api(reporter)
    assert client.get(incident_path(incident, "plan/")).status_code == 200
    assert client.post(incident_path(incident, "plan/options/"), {"title": "x"}).status_code == 403
    assert client.patch(incident_path(incident, f"plan/options/{option.pk}/"), {"title": "y"}).status_code == 403
    assert client.post(incident_path(incident, f"plan/options/{option.pk}/choose/")).status_code == 403
    assert implement(client, incident, option).status_code == 403
    option.refresh_from_db()
    assert (option.title, option.is_chosen) == ("Restart the gateway", False)


def test_the_plan_of_a_cancelled_incident_does_not_change(make_incident: Any, agent: Any, api: Any) -> None:
    incident = make_incident()
    option = propose(incident, agent)
    lifecycle.cancel_incident(incident=incident, actor=agent, reason="Duplicate")
    client = api(agent)
    assert client.post(incident_path(incident, f"plan/options/{option.pk}/choose/")).status_code == 409
    assert client.patch(incident_path(incident, f"plan/options/{option.pk}/"), {"notes": "x"}).status_code == 409
    answer = client.post(incident_path(incident, "plan/options/"), {"title": "x", "kind": "permanent", "risk": "low"})
    assert answer.status_code == 409
    assert SolutionOption.objects.count() == 1
    assert not SolutionOption.objects.get().is_chosen


def test_the_openapi_schema_lists_the_response_paths(agent: Any, api: Any) -> None:
    schema = api(agent).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    expected = {
        "/api/v1/incidents/{number}/roles/": {"get", "post"},
        "/api/v1/incidents/{number}/roles/{id}/": {"delete"},
        "/api/v1/incidents/{number}/roles/page/": {"post"},
        "/api/v1/incidents/{number}/tasks/": {"get", "post"},
        "/api/v1/incidents/{number}/tasks/{id}/": {"get", "patch"},
        "/api/v1/incidents/{number}/plan/": {"get"},
        "/api/v1/incidents/{number}/plan/options/": {"post"},
        "/api/v1/incidents/{number}/plan/options/{id}/": {"patch"},
        "/api/v1/incidents/{number}/plan/options/{id}/choose/": {"post"},
        "/api/v1/incidents/{number}/plan/implementations/": {"post"},
    }
    for path, verbs in expected.items():
        assert set(paths[path]) - {"parameters"} == verbs, path
