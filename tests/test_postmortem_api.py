"""The post-mortem API: the document, its states, its timeline, the search and the Markdown export."""

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from incidents import lifecycle
from incidents.action_items import add_action_item
from incidents.models import Incident, PostMortem, PostMortemMoment
from incidents.postmortem_timeline import update_moment
from incidents.postmortems import write_postmortem
from tests.postmortem_helpers import published_postmortem

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(make_incident: Any, agent: Any, service: Any) -> Incident:
    incident = make_incident(
        title="Card payments declined", impact="high", urgency="high", services=[service], affected_users=48000
    )
    incident = lifecycle.investigate_incident(incident=incident, actor=agent, note="Gateway logs collected")
    incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Traffic moved to the backup gateway")
    return lifecycle.resolve_incident(
        incident=incident, actor=agent, root_cause="The gateway certificate expired", resolution="Renewed"
    )


def url(incident: Incident, rest: str = "") -> str:
    return f"/api/v1/incidents/{incident.number}/postmortem/{rest}"


def test_the_first_write_creates_it_and_the_next_ones_change_it(
    incident: Incident, agent: Any, api: Any, reporter: Any
) -> None:
    client = api(agent)
    assert client.get(url(incident)).status_code == 404

    created = client.patch(url(incident), {"summary": "Card payments failed for 40 minutes."})
    assert created.status_code == 201, created.json()
    body = created.json()
    assert (body["incident"], body["status"], body["author"], body["summary"]) == (
        incident.number,
        "draft",
        "agus",
        "Card payments failed for 40 minutes.",
    )
    assert body["root_cause"] == "The gateway certificate expired"
    assert (body["affected_users"], body["affected_services"]) == (48000, ["checkout-payments"])
    assert incident.mitigated_at is not None
    assert body["downtime_seconds"] == int((incident.mitigated_at - incident.started_at).total_seconds())
    assert body["allowed_transitions"] == ["submit"]

    changed = client.patch(url(incident), {"lessons": "Watch certificate expiry", "affected_users": 50000})
    assert changed.status_code == 200
    assert (changed.json()["lessons"], changed.json()["affected_users"], changed.json()["summary"]) == (
        "Watch certificate expiry",
        50000,
        "Card payments failed for 40 minutes.",
    )
    # PUT replaces the document: what it does not send is emptied.
    replaced = client.put(url(incident), {"summary": "Only this", "affected_services": []})
    assert replaced.status_code == 200
    assert (replaced.json()["summary"], replaced.json()["lessons"], replaced.json()["root_cause"]) == (
        "Only this",
        "",
        "",
    )
    assert (replaced.json()["affected_users"], replaced.json()["downtime_started_at"]) == (None, None)
    assert replaced.json()["author"] == "agus"
    assert client.get(url(incident)).json()["summary"] == "Only this"
    # A draft is the responders' business: for a reporter it does not exist yet.
    assert api(reporter).get(url(incident)).status_code == 404


def test_bad_input_is_a_400_with_field_messages_and_nothing_is_written(
    incident: Incident, agent: Any, api: Any
) -> None:
    client = api(agent)
    start = timezone.now() - dt.timedelta(hours=1)
    cases = [
        ({"status": "published"}, "status"),
        ({"affected_users": -5}, "affected_users"),
        ({"affected_services": ["no-such-service"]}, "affected_services"),
        ({"author": "rina"}, "author"),
        ({"downtime_started_at": "not a time"}, "downtime_started_at"),
        (
            {"downtime_started_at": start.isoformat(), "downtime_ended_at": (start - dt.timedelta(1)).isoformat()},
            "downtime_ended_at",
        ),
        ({"downtime_ended_at": (timezone.now() + dt.timedelta(days=1)).isoformat()}, "downtime_ended_at"),
    ]
    for payload, field in cases:
        response = client.patch(url(incident), payload, format="json")
        assert response.status_code == 400, payload
        assert field in response.json(), (payload, response.json())
    assert "submit/" in client.patch(url(incident), {"status": "published"}).json()["status"][0]
    assert not PostMortem.objects.exists()
    assert client.get("/api/v1/incidents/INC-999999/postmortem/").status_code == 404


