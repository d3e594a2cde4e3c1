"""The web UI's pages: the queue, reporting an incident and the incident page, through Django's test client."""

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.models import ResponderProfile
from incidents.choices import Level, State
from incidents.lifecycle import acknowledge_incident
from incidents.models import Attachment, Incident, Service
from incidents.web import views
from itsm.pagination import CappedPaginator

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def numbers_in(html: str) -> list[str]:
    return re.findall(r'href="/incidents/(INC-\d+)/"', html)


# --- Logging in -------------------------------------------------------------


def test_pages_ask_for_a_login_first(db: None) -> None:
    response = Client().get("/?state=new")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_logging_in_leads_to_the_queue_and_out_again(agent: Any) -> None:
    agent.set_password("s3cret-pass")
    agent.save()
    client = Client()
    page = client.get("/accounts/login/")
    assert 'for="id_username"' in page.content.decode()
    response = client.post("/accounts/login/", {"username": agent.username, "password": "s3cret-pass"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302


def test_a_wrong_password_is_said_plainly(agent: Any) -> None:
    response = Client().post("/accounts/login/", {"username": agent.username, "password": "nope"})
    assert response.status_code == 200
    assert "do not match" in response.content.decode()


def test_navigation_follows_the_role(reporter: Any, agent: Any, staff_admin: Any) -> None:
    assert "Back office" not in client_for(agent).get("/").content.decode()
    assert "Back office" in client_for(staff_admin).get("/").content.decode()
    assert "Report an incident" in client_for(reporter).get("/").content.decode()


# --- The queue --------------------------------------------------------------


def test_the_queue_shows_incidents_with_priority_and_state(agent: Any, make_incident: Callable[..., Incident]) -> None:
    incident = make_incident(title="Checkout fails", impact=Level.HIGH, urgency=Level.HIGH)
    html = client_for(agent).get("/").content.decode()
    assert incident.number in html
    assert "Checkout fails" in html
    assert 'class="badge priority-p1"' in html
    assert "state-new" in html


def test_the_queue_filters_and_searches(
    agent: Any, manager: Any, make_incident: Callable[..., Incident], service: Service
) -> None:
    mine = make_incident(title="Database slow", assignee=agent, impact=Level.LOW, urgency=Level.LOW)
    unassigned = make_incident(title="Login broken", impact=Level.HIGH, urgency=Level.HIGH, services=[service])
    acknowledged = make_incident(title="Email delayed")
    acknowledge_incident(incident=acknowledged, actor=agent)
    client = client_for(agent)

    assert numbers_in(client.get("/?scope=mine").content.decode()) == [mine.number]
    assert set(numbers_in(client.get("/?scope=unassigned").content.decode())) == {
        unassigned.number,
        acknowledged.number,
    }
    assert numbers_in(client.get("/?state=acknowledged").content.decode()) == [acknowledged.number]
    assert numbers_in(client.get("/?priority=P1").content.decode()) == [unassigned.number]
    assert numbers_in(client.get(f"/?service={service.slug}").content.decode()) == [unassigned.number]
    assert numbers_in(client.get("/?q=login").content.decode()) == [unassigned.number]
    assert numbers_in(client.get(f"/?assignee={agent.username}").content.decode()) == [mine.number]
    assert numbers_in(client.get(f"/?q={mine.number}").content.decode()) == [mine.number]
    by_priority = numbers_in(client.get("/?sort=priority").content.decode())
    assert by_priority[0] == unassigned.number
    assert by_priority[-1] == mine.number


def test_breaching_soon_lists_incidents_whose_clock_is_nearly_out(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    urgent = make_incident(title="P1 now", impact=Level.HIGH, urgency=Level.HIGH)  # acknowledge within 15 min
    make_incident(title="P4 later", impact=Level.LOW, urgency=Level.LOW)  # a business day
    html = client_for(agent).get("/?scope=breaching").content.decode()
    assert numbers_in(html) == [urgent.number]


def test_the_sla_turns_amber_then_red_as_time_runs_out(agent: Any, make_incident: Callable[..., Incident]) -> None:
    make_incident(title="P1", impact=Level.HIGH, urgency=Level.HIGH)
    client = client_for(agent)
    assert "sla-ok" in client.get("/").content.decode()
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=12), tick=False):
        html = client.get("/").content.decode()
        assert "sla-warning" in html
        assert "▲" in html  # not colour alone
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16), tick=False):
        html = client.get("/").content.decode()
        assert "sla-breached" in html
        assert "Breached" in html


