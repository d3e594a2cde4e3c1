"""Every endpoint and page × every role, allowed or refused as DESIGN.md's role table says.

The table below is the matrix: one row per URL name and method, with the outcome
for each column of `ROLES` (anonymous, reporter, agent, incident manager, admin,
integration key). `test_every_url_has_a_row` walks the URL resolver, so a new
endpoint without a row fails the suite. Objects other users own are reached by
id and must be 404 (not 403: their ids tell nothing).

Outcomes: OK passed the access check (any 2xx/3xx, or 400/409 from the empty or
minimal body sent); LOGIN a redirect to a login page; or the exact refusal code.
"""

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from incidents.roles import AGENT, INCIDENT_MANAGER, REPORTER
from tests.access_helpers import (
    ADMIN,
    ANONYMOUS,
    INTEGRATION_KEY,
    INTERNAL_NOTE,
    PUBLIC_NOTE,
    ROLES,
    World,
    build_world,
    page_token,
)
from tests.intake_helpers import am_alert, am_notification, pd_trigger

OK = "ok"
LOGIN = "login"
Outcome = str | int
Cell = Outcome | frozenset[Outcome]

# Columns: anonymous, reporter, agent, incident_manager, admin, integration key.
PUBLIC = (OK, OK, OK, OK, OK, OK)
API_READ = (401, OK, OK, OK, OK, 401)
API_AGENT = (401, 403, OK, OK, OK, 401)
API_MANAGER = (401, 403, 403, OK, OK, 401)
API_NOT_MINE = (401, 404, 404, 404, 404, 401)
PAGE_READ = (LOGIN, OK, OK, OK, OK, LOGIN)
PAGE_AGENT = (LOGIN, 403, OK, OK, OK, LOGIN)
PAGE_MANAGER = (LOGIN, 403, 403, OK, OK, LOGIN)
PAGE_NOT_MINE = (LOGIN, 404, 404, 404, 404, LOGIN)
STAFF_ONLY = (LOGIN, LOGIN, LOGIN, LOGIN, OK, LOGIN)
# The key in the Authorization header is the only credential intake takes.
INTAKE_HEADER = (401, 401, 401, 401, 401, OK)
# A draft post-mortem is its writers' (agents and up): to a reporter it does not exist yet.
API_DRAFT_READ = (401, 404, OK, OK, OK, 401)
API_DRAFT_MANAGER = (401, 404, 403, OK, OK, 401)
PAGE_DRAFT = (LOGIN, 404, OK, OK, OK, LOGIN)
# Open to all; a key sent as "Token" is a bad token (401), sent otherwise it is ignored.
OPEN_DOCS: tuple[Cell, ...] = (OK, OK, OK, OK, OK, frozenset[Outcome]({OK, 401}))


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    url: Callable[[World], str]
    expect: tuple[Cell, ...]
    api: bool = False
    body: Callable[[World], Any] | None = None
    # The integration kind an intake row posts to; None for every other row.
    intake: str | None = None


