"""The product works under its Content-Security-Policy in Chromium, and breaks none of it.

Every main page, the back office and the API docs are opened with a listener for
`securitypolicyviolation` (installed by Playwright before any page script runs) and
with the console watched; one violation anywhere fails the test. The behaviours that
moved from inline code to static files are used for real: the language menu, htmx's
partial updates, Swagger UI.
"""

from collections.abc import Iterator
from typing import Any

import pytest

from incidents.roles import INCIDENT_MANAGER
from tests.browser import DESKTOP, chromium  # noqa: F401 — `chromium` is a fixture

pytestmark = [pytest.mark.browser, pytest.mark.pages, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} in ${event.sourceFile}:${event.lineNumber}`);
});
"""


class Watched:
    """A browser page that remembers every CSP violation it saw, from the event and from the console."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.console: list[str] = []
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.console.append(message.text)

    def visit(self, path: str, status: int = 200) -> None:
        response = self.page.goto(path)
        assert response is not None
        assert response.status == status, (path, response.status)
        assert "Content-Security-Policy" in {name.title() for name in response.headers}, path
        self.page.wait_for_load_state("networkidle")
        self.assert_clean(path)

    def assert_clean(self, where: str) -> None:
        violations = self.page.evaluate("window.__cspViolations || []")
        assert violations == [], (where, violations)
        assert self.console == [], (where, self.console)


@pytest.fixture
def boss(make_user: Any) -> Any:
    """An incident manager who is also the back office's superuser: every page is open to them."""
    user = make_user(INCIDENT_MANAGER, username="sari", superuser=True)
    user.is_staff = True
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def watched(chromium: Any, live_server: Any, boss: Any) -> Iterator[Watched]:  # noqa: F811 — the fixture above
    context = chromium.new_context(viewport=DESKTOP, base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(15_000)
    context.add_init_script(RECORD_VIOLATIONS)
    try:
        page = Watched(context.new_page())
        page.visit("/accounts/login/")
        page.page.get_by_label("User name").fill(boss.username)
        page.page.get_by_label("Password").fill(PASSWORD)
        page.page.get_by_role("button", name="Log in").click()
        page.page.wait_for_url("**/")
        yield page
    finally:
        context.close()


def test_every_main_page_loads_without_a_csp_violation(watched: Watched, make_incident: Any) -> None:
    incident = make_incident(title="Checkout slow under load", impact="high", urgency="high")
    for path in (
        "/",
        "/incidents/new/",
        f"/incidents/{incident.number}/",
        f"/incidents/{incident.number}/report/",
        f"/incidents/{incident.number}/postmortem/",
        "/oncall/",
        "/oncall/pages/",
        "/profile/",
        "/postmortems/",
        "/action-items/",
        "/reports/",
        "/admin/",
        "/admin/incidents/incident/",
        f"/admin/incidents/incident/{incident.pk}/change/",
    ):
        watched.visit(path)
    # The acknowledgement page that a page's email links to, here saying its link does not work.
    watched.visit("/page/ack/not-a-real-token/", status=400)


def test_scripts_from_static_files_still_work_under_the_policy(watched: Watched) -> None:
    from playwright.sync_api import expect

    page = watched.page
    # htmx: the report form's priority preview follows impact and urgency.
    watched.visit("/incidents/new/")
    page.locator("#id_impact").select_option("high")
    page.locator("#id_urgency").select_option("high")
    expect(page.locator("#priority-preview")).to_contain_text("P1")
    # app.js: choosing a language submits its form (an inline onchange before).
    page.locator("#language").select_option("id")
    page.wait_for_url("**/incidents/new/")
    expect(page.locator("html")).to_have_attribute("lang", "id")
    watched.assert_clean("after the language change")


def test_the_api_docs_render_under_the_policy(watched: Watched) -> None:
    from playwright.sync_api import expect

    watched.visit("/api/docs/")
    expect(watched.page.locator(".swagger-ui .info .title")).to_contain_text("ITSM incident management API")
    expect(watched.page.locator(".opblock").first).to_be_visible()
    watched.assert_clean("/api/docs/ rendered")