def test_the_queue_refreshes_itself_keeping_its_filters(agent: Any, make_incident: Callable[..., Incident]) -> None:
    make_incident(title="One")
    client = client_for(agent)
    html = client.get("/?state=new&q=One").content.decode()
    assert 'hx-get="/?state=new&amp;q=One"' in html
    assert 'hx-trigger="every 20s"' in html
    partial = client.get("/?state=new&q=One", headers={"HX-Request": "true"}).content.decode()
    assert partial.lstrip().startswith('<div id="queue"')
    assert "<html" not in partial


def test_the_queue_pages(agent: Any, make_incident: Callable[..., Incident]) -> None:
    for index in range(30):
        make_incident(title=f"Incident {index}")
    client = client_for(agent)
    first = numbers_in(client.get("/").content.decode())
    second = numbers_in(client.get("/?page=2").content.decode())
    assert len(first) == 25
    assert len(second) == 5
    assert not set(first) & set(second)


def test_the_queue_counts_no_further_than_its_cap(
    agent: Any, make_incident: Callable[..., Incident], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An exact count of a million incidents would read them all on every view; past the cap the
    # queue says "more than" and asks for narrower filters at its last page.
    monkeypatch.setattr(views, "PAGE_SIZE", 5)
    monkeypatch.setattr(CappedPaginator, "cap", 10)
    for index in range(12):
        make_incident(title=f"Incident {index}")
    client = client_for(agent)
    first = client.get("/").content.decode()
    assert "Page 1 of more than 2" in first
    assert "narrow the filters" not in first
    last = client.get("/?page=3").content.decode()
    assert len(numbers_in(last)) == 1
    assert 'rel="next"' not in last
    assert "More than 10 incidents match: narrow the filters to see older ones." in last
    exact = client.get("/?q=Incident 1").content.decode()  # "Incident 1", "Incident 10", "Incident 11"
    assert "Page 1 of 1" in exact


def test_the_queue_costs_the_same_queries_whatever_it_shows(
    agent: Any, make_incident: Callable[..., Incident], service: Service
) -> None:
    client = client_for(agent)
    make_incident(title="first", services=[service], assignee=agent)
    with CaptureQueriesContext(connection) as few:
        client.get("/")
    for index in range(24):
        make_incident(title=f"more {index}", services=[service], assignee=agent)
    with CaptureQueriesContext(connection) as many:
        client.get("/")
    assert len(many) == len(few)


def test_times_show_in_the_users_time_zone(agent: Any, make_incident: Callable[..., Incident]) -> None:
    make_incident(title="Zoned")
    ResponderProfile.objects.update_or_create(user=agent, defaults={"time_zone": "Asia/Jakarta"})
    html = client_for(agent).get("/").content.decode()
    assert "+07:00" in html


# --- Reporting an incident ----------------------------------------------------


def test_reporting_an_incident_opens_it_with_the_priority_of_impact_and_urgency(
    reporter: Any, service: Service
) -> None:
    client = client_for(reporter)
    page = client.get("/incidents/new/").content.decode()
    assert 'name="impact"' in page
    response = client.post(
        "/incidents/new/",
        {
            "title": "Payments time out",
            "description": "Checkout spins, then 504.",
            "category": "api_disruption",
            "services": [service.slug],
            "impact": "high",
            "urgency": "medium",
            "affected_users": "1200",
        },
    )
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.number}/"
    assert (incident.priority, incident.source, incident.reporter) == ("P2", "web", reporter)
    assert list(incident.services.all()) == [service]
    assert incident.affected_users == 1200
    assert incident.history.first().history_user == reporter
    follow = client.get(response["Location"]).content.decode()
    assert "Payments time out" in follow
    assert "reported as P2" in follow