def test_states_through_the_api_and_who_may_move_them(
    incident: Incident, agent: Any, manager: Any, reporter: Any, api: Any
) -> None:
    agents, managers = api(agent), api(manager)
    agents.patch(url(incident), {"summary": "Payments failed"})
    assert api(reporter).patch(url(incident), {"summary": "Mine"}).status_code == 403

    refused = managers.post(url(incident, "publish/"), {})
    assert refused.status_code == 409
    assert (refused.json()["state"], refused.json()["allowed_transitions"]) == ("draft", ["submit"])

    submitted = agents.post(url(incident, "submit/"), {"note": "Ready"})
    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["status"] == "in_review"
    assert submitted.json()["allowed_transitions"] == ["return_to_draft"]

    assert agents.post(url(incident, "publish/"), {}).status_code == 403
    back = managers.post(url(incident, "return-to-draft/"), {"note": "Add the lessons"})
    assert back.json()["status"] == "draft"
    agents.patch(url(incident), {"lessons": "Alert before expiry"})
    agents.post(url(incident, "submit/"), {})

    published = managers.post(url(incident, "publish/"), {})
    assert published.status_code == 200
    assert (published.json()["status"], published.json()["published_by"]) == ("published", "maya")
    assert api(reporter).get(url(incident)).json()["status"] == "published"

    final = agents.patch(url(incident), {"summary": "Rewritten"})
    assert final.status_code == 409
    assert final.json()["state"] == "published"
    assert agents.post(url(incident, "reopen/"), {"reason": "Wrong"}).status_code == 403
    assert managers.post(url(incident, "reopen/"), {}).status_code == 400
    assert managers.post(url(incident, "submit/"), {"bogus": 1}).status_code == 400
    reopened = managers.post(url(incident, "reopen/"), {"reason": "The cause was a different certificate"})
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["published_at"]) == ("draft", None)
    assert PostMortem.objects.get().summary == "Payments failed"


def test_the_close_refusal_says_what_is_missing(incident: Incident, agent: Any, manager: Any, api: Any) -> None:
    api(agent).patch(url(incident), {"summary": "Payments failed"})
    api(agent).post(url(incident, "submit/"), {})

    refused = api(manager).post(f"/api/v1/incidents/{incident.number}/transitions/close/", {})

    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "published post-mortem" in detail
    assert "incident manager publish" in detail
    assert refused.json()["allowed_transitions"] == ["reopen"]
    api(manager).post(url(incident, "publish/"), {})
    closed = api(manager).post(f"/api/v1/incidents/{incident.number}/transitions/close/", {})
    assert closed.json()["state"] == "closed"


def test_the_timeline_rows_are_listed_added_edited_removed_and_regenerated(
    incident: Incident, agent: Any, reporter: Any, manager: Any, api: Any
) -> None:
    client = api(agent)
    client.patch(url(incident), {})
    listed = client.get(url(incident, "timeline/")).json()
    kinds = [(row["source"], row["kind"], row["actor"]) for row in listed["results"]]
    assert kinds == [
        ("impact_started", "", None),
        ("detected", "", None),
        ("entry", "created", "agus"),
        ("entry", "status_update", None),
        ("entry", "transition", "agus"),
        ("entry", "transition", "agus"),
        ("entry", "transition", "agus"),
    ]
    assert listed["count"] == 7

    added = client.post(
        url(incident, "timeline/"),
        {
            "occurred_at": (incident.started_at - dt.timedelta(minutes=1)).isoformat(),
            "body": "Certificate expired",
            "is_key_moment": True,
        },
    )
    assert added.status_code == 201, added.json()
    assert (added.json()["generated"], added.json()["visibility"]) == (False, "internal")
    mitigation = listed["results"][5]
    marked = client.patch(url(incident, f"timeline/{mitigation['id']}/"), {"is_key_moment": True, "body": "Moved"})
    assert marked.status_code == 200
    assert (marked.json()["is_key_moment"], marked.json()["body"]) == (True, "Moved")
    assert client.patch(url(incident, f"timeline/{mitigation['id']}/"), {}).status_code == 400
    assert client.patch(url(incident, f"timeline/{mitigation['id']}/"), {"occurred_at": "soon"}).status_code == 400
    assert client.post(url(incident, "timeline/"), {"body": "No time"}).status_code == 400
    assert (
        api(reporter).post(url(incident, "timeline/"), {"occurred_at": "2026-01-01T00:00Z", "body": "x"}).status_code
        == 404
    )
    removed = client.delete(url(incident, f"timeline/{listed['results'][3]['id']}/"))
    assert removed.status_code == 204
    assert client.delete(url(incident, "timeline/999999/")).status_code == 404

    regenerated = client.post(url(incident, "timeline/regenerate/"), {})
    assert regenerated.status_code == 200
    rows = regenerated.json()
    assert len(rows) == 8
    assert rows[0]["body"] == "Certificate expired"
    by_id = {row["id"]: row for row in rows}
    assert (by_id[mitigation["id"]]["is_key_moment"], by_id[mitigation["id"]]["body"]) == (
        True,
        "Investigating → Mitigated: Traffic moved to the backup gateway",
    )

    published_postmortem(incident, author=agent, publisher=manager)
    assert client.patch(url(incident, f"timeline/{mitigation['id']}/"), {"is_key_moment": False}).status_code == 409
    assert client.post(url(incident, "timeline/regenerate/"), {}).status_code == 409
    # Reporters read the published timeline without the internal rows.
    public = api(reporter).get(url(incident, "timeline/")).json()["results"]
    assert [row["body"] for row in public if row["visibility"] == "internal"] == []
    assert "Certificate expired" not in [row["body"] for row in public]
    assert len(public) == PostMortemMoment.objects.filter(visibility="public").count()


