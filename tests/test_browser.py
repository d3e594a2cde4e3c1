"""The support staff's day in a real browser: Debian's headless Chromium against the live server.

One incident from report to close through the pages alone, checked on
screen and in the database; a transition that is no longer allowed shows as
an error on the page; and the queue and incident page photographed at
desktop and phone widths (var/screenshots/).
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from incidents.choices import State
from incidents.models import Incident
from tests.browser import DESKTOP, PHONE, chromium, screenshot  # noqa: F401 — `chromium` is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.pages, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


@pytest.fixture
def people(make_user: Callable[..., Any]) -> dict[str, Any]:
    crew = {}
    for role, username, name in (("agent", "tono", "Tono"), ("incident_manager", "wulan", "Wulan")):
        user = make_user(role, username=username)
        user.first_name = name
        user.set_password(PASSWORD)
        user.save()
        crew[username] = user
    return crew


@pytest.fixture
def page(chromium: Any, live_server: Any) -> Iterator[Any]:  # noqa: F811 — the fixture above
    context = chromium.new_context(viewport=DESKTOP, base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def log_in(page: Any, username: str) -> None:
    page.goto("/accounts/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def run_transition(page: Any, name: str, **fields: str) -> None:
    panel = page.locator(f"details.action-{name}")
    panel.locator("summary").click()
    for field, value in fields.items():
        panel.locator(f"[name={name}-{field}]").fill(value)
    panel.locator("button[type=submit]").click()
    page.wait_for_load_state()


def state_badge(page: Any) -> str:
    return str(page.locator(".incident-header .state").inner_text())


def test_an_incident_from_report_to_close_through_the_pages(page: Any, people: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    log_in(page, "tono")

    # Report it: the priority follows impact and urgency as they are chosen.
    page.get_by_role("link", name="Report an incident").first.click()
    page.get_by_label("Title").fill("Checkout returns 502 for every card payment")
    page.get_by_label("Symptoms and observed behaviour").fill("Customers see 'Payment failed' after 30 s.")
    page.locator("#id_impact").select_option("high")
    page.locator("#id_urgency").select_option("high")
    expect(page.locator("#priority-preview")).to_contain_text("P1")
    page.get_by_role("button", name="Report", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("reported as P1")
    incident = Incident.objects.get()
    assert (incident.priority, incident.reporter.username, incident.source) == ("P1", "tono", "web")

    # In the queue with its priority.
    page.get_by_role("link", name="Queue").click()
    row = page.locator("tr", has=page.get_by_role("link", name=incident.number))
    expect(row.locator(".badge.priority-p1")).to_have_text("P1")
    expect(row).to_contain_text("Checkout returns 502")
    screenshot(page, "queue-desktop")
    row.get_by_role("link", name=incident.number).click()

    run_transition(page, "acknowledge")
    expect(page.locator(".incident-header .state")).to_have_text("Acknowledged")
    run_transition(page, "investigate")
    expect(page.locator(".incident-header .state")).to_have_text("Investigating")

    # A second tab, left open on the investigating page, will try a transition that is gone by then.
    stale = page.context.new_page()
    stale.goto(page.url)

    page.locator(".note-form textarea[name=body]").fill("Card processor answers 503 since 09:12; failing over.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".timeline")).to_contain_text("Card processor answers 503")

    page.locator("summary", has_text="Assign").click()
    page.get_by_label("Incident commander", exact=True).select_option("wulan")
    page.get_by_role("button", name="Save assignment").click()
    expect(page.locator(".incident-header .facts").first).to_contain_text("Wulan")

    run_transition(page, "mitigate", note="Traffic moved to the standby processor.")
    expect(page.locator(".incident-header .state")).to_have_text("Mitigated")
    run_transition(page, "resolve", root_cause="Expired TLS certificate at the processor.", resolution="Renewed.")
    expect(page.locator(".incident-header .state")).to_have_text("Resolved")
    screenshot(page, "incident-desktop")

    incident.refresh_from_db()
    assert incident.state == State.RESOLVED
    assert incident.commander is not None
    assert incident.commander.username == "wulan"
    assert incident.history.first().history_user.username == "tono"
    assert incident.timeline.filter(body__contains="Card processor answers 503").exists()

    # The stale tab's "Put on hold" is refused on the page, and nothing changes.
    run_transition(stale, "hold", reason="Waiting for the processor")
    expect(stale.locator(".messages .error")).to_be_visible()
    expect(stale.locator(".incident-header .state")).to_have_text("Resolved")
    incident.refresh_from_db()
    assert incident.state == State.RESOLVED

    # A P1 closes only with a published post-mortem: the agent writes it and submits it for review.
    page.get_by_role("button", name="Write the post-mortem").click()
    page.get_by_label("Summary").fill("Card payments failed for 40 minutes: the processor's certificate expired.")
    page.get_by_role("button", name="Save the post-mortem").click()
    expect(page.locator(".messages")).to_be_visible()
    page.locator("details.pm-action-submit summary").click()
    page.locator("details.pm-action-submit button[type=submit]").click()
    expect(page.locator(".incident-header .pm-status")).to_contain_text("review")

    # The incident manager publishes it and closes the incident.
    manager = page.context.browser.new_context(viewport=DESKTOP, base_url=page.url.split("/incidents/")[0])
    boss = manager.new_page()
    log_in(boss, "wulan")
    boss.goto(f"/incidents/{incident.number}/postmortem/")
    boss.locator("details.pm-action-publish summary").click()
    boss.locator("details.pm-action-publish button[type=submit]").click()
    boss.goto(f"/incidents/{incident.number}/")
    run_transition(boss, "close")
    expect(boss.locator(".incident-header .state")).to_have_text("Closed")
    manager.close()

    incident.refresh_from_db()
    assert incident.state == State.CLOSED
    assert incident.postmortem.status == "published"
    assert incident.postmortem.summary.startswith("Card payments failed")
    assert incident.history.first().history_user.username == "wulan"


def test_the_pages_at_phone_width(chromium: Any, live_server: Any, people: dict[str, Any], make_incident: Any) -> None:  # noqa: F811
    from playwright.sync_api import expect

    make_incident(title="Search returns nothing for Indonesian words", impact="medium", urgency="high")
    context = chromium.new_context(viewport=PHONE, base_url=live_server.url, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        log_in(phone, "tono")
        # The table becomes cards: each cell says what it is.
        expect(phone.locator("tbody td[data-label=Incident]").first).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        screenshot(phone, "queue-phone")
        phone.locator("tbody td a").first.click()
        expect(phone.locator(".incident-header h1")).to_contain_text("Search returns nothing")
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        screenshot(phone, "incident-phone")
    finally:
        context.close()


def test_every_control_is_labelled_and_reachable_by_keyboard(
    page: Any, people: dict[str, Any], make_incident: Any
) -> None:
    incident = make_incident(title="Labels everywhere", impact="high", urgency="high")
    log_in(page, "tono")
    pages = (
        "/",
        "/incidents/new/",
        f"/incidents/{incident.number}/",
        f"/incidents/{incident.number}/postmortem/",
        "/oncall/",
        "/oncall/pages/",
        "/profile/",
        "/postmortems/",
        "/action-items/",
    )
    for path in pages:
        page.goto(path)
        # Every disclosure opened, so the controls inside them are checked too.
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                .map(el => el.name)"""
        )
        assert unlabelled == [], (path, unlabelled)
    # From the top of the page, Tab reaches the skip link first, and then the report form's fields in order.
    page.goto("/incidents/new/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.locator("#id_title").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_description"


def test_the_reports_dashboard_fits_a_phone_and_every_control_is_labelled(
    chromium: Any,  # noqa: F811
    live_server: Any,
    people: dict[str, Any],
    make_incident: Any,
    service: Any,
) -> None:
    from playwright.sync_api import expect

    make_incident(title="Checkout down", services=[service], impact="high", urgency="high")
    for viewport, name in ((PHONE, "reports-phone"), (DESKTOP, "reports-desktop")):
        context = chromium.new_context(viewport=viewport, base_url=live_server.url, locale="en-GB")
        try:
            screen = context.new_page()
            log_in(screen, "wulan")
            screen.get_by_role("link", name="Reports").click()
            expect(screen.get_by_role("heading", level=1)).to_have_text("Reports")
            screen.get_by_label("Period", exact=True).select_option("this_month")
            screen.get_by_role("button", name="Show").click()
            expect(screen.locator(".card-incidents .card-value")).to_have_text("1")
            # The charts are images with a summary, drawn inside the screen's width.
            charts = screen.locator("svg.chart[role=img]")
            assert charts.count() >= 5
            assert charts.first.get_attribute("aria-label")
            assert screen.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
            widest = screen.evaluate(
                "Math.max(...[...document.querySelectorAll('svg.chart')].map(s => s.getBoundingClientRect().right))"
            )
            assert widest <= viewport["width"]
            screen.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
            unlabelled = screen.evaluate(
                """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
                    .map(el => el.name)"""
            )
            assert unlabelled == []
            screenshot(screen, name)
        finally:
            context.close()