def test_a_report_with_errors_keeps_what_was_typed_and_writes_nothing(reporter: Any, service: Service) -> None:
    future = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client_for(reporter).post(
        "/incidents/new/",
        {
            "title": "",
            "description": "Long careful description of what users see.",
            "services": [service.slug],
            "impact": "high",
            "urgency": "loud",
            "started_at": future,
            "diagnostics": "trace id 42",
        },
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert not Incident.objects.exists()
    assert "Long careful description of what users see." in html
    assert "trace id 42" in html
    assert re.search(rf'value="{service.slug}"[^>]*checked', html)
    for field in ("title", "urgency", "started_at"):
        assert f'id="id_{field}_error"' in html
    assert "The impact cannot begin in the future." in html


def test_a_report_can_carry_an_attachment(reporter: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("error.log", b"Traceback: boom\n", content_type="text/plain")
    response = client_for(reporter).post(
        "/incidents/new/",
        {"title": "Crash", "category": "other", "impact": "low", "urgency": "low", "attachment": upload},
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.incident == Incident.objects.get()


def test_the_priority_is_shown_live_as_impact_and_urgency_change(reporter: Any) -> None:
    client = client_for(reporter)
    assert "priority-p1" in client.get("/incidents/new/priority/?impact=high&urgency=high").content.decode()
    assert "priority-p4" in client.get("/incidents/new/priority/?impact=low&urgency=medium").content.decode()
    assert "badge" not in client.get("/incidents/new/priority/?impact=huge&urgency=high").content.decode()


# --- The incident page ----------------------------------------------------------


def test_the_incident_page_shows_its_header_clocks_and_timeline(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="API errors", impact=Level.HIGH, urgency=Level.HIGH)
    acknowledge_incident(incident=incident, actor=agent, note="On it")
    html = client_for(agent).get(f"/incidents/{incident.number}/").content.decode()
    assert "API errors" in html
    assert "priority-p1" in html
    assert f"state-{State.ACKNOWLEDGED}" in html
    assert "On it" in html


def test_an_unknown_incident_is_a_404(agent: Any) -> None:
    assert client_for(agent).get("/incidents/INC-999999/").status_code == 404
    assert client_for(agent).get("/incidents/nonsense/").status_code == 404


def test_the_page_speaks_indonesian_when_asked(agent: Any) -> None:
    client = client_for(agent)
    response = client.post("/i18n/setlang/", {"language": "id", "next": "/"})
    assert response.status_code == 302
    html = client.get("/").content.decode()
    assert '<html lang="id">' in html


# --- Working an incident from its page ----------------------------------------------


def test_the_page_offers_only_the_transitions_the_user_may_run(
    agent: Any, manager: Any, reporter: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Slow")
    agent_page = client_for(agent).get(f"/incidents/{incident.number}/").content.decode()
    assert f'action="/incidents/{incident.number}/transitions/acknowledge/"' in agent_page
    assert "/transitions/close/" not in agent_page
    reporter_page = client_for(reporter).get(f"/incidents/{incident.number}/").content.decode()
    assert "/transitions/" not in reporter_page
    assert "No state changes are open to you now." in reporter_page


def test_a_transition_from_the_page_runs_and_is_audited(agent: Any, make_incident: Callable[..., Incident]) -> None:
    incident = make_incident(title="Slow")
    response = client_for(agent).post(
        f"/incidents/{incident.number}/transitions/acknowledge/", {"acknowledge-note": "Looking"}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.state == State.ACKNOWLEDGED
    assert incident.history.first().history_user == agent
    assert incident.timeline.filter(body__contains="Looking").exists()


def test_a_transition_missing_its_fields_keeps_the_form_open_with_errors(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Slow")
    client = client_for(agent)
    client.post(f"/incidents/{incident.number}/transitions/investigate/", {})
    response = client.post(
        f"/incidents/{incident.number}/transitions/resolve/",
        {"resolve-root_cause": "A full disk", "resolve-resolution": ""},
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert '<details open class="action action-resolve">' in html
    assert "A full disk" in html
    assert 'id="id_resolve-resolution_error"' in html
    incident.refresh_from_db()
    assert incident.state == State.INVESTIGATING


def test_a_wrong_transition_is_an_error_on_the_page_not_a_crash(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Slow")
    response = client_for(agent).post(f"/incidents/{incident.number}/transitions/resume/", {})
    assert response.status_code == 409
    html = response.content.decode()
    assert 'class="error"' in html
    assert "resume" in html.lower()
    incident.refresh_from_db()
    assert incident.state == State.NEW


def test_an_unknown_transition_is_a_404(agent: Any, make_incident: Callable[..., Incident]) -> None:
    incident = make_incident(title="Slow")
    assert client_for(agent).post(f"/incidents/{incident.number}/transitions/explode/", {}).status_code == 404


def test_notes_from_the_page_internal_and_public(
    agent: Any, reporter: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Slow", reporter=reporter)
    client_for(agent).post(f"/incidents/{incident.number}/notes/", {"body": "Only us", "visibility": "internal"})
    client_for(reporter).post(f"/incidents/{incident.number}/notes/", {"body": "From me", "visibility": "public"})
    refused = client_for(reporter).post(
        f"/incidents/{incident.number}/notes/", {"body": "Sneaky", "visibility": "internal"}
    )
    assert refused.status_code == 403
    assert list(incident.timeline.filter(kind="note").values_list("body", "visibility")) == [
        ("Only us", "internal"),
        ("From me", "public"),
    ]
    assert "Only us" not in client_for(reporter).get(f"/incidents/{incident.number}/").content.decode()
    assert "Only us" in client_for(agent).get(f"/incidents/{incident.number}/").content.decode()


def test_an_empty_note_is_a_field_error(agent: Any, make_incident: Callable[..., Incident]) -> None:
    incident = make_incident(title="Slow")
    response = client_for(agent).post(f"/incidents/{incident.number}/notes/", {"body": "", "visibility": "internal"})
    assert response.status_code == 400
    assert 'id="id_body_error"' in response.content.decode()


def test_assigning_an_assignee_and_a_commander_from_the_page(
    agent: Any, manager: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Slow")
    response = client_for(agent).post(
        f"/incidents/{incident.number}/assign/", {"assignee": agent.username, "commander": manager.username}
    )
    assert response.status_code == 302
    incident.refresh_from_db()
    assert (incident.assignee, incident.commander) == (agent, manager)


# --- Saved filters ---------------------------------------------------------------


def test_a_saved_filter_brings_the_queue_back_as_it_was(agent: Any, make_incident: Callable[..., Incident]) -> None:
    mine = make_incident(title="Mine", assignee=agent)
    make_incident(title="Not mine")
    client = client_for(agent)
    response = client.post("/filters/", {"name": "My P3s", "query": "scope=mine&priority=P3&page=4&evil=1"})
    assert response.status_code == 302
    assert response["Location"] == "/?priority=P3&scope=mine"
    page = client.get("/").content.decode()
    assert '<a href="/?priority=P3&amp;scope=mine">My P3s</a>' in page
    assert numbers_in(client.get("/?priority=P3&scope=mine").content.decode()) == [mine.number]


def test_saving_a_filter_again_under_its_name_replaces_it(agent: Any) -> None:
    client = client_for(agent)
    client.post("/filters/", {"name": "Queue", "query": "state=new"})
    client.post("/filters/", {"name": "Queue", "query": "state=acknowledged"})
    assert list(agent.saved_filters.values_list("name", "query")) == [("Queue", "state=acknowledged")]


def test_a_filter_needs_a_name(agent: Any) -> None:
    client = client_for(agent)
    response = client.post("/filters/", {"name": "", "query": "state=new"}, follow=True)
    assert "Give the filter a name" in response.content.decode()
    assert not agent.saved_filters.exists()


def test_saved_filters_are_each_users_own(agent: Any, make_user: Callable[..., Any]) -> None:
    other = make_user("agent", username="other")
    client_for(other).post("/filters/", {"name": "Theirs", "query": "state=new"})
    saved = other.saved_filters.get()
    assert "Theirs" not in client_for(agent).get("/").content.decode()
    assert client_for(agent).post(f"/filters/{saved.pk}/delete/").status_code == 404
    assert client_for(other).post(f"/filters/{saved.pk}/delete/").status_code == 302
    assert not other.saved_filters.exists()
