"""One incident's management report (the seeds' step 10): the data, the page and the PDF."""

import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import Any

import pypdf
import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from escalation import profile as settings_of
from escalation.models import Team
from incidents import action_items, lifecycle, postmortem_timeline, postmortems
from incidents.choices import ActionItemKind, ActionItemStatus, Level
from incidents.models import Incident, PostMortem, Service
from reports.exports.incident_report import incident_report

REPORTED = dt.datetime(2026, 10, 5, 8, 0, tzinfo=dt.UTC)


# The day the files are made: October is over, and the follow-up due on 20 October is overdue.
TODAY = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def made_on_a_fixed_day() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=False):
        yield


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(content)).pages)


def pdf_url(incident: Incident) -> str:
    return f"/api/v1/incidents/{incident.number}/report/pdf/"


def page_url(incident: Incident) -> str:
    return f"/incidents/{incident.number}/report/"


@pytest.fixture
def resolved(
    agent: Any, manager: Any, team: Team, service: Service, make_incident: Callable[..., Incident]
) -> Incident:
    """A P1: impact from 07:50, reported 08:00, acknowledged 08:05, mitigated 08:50, resolved 09:00."""
    with time_machine.travel(REPORTED, tick=False):
        incident = make_incident(
            title="Card payments declined at checkout",
            description="Every card payment fails with a gateway error.",
            impact=Level.HIGH,
            urgency=Level.HIGH,
            services=[service],
            team=team,
            affected_users=48000,
            started_at=REPORTED - dt.timedelta(minutes=10),
        )
    with time_machine.travel(REPORTED + dt.timedelta(minutes=5), tick=False):
        incident = lifecycle.acknowledge_incident(incident=incident, actor=agent, note="On it")
        incident = lifecycle.investigate_incident(incident=incident, actor=agent)
    with time_machine.travel(REPORTED + dt.timedelta(minutes=50), tick=False):
        incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Failed over to the backup gateway")
    with time_machine.travel(REPORTED + dt.timedelta(hours=1), tick=False):
        return lifecycle.resolve_incident(
            incident=incident,
            actor=agent,
            root_cause="The card gateway's TLS certificate expired",
            resolution="Renewed the certificate",
        )


def publish(incident: Incident, agent: Any, manager: Any) -> PostMortem:
    """A post-mortem with one key moment and two follow-ups (one overdue), published."""
    postmortem = postmortems.write_postmortem(
        incident=incident,
        actor=agent,
        changes={
            "summary": "Card payments failed for an hour because a certificate expired.",
            "root_cause": "An expired TLS certificate on the card gateway",
            "lessons": "Certificates need an owner and an alert before they expire.",
            "contributing_factors": "The renewal reminder went to a former employee.",
        },
    )
    postmortem_timeline.add_moment(
        postmortem=postmortem,
        actor=agent,
        occurred_at=REPORTED + dt.timedelta(minutes=20),
        body="The expired certificate was found",
        is_key_moment=True,
        by=agent,
    )
    action_items.add_action_item(
        postmortem=postmortem,
        actor=manager,
        title="Alert 30 days before a certificate expires",
        kind=ActionItemKind.DETECT,
        owner=agent,
        due_date=dt.date(2026, 10, 20),
    )
    action_items.add_action_item(
        postmortem=postmortem,
        actor=manager,
        title="Renew certificates automatically",
        owner=manager,
        due_date=dt.date(2099, 1, 31),
        status=ActionItemStatus.IN_PROGRESS,
    )
    postmortem = postmortems.submit_postmortem(postmortem=postmortem, actor=agent)
    return postmortems.publish_postmortem(postmortem=postmortem, actor=manager)


@pytest.mark.django_db
def test_the_report_gathers_impact_highlights_cause_sla_and_follow_ups(
    resolved: Incident, agent: Any, manager: Any
) -> None:
    publish(resolved, agent, manager)
    report = incident_report(resolved)

    assert report.summary == "Card payments failed for an hour because a certificate expired."
    assert report.downtime_seconds == 3600  # 07:50 to the mitigation at 08:50
    assert (report.affected_users, report.services) == (48000, ["Checkout payments"])
    assert report.highlights_are_key_moments
    assert [(h.at, h.text) for h in report.highlights] == [
        (REPORTED + dt.timedelta(minutes=20), "The expired certificate was found")
    ]
    assert report.root_cause == "An expired TLS certificate on the card gateway"
    assert report.contributing_factors == "The renewal reminder went to a former employee."
    assert [(c.kind, c.outcome, c.target_seconds) for c in report.clocks] == [
        ("acknowledge", "met", 15 * 60),
        ("resolve", "met", 4 * 3600),
    ]
    assert report.lessons == "Certificates need an owner and an alert before they expire."
    assert [(f.title, f.owner, f.due_date, f.status, f.overdue) for f in report.follow_ups] == [
        ("Alert 30 days before a certificate expires", "agus", dt.date(2026, 10, 20), "open", True),
        ("Renew certificates automatically", "maya", dt.date(2099, 1, 31), "in_progress", False),
    ]
    assert (report.time_to_acknowledge, report.time_to_resolve) == (300, 3600)


