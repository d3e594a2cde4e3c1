"""The post-mortem editor page: its sections, its review moves per role, and the page around them."""

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.models import ResponderProfile
from incidents import lifecycle
from incidents.choices import EntryKind
from incidents.models import Incident, PostMortem, Service
from incidents.postmortem_timeline import add_moment
from incidents.postmortems import submit_postmortem, write_postmortem
from incidents.selectors import incident_list
from tests.postmortem_helpers import published_postmortem

pytestmark = pytest.mark.django_db

JAKARTA = zoneinfo.ZoneInfo("Asia/Jakarta")
TEXTS = {
    "summary": "Checkout failed for 40 minutes.",
    "root_cause": "The payment certificate expired.",
    "contributing_factors": "No alert on certificate expiry.",
    "what_went_well": "The rollback was quick.",
    "what_went_badly": "Paging took 10 minutes.",
    "lessons": "Automate certificate renewal.",
}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def local(value: dt.datetime, zone: dt.tzinfo = JAKARTA) -> str:
    """A time as a datetime-local field in `zone` sends it."""
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def version_in(html: str) -> str:
    match = re.search(r'name="version" value="([^"]*)"', html)
    assert match, "the editor carries the version it was opened at"
    return match.group(1)


@pytest.fixture
def resolved(make_incident: Callable[..., Incident], agent: Any, service: Service) -> Incident:
    started = timezone.now() - dt.timedelta(hours=3)
    incident = make_incident(
        title="Checkout down",
        impact="high",
        urgency="high",
        started_at=started,
        affected_users=1200,
        services=[service],
    )
    incident = lifecycle.investigate_incident(incident=incident, actor=agent)
    incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Rolled back")
    return lifecycle.resolve_incident(incident=incident, actor=agent, root_cause="A bad deploy", resolution="Reverted")


@pytest.fixture
def in_jakarta(agent: Any) -> Any:
    ResponderProfile.objects.update_or_create(user=agent, defaults={"time_zone": "Asia/Jakarta"})
    return agent


def url(incident: Incident, rest: str = "") -> str:
    return f"/incidents/{incident.number}/postmortem/{rest}"


class FormValues(HTMLParser):
    """What a browser would send for the form whose class is `form_class`, as the page filled it in."""

    def __init__(self, form_class: str) -> None:
        super().__init__()
        self.form_class = form_class
        self.inside = False
        self.values: dict[str, Any] = {}
        self.select: str | None = None
        self.textarea: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "form":
            self.inside = self.form_class in (attr.get("class") or "").split()
        if not self.inside:
            return
        name = attr.get("name") or ""
        if tag == "input" and name != "csrfmiddlewaretoken":
            if attr.get("type") == "checkbox":
                if "checked" in attr:
                    self.values.setdefault(name, []).append(attr.get("value"))
            else:
                self.values[name] = attr.get("value") or ""
        elif tag == "select":
            self.select = name
            self.values[name] = ""
        elif tag == "option" and self.select and "selected" in attr:
            self.values[self.select] = attr.get("value") or ""
        elif tag == "textarea":
            self.textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea":
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.values[self.textarea] += data.removeprefix("\n") if not self.values[self.textarea] else data


def document(postmortem_page: str, **changes: Any) -> dict[str, Any]:
    """The editor's form as the page rendered it, with the texts and `changes` typed in."""
    parser = FormValues("postmortem-form")
    parser.feed(postmortem_page)
    return {**parser.values, **TEXTS, **changes}


# --- Starting and writing ---------------------------------------------------------------------


def test_writing_the_post_mortem_starts_it_from_the_incident(resolved: Incident, agent: Any) -> None:
    client = client_for(agent)
    page = client.get(url(resolved))
    assert page.status_code == 200
    assert f'action="/incidents/{resolved.number}/postmortem/start/"' in page.content.decode()
    assert not PostMortem.objects.exists()

    response = client.post(url(resolved, "start/"))

    assert response.status_code == 302
    assert response["Location"] == url(resolved)
    postmortem = PostMortem.objects.get()
    assert (postmortem.author, postmortem.root_cause, postmortem.affected_users) == (agent, "A bad deploy", 1200)
    assert postmortem.history.first().history_user == agent
    html = client.get(url(resolved)).content.decode()
    assert "A bad deploy" in html  # the root cause, in its field
    assert "Impact began." in html  # the generated timeline
    assert 'class="postmortem-form"' in html


