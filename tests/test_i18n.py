"""Indonesian: a complete catalogue, and the main pages shown in it with no English left.

The pages are rendered as a user gets them: the language chosen with the header's switcher
(/i18n/setlang/), logged in through the login form, incidents reported and worked through the
pages, so what the timeline says was written in Indonesian too. Each page's visible text is then
compared with the catalogues (tests/i18n_helpers.py): English that has a translation, or should
have one, fails the test with the page and the string. To check a new page, add one line to PAGES.
"""

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polib
import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client
from django.urls import URLPattern, URLResolver, resolve
from django.utils import timezone, translation

from incidents import lifecycle
from incidents.choices import Level
from incidents.models import Incident, Service
from incidents.web import urls as web_urls
from itsm.translations import catalogue_messages, catalogue_problems, source_messages
from tests.i18n_helpers import leftovers_for, visible_texts

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "id" / "LC_MESSAGES" / "django.po"
PASSWORD = "a-long-test-password"  # conftest's make_user


@pytest.fixture(scope="module")
def catalogue() -> polib.POFile:
    return polib.pofile(str(CATALOGUE))


# --- The catalogue --------------------------------------------------------------------


def test_the_indonesian_catalogue_is_complete(catalogue: polib.POFile) -> None:
    problems = catalogue_problems(catalogue)
    assert not problems, "locale/id/LC_MESSAGES/django.po:\n" + "\n".join(problems)
    assert len(catalogue) > 900


def test_the_catalogue_has_every_string_the_code_marks(catalogue: polib.POFile) -> None:
    missing = source_messages() - catalogue_messages(catalogue)
    assert not missing, "run `make messages`, then translate: " + ", ".join(sorted(repr(m[1]) for m in missing))


def test_indonesian_has_one_plural_form_and_every_plural_entry_fills_it(catalogue: polib.POFile) -> None:
    assert catalogue.metadata["Plural-Forms"] == "nplurals=1; plural=0;"
    assert catalogue.metadata["Language"] == "id"
    plurals = [entry for entry in catalogue if entry.msgid_plural]
    assert plurals
    for entry in plurals:
        assert set(entry.msgstr_plural) == {0}
        assert entry.msgstr_plural[0]


def test_short_forms_stay_short(catalogue: polib.POFile) -> None:
    short = {entry.msgid: entry.msgstr for entry in catalogue if entry.msgctxt and entry.msgctxt.endswith(", short")}
    assert short == {"d": "hr", "h": "jam", "min": "mnt", "s": "dtk"}


def test_the_checker_names_each_kind_of_problem() -> None:
    catalogue = polib.POFile()
    catalogue.metadata = {"Language": "id", "Plural-Forms": "nplurals=1; plural=0;"}
    entries = [
        polib.POEntry(msgid="Queue", msgstr=""),
        polib.POEntry(msgid="Close", msgstr="Tutup", flags=["fuzzy"]),
        polib.POEntry(msgid="%(number)s reported.", msgstr="Dilaporkan.", flags=["python-format"]),
        polib.POEntry(
            msgid="No incident {number}.", msgstr="Tidak ada insiden {nomor}.", flags=["python-brace-format"]
        ),
        polib.POEntry(msgid="<strong>Now</strong>", msgstr="Sekarang"),
        polib.POEntry(
            msgid="%(count)d item", msgid_plural="%(count)d items", msgstr_plural={0: ""}, flags=["python-format"]
        ),
        # Fine: a percent sign that is not a placeholder, and a translation equal to its English.
        polib.POEntry(msgid="warn at % of the target", msgstr="peringatkan pada % dari target"),
        polib.POEntry(msgid="SLA", msgstr="SLA"),
    ]
    for entry in entries:
        catalogue.append(entry)
    assert catalogue_problems(catalogue) == [
        "'Queue': not translated",
        "'Close': fuzzy (check the translation, then remove the flag)",
        "'%(number)s reported.': placeholders [] in the translation, ['%(number)s'] in the English",
        "'No incident {number}.': placeholders ['{nomor}'] in the translation, ['{number}'] in the English",
        "'<strong>Now</strong>': placeholders [] in the translation, ['</strong>', '<strong>'] in the English",
        "'%(count)d item': not translated",
    ]


