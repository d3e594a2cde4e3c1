"""The incident page as a whole: its sections in order, what each role sees, errors, and its query count."""

import datetime as dt
import itertools
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents import fix_plan, investigation, lifecycle, monitoring, response, services, updates
from incidents.choices import FixKind, ResponseRoleKind, RiskRating, TaskStatus, UpdateAudience
from incidents.intake.integrations import create_integration
from incidents.models import (
    Alert,
    Implementation,
    Incident,
    InvestigationTask,
    ResponseRole,
    Service,
    SolutionOption,
    TimelineEntry,
)
from tests.incident_page_helpers import client_for, page_of, post

pytestmark = pytest.mark.django_db

ORDER = [
    "actions",
    "team",
    "tasks",
    "updates",
    "fix-plan",
    "monitoring",
    "clocks",
    "description",
    "timeline",
    "related",
    "attachments",
    "alerts",
    "postmortem",
    "history",
]


def headings(html: str) -> list[str]:
    return re.findall(r'<h2 id="([a-z-]+)"', html)


def test_the_sections_come_in_the_order_of_what_to_do_first_with_a_table_of_contents(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Checkout is slow")
    html = page_of(client_for(agent), incident)
    assert headings(html) == ORDER
    contents = re.search(r'<nav class="toc" aria-label="On this page">(.*?)</nav>', html, re.S)
    assert contents is not None
    assert re.findall(r'href="#([a-z-]+)"', contents.group(1)) == ORDER
    assert html.index('id="alerts"') < html.index('id="history"')


def test_a_reporter_sees_no_responder_controls_nor_internal_notes_and_updates(
    agent: Any, reporter: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Checkout is slow", reporter=reporter)
    lifecycle.investigate_incident(incident=incident, actor=agent)
    services.add_note(incident=incident, actor=agent, body="Internal note text", visibility="internal")
    updates.post_status_update(incident=incident, actor=agent, body="Internal update text", audience="internal")
    updates.post_status_update(incident=incident, actor=agent, body="Public update text", audience="stakeholders")
    investigation.create_task(incident=incident, actor=agent, title="A task")
    html = page_of(client_for(reporter), incident)
    assert "Internal note text" not in html
    assert "Internal update text" not in html
    assert "Public update text" in html
    assert "A task" in html
    assert headings(html) == [
        "actions",
        "team",
        "tasks",
        "updates",
        "fix-plan",
        "clocks",
        "description",
        "timeline",
        "related",
        "attachments",
        "postmortem",
    ]
    actions = set(re.findall(rf'action="/incidents/{incident.number}/([a-z/-]*)', html))
    # What a reporter may do here: a public note and a file.
    assert actions == {"notes/", "attachments/"}

    agent_html = page_of(client_for(agent), incident)
    assert "Internal note text" in agent_html
    assert "Internal update text" in agent_html
    agent_actions = set(re.findall(rf'action="/incidents/{incident.number}/([a-z/-]*)', agent_html))
    assert {"team/", "team/page/", "team/commander/", "war-room/", "tasks/", "fix-plan/options/", "updates/"} <= (
        agent_actions
    )
    assert {"links/duplicate/", "links/major/", "attachments/", "notes/", "assign/", "escalate/"} <= agent_actions


def test_a_form_with_errors_is_summed_up_at_the_top_with_a_link_to_its_section(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Checkout is slow")
    response_ = post(client_for(agent), incident, "tasks/", {"task-title": ""})
    html = response_.content.decode()
    assert response_.status_code == 400
    summary = re.search(r'<div class="error-summary" role="alert".*?</div>', html, re.S)
    assert summary is not None
    assert '<a href="#tasks">Investigation tasks</a>' in summary.group(0)
    assert html.index("error-summary") < html.index('id="actions"')


def test_the_page_renders_in_indonesian(agent: Any, make_incident: Callable[..., Incident]) -> None:
    incident = make_incident(title="Checkout is slow")
    client = client_for(agent)
    client.post("/i18n/setlang/", {"language": "id", "next": "/"})
    html = page_of(client, incident)
    assert '<html lang="id">' in html
    assert headings(html) == ORDER


# --- The query count ------------------------------------------------------------------------------


def extra_queries(few: CaptureQueriesContext, many: CaptureQueriesContext) -> list[str]:
    """The statements the longer page ran more often (numbers blurred), to say where a query per row came from."""

    def shapes(run: CaptureQueriesContext) -> Counter[str]:
        return Counter(re.sub(r"\d+", "N", query["sql"])[:300] for query in run.captured_queries)

    return [f"{times}× {sql}" for sql, times in (shapes(many) - shapes(few)).items()]


class Crowd:
    """Adds `n` more of everything the incident page lists to one incident, through the domain functions."""

    def __init__(self, incident: Incident, actor: Any, make_user: Any, make_incident: Any, service: Service) -> None:
        self.incident, self.actor, self.make_user, self.make_incident = incident, actor, make_user, make_incident
        self.integration = create_integration(service=service, kind="generic", actor=None)[0]
        self.counter = itertools.count(1)
        self.chosen = fix_plan.choose_option(
            option=fix_plan.propose_option(
                incident=incident, actor=actor, title="Chosen", kind=FixKind.QUICK_FIX, risk=RiskRating.LOW
            ),
            actor=actor,
        )

    def add(self, n: int) -> None:
        incident, actor = self.incident, self.actor
        now = timezone.now()
        for _ in range(n):
            k = next(self.counter)
            person = self.make_user("agent", username=f"responder-{k}")
            person.email = f"responder-{k}@example.com"
            person.save()
            # A role, a page and its notification; another role that ends.
            response.page_responder(incident=incident, actor=actor, user=person, expertise=f"area {k}", message="Help")
            ended = response.add_responder(incident=incident, actor=actor, user=person, role=ResponseRoleKind.SCRIBE)
            response.end_role(incident=incident, actor=actor, role=ended)
            # Tasks: one open, one done.
            investigation.create_task(incident=incident, actor=actor, title=f"Open {k}", owner=person, due_at=now)
            done = investigation.create_task(incident=incident, actor=actor, title=f"Done {k}", owner=person)
            investigation.update_task(task=done, actor=actor, changes={"status": TaskStatus.DONE})
            # Options and implementations.
            fix_plan.propose_option(
                incident=incident, actor=actor, title=f"Option {k}", kind=FixKind.PERMANENT, risk=RiskRating.MEDIUM
            )
            fix_plan.record_implementation(
                incident=incident,
                actor=actor,
                option=self.chosen,
                window_start=now,
                window_end=now + dt.timedelta(minutes=10),
                outcome="succeeded",
                executed_by=person,
                supervised_by=actor,
            )
            # Updates, notes, history rows, attachments.
            updates.post_status_update(
                incident=incident, actor=actor, body=f"Update {k}", audience=UpdateAudience.INTERNAL
            )
            updates.post_status_update(incident=incident, actor=actor, body=f"For all {k}", audience="stakeholders")
            services.add_note(incident=incident, actor=actor, body=f"Note {k}")
            services.update_incident(incident=incident, actor=actor, changes={"title": f"Checkout is slow ({k})"})
            services.assign_incident(incident=incident, actor=actor, assignee=person)
            services.add_attachment(
                incident=incident,
                actor=actor,
                file=SimpleUploadedFile(f"log-{k}.txt", b"log", content_type="text/plain"),
            )
            # Related incidents: a duplicate and a child.
            services.link_as_duplicate(incident=self.make_incident(title=f"Dup {k}"), actor=actor, original=incident)
            services.link_to_major_incident(
                incident=self.make_incident(title=f"Child {k}"), actor=actor, major=incident
            )
            # Alerts from monitoring, and a monitoring period ended by a recurrence.
            Alert.objects.create(
                integration=self.integration,
                incident=incident,
                dedup_key=f"alert-{k}",
                group_key="g",
                summary=f"Alert {k}",
                fired_at=now,
            )
            incident.refresh_from_db()
            incident = lifecycle.mitigate_incident(incident=incident, actor=actor, note="Restarted")
            incident = monitoring.report_recurrence(incident=incident, actor=actor, reason="Back")


@pytest.mark.parametrize("role", ["agent", "manager", "reporter"])
def test_the_incident_page_costs_the_same_queries_whatever_it_lists(
    role: str,
    agent: Any,
    manager: Any,
    reporter: Any,
    make_user: Any,
    make_incident: Callable[..., Incident],
    service: Service,
) -> None:
    incident = make_incident(title="Checkout is slow", services=[service], reporter=reporter)
    lifecycle.investigate_incident(incident=incident, actor=agent)
    crowd = Crowd(incident, agent, make_user, make_incident, service)
    viewer = {"agent": agent, "manager": manager, "reporter": reporter}[role]
    client = client_for(viewer)

    crowd.add(1)
    page_of(client, incident)  # warm up: sessions, permissions
    with CaptureQueriesContext(connection) as few:
        few_html = page_of(client, incident)
    with CaptureQueriesContext(connection) as few_all:
        page_of(client, incident, "?history=all")
    crowd.add(5)
    with CaptureQueriesContext(connection) as many:
        many_html = page_of(client, incident)
    with CaptureQueriesContext(connection) as many_all:
        page_of(client, incident, "?history=all")

    assert len(many) == len(few), extra_queries(few, many)
    assert len(many_all) == len(few_all)
    # The second round did show more of each.
    assert many_html.count("Open ") > few_html.count("Open ")
    assert many_html.count("Dup ") == 6
    if role != "reporter":
        assert many_html.count('class="badge internal">internal</span>') > few_html.count(
            'class="badge internal">internal</span>'
        )


# --- Refusals -------------------------------------------------------------------------------------


@pytest.fixture
def worked(agent: Any, reporter: Any, make_incident: Callable[..., Incident]) -> dict[str, Any]:
    """An incident under investigation with a role, a task and a chosen option, and one more incident to link to."""
    incident = make_incident(title="Secret checkout trouble", reporter=reporter)
    incident = lifecycle.investigate_incident(incident=incident, actor=agent)
    role = response.add_responder(incident=incident, actor=agent, user=agent, role=ResponseRoleKind.SCRIBE)
    task = investigation.create_task(incident=incident, actor=agent, title="Look")
    option = fix_plan.choose_option(
        option=fix_plan.propose_option(
            incident=incident, actor=agent, title="Fix", kind=FixKind.QUICK_FIX, risk=RiskRating.LOW
        ),
        actor=agent,
    )
    other = make_incident(title="Other")
    return {"incident": incident, "role": role, "task": task, "option": option, "other": other}


def responder_forms(worked: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every change of the page a reporter may not make, each with a body that would be valid for an agent."""
    task, option, other = worked["task"].pk, worked["option"].pk, worked["other"].number
    impl = {"impl-window_start": "2026-01-01T09:00", "impl-window_end": "2026-01-01T10:00", "impl-outcome": "failed"}
    return [
        ("team/", {"role-user": "agus", "role-role": "sme", "role-expertise": "Networks"}),
        (f"team/{worked['role'].pk}/end/", {}),
        ("team/commander/", {"command-user": "agus"}),
        ("team/page/", {"page-user": "agus", "page-role": "scribe", "page-message": "Help"}),
        ("war-room/", {"links-war_room_url": "https://meet.example.com/x", "links-chat_channel_url": ""}),
        ("tasks/", {"task-title": "More", "task-status": "open"}),
        (f"tasks/{task}/", {f"task-{task}-status": "done"}),
        ("fix-plan/options/", {"option-title": "Other fix", "option-kind": "permanent", "option-risk": "low"}),
        (
            f"fix-plan/options/{option}/",
            {f"option-{option}-title": "Renamed", f"option-{option}-kind": "quick_fix", f"option-{option}-risk": "low"},
        ),
        (f"fix-plan/options/{option}/choose/", {}),
        (f"fix-plan/options/{option}/implementations/", impl),
        ("updates/", {"update-body": "Hello", "update-audience": "stakeholders"}),
        ("links/duplicate/", {"duplicate-duplicate_of": other}),
        ("links/major/", {"major-major_incident": other}),
        ("transitions/mitigate/", {"mitigate-note": "Done"}),
        ("assign/", {"assignee": "agus", "commander": ""}),
        ("escalate/", {"note": "Help"}),
    ]


def written() -> tuple[int, ...]:
    """Counts that any change from the page would move."""
    return (
        TimelineEntry.objects.count(),
        Incident.history.count(),
        ResponseRole.history.count(),
        InvestigationTask.history.count(),
        SolutionOption.history.count(),
        Implementation.objects.count(),
    )


def test_a_reporter_is_refused_every_responder_change_and_nothing_is_written(
    reporter: Any, worked: dict[str, Any]
) -> None:
    client = client_for(reporter)
    before = written()
    for rest, data in responder_forms(worked):
        refused = post(client, worked["incident"], rest, data)
        assert refused.status_code == 403, (rest, refused.status_code)
        assert 'class="error"' in refused.content.decode(), rest
    assert written() == before


def test_someone_who_may_not_read_incidents_gets_a_bare_403_from_every_form(
    make_user: Any, worked: dict[str, Any]
) -> None:
    client = client_for(make_user(None, username="outsider"))
    before = written()
    everything = [*responder_forms(worked), ("notes/", {"body": "Hi", "visibility": "public"}), ("recurrence/", {})]
    everything.append(("attachments/", {"attachment-file": SimpleUploadedFile("a.txt", b"a")}))
    for rest, data in everything:
        refused = post(client, worked["incident"], rest, data)
        assert refused.status_code == 403, rest
        assert "Secret checkout trouble" not in refused.content.decode(), rest
    assert written() == before