# --- Share the knowledge: search ----------------------------------------------------


@pytest.fixture
def library(make_incident: Any, agent: Any, manager: Any, make_user: Any, team: Any) -> dict[str, Any]:
    """Two published post-mortems and a draft of a third, all about certificates."""

    def resolved(title: str, **fields: Any) -> Incident:
        incident = make_incident(title=title, impact="high", urgency="high", **fields)
        incident = lifecycle.investigate_incident(incident=incident, actor=agent)
        return lifecycle.resolve_incident(
            incident=incident, actor=agent, root_cause="See the post-mortem", resolution="Fixed"
        )

    login = published_postmortem(
        resolved("Login outage"),
        author=agent,
        publisher=manager,
        summary="Logins failed for 40 minutes.",
        root_cause="The TLS certificate expired unnoticed.",
        lessons="Alert before expiry.",
    )
    gateway = published_postmortem(
        resolved("Payment gateway certificate expired"),
        author=agent,
        publisher=manager,
        summary="Card payments declined.",
        root_cause="A vendor rotated keys.",
        contributing_factors="Nobody watched the vendor's notices.",
    )
    sari = make_user(username="sari")
    team.members.add(sari)
    draft = write_postmortem(
        incident=resolved("Dashboard TLS errors", team=team),
        actor=manager,
        changes={"summary": "Certificate chain incomplete", "root_cause": "Expired intermediate certificate"},
    )
    return {"login": login, "gateway": gateway, "draft": draft, "sari": sari}  # fmt: skip


def found(response: Any) -> set[str]:
    assert response.status_code == 200, response.json()
    return {row["incident_title"] for row in response.json()["results"]}


def test_search_finds_published_postmortems_and_never_drafts(
    library: dict[str, Any], reporter: Any, agent: Any, api: Any
) -> None:
    search = "/api/v1/postmortems/"
    # Words of the summary, root cause, lessons, contributing factors and incident title.
    assert found(api(reporter).get(search, {"q": "certificate"})) == {
        "Login outage",
        "Payment gateway certificate expired",
    }
    assert found(api(reporter).get(search, {"q": "minutes"})) == {"Login outage"}
    assert found(api(reporter).get(search, {"q": "expiry"})) == {"Login outage"}
    assert found(api(reporter).get(search, {"q": "vendor notices"})) == {"Payment gateway certificate expired"}
    assert found(api(reporter).get(search, {"q": "gateway"})) == {"Payment gateway certificate expired"}
    assert found(api(reporter).get(search, {"q": "chain"})) == set()
    assert found(api(reporter).get(search, {"q": "nothing like this"})) == set()
    assert found(api(reporter).get(search)) == {"Login outage", "Payment gateway certificate expired"}
    # An agent who is not among the draft's responders does not see it here either.
    assert found(api(agent).get(search, {"q": "chain"})) == set()


def test_a_draft_is_listed_for_its_incidents_responders(library: dict[str, Any], api: Any) -> None:
    listed = api(library["sari"]).get("/api/v1/postmortems/", {"q": "chain"})
    assert found(listed) == {"Dashboard TLS errors"}
    assert listed.json()["results"][0]["status"] == "draft"
    drafts = api(library["sari"]).get("/api/v1/postmortems/", {"status": "draft"})
    assert found(drafts) == {"Dashboard TLS errors"}


def test_the_list_is_newest_published_first_and_paginated(library: dict[str, Any], reporter: Any, api: Any) -> None:
    page = api(reporter).get("/api/v1/postmortems/", {"page_size": 1}).json()
    assert (page["count"], page["results"][0]["incident_title"]) == (2, "Payment gateway certificate expired")
    oldest = api(reporter).get("/api/v1/postmortems/", {"ordering": "published_at"}).json()["results"][0]
    assert oldest["incident_title"] == "Login outage"


@pytest.mark.postgres
def test_postgres_search_stems_words_and_ranks_the_best_match_first(
    library: dict[str, Any], reporter: Any, api: Any
) -> None:
    results = api(reporter).get("/api/v1/postmortems/", {"q": "certificates expiring"}).json()["results"]
    # "certificates" and "expiring" match "certificate" and "expired" by their stems; a match in the
    # incident's title ranks above one in the root cause.
    assert [row["incident_title"] for row in results] == ["Payment gateway certificate expired", "Login outage"]
    results = api(reporter).get("/api/v1/postmortems/", {"q": "unnoticed expiry"}).json()["results"]
    assert [row["incident_title"] for row in results] == ["Login outage"]
    assert found(api(reporter).get("/api/v1/postmortems/", {"q": "certificate -vendor"})) == {"Login outage"}


