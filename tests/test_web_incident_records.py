"""The incident page's related incidents, attachments, monitoring alerts and history (who changed what)."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from incidents import services
from incidents.choices import State
from incidents.intake.integrations import create_integration
from incidents.models import Alert, Attachment, Incident, Service
from incidents.web.incident_history import HISTORY_LIMIT
from tests.incident_page_helpers import client_for, field_error, page_of, post, section
from tests.intake_helpers import AM_PATH, am_notification, bearer, post_json, process

pytestmark = pytest.mark.django_db


# --- Related incidents ------------------------------------------------------------------


def test_an_incident_is_marked_a_duplicate_by_number_and_both_pages_link(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    original = make_incident(title="Checkout is down")
    copy = make_incident(title="Cannot pay")
    client = client_for(agent)
    response = post(client, copy, "links/duplicate/", {"duplicate-duplicate_of": original.number.lower()})
    assert response.status_code == 302
    copy.refresh_from_db()
    assert (copy.duplicate_of, copy.state) == (original, State.CANCELLED)
    assert copy.history.first().history_user == agent
    related = section(page_of(client, copy), "related")
    assert "Duplicate of" in related
    assert f'<a href="/incidents/{original.number}/">{original.number}</a> Checkout is down' in related
    related = section(page_of(client, original), "related")
    assert "Duplicates of this incident" in related
    assert f'<a href="/incidents/{copy.number}/">{copy.number}</a> Cannot pay' in related


def test_an_unknown_or_own_number_is_a_field_error_with_what_was_typed(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Checkout is down")
    client = client_for(agent)
    unknown = post(client, incident, "links/duplicate/", {"duplicate-duplicate_of": "INC-999999"})
    assert unknown.status_code == 400
    html = unknown.content.decode()
    assert field_error(html, "id_duplicate-duplicate_of") == "There is no incident INC-999999."
    assert 'value="INC-999999"' in html
    itself = post(client, incident, "links/duplicate/", {"duplicate-duplicate_of": incident.number})
    assert itself.status_code == 400
    assert "cannot be a duplicate of itself" in field_error(itself.content.decode(), "id_duplicate-duplicate_of")
    incident.refresh_from_db()
    assert (incident.duplicate_of, incident.state) == (None, State.NEW)


def test_an_incident_is_linked_to_a_major_incident_and_it_lists_its_children(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    major = make_incident(title="Data centre power loss", impact="high", urgency="high")
    child = make_incident(title="Email delayed")
    client = client_for(agent)
    assert post(client, child, "links/major/", {"major-major_incident": major.number}).status_code == 302
    child.refresh_from_db()
    assert child.major_incident == major
    assert child.history.first().history_user == agent
    assert "Part of the major incident" in section(page_of(client, child), "related")
    children = section(page_of(client, major), "related")
    assert "Child incidents" in children
    assert f'href="/incidents/{child.number}/"' in children
    # A major incident cannot become a child itself.
    third = make_incident(title="Another")
    refused = post(client, major, "links/major/", {"major-major_incident": third.number})
    assert refused.status_code == 400
    assert "has child incidents of its own" in field_error(refused.content.decode(), "id_major-major_incident")
    major.refresh_from_db()
    assert major.major_incident is None


def test_a_reporter_sees_links_but_cannot_make_them(
    reporter: Any, agent: Any, make_incident: Callable[..., Incident]
) -> None:
    original = make_incident(title="Checkout is down")
    copy = make_incident(title="Cannot pay", reporter=reporter)
    services.link_as_duplicate(incident=copy, actor=agent, original=original)
    client = client_for(reporter)
    related = section(page_of(client, copy), "related")
    assert original.number in related
    assert "<form" not in related
    refused = post(client, original, "links/major/", {"major-major_incident": copy.number})
    assert refused.status_code == 403
    original.refresh_from_db()
    assert original.major_incident is None


# --- Attachments ------------------------------------------------------------------------------


def test_a_file_is_attached_from_the_page_and_downloaded_with_the_session(
    reporter: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Crash", reporter=reporter)
    client = client_for(reporter)
    upload = SimpleUploadedFile("trace.log", b"Traceback: boom\n", content_type="text/plain")
    response = client.post(f"/incidents/{incident.number}/attachments/", {"attachment-file": upload})
    assert response.status_code == 302
    attachment = Attachment.objects.get(incident=incident)
    assert (attachment.name, attachment.uploaded_by, attachment.size) == ("trace.log", reporter, 16)
    part = section(page_of(client, incident), "attachments")
    url = f"/api/v1/incidents/{incident.number}/attachments/{attachment.pk}/"
    assert f'<a href="{url}" download>trace.log</a>' in part
    assert "16\xa0bytes" in part
    download = client.get(url)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment;")
    assert b"".join(download.streaming_content) == b"Traceback: boom\n"  # type: ignore[attr-defined]


def test_a_file_over_the_limit_is_a_field_error(
    agent: Any, make_incident: Callable[..., Incident], settings: Any
) -> None:
    settings.ATTACHMENT_MAX_BYTES = 10
    incident = make_incident(title="Crash")
    upload = SimpleUploadedFile("big.log", b"x" * 11, content_type="text/plain")
    response = client_for(agent).post(f"/incidents/{incident.number}/attachments/", {"attachment-file": upload})
    assert response.status_code == 400
    assert "larger than the limit of 10 bytes" in field_error(response.content.decode(), "id_attachment-file")
    missing = client_for(agent).post(f"/incidents/{incident.number}/attachments/", {})
    assert missing.status_code == 400
    assert field_error(missing.content.decode(), "id_attachment-file") == "This field is required."
    assert not Attachment.objects.exists()


# --- Monitoring alerts ---------------------------------------------------------------------------


def _alert(incident: Incident, service: Service, **fields: Any) -> Alert:
    integration = fields.pop("integration", None) or create_integration(service=service, kind="generic", actor=None)[0]
    now = timezone.now()
    values = {
        "dedup_key": "checkout-5xx",
        "group_key": "g",
        "summary": "High 5xx rate on checkout",
        "severity": "critical",
        "source": "prometheus",
        "fired_at": now,
        "generator_url": "https://prometheus.example.com/graph?g0.expr=rate",
        **fields,
    }
    return Alert.objects.create(integration=integration, incident=incident, **values)


def test_responders_see_the_alerts_on_the_incident_and_reporters_do_not(
    agent: Any, reporter: Any, make_incident: Callable[..., Incident], service: Service
) -> None:
    incident = make_incident(title="Checkout errors", services=[service])
    alert = _alert(incident, service)
    _alert(incident, service, integration=alert.integration, dedup_key="other", generator_url="javascript:alert(1)")
    html = page_of(client_for(agent), incident)
    alerts = section(html, "alerts")
    assert "High 5xx rate on checkout" in alerts
    assert 'href="https://prometheus.example.com/graph?g0.expr=rate"' in alerts
    assert "Firing" in alerts
    assert "javascript:" not in alerts
    assert section(page_of(client_for(reporter), incident), "alerts") == ""


def test_an_alert_from_alertmanager_shows_on_the_incident_it_opened(agent: Any, service: Service) -> None:
    key = create_integration(service=service, kind="alertmanager", actor=None)[1]
    assert post_json(Client(), AM_PATH, am_notification(), headers=bearer(key)).status_code == 202
    process()
    incident = Incident.objects.get()
    alerts = section(page_of(client_for(agent), incident), "alerts")
    assert "High 5xx rate on checkout" in alerts
    assert 'href="http://prometheus.example.com:9090/graph?' in alerts
    assert "critical" in alerts


# --- History -------------------------------------------------------------------------------------


def test_the_history_says_who_changed_which_field_from_what_to_what(
    agent: Any, manager: Any, make_incident: Callable[..., Incident], service: Service
) -> None:
    incident = make_incident(title="Checkout is slow")
    services.assign_incident(incident=incident, actor=manager, assignee=agent)
    services.update_incident(incident=incident, actor=agent, changes={"urgency": "high", "services": [service]})
    services.override_priority(incident=incident, actor=manager, priority="P1", reason="CEO is watching")
    history = section(page_of(client_for(agent), incident), "history")
    assert "<summary>" in history  # behind a disclosure
    assert "Assignee</span>: <del>—</del>" in history
    assert "<ins>agus</ins>" in history
    assert "Urgency</span>: <del>Medium</del>" in history
    assert "<ins>High</ins>" in history
    assert "Affected services</span>: <del>—</del>" in history
    assert "<ins>Checkout payments</ins>" in history
    assert "“priority P2 → P1: CEO is watching”" in history
    assert "maya" in history
    assert history.index("CEO is watching") < history.index("Assignee")  # newest first
    assert "Reported" in history


def test_the_history_shows_the_latest_changes_then_all_of_them(
    agent: Any, make_incident: Callable[..., Incident]
) -> None:
    incident = make_incident(title="Title 0")
    for index in range(1, HISTORY_LIMIT + 5):
        services.update_incident(incident=incident, actor=agent, changes={"title": f"Title {index}"})
    client = client_for(agent)
    latest = section(page_of(client, incident), "history")
    assert latest.count("<ins>Title ") == HISTORY_LIMIT
    assert "Show all changes" in latest
    assert "<ins>Title 1</ins>" not in latest
    everything = section(page_of(client, incident, "?history=all"), "history")
    assert everything.count("<ins>Title ") == HISTORY_LIMIT + 4
    assert "<details open>" in everything
    assert "Show all changes" not in everything


def test_a_reporter_does_not_see_the_history(reporter: Any, make_incident: Callable[..., Incident]) -> None:
    incident = make_incident(title="Slow", reporter=reporter)
    html = page_of(client_for(reporter), incident)
    assert section(html, "history") == ""
    assert "#history" not in html
