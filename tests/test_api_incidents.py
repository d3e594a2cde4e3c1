"""The incidents API: create, read, list, update, notes, timeline, attachments."""

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.models import Attachment, Incident, TimelineEntry


@pytest.mark.django_db
def test_create_returns_the_contract_fields(agent: Any, service: Any, team: Any, api: Any) -> None:
    started = timezone.now() - dt.timedelta(minutes=30)
    response = api(agent).post(
        "/api/v1/incidents/",
        {
            "title": "Payments failing for all users",
            "description": "Every card payment is declined.",
            "category": "application_error",
            "impact": "high",
            "urgency": "high",
            "services": ["checkout-payments"],
            "team": "payments",
            "started_at": started.isoformat(),
            "affected_users": 48000,
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    incident = Incident.objects.get()
    assert body["number"] == f"INC-{incident.pk}"
    for field in (
        "number", "title", "description", "category", "source", "impact", "urgency", "priority", "state",
        "services", "started_at", "detected_at", "created_at", "acknowledged_at", "mitigated_at", "resolved_at",
        "closed_at", "assignee", "team", "commander", "affected_users", "sla", "allowed_transitions",
    ):  # fmt: skip
        assert field in body
    assert (body["priority"], body["state"], body["source"]) == ("P1", "new", "api")
    assert (body["services"], body["team"], body["affected_users"]) == (["checkout-payments"], "payments", 48000)
    assert body["allowed_transitions"] == ["acknowledge", "investigate", "cancel"]
    assert incident.reporter == agent
    # A P1 starts paging at once; with no escalation policy configured, the timeline says so.
    assert [(e.kind, e.data.get("escalation")) for e in incident.timeline.all()] == [
        ("created", None),
        ("status_update", "no_policy"),
    ]
    # One history row for the insert, with its services, naming the reporter.
    (created,) = incident.history.all()
    assert (created.history_type, created.history_user) == ("+", agent)
    assert [row.service_id for row in created.services.all()] == [service.pk]


@pytest.mark.django_db
def test_read_by_number_and_404(make_incident: Any, reporter: Any, api: Any) -> None:
    incident = make_incident()
    assert api(reporter).get(f"/api/v1/incidents/{incident.number}/").json()["title"] == incident.title
    assert api(reporter).get(f"/api/v1/incidents/inc-{incident.pk}/").status_code == 200
    assert api(reporter).get("/api/v1/incidents/INC-999999/").status_code == 404
    assert api(reporter).get("/api/v1/incidents/INC-99999999999999999999999/").status_code == 404


@pytest.mark.django_db
def test_anonymous_and_roleless_users_are_refused(make_incident: Any, make_user: Any, api: Any) -> None:
    make_incident()
    assert api(None).get("/api/v1/incidents/").status_code == 401
    assert api(make_user(None)).get("/api/v1/incidents/").status_code == 403


BAD_CREATES = [
    ({"title": ""}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"title": "Down", "impact": "catastrophic"}, "impact"),
    ({"title": "Down", "category": "aliens"}, "category"),
    ({"title": "Down", "services": ["no-such-service"]}, "services"),
    ({"title": "Down", "affected_users": "many"}, "affected_users"),
    ({"title": "Down", "affected_users": -1}, "affected_users"),
    ({"title": "Down", "started_at": "yesterday-ish"}, "started_at"),
    ({"title": "Down", "started_at": "2999-01-01T00:00:00Z"}, "started_at"),
    ({"title": "Down", "assignee": "nobody"}, "assignee"),
    ({"title": "Down", "state": "closed"}, "state"),
    ({"title": ["a", "list"]}, "title"),
    ({"title": "Down", "priority": "P9"}, "priority"),
    ({"title": "Down", "surprise": 1}, "surprise"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("payload", "field"), BAD_CREATES)
def test_bad_create_is_400_with_field_message_and_writes_nothing(
    manager: Any, service: Any, api: Any, payload: dict[str, Any], field: str
) -> None:
    response = api(manager).post("/api/v1/incidents/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    assert isinstance(response.json()[field], list)
    assert Incident.objects.count() == 0
    assert TimelineEntry.objects.count() == 0


@pytest.mark.django_db
def test_detection_before_start_is_refused(agent: Any, api: Any) -> None:
    now = timezone.now()
    response = api(agent).post(
        "/api/v1/incidents/",
        {"title": "Down", "started_at": now.isoformat(), "detected_at": (now - dt.timedelta(hours=1)).isoformat()},
    )
    assert response.status_code == 400
    assert "detected_at" in response.json()
    assert Incident.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "content_type"),
    [('{"title": "Down",', "application/json"), ("[1, 2", "application/json"), ("\xff\xfe", "application/json")],
)
def test_malformed_json_is_400(agent: Any, api: Any, body: str, content_type: str) -> None:
    response = api(agent).post("/api/v1/incidents/", body, content_type=content_type)
    assert response.status_code == 400
    assert Incident.objects.count() == 0


@pytest.mark.django_db
def test_non_object_json_is_400(agent: Any, api: Any) -> None:
    response = api(agent).post("/api/v1/incidents/", "[1, 2]", content_type="application/json")
    assert response.status_code == 400
    assert Incident.objects.count() == 0


BAD_PATCHES = [
    ({"state": "closed"}, "state"),
    ({"number": "INC-1"}, "number"),
    ({"impact": "enormous"}, "impact"),
    ({"title": ""}, "title"),
    ({"affected_users": "lots"}, "affected_users"),
    ({"priority": "P1"}, "priority_override_reason"),
    ({"duplicate_of": "not-a-number"}, "duplicate_of"),
    ({"duplicate_of": "INC-999999"}, "duplicate_of"),
    ({"title": "New title", "state": "resolved"}, "state"),
    ({}, "non_field_errors"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("payload", "field"), BAD_PATCHES)
def test_bad_patch_is_400_and_changes_nothing(
    make_incident: Any, manager: Any, api: Any, payload: dict[str, Any], field: str
) -> None:
    incident = make_incident(impact="medium", urgency="medium")
    history_before = incident.history.count()

    response = api(manager).patch(f"/api/v1/incidents/{incident.number}/", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()
    fresh = Incident.objects.get(pk=incident.pk)
    assert (fresh.title, fresh.state, fresh.priority, fresh.impact) == (incident.title, "new", "P3", "medium")
    assert fresh.history.count() == history_before
    assert fresh.timeline.count() == 1


@pytest.mark.django_db
def test_patch_that_fails_half_way_rolls_back_everything(make_incident: Any, manager: Any, api: Any) -> None:
    incident = make_incident(impact="medium", urgency="medium")
    # The title change is valid, linking an incident to itself is not: neither may stick.
    response = api(manager).patch(
        f"/api/v1/incidents/{incident.number}/", {"title": "Renamed", "major_incident": incident.number}
    )
    assert response.status_code == 400
    assert "major_incident" in response.json()
    fresh = Incident.objects.get(pk=incident.pk)
    assert fresh.title == incident.title
    assert fresh.timeline.count() == 1


@pytest.mark.django_db
def test_patch_details_people_and_links(make_incident: Any, manager: Any, agent: Any, service: Any, api: Any) -> None:
    major = make_incident(title="Region outage", impact="high", urgency="high")
    child = make_incident(title="Checkout errors")
    duplicate = make_incident(title="Checkout errors again")

    response = api(manager).patch(
        f"/api/v1/incidents/{child.number}/",
        {
            "title": "Checkout errors in region A",
            "services": ["checkout-payments"],
            "assignee": agent.username,
            "commander": manager.username,
            "major_incident": major.number,
        },
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["title"], body["services"], body["assignee"], body["commander"]) == (
        "Checkout errors in region A",
        ["checkout-payments"],
        agent.username,
        manager.username,
    )
    assert body["major_incident"] == major.number
    kinds = list(Incident.objects.get(pk=child.pk).timeline.values_list("kind", flat=True))
    assert kinds == ["created", "field_change", "assignment", "link"]
    assert major.timeline.filter(kind="link").count() == 1

    response = api(manager).patch(f"/api/v1/incidents/{duplicate.number}/", {"duplicate_of": child.number})
    assert response.status_code == 200
    assert (response.json()["duplicate_of"], response.json()["state"]) == (child.number, "cancelled")


@pytest.mark.django_db
def test_assigning_a_reporter_is_refused(make_incident: Any, manager: Any, reporter: Any, api: Any) -> None:
    incident = make_incident()
    response = api(manager).patch(f"/api/v1/incidents/{incident.number}/", {"assignee": reporter.username})
    assert response.status_code == 400
    assert "assignee" in response.json()
    assert Incident.objects.get(pk=incident.pk).assignee is None


@pytest.mark.django_db
def test_reporter_cannot_patch(make_incident: Any, reporter: Any, api: Any) -> None:
    incident = make_incident()
    response = api(reporter).patch(f"/api/v1/incidents/{incident.number}/", {"title": "Mine now"})
    assert response.status_code == 403
    assert Incident.objects.get(pk=incident.pk).title == incident.title


@pytest.mark.django_db
def test_put_and_delete_are_not_offered(make_incident: Any, manager: Any, api: Any) -> None:
    incident = make_incident()
    assert api(manager).delete(f"/api/v1/incidents/{incident.number}/").status_code == 405
    assert api(manager).put(f"/api/v1/incidents/{incident.number}/", {"title": "x"}).status_code == 405
    assert Incident.objects.filter(pk=incident.pk).exists()


@pytest.mark.django_db
def test_list_filters_search_and_ordering(make_incident: Any, agent: Any, service: Any, team: Any, api: Any) -> None:
    p1 = make_incident(title="Payments down", impact="high", urgency="high", services=[service], team=team)
    p4 = make_incident(title="Typo in footer", impact="low", urgency="low", assignee=agent)
    p3 = make_incident(title="Tracking late", impact="medium", urgency="medium", description="carrier scans lag")
    client = api(agent)

    def numbers(query: str) -> list[str]:
        response = client.get(f"/api/v1/incidents/?{query}")
        assert response.status_code == 200, response.json()
        return [row["number"] for row in response.json()["results"]]

    assert numbers("") == [p3.number, p4.number, p1.number]
    assert numbers("priority=P1") == [p1.number]
    assert numbers("priority=P1&priority=P4") == [p4.number, p1.number]
    assert numbers("service=checkout-payments") == [p1.number]
    assert numbers("team=payments") == [p1.number]
    assert numbers(f"assignee={agent.username}") == [p4.number]
    assert numbers("assignee=none") == [p3.number, p1.number]
    assert numbers("q=carrier") == [p3.number]
    assert numbers(f"q={p4.number}") == [p4.number]
    assert numbers("ordering=priority") == [p1.number, p3.number, p4.number]
    assert numbers("state=new") == [p3.number, p4.number, p1.number]
    assert numbers("state=closed") == []
    since = (p4.created_at).isoformat().replace("+00:00", "Z")
    assert numbers(f"created_after={since}") == [p3.number, p4.number]
    assert client.get("/api/v1/incidents/?priority=P7").status_code == 400
    assert client.get("/api/v1/incidents/?created_after=soon").status_code == 400


@pytest.mark.django_db
def test_list_is_cursor_paginated(make_incident: Any, agent: Any, api: Any) -> None:
    created = [make_incident(title=f"Incident {i}").number for i in range(5)]
    client = api(agent)
    first = client.get("/api/v1/incidents/?page_size=2").json()
    second = client.get(first["next"]).json()
    third = client.get(second["next"]).json()
    seen = [row["number"] for page in (first, second, third) for row in page["results"]]
    assert seen == list(reversed(created))
    assert third["next"] is None


@pytest.mark.django_db
def test_list_query_count_does_not_grow_with_page_size(
    make_incident: Any, agent: Any, service: Any, team: Any, api: Any
) -> None:
    for i in range(30):
        incident = make_incident(title=f"Incident {i}", services=[service], team=team, assignee=agent, commander=agent)
    client = api(agent)

    def queries_for(page_size: int) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"/api/v1/incidents/?page_size={page_size}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == page_size
        return len(captured)

    small, large = queries_for(3), queries_for(30)
    assert small == large
    # Session-free token auth, the page, and one prefetch per related list (selectors.incident_list).
    assert large <= 9
    assert incident.number  # the fixture produced real rows


@pytest.mark.django_db
def test_notes_and_timeline_visibility(make_incident: Any, agent: Any, reporter: Any, api: Any) -> None:
    incident = make_incident()
    path = f"/api/v1/incidents/{incident.number}/"

    internal = api(agent).post(path + "notes/", {"body": "DB replica lag 40 s", "visibility": "internal"})
    public = api(reporter).post(path + "notes/", {"body": "Still failing for me"})
    assert (internal.status_code, public.status_code) == (201, 201)
    assert (internal.json()["visibility"], public.json()["visibility"]) == ("internal", "public")
    assert api(reporter).post(path + "notes/", {"body": "x", "visibility": "internal"}).status_code == 403
    assert api(agent).post(path + "notes/", {"body": ""}).status_code == 400
    assert api(agent).post(path + "notes/", {"body": "x", "visibility": "secret"}).status_code == 400

    agent_view = api(agent).get(path + "timeline/").json()["results"]
    reporter_view = api(reporter).get(path + "timeline/").json()["results"]
    assert [e["body"] for e in agent_view] == [incident.title, "DB replica lag 40 s", "Still failing for me"]
    assert [e["body"] for e in reporter_view] == [incident.title, "Still failing for me"]
    assert agent_view[1]["actor"] == agent.username


@pytest.mark.django_db
def test_attachment_upload_and_size_limit(
    make_incident: Any, agent: Any, api: Any, settings: Any, tmp_path: Any
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 1024
    incident = make_incident()
    path = f"/api/v1/incidents/{incident.number}/attachments/"
    settings.MEDIA_ROOT = tmp_path

    ok = api(agent).post(path, {"file": SimpleUploadedFile("app.log", b"ERROR boom\n" * 10)}, format="multipart")
    assert ok.status_code == 201, ok.json()
    assert (ok.json()["name"], ok.json()["size"]) == ("app.log", 110)

    too_big = api(agent).post(path, {"file": SimpleUploadedFile("core.dump", b"\0" * 2048)}, format="multipart")
    assert too_big.status_code == 400
    assert "file" in too_big.json()
    assert Attachment.objects.count() == 1
    assert incident.timeline.filter(kind="attachment").count() == 1

    download = api(agent).get(ok.json()["url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"ERROR boom\n" * 10
    assert download["Content-Disposition"].startswith("attachment")
    assert api(None).get(ok.json()["url"]).status_code == 401
    assert api(agent).get(path + "999999/").status_code == 404

    missing = api(agent).post(path, {}, format="multipart")
    assert missing.status_code == 400
    assert [a["name"] for a in api(agent).get(path).json()] == ["app.log"]