@pytest.mark.django_db
def test_without_a_published_post_mortem_the_highlights_are_the_state_changes(resolved: Incident) -> None:
    report = incident_report(resolved)

    assert not report.highlights_are_key_moments
    assert [h.text for h in report.highlights] == [
        "Reported: Card payments declined at checkout",
        "Now Acknowledged: On it",
        "Now Investigating",
        "Now Mitigated: Failed over to the backup gateway",
        "Now Resolved: The card gateway's TLS certificate expired",
    ]
    assert report.root_cause == "The card gateway's TLS certificate expired"
    assert report.postmortem_status == ""
    assert (report.lessons, report.follow_ups) == ("", [])


@pytest.mark.django_db
def test_the_report_takes_the_same_few_queries_however_long_the_incident(
    resolved: Incident, agent: Any, manager: Any
) -> None:
    postmortem = publish(resolved, agent, manager)
    with CaptureQueriesContext(connection) as first:
        incident_report(resolved)
    postmortem = postmortems.reopen_postmortem(postmortem=postmortem, actor=manager, reason="More follow-ups")
    for n in range(5):
        postmortem_timeline.add_moment(
            postmortem=postmortem, actor=agent, occurred_at=REPORTED, body=f"Moment {n}", is_key_moment=True
        )
        action_items.add_action_item(postmortem=postmortem, actor=manager, title=f"Follow-up {n}", owner=agent)
    postmortem = postmortems.submit_postmortem(postmortem=postmortem, actor=agent)
    postmortems.publish_postmortem(postmortem=postmortem, actor=manager)
    with CaptureQueriesContext(connection) as second:
        report = incident_report(resolved)

    assert (len(report.highlights), len(report.follow_ups)) == (6, 7)
    assert len(second.captured_queries) == len(first.captured_queries) <= 6


@pytest.mark.django_db
def test_the_pdf_reads_as_the_management_report(resolved: Incident, agent: Any, manager: Any, api: Any) -> None:
    publish(resolved, agent, manager)
    response = api(manager).get(pdf_url(resolved))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{resolved.number}-report.pdf"'
    text = pdf_text(response.content)
    for expected in (
        f"Management report: {resolved.number}",
        "Card payments declined at checkout",
        "Card payments failed for an hour because a certificate expired.",
        "Downtime\n1 h (2026-10-05 07:50 – 2026-10-05 08:50)",
        "Affected users\n48,000",
        "Affected services\nCheckout payments",
        "Key moments",
        "The expired certificate was found",
        "Root cause\nAn expired TLS certificate on the card gateway",
        "SLA outcome",
        "Recommendations",
        "Certificates need an owner and an alert before they expire.",
        "Alert 30 days before a certificate expires",
        "2026-10-20\nOpen · overdue",
        "Renew certificates automatically",
        "Page 1",
    ):
        assert expected in text, expected


@pytest.mark.django_db
def test_the_pdf_is_managements_and_in_the_readers_language(
    resolved: Incident, agent: Any, manager: Any, reporter: Any, api: Any
) -> None:
    assert api(reporter).get(pdf_url(resolved)).status_code == 403
    assert api(agent).get(pdf_url(resolved)).status_code == 403
    assert api(None).get(pdf_url(resolved)).status_code in (401, 403)
    assert api(manager).get("/api/v1/incidents/INC-999999/report/pdf/").status_code == 404
    assert api(manager).get("/api/v1/incidents/nonsense/report/pdf/").status_code == 404
    # A script with a token gets the language and time zone of its user's profile.
    settings_of.update_settings(
        user=manager,
        actor=manager,
        first_name="Maya",
        last_name="",
        email="maya@example.com",
        time_zone="Asia/Jakarta",
        language="id",
    )
    text = pdf_text(api(manager).get(pdf_url(resolved)).content)
    assert f"Laporan manajemen: {resolved.number}" in text
    assert "Sorotan kronologi" in text
    assert "Waktu dalam Asia/Jakarta" in text
    assert "2026-10-05 14:50" in text  # 07:50 UTC in Jakarta
    # Only for that request: the thread that served it is back to the defaults.
    assert (translation.get_language(), timezone.get_current_timezone_name()) == ("en", "UTC")


@pytest.mark.django_db
def test_the_page_shows_the_report_with_a_link_to_its_pdf(
    resolved: Incident, agent: Any, manager: Any, reporter: Any
) -> None:
    publish(resolved, agent, manager)
    client = Client()
    client.force_login(manager)
    response = client.get(page_url(resolved))

    assert response.status_code == 200
    html = response.content.decode()
    assert f"<h1>Management report: {resolved.number}</h1>" in html
    assert f'href="/api/v1/incidents/{resolved.number}/report/pdf/"' in html
    for expected in (
        "The expired certificate was found",
        "An expired TLS certificate on the card gateway",
        "Alert 30 days before a certificate expires",
        "<dd>1 h<br>",  # downtime
        "<dd>5 min</dd>",  # time to acknowledge
        "<dd>1 h</dd>",  # time to resolve
        "48000",
    ):
        assert expected in html, expected
    assert client.get("/incidents/INC-999999/report/").status_code == 404
    for user in (agent, reporter):
        client.force_login(user)
        assert client.get(page_url(resolved)).status_code == 403
    client.logout()
    assert client.get(page_url(resolved))["Location"].startswith("/accounts/login/")