def test_sqlite_search_matches_parts_of_words(library: dict[str, Any], reporter: Any, api: Any) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the embedded SQLite's plain search; PostgreSQL searches whole words")
    assert found(api(reporter).get("/api/v1/postmortems/", {"q": "certif"})) == {
        "Login outage",
        "Payment gateway certificate expired",
    }
    assert found(api(reporter).get("/api/v1/postmortems/", {"q": "TLS unnoticed"})) == {"Login outage"}


# --- Export ------------------------------------------------------------------------


def test_the_markdown_export_has_every_section_the_key_moments_and_the_items(
    incident: Incident, agent: Any, manager: Any, reporter: Any, api: Any
) -> None:
    postmortem = write_postmortem(
        incident=incident,
        actor=agent,
        changes={
            "summary": "Card payments failed for 40 minutes.",
            "contributing_factors": "No expiry alert.",
            "what_went_well": "Fast failover.",
            "what_went_badly": "Slow renewal.",
            "lessons": "Alert 30 days ahead.",
        },
    )
    mitigation = postmortem.moments.get(kind="transition", body__startswith="Investigating → Mitigated")
    update_moment(moment=mitigation, actor=agent, changes={"is_key_moment": True})
    add_action_item(postmortem=postmortem, actor=agent, title="Alert on certificate expiry", owner=agent)
    add_action_item(postmortem=postmortem, actor=agent, title="Document renewal", status="done")

    response = api(agent).get(url(incident, "markdown/"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="{incident.number}-postmortem.md"'
    text = response.content.decode()
    assert text.startswith(f"# Post-mortem: {incident.number} — Card payments declined")
    for heading in (
        "## Summary",
        "## Impact",
        "## Timeline",
        "## Root cause",
        "## Contributing factors",
        "## What went well",
        "## What went badly",
        "## Lessons learnt",
        "## Action items",
    ):
        assert f"\n{heading}\n" in text
    for content in (
        "Card payments failed for 40 minutes.",
        "The gateway certificate expired",
        "No expiry alert.",
        "Fast failover.",
        "Slow renewal.",
        "Alert 30 days ahead.",
        "**Affected users:** 48,000",
        "Checkout payments",
    ):
        assert content in text
    key_lines = [line for line in text.splitlines() if line.startswith("- ★ ")]
    assert len(key_lines) == 1
    assert "Traffic moved to the backup gateway" in key_lines[0]
    assert "- [ ] **Alert on certificate expiry** — Open, owner agus" in text
    assert "- [x] **Document renewal** — Done" in text

    assert api(reporter).get(url(incident, "markdown/")).status_code == 404
    published_postmortem(incident, author=agent, publisher=manager)
    assert api(reporter).get(url(incident, "markdown/")).status_code == 200


@pytest.mark.parametrize(
    ("minutes", "said"), [(25, "(25 min)"), (60, "(1 h)"), (90, "(1 h 30 min)"), (26 * 60 + 5, "(26 h 5 min)")]
)
def test_the_markdown_export_says_the_downtime_as_people_do(
    incident: Incident, agent: Any, api: Any, minutes: int, said: str
) -> None:
    ended = timezone.now() - dt.timedelta(minutes=1)
    write_postmortem(
        incident=incident,
        actor=agent,
        changes={"downtime_started_at": ended - dt.timedelta(minutes=minutes), "downtime_ended_at": ended},
    )

    text = api(agent).get(url(incident, "markdown/")).content.decode()

    downtime = next(line for line in text.splitlines() if line.startswith("- **Downtime:**"))
    assert downtime.endswith(said), downtime


def test_the_schema_documents_the_postmortem_paths(agent: Any, api: Any) -> None:
    from drf_spectacular.generators import SchemaGenerator

    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    for path in (
        "/api/v1/incidents/{number}/postmortem/",
        "/api/v1/incidents/{number}/postmortem/submit/",
        "/api/v1/incidents/{number}/postmortem/return-to-draft/",
        "/api/v1/incidents/{number}/postmortem/publish/",
        "/api/v1/incidents/{number}/postmortem/reopen/",
        "/api/v1/incidents/{number}/postmortem/markdown/",
        "/api/v1/incidents/{number}/postmortem/timeline/",
        "/api/v1/incidents/{number}/postmortem/timeline/{moment_id}/",
        "/api/v1/incidents/{number}/postmortem/timeline/regenerate/",
        "/api/v1/incidents/{number}/postmortem/action-items/",
        "/api/v1/action-items/",
        "/api/v1/action-items/{id}/",
        "/api/v1/postmortems/",
    ):
        assert path in paths, path
    assert set(paths["/api/v1/incidents/{number}/postmortem/"]) >= {"get", "put", "patch"}