def test_check_translations_says_the_catalogue_is_complete() -> None:
    from io import StringIO

    out = StringIO()
    call_command("check_translations", stdout=out)
    assert re.search(r"locale/id/LC_MESSAGES/django.po: \d+ entries, all translated", out.getvalue())


# --- Finding English on a page ----------------------------------------------------------------


def test_english_is_found_in_text_attributes_options_and_filled_in_messages() -> None:
    # Not found: what users typed, even in English and shaped like a message ("%(num)d hour"), and
    # what is marked as in another language, as the switcher names each language in itself.
    html = """<html lang="id"><head><title>Antrean insiden · ITSM</title><script>var s = "Queue";</script></head>
    <body data-sla-left="left"><label for="q">Search</label><input id="q" placeholder="Cari">
    <select name="state"><option>Baru</option><option>On hold</option></select>
    <select name="language"><option lang="en">English</option><option lang="id">Bahasa Indonesia</option></select>
    <nav aria-label="Pages"></nav><p>Page 2 of 7</p><p>Halaman 1 dari 7</p>
    <h1>Checkout page returns 502 for card payments</h1><td>VPN drops every hour</td>
    <p>Prioritas: <b>P1</b></p></body></html>"""
    found = {(text.where, text.text, msgid) for text, msgid in leftovers_for("id").find(html)}
    assert found == {
        ("<body data-sla-left>", "left", "left"),
        ("<label>", "Search", "Search"),
        ("<option>", "On hold", "On hold"),
        ("<nav aria-label>", "Pages", "Pages"),
        ("<p>", "Page 2 of 7", "Page %(number)s of %(total)s"),
    }


# --- The pages, in Indonesian -----------------------------------------------------------------


def test_text_marked_in_another_language_is_skipped_and_the_pages_own_is_not() -> None:
    leftovers = leftovers_for("id")
    html = """<html lang="id"><body>
    <p lang="en">Queue <b title="Priority">Search</b></p><p lang="en-GB">Log out</p>
    <p lang="id">Language <span>Settings</span></p><p lang="id-ID"><i lang="en">Profile</i> Delete</p>
    </body></html>"""
    assert {text.text for text, _ in leftovers.find(html)} == {"Language", "Settings", "Delete"}
    # A fragment (htmx) has no <html lang>: it is in the language the finder is for.
    assert {text.text for text, _ in leftovers.find('<td>Save</td><td lang="en">Edit</td>')} == {"Save"}
    # A page in English: its English is its own, and the Indonesian marked as such is skipped.
    english = '<html lang="en"><body><p>Queue</p><option lang="id">Bahasa Indonesia</option></body></html>'
    assert [text.text for text in visible_texts(english)] == ["Queue"]


@dataclass(frozen=True)
class Page:
    """A page as a user gets it. `path` may name the world's incidents: {busy}, {resolved}."""

    name: str
    path: str
    user: str | None = "manager"  # who is logged in: manager, agent, reporter, or nobody
    data: dict[str, Any] | None = None  # posted when given
    status: int = 200
    htmx: bool = False  # asked for by htmx: a fragment, without <html>


