"""Services and teams over the API, the schema, the docs and the health check."""

from typing import Any

import pytest

from escalation.models import Team
from incidents.models import Service


@pytest.mark.django_db
def test_manager_manages_services_and_teams(manager: Any, agent: Any, api: Any) -> None:
    client = api(manager)
    team = client.post(
        "/api/v1/teams/", {"name": "Platform", "slug": "platform", "members": [agent.username], "managers": []}
    )
    assert team.status_code == 201, team.json()
    created = client.post(
        "/api/v1/services/",
        {
            "name": "Identity",
            "slug": "identity",
            "owner_team": "platform",
            "criticality": "critical",
            "customer_facing": True,
        },
    )
    assert created.status_code == 201, created.json()
    assert client.patch("/api/v1/services/identity/", {"criticality": "high"}).json()["criticality"] == "high"
    assert [s["slug"] for s in api(agent).get("/api/v1/services/").json()["results"]] == ["identity"]
    assert api(agent).get("/api/v1/teams/platform/").json()["members"] == [agent.username]
    record = Service.objects.get(slug="identity").history.first()
    assert (record.criticality, record.history_user) == ("high", manager)


@pytest.mark.django_db
def test_agents_and_reporters_cannot_change_configuration(agent: Any, reporter: Any, service: Any, api: Any) -> None:
    for user in (agent, reporter):
        client = api(user)
        assert client.post("/api/v1/services/", {"name": "X", "slug": "x"}).status_code == 403
        assert client.patch(f"/api/v1/services/{service.slug}/", {"name": "Renamed"}).status_code == 403
        assert client.delete(f"/api/v1/services/{service.slug}/").status_code == 403
        assert client.post("/api/v1/teams/", {"name": "Y", "slug": "y"}).status_code == 403
    assert Service.objects.get().name == "Checkout payments"
    assert Team.objects.count() == 1


@pytest.mark.django_db
def test_bad_service_input_is_400(manager: Any, service: Any, api: Any) -> None:
    client = api(manager)
    assert set(client.post("/api/v1/services/", {"name": "", "slug": "bad slug!"}).json()) == {"name", "slug"}
    duplicate = client.post("/api/v1/services/", {"name": "Other", "slug": service.slug})
    assert (duplicate.status_code, list(duplicate.json())) == (400, ["slug"])
    assert client.post("/api/v1/services/", {"name": "Z", "slug": "z", "criticality": "meh"}).status_code == 400
    assert Service.objects.count() == 1


@pytest.mark.django_db
def test_a_team_in_use_cannot_be_deleted(manager: Any, service: Any, api: Any) -> None:
    response = api(manager).delete(f"/api/v1/teams/{service.owner_team.slug}/")
    assert response.status_code == 409
    assert Team.objects.filter(pk=service.owner_team.pk).exists()


@pytest.mark.django_db
def test_openapi_schema_and_docs(agent: Any, api: Any, client: Any) -> None:
    schema = api(agent).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/incidents/",
        "/api/v1/incidents/{number}/",
        "/api/v1/incidents/{number}/transitions/{name}/",
        "/api/v1/incidents/{number}/timeline/",
        "/api/v1/incidents/{number}/notes/",
        "/api/v1/services/",
        "/api/v1/teams/",
    ):
        assert path in paths
    assert "patch" in paths["/api/v1/incidents/{number}/"]
    assert "delete" not in paths["/api/v1/incidents/{number}/"]
    client.force_login(agent)
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "broker": "ok",
        "overdue_timers": 0,
        "waiting_alert_events": 0,
    }


@pytest.mark.django_db
def test_healthz_reports_overdue_timers(client: Any, make_incident: Any) -> None:
    import datetime as dt

    import time_machine

    with time_machine.travel(dt.datetime.now(tz=dt.UTC) - dt.timedelta(hours=1), tick=False):
        # Its acknowledge warning and breach, and its first status update (due after 30 min), are long past due.
        make_incident(impact="high", urgency="high")
    response = client.get("/healthz")
    assert (response.status_code, response.json()["overdue_timers"]) == (200, 3)


@pytest.mark.django_db
def test_healthz_reports_alert_events_the_processor_has_not_reached(client: Any, service: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from incidents.intake.integrations import create_integration
    from incidents.models import AlertEvent

    integration, _ = create_integration(service=service, kind="generic", actor=None)
    for minutes in (0, 5, 10):
        AlertEvent.objects.create(
            integration=integration,
            action="trigger",
            dedup_key=f"k{minutes}",
            group_key="g",
            payload={"summary": "x"},
            received_at=timezone.now() - dt.timedelta(minutes=minutes),
        )
    response = client.get("/healthz")
    assert (response.status_code, response.json()["waiting_alert_events"]) == (200, 2)
