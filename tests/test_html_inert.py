"""HTML typed into any text a person or a sender can write comes back inert on every page.

One payload goes into every user-writable text field, through the same domain
functions and intake endpoint the UI, the API and monitoring use. Each page
that shows it must carry it escaped (the escaped form is there, so the check
is not vacuous) and never as a live tag. E-mails are plain text only (no HTML
part is ever sent), so there is nothing in them to escape.
"""

import json
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from escalation.models import Team
from incidents.action_items import add_action_item
from incidents.choices import FixKind, IntegrationKind
from incidents.fix_plan import propose_option
from incidents.intake.integrations import create_integration
from incidents.investigation import create_task
from incidents.models import Alert, Incident, Service
from incidents.postmortems import write_postmortem
from incidents.services import add_note, report_incident
from incidents.updates import post_status_update
from tests.intake_helpers import GENERIC_PATH, bearer, process

PAYLOAD = "<script>alert(1)</script><img src=x onerror=alert(1)>"
# What must never reach a page: the tags themselves, in any letter case.
LIVE = re.compile(r"<script>alert\(1\)</script>|<img src=x onerror", re.IGNORECASE)
ESCAPED = ("&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;")

pytestmark = [pytest.mark.django_db, pytest.mark.pages]


def _marked(label: str) -> str:
    return f"{label} {PAYLOAD}"


@pytest.fixture
def hostile_world(agent: Any, manager: Any, staff_admin: Any) -> dict[str, Any]:
    """Every text a person or monitoring can write, filled with the payload."""
    for person in (agent, manager):
        person.first_name, person.last_name = _marked("First"), PAYLOAD
        person.save()
    team = Team.objects.create(name=_marked("Team"), slug="hostile-team")
    service = Service.objects.create(name=_marked("Service"), slug="hostile-service", owner_team=team)
    incident = report_incident(
        reporter=agent,
        title=_marked("Title"),
        description=_marked("Description"),
        diagnostics=_marked("Diagnostics"),
        services=[service],
        team=team,
        assignee=agent,
    )
    add_note(incident=incident, actor=agent, body=_marked("Note"))
    post_status_update(incident=incident, actor=manager, body=_marked("Update"), audience="stakeholders")
    create_task(incident=incident, actor=manager, title=_marked("Task"), description=PAYLOAD, owner=agent)
    propose_option(
        incident=incident,
        actor=manager,
        title=_marked("Option"),
        kind=FixKind.values[0],
        risk="low",
        description=PAYLOAD,
        notes=PAYLOAD,
        rollback_plan=PAYLOAD,
    )
    sections = ("summary", "root_cause", "contributing_factors", "what_went_well", "what_went_badly", "lessons")
    postmortem = write_postmortem(incident=incident, actor=manager, changes={name: _marked(name) for name in sections})
    add_action_item(postmortem=postmortem, actor=manager, title=_marked("Action"), description=PAYLOAD, owner=agent)

    _integration, key = create_integration(service=service, kind=IntegrationKind.GENERIC, actor=None)
    alert_body = {
        "title": _marked("Alert"),
        "description": PAYLOAD,
        "source": PAYLOAD,
        "labels": {"host": PAYLOAD},
        "links": [{"href": "javascript:alert(1)", "text": PAYLOAD}],
    }
    accepted = Client().post(GENERIC_PATH, json.dumps(alert_body), content_type="application/json", headers=bearer(key))
    assert accepted.status_code == 202
    process()
    alert = Alert.objects.get()
    return {
        "incident": incident,
        "alert_incident": alert.incident,
        "alert": alert,
        "service": service,
        "team": team,
        "postmortem": postmortem,
        "people": (agent, manager, staff_admin),
    }


def admin_urlname(options: Any, page: str) -> str:
    return f"admin:{options.app_label}_{options.model_name}_{page}"


def _assert_inert(html: str, where: str) -> None:
    assert not LIVE.search(html), f"{where}: the payload is live"
    assert any(escaped in html for escaped in ESCAPED), f"{where}: the payload is not shown at all"


def _page(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


def test_the_web_pages_show_the_payload_escaped(hostile_world: dict[str, Any], manager: Any) -> None:
    client = Client()
    client.force_login(manager)
    incident, alert_incident = hostile_world["incident"], hostile_world["alert_incident"]
    pages = {
        "queue": "/",
        "queue search": "/?q=Title",
        "incident page": f"/incidents/{incident.number}/",
        "alert's incident page": f"/incidents/{alert_incident.number}/",
        "post-mortem editor": f"/incidents/{incident.number}/postmortem/",
        "published post-mortems": "/postmortems/?status=draft",
        "reports dashboard": "/reports/",
        "on-call": "/oncall/",
    }
    for where, path in pages.items():
        _assert_inert(_page(client, path), where)
    # The alert's link was a javascript: URL; it must not become one.
    assert 'href="javascript:' not in _page(client, f"/incidents/{alert_incident.number}/").lower()


def test_my_action_items_show_the_payload_escaped(hostile_world: dict[str, Any], agent: Any) -> None:
    client = Client()
    client.force_login(agent)
    _assert_inert(_page(client, "/action-items/"), "my action items")


def test_the_admin_pages_show_the_payload_escaped(hostile_world: dict[str, Any], root_client: Client) -> None:
    objects = [
        hostile_world["incident"],
        hostile_world["alert"],
        hostile_world["service"],
        hostile_world["team"],
        hostile_world["postmortem"],
        *hostile_world["postmortem"].action_items.all(),
        *hostile_world["incident"].tasks.all(),
        *hostile_world["incident"].solution_options.all(),
        hostile_world["people"][0],
    ]
    for obj in objects:
        label = type(obj).__name__
        _assert_inert(_page(root_client, reverse(admin_urlname(obj._meta, "change"), args=[obj.pk])), f"{label} change")
        _assert_inert(_page(root_client, reverse(admin_urlname(obj._meta, "changelist"))), f"{label} list")
    incident = hostile_world["incident"]
    _assert_inert(
        _page(root_client, reverse(admin_urlname(Incident._meta, "history"), args=[incident.pk])), "incident history"
    )


def test_the_markdown_export_is_a_download_not_a_page(hostile_world: dict[str, Any], manager: Any) -> None:
    client = Client()
    client.force_login(manager)
    response = client.get(f"/incidents/{hostile_world['incident'].number}/postmortem/markdown/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/markdown")
    assert response["Content-Disposition"].startswith("attachment")