def inc(rest: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/v1/incidents/{w.incident.number}/{rest}"


def done(rest: str = "") -> Callable[[World], str]:
    return lambda w: f"/api/v1/incidents/{w.done.number}/{rest}"


def page(rest: str = "") -> Callable[[World], str]:
    return lambda w: f"/incidents/{w.incident.number}/{rest}"


def pm_page(rest: str = "") -> Callable[[World], str]:
    return lambda w: f"/incidents/{w.done.number}/postmortem/{rest}"


def fixed(path: str) -> Callable[[World], str]:
    return lambda _w: path


def api(name: str, method: str, url: Callable[[World], str], expect: tuple[Cell, ...], **kw: Any) -> Row:
    return Row(name, method, url, expect, api=True, **kw)


ROWS: list[Row] = [
    # --- Incidents (API) ---
    api("incident-list", "GET", fixed("/api/v1/incidents/"), API_READ),
    api("incident-list", "POST", fixed("/api/v1/incidents/"), API_READ),
    api("incident-detail", "GET", inc(), API_READ),
    api("incident-detail", "PATCH", inc(), API_AGENT, body=lambda _w: {"title": "Payments failing in EU"}),
    api("incident-alerts", "GET", inc("alerts/"), API_AGENT),
    api("incident-attachments", "GET", inc("attachments/"), API_READ),
    api("incident-attachments", "POST", inc("attachments/"), API_READ),
    api("incident-attachment-file", "GET", lambda w: inc(f"attachments/{w.attachment.pk}/")(w), API_READ),
    api("incident-escalate", "POST", inc("escalate/"), API_AGENT),
    api("incident-notes", "POST", inc("notes/"), API_READ),
    api("incident-notifications", "GET", inc("notifications/"), API_AGENT),
    api("incident-timeline", "GET", inc("timeline/"), API_READ),
    api("incident-transitions", "POST", inc("transitions/acknowledge/"), API_AGENT),
    api("incident-transitions", "POST", inc("transitions/close/"), API_MANAGER),
    # --- Configuration (API) ---
    api("service-list", "GET", fixed("/api/v1/services/"), API_READ),
    api("service-list", "POST", fixed("/api/v1/services/"), API_MANAGER),
    api("service-detail", "GET", lambda w: f"/api/v1/services/{w.service.slug}/", API_READ),
    api("service-detail", "PATCH", lambda w: f"/api/v1/services/{w.service.slug}/", API_MANAGER),
    api("service-detail", "DELETE", lambda w: f"/api/v1/services/{w.service.slug}/", API_MANAGER),
    api("team-list", "GET", fixed("/api/v1/teams/"), API_READ),
    api("team-list", "POST", fixed("/api/v1/teams/"), API_MANAGER),
    api("team-detail", "GET", lambda w: f"/api/v1/teams/{w.team.slug}/", API_READ),
    api("team-detail", "PATCH", lambda w: f"/api/v1/teams/{w.team.slug}/", API_MANAGER),
    api("oncall-now", "GET", fixed("/api/v1/oncall/"), API_READ),
    # Who is on call, now and ahead, is for anyone who may need to reach them (tests/test_oncall.py).
    api("oncall-shifts", "GET", lambda w: f"/api/v1/oncall/schedules/{w.schedule.pk}/shifts/", API_READ),
    api("api-root", "GET", fixed("/api/v1/"), API_READ),
    # --- One's own settings (API): others' are not found ---
    api("my-contact-method-list", "GET", fixed("/api/v1/me/contact-methods/"), API_READ),
    api("my-contact-method-list", "POST", fixed("/api/v1/me/contact-methods/"), API_READ),
    api(
        "my-contact-method-detail", "GET", lambda w: f"/api/v1/me/contact-methods/{w.contact_method.pk}/", API_NOT_MINE
    ),
    api(
        "my-contact-method-detail",
        "PATCH",
        lambda w: f"/api/v1/me/contact-methods/{w.contact_method.pk}/",
        API_NOT_MINE,
    ),
    api(
        "my-contact-method-detail",
        "DELETE",
        lambda w: f"/api/v1/me/contact-methods/{w.contact_method.pk}/",
        API_NOT_MINE,
    ),
    api(
        "my-contact-method-rotate-secret",
        "POST",
        lambda w: f"/api/v1/me/contact-methods/{w.contact_method.pk}/rotate_secret/",
        API_NOT_MINE,
    ),
    api("my-notification-rule-list", "GET", fixed("/api/v1/me/notification-rules/"), API_READ),
    api(
        "my-notification-rule-detail",
        "GET",
        lambda w: f"/api/v1/me/notification-rules/{w.notification_rule.pk}/",
        API_NOT_MINE,
    ),
    api(
        "my-notification-rule-detail",
        "DELETE",
        lambda w: f"/api/v1/me/notification-rules/{w.notification_rule.pk}/",
        API_NOT_MINE,
    ),
    api("my-subscription-list", "GET", fixed("/api/v1/me/subscriptions/"), API_READ),
    api("my-subscription-list", "POST", fixed("/api/v1/me/subscriptions/"), API_READ),
    api(
        "my-subscription-detail",
        "DELETE",
        lambda w: f"/api/v1/me/subscriptions/{w.update_subscription.pk}/",
        API_NOT_MINE,
    ),
    # --- Response coordination (API) ---
    api("incident-roles", "GET", inc("roles/"), API_READ),
    api("incident-roles", "POST", inc("roles/"), API_AGENT),
    api("incident-roles-page", "POST", inc("roles/page/"), API_AGENT),
    api("incident-role", "DELETE", lambda w: inc(f"roles/{w.role.pk}/")(w), API_AGENT),
    api("incident-tasks", "GET", inc("tasks/"), API_READ),
    api("incident-tasks", "POST", inc("tasks/"), API_AGENT),
    api("incident-task", "PATCH", lambda w: inc(f"tasks/{w.task.pk}/")(w), API_AGENT),
    api("incident-plan", "GET", inc("plan/"), API_READ),
    api("incident-plan-options", "POST", inc("plan/options/"), API_AGENT),
    api("incident-plan-option", "PATCH", lambda w: inc(f"plan/options/{w.option.pk}/")(w), API_AGENT),
    api("incident-plan-option-choose", "POST", lambda w: inc(f"plan/options/{w.option.pk}/choose/")(w), API_AGENT),
    api("incident-plan-implementations", "POST", inc("plan/implementations/"), API_AGENT),
    api("incident-updates", "GET", inc("updates/"), API_READ),
    api("incident-updates", "POST", inc("updates/"), API_AGENT),
    api("incident-recurrence", "POST", inc("recurrence/"), API_AGENT),
    # --- Post-mortems (API) ---
    api("incident-postmortem", "GET", done("postmortem/"), API_DRAFT_READ),
    api("incident-postmortem", "PATCH", done("postmortem/"), API_AGENT, body=lambda _w: {"summary": "Slow search"}),
    api("incident-postmortem-submit", "POST", done("postmortem/submit/"), API_DRAFT_READ),
    api("incident-postmortem-return-to-draft", "POST", done("postmortem/return-to-draft/"), API_DRAFT_READ),
    api("incident-postmortem-publish", "POST", done("postmortem/publish/"), API_DRAFT_MANAGER),
    api("incident-postmortem-reopen", "POST", done("postmortem/reopen/"), API_DRAFT_MANAGER),
    api("incident-postmortem-markdown", "GET", done("postmortem/markdown/"), API_DRAFT_READ),
    api("incident-postmortem-timeline", "GET", done("postmortem/timeline/"), API_DRAFT_READ),
    api("incident-postmortem-timeline-regenerate", "POST", done("postmortem/timeline/regenerate/"), API_DRAFT_READ),
    api(
        "incident-postmortem-moment", "PATCH", lambda w: done(f"postmortem/timeline/{w.moment.pk}/")(w), API_DRAFT_READ
    ),
    api("incident-postmortem-action-items", "POST", done("postmortem/action-items/"), API_DRAFT_READ),
    api("action-item-list", "GET", fixed("/api/v1/action-items/"), API_AGENT),
    api("action-item-detail", "GET", lambda w: f"/api/v1/action-items/{w.action_item.pk}/", API_AGENT),
    api("action-item-detail", "PATCH", lambda w: f"/api/v1/action-items/{w.action_item.pk}/", API_AGENT),
    api("postmortem-list", "GET", fixed("/api/v1/postmortems/"), API_READ),
    # --- Reports (API) ---
    api("reports-summary", "GET", fixed("/api/v1/reports/summary/?start=2026-01-01&end=2026-01-31"), API_MANAGER),
    # The incident list's own export: whoever reads the list may take it away.
    api("reports-incidents-csv", "GET", fixed("/api/v1/reports/incidents/csv/"), API_READ),
    api("reports-incidents-xlsx", "GET", fixed("/api/v1/reports/incidents/xlsx/?state=closed"), API_READ),
    api(
        "reports-summary-xlsx",
        "GET",
        fixed("/api/v1/reports/summary/xlsx/?start=2026-01-01&end=2026-01-31"),
        API_MANAGER,
    ),
    api("reports-summary-pdf", "GET", fixed("/api/v1/reports/summary/pdf/?start=x"), API_MANAGER),
    api("incident-report-pdf", "GET", inc("report/pdf/?lang=xx"), API_MANAGER),
    # --- Alert intake: the integration key is the credential; an API token is not ---
    api(
        "intake-alertmanager",
        "POST",
        fixed("/api/v1/integrations/alertmanager/"),
        INTAKE_HEADER,
        intake="alertmanager",
        body=lambda _w: am_notification(am_alert()),
    ),
    api(
        "intake-alertmanager-key",
        "POST",
        lambda w: f"/api/v1/integrations/alertmanager/{w.keys['alertmanager']}/",
        PUBLIC,
        intake="alertmanager",
        body=lambda _w: am_notification(am_alert()),
    ),
    api(
        "intake-generic",
        "POST",
        fixed("/api/v1/integrations/generic/"),
        INTAKE_HEADER,
        intake="generic",
        body=lambda _w: {"title": "Disk full", "dedup_key": "db1/disk"},
    ),
    api(
        "intake-generic-key",
        "POST",
        lambda w: f"/api/v1/integrations/generic/{w.integration_key}/",
        PUBLIC,
        intake="generic",
        body=lambda _w: {"title": "Disk full", "dedup_key": "db1/disk"},
    ),
    api(
        "intake-pagerduty",
        "POST",
        fixed("/api/v1/integrations/pagerduty/enqueue"),
        PUBLIC,
        intake="pagerduty",
        body=lambda w: pd_trigger(w.keys["pagerduty"]),
    ),
    # --- Open to all: schema, docs, health, the browsable API's login ---
    api("schema", "GET", fixed("/api/schema/"), OPEN_DOCS),
    api("api-docs", "GET", fixed("/api/docs/"), OPEN_DOCS),
    api("healthz", "GET", fixed("/healthz"), PUBLIC),
    # Off unless METRICS_TOKEN is set (tests/test_prometheus.py covers the token).
    api("metrics", "GET", fixed("/metrics"), (404,) * 6),
    Row("rest_framework:login", "GET", fixed("/api-auth/login/"), PUBLIC),
    Row("rest_framework:logout", "POST", fixed("/api-auth/logout/"), (LOGIN,) * 6),
    # --- Web pages ---
    Row("web:queue", "GET", fixed("/"), PAGE_READ),
    Row("web:save-filter", "POST", fixed("/filters/"), PAGE_READ),
    Row("web:delete-filter", "POST", lambda w: f"/filters/{w.saved_filter.pk}/delete/", PAGE_NOT_MINE),
    Row("web:report", "GET", fixed("/incidents/new/"), PAGE_READ),
    Row("web:priority-preview", "GET", fixed("/incidents/new/priority/?impact=high&urgency=low"), PAGE_READ),
    Row("web:incident", "GET", page(), PAGE_READ),
    Row("web:transition", "POST", page("transitions/acknowledge/"), PAGE_AGENT),
    Row("web:note", "POST", page("notes/"), PAGE_READ),
    Row("web:assign", "POST", page("assign/"), PAGE_AGENT),
    Row("web:escalate", "POST", page("escalate/"), PAGE_AGENT),
    Row("web:team-add", "POST", page("team/"), PAGE_AGENT),
    Row("web:team-end", "POST", lambda w: page(f"team/{w.role.pk}/end/")(w), PAGE_AGENT),
    Row("web:team-commander", "POST", page("team/commander/"), PAGE_AGENT),
    Row("web:team-page", "POST", page("team/page/"), PAGE_AGENT),
    Row("web:war-room", "POST", page("war-room/"), PAGE_AGENT),
    Row("web:task-add", "POST", page("tasks/"), PAGE_AGENT),
    Row("web:task-change", "POST", lambda w: page(f"tasks/{w.task.pk}/")(w), PAGE_AGENT),
    Row("web:option-add", "POST", page("fix-plan/options/"), PAGE_AGENT),
    Row("web:option-change", "POST", lambda w: page(f"fix-plan/options/{w.option.pk}/")(w), PAGE_AGENT),
    Row("web:option-choose", "POST", lambda w: page(f"fix-plan/options/{w.option.pk}/choose/")(w), PAGE_AGENT),
    Row(
        "web:implementation-add",
        "POST",
        lambda w: page(f"fix-plan/options/{w.option.pk}/implementations/")(w),
        PAGE_AGENT,
    ),
    Row("web:recurrence", "POST", page("recurrence/"), PAGE_AGENT),
    Row("web:update-add", "POST", page("updates/"), PAGE_AGENT),
    Row("web:link-duplicate", "POST", page("links/duplicate/"), PAGE_AGENT),
    Row("web:link-major", "POST", page("links/major/"), PAGE_AGENT),
    Row("web:attachment-add", "POST", page("attachments/"), PAGE_READ),
    Row("web:profile", "GET", fixed("/profile/"), PAGE_READ),
    Row("web:set-language", "POST", fixed("/profile/language/"), PUBLIC),
    Row("web:profile-calendar", "POST", fixed("/profile/calendar/"), PAGE_READ),
    Row("web:profile-token", "POST", fixed("/profile/api-token/"), PAGE_READ),
    Row("web:profile-token-revoke", "POST", fixed("/profile/api-token/revoke/"), PAGE_READ),
    Row("web:profile-methods", "POST", fixed("/profile/contact-methods/"), PAGE_READ),
    Row("web:profile-method", "POST", lambda w: f"/profile/contact-methods/{w.contact_method.pk}/", PAGE_NOT_MINE),
    Row(
        "web:profile-method-rotate",
        "POST",
        lambda w: f"/profile/contact-methods/{w.contact_method.pk}/rotate-secret/",
        PAGE_NOT_MINE,
    ),
    Row(
        "web:profile-method-delete",
        "POST",
        lambda w: f"/profile/contact-methods/{w.contact_method.pk}/delete/",
        PAGE_NOT_MINE,
    ),
    Row("web:profile-rules", "POST", fixed("/profile/notification-rules/"), PAGE_READ),
    Row("web:profile-rule", "POST", lambda w: f"/profile/notification-rules/{w.notification_rule.pk}/", PAGE_NOT_MINE),
    Row(
        "web:profile-rule-delete",
        "POST",
        lambda w: f"/profile/notification-rules/{w.notification_rule.pk}/delete/",
        PAGE_NOT_MINE,
    ),
    Row("web:oncall", "GET", fixed("/oncall/"), PAGE_AGENT),
    Row("web:oncall-override", "POST", fixed("/oncall/overrides/"), PAGE_AGENT),
    Row("web:oncall-pages", "GET", fixed("/oncall/pages/"), PAGE_READ),
    Row("web:oncall-page-ack", "POST", lambda w: f"/oncall/pages/{w.page.pk}/acknowledge/", PAGE_NOT_MINE),
    Row("web:postmortem", "GET", pm_page(), PAGE_DRAFT),
    Row("web:postmortem-start", "POST", pm_page("start/"), PAGE_AGENT),
    Row("web:postmortem-transition", "POST", pm_page("transitions/submit/"), PAGE_DRAFT),
    Row("web:postmortem-markdown", "GET", pm_page("markdown/"), PAGE_DRAFT),
    Row("web:postmortem-moment-add", "POST", pm_page("timeline/"), PAGE_DRAFT),
    Row("web:postmortem-regenerate", "POST", pm_page("timeline/regenerate/"), PAGE_DRAFT),
    Row("web:postmortem-moment", "POST", lambda w: pm_page(f"timeline/{w.moment.pk}/")(w), PAGE_DRAFT),
    Row("web:postmortem-moment-key", "POST", lambda w: pm_page(f"timeline/{w.moment.pk}/key/")(w), PAGE_DRAFT),
    Row("web:postmortem-moment-remove", "POST", lambda w: pm_page(f"timeline/{w.moment.pk}/remove/")(w), PAGE_DRAFT),
    Row("web:postmortem-item-add", "POST", pm_page("action-items/"), PAGE_DRAFT),
    Row("web:postmortem-item", "POST", lambda w: pm_page(f"action-items/{w.action_item.pk}/")(w), PAGE_DRAFT),
    Row("web:postmortems", "GET", fixed("/postmortems/"), PAGE_READ),
    Row("web:action-items", "GET", fixed("/action-items/"), PAGE_AGENT),
    # Follow-ups are moved along by any responder, not only their owner (as in the API).
    Row("web:action-item-status", "POST", lambda w: f"/action-items/{w.action_item.pk}/status/", PAGE_AGENT),
    # --- Reports (pages) ---
    Row("reports:dashboard", "GET", fixed("/reports/"), PAGE_MANAGER),
    Row("reports:subscribe", "POST", fixed("/reports/subscriptions/"), PAGE_MANAGER),
    # Without the reports right the refusal comes first, the same for every id.
    Row(
        "reports:unsubscribe",
        "POST",
        lambda w: f"/reports/subscriptions/{w.report_subscription.pk}/delete/",
        (LOGIN, 403, 403, 404, 404, LOGIN),
    ),
    Row("exports:incident-report", "GET", lambda w: f"/incidents/{w.incident.number}/report/?lang=xx", PAGE_MANAGER),
    # --- Links that are their own credential (calendar feeds, a page's acknowledge link) ---
    Row("oncall-schedule-feed", "GET", lambda w: f"/oncall/schedules/{w.schedule.feed_token}.ics", PUBLIC),
    Row("oncall-user-feed", "GET", lambda w: f"/oncall/users/{w.feed_token}.ics", PUBLIC),
    Row("page-ack", "GET", lambda w: f"/page/ack/{page_token(w)}/", PUBLIC),
    # --- Accounts ---
    Row("login", "GET", fixed("/accounts/login/"), PUBLIC),
    Row("logout", "POST", fixed("/accounts/logout/"), (LOGIN,) * 6),
    Row("password_change", "GET", fixed("/accounts/password_change/"), PAGE_READ),
    Row("password_change_done", "GET", fixed("/accounts/password_change/done/"), PAGE_READ),
    Row("password_reset", "GET", fixed("/accounts/password_reset/"), PUBLIC),
    Row("password_reset_done", "GET", fixed("/accounts/password_reset/done/"), PUBLIC),
    Row("password_reset_confirm", "GET", fixed("/accounts/reset/MQ/set-password/"), PUBLIC),
    Row("password_reset_complete", "GET", fixed("/accounts/reset/done/"), PUBLIC),
    Row("set_language", "POST", fixed("/i18n/setlang/"), PUBLIC),
    # --- The back office: staff superusers only; each admin page checks the model's own rights ---
    Row("admin:index", "GET", fixed("/admin/"), STAFF_ONLY),
    Row("admin:authtoken_tokenproxy_changelist", "GET", fixed("/admin/authtoken/tokenproxy/"), STAFF_ONLY),
    Row("admin:incidents_integration_changelist", "GET", fixed("/admin/incidents/integration/"), STAFF_ONLY),
]
# Every admin URL is behind the admin site's own login; the rows above stand for the namespace.
COVERED_NAMESPACES = ("admin",)


def _names(resolver: URLResolver, namespace: str = "") -> Iterator[str]:
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _names(pattern, inner)
        elif isinstance(pattern, URLPattern):
            yield f"{namespace}{pattern.name}"


def test_every_url_has_a_row() -> None:
    names = set(_names(get_resolver()))
    covered = {name for name in names if name.split(":")[0] in COVERED_NAMESPACES}
    rows = {row.name for row in ROWS}
    assert sorted(names - covered - rows) == []
    assert sorted(rows - names) == []


@pytest.fixture(scope="module")
def world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """The objects, made once in a transaction that is rolled back when the module ends.

    Each test's own transaction nests inside it (a savepoint), so what one request
    changes is gone before the next.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)
            connection.close()


def _outcome(response: Any) -> Outcome:
    status = response.status_code
    if status in (301, 302, 303) and "/login/" in response["Location"]:
        return LOGIN
    if status in (401, 403, 404, 405) or status >= 500:
        return status
    return OK


def _request(client: Client, row: Row, world: World, **headers: str) -> Any:
    body = row.body(world) if row.body else {}
    if row.api:
        return client.generic(
            row.method, row.url(world), json.dumps(body), content_type="application/json", headers=headers
        )
    if row.method == "GET":
        return client.get(row.url(world), headers=headers)
    return client.post(row.url(world), body, headers=headers)


def _responses(row: Row, role: str, world: World) -> list[Any]:
    client = Client()
    if role == ANONYMOUS:
        return [_request(client, row, world)]
    if role == INTEGRATION_KEY:
        if row.intake:
            key = world.keys[row.intake]
            return [_request(client, row, world, authorization=f"Bearer {key}")]
        key = world.integration_key
        # Whatever way it is sent, the key is no one's credential outside intake.
        return [
            _request(client, row, world, authorization=f"{scheme} {key}") for scheme in ("Token", "Bearer", "Basic")
        ]
    if row.api:
        return [_request(client, row, world, authorization=f"Token {world.tokens[role]}")]
    client.force_login(world.users[role])
    return [_request(client, row, world)]


CELLS = [pytest.param(row, role, id=f"{row.method} {row.name} as {role}") for row in ROWS for role in ROLES]


@pytest.mark.parametrize(("row", "role"), CELLS)
def test_access(world: World, db: None, row: Row, role: str) -> None:
    cell = row.expect[ROLES.index(role)]
    allowed = cell if isinstance(cell, frozenset) else {cell}
    responses = _responses(row, role, world)
    got = {_outcome(response) for response in responses}
    statuses = [response.status_code for response in responses]
    assert got <= allowed, f"{row.method} {row.url(world)} as {role}: {statuses}, designed {sorted(map(str, allowed))}"


def test_reporters_do_not_see_internal_notes(world: World, db: None) -> None:
    def timeline(role: str) -> str:
        client = Client(headers={"authorization": f"Token {world.tokens[role]}"})
        return client.get(f"/api/v1/incidents/{world.incident.number}/timeline/").content.decode()

    def page_html(role: str) -> str:
        client = Client()
        client.force_login(world.users[role])
        return client.get(f"/incidents/{world.incident.number}/").content.decode()

    assert PUBLIC_NOTE in timeline(REPORTER)
    assert INTERNAL_NOTE not in timeline(REPORTER)
    assert INTERNAL_NOTE in timeline(AGENT)
    assert PUBLIC_NOTE in page_html(REPORTER)
    assert INTERNAL_NOTE not in page_html(REPORTER)
    assert INTERNAL_NOTE in page_html(INCIDENT_MANAGER)


def test_an_api_token_is_never_an_integration_key(world: World, db: None) -> None:
    token = world.tokens[ADMIN]
    body = json.dumps({"title": "Disk full", "dedup_key": "db1/disk"})
    client = Client()
    by_header = client.post(
        "/api/v1/integrations/generic/",
        body,
        content_type="application/json",
        headers={"authorization": f"Bearer {token}"},
    )
    in_path = client.post(f"/api/v1/integrations/generic/{token}/", body, content_type="application/json")
    routing = client.post(
        "/api/v1/integrations/pagerduty/enqueue", json.dumps(pd_trigger(token)), content_type="application/json"
    )
    assert (by_header.status_code, in_path.status_code) == (401, 404)
    assert routing.status_code == 404