def test_the_editor_saves_every_section_audited_with_the_writer(
    resolved: Incident, in_jakarta: Any, service: Service
) -> None:
    other = Service.objects.create(name="Search", slug="search")
    client = client_for(in_jakarta)
    client.post(url(resolved, "start/"))
    began = (timezone.now() - dt.timedelta(hours=2)).replace(second=0, microsecond=0)
    ended = began + dt.timedelta(minutes=40)

    response = client.post(
        url(resolved),
        document(
            client.get(url(resolved)).content.decode(),
            downtime_started_at=local(began),
            downtime_ended_at=local(ended),
            affected_users="4500",
            affected_services=[service.slug, other.slug],
            author=in_jakarta.username,
        ),
    )

    assert response.status_code == 302
    postmortem = PostMortem.objects.get()
    for field, text in TEXTS.items():
        assert getattr(postmortem, field) == text
    # Typed in Jakarta's time, stored as the same instants.
    assert (postmortem.downtime_started_at, postmortem.downtime_ended_at) == (began, ended)
    assert postmortem.affected_users == 4500
    assert set(postmortem.affected_services.all()) == {service, other}
    edits = postmortem.history.filter(history_change_reason__startswith="edited")
    assert {row.history_user for row in edits} == {in_jakarta}
    reasons = sorted(row.history_change_reason for row in edits)
    assert reasons[0] == "edited: affected_services"
    assert reasons[1].startswith("edited: summary, downtime_started_at, downtime_ended_at, affected_users, root_cause")
    page = client.get(url(resolved)).content.decode()
    assert "Post-mortem saved." in page
    assert local(began) in page  # shown back in the writer's zone


def test_the_first_save_creates_the_post_mortem(resolved: Incident, agent: Any) -> None:
    response = client_for(agent).post(url(resolved), {"version": "", **TEXTS})
    assert response.status_code == 302
    postmortem = PostMortem.objects.get()
    assert (postmortem.summary, postmortem.author) == (TEXTS["summary"], agent)
    assert postmortem.moments.exists()


def test_a_field_left_as_shown_is_not_rewritten(resolved: Incident, agent: Any) -> None:
    client = client_for(agent)
    client.post(url(resolved, "start/"))
    before = PostMortem.objects.get()
    page = client.get(url(resolved)).content.decode()

    client.post(
        url(resolved),
        {**document(page), **{field: getattr(before, field) for field in TEXTS}, "summary": "Only this changes"},
    )

    after = PostMortem.objects.get()
    assert after.summary == "Only this changes"
    assert after.downtime_started_at == before.downtime_started_at
    assert after.history.first().history_change_reason == "edited: summary"


def test_a_bad_field_keeps_everything_typed_and_saves_nothing(resolved: Incident, agent: Any) -> None:
    client = client_for(agent)
    client.post(url(resolved, "start/"))
    rows = PostMortem.history.count()

    response = client.post(
        url(resolved), document(client.get(url(resolved)).content.decode(), affected_users="about a thousand")
    )

    html = response.content.decode()
    assert response.status_code == 400
    for text in TEXTS.values():
        assert text in html
    assert 'value="about a thousand"' in html
    assert 'id="id_affected_users_error"' in html
    assert PostMortem.objects.get().summary == ""
    assert PostMortem.history.count() == rows