PAGES = [
    Page("log in", "/accounts/login/", user=None),
    Page("log in, wrong password", "/accounts/login/", user=None, data={"username": "maya", "password": "wrong"}),
    Page("queue", "/"),
    Page("queue, as an agent", "/?scope=mine&sort=priority", user="agent"),
    Page("queue, nothing matches", "/?q=zzzz&state=closed&scope=unassigned"),
    Page("queue, refreshed by htmx", "/?sort=-updated_at", htmx=True),
    Page("report an incident", "/incidents/new/", user="reporter"),
    Page(
        "report an incident, with errors",
        "/incidents/new/",
        user="reporter",
        data={"title": "", "impact": "high", "urgency": "loud", "started_at": "soon", "affected_users": "-3"},
    ),
    Page("priority as impact and urgency change", "/incidents/new/priority/?impact=high&urgency=medium", htmx=True),
    Page("incident", "/incidents/{busy}/"),
    Page("incident, as an agent", "/incidents/{busy}/", user="agent"),
    Page("incident, as its reporter", "/incidents/{busy}/", user="reporter"),
    Page("incident, resolved", "/incidents/{resolved}/"),
    Page("incident, a transition without its fields", "/incidents/{busy}/transitions/mitigate/", data={}, status=400),
    Page("incident, a transition refused", "/incidents/{busy}/transitions/resume/", data={}, status=409),
    Page(
        "incident, an empty note", "/incidents/{busy}/notes/", data={"body": "", "visibility": "internal"}, status=400
    ),
    Page("incident, an unknown assignee", "/incidents/{busy}/assign/", data={"assignee": "nobody"}, status=400),
    Page("incident, no higher tier", "/incidents/{busy}/escalate/", data={"note": "Still failing"}, status=400),
    Page("acknowledge a page, broken link", "/page/ack/not-a-token/", user=None, status=400),
]


@dataclass
class World:
    """Incidents in most states, with timelines written through the pages in Indonesian."""

    users: dict[str, Any]
    numbers: dict[str, str] = field(default_factory=dict)
    clients: dict[str | None, Client] = field(default_factory=dict)

    def client(self, who: str | None) -> Client:
        if who not in self.clients:
            self.clients[who] = speaking_indonesian(self.users.get(who) if who else None)
        return self.clients[who]

    def show(self, page: Page) -> Any:  # the test client's response
        client = self.client(page.user)
        path = page.path.format(**self.numbers)
        headers = {"HX-Request": "true"} if page.htmx else {}
        if page.data is None:
            return client.get(path, headers=headers)
        return client.post(path, page.data, headers=headers)


def speaking_indonesian(user: Any = None) -> Client:
    """A browser that chose Indonesian in the header's switcher, then logged in through the form."""
    client = Client()
    assert client.post("/i18n/setlang/", {"language": "id", "next": "/"}).status_code == 302
    if user is not None:
        response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, "the login form refused the user"
    return client


@pytest.fixture
def world(manager: Any, agent: Any, reporter: Any, service: Service, make_incident: Callable[..., Incident]) -> World:
    world = World(users={"manager": manager, "agent": agent, "reporter": reporter})
    # The busy one goes through the pages: reported by its reporter, worked by the manager.
    response = world.client("reporter").post(
        "/incidents/new/",
        {
            "title": "Checkout page returns 502 for card payments",
            "description": "Customers see a gateway error after entering their card.",
            "category": "api_disruption",
            "services": [service.slug],
            "impact": "high",
            "urgency": "high",
            "affected_users": "1200",
            "diagnostics": "upstream timed out (110) while reading response header",
        },
    )
    assert response.status_code == 302
    busy = response["Location"].strip("/").split("/")[-1]
    manager_client = world.client("manager")
    for path, data in [
        (f"/incidents/{busy}/transitions/acknowledge/", {"acknowledge-note": "Looking at the gateway logs"}),
        (f"/incidents/{busy}/transitions/investigate/", {}),
        (f"/incidents/{busy}/notes/", {"body": "Card processor latency is up", "visibility": "internal"}),
        (f"/incidents/{busy}/notes/", {"body": "We are looking into failed card payments", "visibility": "public"}),
        (f"/incidents/{busy}/assign/", {"assignee": agent.username, "commander": manager.username}),
    ]:
        assert manager_client.post(path, data).status_code == 302, path
    world.numbers["busy"] = busy
    # The others straight through the lifecycle, in Indonesian as the pages would write them.
    with translation.override("id"):
        lives = {
            "on_hold": [("acknowledge", {}), ("investigate", {}), ("hold", {"reason": "Waiting for the vendor"})],
            "mitigated": [("acknowledge", {}), ("investigate", {}), ("mitigate", {"note": "Moved to the backup"})],
            "resolved": [
                ("acknowledge", {}),
                ("investigate", {}),
                ("mitigate", {"note": "Renewed the certificate by hand"}),
                ("resolve", {"root_cause": "An expired TLS certificate", "resolution": "Automated renewal"}),
            ],
            "cancelled": [("cancel", {"reason": "Reported twice"})],
        }
        titles = {
            "on_hold": "VPN drops every hour",
            "mitigated": "Reports export times out",
            "resolved": "Login fails with a certificate error",
            "cancelled": "Checkout alert fired twice",
        }
        for name, steps in lives.items():
            incident = make_incident(title=titles[name], services=[service])
            for transition, fields in steps:
                incident = lifecycle.transition_incident(incident=incident, name=transition, actor=manager, **fields)
            world.numbers[name] = incident.number
        with time_machine.travel(timezone.now() - dt.timedelta(hours=2), tick=False):
            world.numbers["breached"] = make_incident(
                title="Search returns nothing", impact=Level.HIGH, urgency=Level.HIGH
            ).number
        world.numbers["low"] = make_incident(
            title="Typo in an email footer", impact=Level.LOW, urgency=Level.LOW
        ).number
    return world


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_the_main_pages_leave_no_english_in_indonesian(page: Page, world: World) -> None:
    response = world.show(page)
    assert response.status_code == page.status
    html = response.content.decode()
    if not page.htmx:
        assert '<html lang="id">' in html
    leftovers = leftovers_for("id")
    left = leftovers.find(html)
    assert not left, f"English left on {page.name!r} ({page.path}):\n" + "\n".join(
        f"  {text.where} {text.text!r} (msgid {msgid!r})" for text, msgid in left
    )
    # Not passing for want of words: the page does speak Indonesian.
    assert sum(text.text in leftovers.translations for text in visible_texts(html)) >= 1


@pytest.mark.parametrize("path", ["/", "/incidents/{busy}/", "/incidents/new/"])
def test_the_same_pages_in_english_are_found_english(path: str, world: World) -> None:
    client = world.client("manager")
    client.post("/i18n/setlang/", {"language": "en", "next": "/"})
    html = client.get(path.format(**world.numbers)).content.decode()
    assert '<html lang="en">' in html
    found = {text.text for text, _ in leftovers_for("id").find(html)}
    assert {"Priority", "Log out", "Language"} <= found


def _url_names(patterns: Sequence[URLPattern | URLResolver]) -> set[str]:
    names: set[str] = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            names |= _url_names(pattern.url_patterns)
        elif pattern.name:
            names.add(pattern.name)
    return names


def test_every_page_of_the_web_ui_is_checked_in_indonesian() -> None:
    class AnyNumber(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "INC-1"

    checked = {resolve(urlsplit(page.path.format_map(AnyNumber())).path).url_name for page in PAGES}
    unchecked = _url_names(web_urls.urlpatterns) - checked
    assert not unchecked, f"add a line to PAGES in tests/test_i18n.py for: {sorted(unchecked)}"


# --- Language, dates and Django's own strings ---------------------------------------------------


def test_english_and_indonesian_are_offered_and_switched_between(agent: Any) -> None:
    assert [code for code, _ in settings.LANGUAGES] == ["en", "id"]
    client = Client()
    client.force_login(agent)
    html = client.get("/").content.decode()
    assert '<html lang="en">' in html
    # Each language named in itself, and marked as in that language (screen readers say it right).
    assert re.search(
        r'<option value="en" lang="en" selected>English</option><option value="id" lang="id">Bahasa Indonesia</option>',
        html,
    )
    response = client.post("/i18n/setlang/", {"language": "id", "next": "/?state=new"})
    assert response["Location"] == "/?state=new"
    html = client.get("/").content.decode()
    assert '<html lang="id">' in html
    assert '<option value="id" lang="id" selected>Bahasa Indonesia</option>' in html
    assert "<h1>Antrean insiden</h1>" in html


def test_the_sla_countdown_gets_its_words_in_the_pages_language(agent: Any) -> None:
    """sla.js rewrites the countdown every second with the words base.html hands it."""
    script = (Path(settings.BASE_DIR) / "static" / "web" / "sla.js").read_text()
    keys = re.search(r"\[((?:\"\w+\",?\s*)+)\]\.forEach", script)
    assert keys
    read = re.findall(r'"(\w+)"', keys.group(1))
    assert read == ["left", "breached", "d", "h", "min", "s"]
    client = speaking_indonesian(agent)
    html = client.get("/").content.decode()
    words = {key: re.search(rf'data-sla-{key}="([^"]*)"', html) for key in read}
    assert {key: match.group(1) for key, match in words.items() if match} == {
        "left": "tersisa",
        "breached": "Dilanggar",
        "d": "hr",
        "h": "jam",
        "min": "mnt",
        "s": "dtk",
    }


def test_the_server_renders_the_countdown_in_indonesian_too(agent: Any, make_incident: Callable[..., Incident]) -> None:
    make_incident(title="Search returns nothing", impact=Level.HIGH, urgency=Level.HIGH)
    html = speaking_indonesian(agent).get("/").content.decode()
    assert re.search(r'<span class="left">1[45] mnt \d\d dtk</span> tersisa', html)
    with time_machine.travel(timezone.now() + dt.timedelta(minutes=16), tick=False):
        assert "■ </span>Dilanggar" in speaking_indonesian(agent).get("/").content.decode()


def test_dates_have_indonesian_month_names_in_indonesian() -> None:
    when = dt.datetime(2026, 12, 5, 14, 30, tzinfo=dt.UTC)
    template = Template(
        "{{ when|date:'j F Y' }} | {{ when|date:'DATE_FORMAT' }} | {{ when|date:'SHORT_DATETIME_FORMAT' }}"
    )
    with timezone.override(dt.UTC):
        with translation.override("id"):
            assert template.render(Context({"when": when})) == "5 Desember 2026 | 5 Des. 2026 | 05-12-2026 14.30"
        with translation.override("en"):
            assert template.render(Context({"when": when})).startswith("5 December 2026 | Dec. 5, 2026")


def test_the_queue_shows_times_as_indonesians_write_them(agent: Any, make_incident: Callable[..., Incident]) -> None:
    make_incident(title="Search returns nothing")
    html = speaking_indonesian(agent).get("/").content.decode()
    assert re.search(r"<time datetime=\"[^\"]+\">\d\d-\d\d-\d{4} \d{1,2}\.\d\d</time>", html)


def test_djangos_own_messages_come_in_indonesian(reporter: Any, catalogue: polib.POFile) -> None:
    """Form errors Django words itself are translated by Django's own Indonesian catalogue."""
    ours = {entry.msgid for entry in catalogue}
    response = speaking_indonesian(reporter).post(
        "/incidents/new/", {"title": "Checkout slow", "impact": "high", "urgency": "loud", "started_at": "soon"}
    )
    html = response.content.decode()
    assert "Select a valid choice. %(value)s is not one of the available choices." not in ours
    assert "Masukkan pilihan yang valid. loud bukan salah satu dari pilihan yang tersedia." in html
    assert "Enter a valid date/time." not in ours
    assert "Masukkan tanggal/waktu yang valid." in html


def test_the_apis_field_errors_come_in_the_requests_language(
    manager: Any, make_incident: Callable[..., Incident], api: Callable[[Any], Any]
) -> None:
    """Worded per request: error messages worded once, at import, would stay in the language of that moment."""
    incident = make_incident(title="Checkout slow")
    said = {}
    for language in ("id", "en", "id"):
        for value in ("not-a-number", "INC-999999"):
            response = api(manager).patch(
                f"/api/v1/incidents/{incident.number}/", {"duplicate_of": value}, headers={"Accept-Language": language}
            )
            assert response.status_code == 400
            said[language, value] = response.json()["duplicate_of"][0]
    assert said == {
        ("id", "not-a-number"): "Isi nomor insiden seperti INC-1042.",
        ("id", "INC-999999"): "Tidak ada insiden INC-999999.",
        ("en", "not-a-number"): "Give an incident number such as INC-1042.",
        ("en", "INC-999999"): "No incident INC-999999.",
    }