def test_a_downtime_ending_before_it_began_is_the_domains_field_error(resolved: Incident, agent: Any) -> None:
    client = client_for(agent)
    client.post(url(resolved, "start/"))
    began = timezone.now() - dt.timedelta(hours=1)

    response = client.post(
        url(resolved),
        document(
            client.get(url(resolved)).content.decode(),
            downtime_started_at=local(began, dt.UTC),
            downtime_ended_at=local(began - dt.timedelta(minutes=30), dt.UTC),
        ),
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_downtime_ended_at_error"' in html
    assert "The downtime cannot end before it started." in html
    assert TEXTS["lessons"] in html
    assert PostMortem.objects.get().lessons == ""


def test_a_save_over_someone_elses_is_a_conflict_that_keeps_both_texts(
    resolved: Incident, agent: Any, make_user: Callable[..., Any]
) -> None:
    colleague = make_user(username="bayu")
    client = client_for(agent)
    client.post(url(resolved, "start/"))
    opened = client.get(url(resolved)).content.decode()
    write_postmortem(incident=resolved, actor=colleague, changes={"summary": "Bayu's summary"})

    response = client.post(url(resolved), document(opened))

    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone else saved this post-mortem" in html
    assert TEXTS["summary"] in html  # mine, in the field
    assert "Bayu&#x27;s summary" in html  # theirs, beside it
    assert PostMortem.objects.get().summary == "Bayu's summary"
    # Saving again from the page that showed both replaces theirs, knowingly.
    again = client.post(url(resolved), document(html))
    assert again.status_code == 302
    assert PostMortem.objects.get().summary == TEXTS["summary"]


# --- Review moves per role -------------------------------------------------------------------------


def move(client: Client, incident: Incident, name: str, **fields: str) -> Any:
    data = {f"pm-{name}-{field}": value for field, value in fields.items()}
    return client.post(url(incident, f"transitions/{name}/"), data)


def test_an_agent_submits_and_a_manager_publishes(resolved: Incident, agent: Any, manager: Any) -> None:
    write_postmortem(incident=resolved, actor=agent, changes=TEXTS)
    agent_page = client_for(agent).get(url(resolved)).content.decode()
    assert "/transitions/submit/" in agent_page
    assert "/transitions/publish/" not in agent_page

    assert move(client_for(agent), resolved, "submit", note="Ready").status_code == 302
    postmortem = PostMortem.objects.get()
    assert postmortem.status == "in_review"
    assert postmortem.history.first().history_user == agent
    assert resolved.timeline.filter(kind=EntryKind.POSTMORTEM, body__contains="Ready").exists()

    assert "/transitions/publish/" in client_for(manager).get(url(resolved)).content.decode()
    assert move(client_for(manager), resolved, "publish").status_code == 302
    postmortem.refresh_from_db()
    assert (postmortem.status, postmortem.published_by) == ("published", manager)

    # Published: read-only, reopened only by a manager.
    html = client_for(agent).get(url(resolved)).content.decode()
    assert 'class="postmortem-form"' not in html
    assert TEXTS["lessons"] in html
    assert "/timeline/regenerate/" not in html


def test_an_agent_may_not_publish(resolved: Incident, agent: Any) -> None:
    postmortem = submit_postmortem(
        postmortem=write_postmortem(incident=resolved, actor=agent, changes=TEXTS), actor=agent
    )
    response = move(client_for(agent), resolved, "publish")
    assert response.status_code == 403
    assert "You may not publish post-mortems." in response.content.decode()
    postmortem.refresh_from_db()
    assert postmortem.status == "in_review"


def test_a_reporter_reads_only_published_post_mortems_and_moves_none(
    resolved: Incident, agent: Any, manager: Any, reporter: Any
) -> None:
    write_postmortem(incident=resolved, actor=agent, changes=TEXTS)
    client = client_for(reporter)
    assert client.get(url(resolved)).status_code == 404
    assert move(client, resolved, "submit").status_code == 404
    assert client.post(url(resolved, "start/")).status_code == 403
    assert PostMortem.objects.get().status == "draft"
    add_moment(
        postmortem=PostMortem.objects.get(),
        actor=agent,
        occurred_at=timezone.now(),
        body="Responders-only detail",
        visibility="internal",
    )

    postmortem = published_postmortem(resolved, author=agent, publisher=manager)
    page = client.get(url(resolved))
    html = page.content.decode()
    assert page.status_code == 200
    assert TEXTS["lessons"] in html
    assert "/transitions/" not in html
    assert "Responders-only detail" not in html
    assert "Responders-only detail" in client_for(agent).get(url(resolved)).content.decode()
    refused = move(client, resolved, "reopen", reason="Wrong")
    assert refused.status_code == 403
    postmortem.refresh_from_db()
    assert postmortem.status == "published"


def test_a_wrong_move_is_a_message_and_409_not_a_crash(resolved: Incident, agent: Any) -> None:
    write_postmortem(incident=resolved, actor=agent)  # no summary yet
    client = client_for(agent)

    not_ready = move(client, resolved, "submit")
    assert not_ready.status_code == 409
    assert "write the summary and the root cause first" in not_ready.content.decode()

    write_postmortem(incident=resolved, actor=agent, changes=TEXTS)
    assert move(client, resolved, "submit").status_code == 302
    twice = move(client, resolved, "submit")
    assert twice.status_code == 409
    assert "not allowed while the post-mortem is In review" in twice.content.decode()
    assert client.post(url(resolved, "transitions/explode/")).status_code == 404


def test_a_move_decided_on_a_stale_page_is_a_conflict(resolved: Incident, agent: Any) -> None:
    write_postmortem(incident=resolved, actor=agent, changes=TEXTS)
    response = move(client_for(agent), resolved, "return_to_draft", seen="in_review")
    assert response.status_code == 409
    assert "Someone else changed this post-mortem first" in response.content.decode()
    assert PostMortem.objects.get().status == "draft"


def test_reopening_needs_a_reason(resolved: Incident, agent: Any, manager: Any) -> None:
    published_postmortem(resolved, author=agent, publisher=manager, **TEXTS)
    client = client_for(manager)
    assert "/transitions/reopen/" in client.get(url(resolved)).content.decode()

    missing = move(client, resolved, "reopen", reason="")
    assert missing.status_code == 400
    assert 'id="id_pm-reopen-reason_error"' in missing.content.decode()
    assert PostMortem.objects.get().status == "published"

    assert move(client, resolved, "reopen", reason="The root cause was wrong").status_code == 302
    assert PostMortem.objects.get().status == "draft"
    assert 'class="postmortem-form"' in client_for(agent).get(url(resolved)).content.decode()


def test_saving_a_published_post_mortem_is_refused_and_keeps_the_text(
    resolved: Incident, agent: Any, manager: Any
) -> None:
    client = client_for(agent)
    client.post(url(resolved, "start/"))
    opened = client.get(url(resolved)).content.decode()
    published_postmortem(resolved, author=agent, publisher=manager)

    response = client.post(url(resolved), document(opened, lessons="Typed while it was being published"))

    assert response.status_code == 409
    html = response.content.decode()
    assert "reopens it before it can change" in html
    assert "Typed while it was being published" in html
    assert PostMortem.objects.get().lessons == ""


def test_the_markdown_download(resolved: Incident, agent: Any) -> None:
    write_postmortem(incident=resolved, actor=agent, changes=TEXTS)
    client = client_for(agent)
    assert f'href="/incidents/{resolved.number}/postmortem/markdown/"' in client.get(url(resolved)).content.decode()
    response = client.get(url(resolved, "markdown/"))
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="{resolved.number}-postmortem.md"'
    assert TEXTS["summary"] in response.content.decode()


# --- The section on the incident page ------------------------------------------------------------------


def incident_section(incident: Incident, user: Any) -> str:
    from django.contrib.auth.context_processors import PermWrapper

    request = RequestFactory().get("/")
    request.user = user
    fresh = incident_list().get(pk=incident.pk)
    return render_to_string(
        "web/postmortem/_incident_section.html", {"incident": fresh, "perms": PermWrapper(user)}, request=request
    )


def test_the_incident_page_section_follows_the_state_and_the_role(
    resolved: Incident, agent: Any, manager: Any, reporter: Any
) -> None:
    start = f'action="/incidents/{resolved.number}/postmortem/start/"'
    assert start in incident_section(resolved, agent)
    assert "A P1 or P2 incident closes only once its post-mortem is published." in incident_section(resolved, agent)
    assert start not in incident_section(resolved, reporter)
    assert "No published post-mortem yet." in incident_section(resolved, reporter)

    write_postmortem(incident=resolved, actor=agent)
    draft = incident_section(resolved, agent)
    assert "Open the post-mortem editor" in draft
    assert "Draft" in draft
    assert "Open the post-mortem editor" not in incident_section(resolved, reporter)

    published_postmortem(resolved, author=agent, publisher=manager)
    for user in (reporter, agent):
        html = incident_section(resolved, user)
        assert "Read the post-mortem" in html
        assert f'href="/incidents/{resolved.number}/postmortem/markdown/"' in html
    assert "closes only once" not in incident_section(resolved, agent)


# --- The cost of the page -------------------------------------------------------------------------------


def test_the_editor_costs_the_same_queries_however_long_it_is(resolved: Incident, agent: Any) -> None:
    from incidents.action_items import add_action_item

    postmortem = write_postmortem(incident=resolved, actor=agent, changes=TEXTS)
    client = client_for(agent)

    def grow(count: int) -> None:
        for index in range(count):
            add_moment(
                postmortem=postmortem,
                actor=agent,
                occurred_at=timezone.now() - dt.timedelta(minutes=index),
                body=f"Moment {index}",
                by=agent,
                is_key_moment=index % 2 == 0,
            )
            add_action_item(
                postmortem=postmortem,
                actor=agent,
                title=f"Item {index}",
                owner=agent,
                due_date=timezone.localdate() - dt.timedelta(days=index - 3),
            )

    grow(1)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url(resolved)).status_code == 200
    grow(20)
    with CaptureQueriesContext(connection) as many:
        html = client.get(url(resolved)).content.decode()
    assert "Moment 19" in html
    assert "Item 19" in html
    assert len(many) == len(few)


def test_someone_without_a_role_reaches_no_post_mortem_page(
    resolved: Incident, agent: Any, manager: Any, make_user: Callable[..., Any]
) -> None:
    published_postmortem(resolved, author=agent, publisher=manager)
    client = client_for(make_user(None, username="outsider"))
    assert client.get(url(resolved)).status_code == 403
    assert client.get(url(resolved, "markdown/")).status_code == 403
    assert client.post(url(resolved, "timeline/"), {"add-moment-body": ""}).status_code == 403
    assert client.get("/postmortems/").status_code == 403
