"""Indonesian: a complete catalogue, and the main pages shown in it with no English left.

The pages are rendered as a user gets them: the language chosen with the header's switcher
(/i18n/setlang/), logged in through the login form, incidents reported and worked through the
pages, so what the timeline says was written in Indonesian too. Each page's visible text is then
compared with the catalogues (tests/i18n_helpers.py): English that has a translation, or should
have one, fails the test with the page and the string. To check a new page, add one line to PAGES.
"""

import copy
import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polib
import pytest
import time_machine
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.template import Context, Template
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, resolve
from django.utils import timezone, translation

from escalation import contacts, overrides
from escalation import profile as settings_of
from escalation.models import Channel, LayerParticipant, OnCallSchedule, RotationLayer, Team
from escalation.paging import page_users
from incidents import (
    action_items,
    fix_plan,
    investigation,
    lifecycle,
    postmortem_timeline,
    postmortems,
    response,
    services,
    updates,
)
from incidents.choices import (
    ActionItemKind,
    ActionItemStatus,
    FixKind,
    ImplementationOutcome,
    Level,
    ResponseRoleKind,
    RiskRating,
    TaskStatus,
    UpdateAudience,
)
from incidents.intake.integrations import create_integration
from incidents.models import Alert, Incident, PostMortem, SavedFilter, Service
from incidents.roles import AGENT, INCIDENT_MANAGER, REPORTER
from incidents.services import report_incident
from incidents.web import urls as web_urls
from incidents.web.postmortem_forms import version_of
from itsm.translations import catalogue_messages, catalogue_problems, source_messages
from tests.i18n_helpers import leftovers_for, markdown_texts, visible_texts
from tests.postmortem_helpers import published_postmortem

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


def test_a_downloaded_markdown_document_is_read_as_its_reader_sees_it() -> None:
    markdown = (
        "# Post-mortem: INC-4 — VPN\n\n- **Author:** Maya\n- [x] **Renew it** — Done, no owner\n_Not written yet._"
    )
    texts = [text.text for text in markdown_texts(markdown)]
    assert texts == ["Post-mortem: INC-4", "VPN", "Author", "Maya", "Renew it", "Done", "no owner", "Not written yet."]
    found = {msgid for _, msgid in leftovers_for("id").find_in(markdown_texts(markdown))}
    assert found == {"Author", "Done", "no owner", "Not written yet."}


@dataclass(frozen=True)
class Upload:
    """A file a page's form sends (made afresh for each post)."""

    name: str
    content: bytes


@dataclass(frozen=True)
class Page:
    """A page as a user gets it. `path` and `data` may name the world's records: {busy}, {draft}, {method}..."""

    name: str
    path: str
    user: str | None = "manager"  # who is logged in: manager, agent, reporter, or nobody
    data: dict[str, Any] | None = None  # posted when given
    status: int = 200
    htmx: bool = False  # asked for by htmx: a fragment, without <html>
    follow: bool = False  # a post that redirects: the page it leads to, with its message, is checked


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
    # The incident page's sections: response team and war room, tasks, fix plan, monitoring,
    # status updates, related incidents, attachments; each form's errors and its success message.
    Page("incident, its whole history", "/incidents/{busy}/?history=all"),
    Page("incident, mitigated and watched for a recurrence", "/incidents/{mitigated}/"),
    Page("incident, a role without a person", "/incidents/{busy}/team/", data={"role-role": "sme"}, status=400),
    Page(
        "incident, a responder added",
        "/incidents/{busy}/team/",
        data={"role-user": "maya", "role-role": "communications_lead"},
        follow=True,
    ),
    Page("incident, a role ended", "/incidents/{busy}/team/{role}/end/", data={}, follow=True),
    Page(
        "incident, command handed over", "/incidents/{busy}/team/commander/", data={"command-user": "agus"}, follow=True
    ),
    Page("incident, a page without a message", "/incidents/{busy}/team/page/", data={"page-role": "sme"}, status=400),
    Page(
        "incident, a responder paged",
        "/incidents/{busy}/team/page/",
        data={
            "page-user": "maya",
            "page-role": "sme",
            "page-expertise": "Pembayaran",
            "page-message": "Tolong periksa prosesor kartu",
        },
        follow=True,
    ),
    Page(
        "incident, war room links with errors",
        "/incidents/{busy}/war-room/",
        data={"links-war_room_url": "bukan-tautan"},
        status=400,
    ),
    Page(
        "incident, war room links saved",
        "/incidents/{busy}/war-room/",
        data={
            "links-war_room_url": "https://meet.example.com/inc",
            "links-chat_channel_url": "https://chat.example.com/c",
        },
        follow=True,
    ),
    Page("incident, a task without a title", "/incidents/{busy}/tasks/", data={"task-status": "open"}, status=400),
    Page(
        "incident, a task added",
        "/incidents/{busy}/tasks/",
        data={"task-title": "Periksa DNS", "task-status": "open"},
        follow=True,
    ),
    Page(
        "incident, a task with errors",
        "/incidents/{busy}/tasks/{task}/",
        data={"task-{task}-status": "someday", "task-{task}-due_at": "soon"},
        status=400,
    ),
    Page(
        "incident, a task changed",
        "/incidents/{busy}/tasks/{task}/",
        data={"task-{task}-status": "done", "task-{task}-owner": "agus", "task-{task}-expertise": "Nginx"},
        follow=True,
    ),
    Page(
        "incident, an option with errors",
        "/incidents/{busy}/fix-plan/options/",
        data={"option-kind": "magic"},
        status=400,
    ),
    Page(
        "incident, an option proposed",
        "/incidents/{busy}/fix-plan/options/",
        data={"option-title": "Naikkan timeout", "option-kind": "quick_fix", "option-risk": "medium"},
        follow=True,
    ),
    Page(
        "incident, an option saved",
        "/incidents/{busy}/fix-plan/options/{option}/",
        data={
            "option-{option}-title": "Ganti library TLS",
            "option-{option}-kind": "permanent",
            "option-{option}-risk": "high",
            "option-{option}-rollback_plan": "Kembalikan versi lama",
        },
        follow=True,
    ),
    Page(
        "incident, another option chosen", "/incidents/{busy}/fix-plan/options/{option}/choose/", data={}, follow=True
    ),
    Page(
        "incident, an implementation with errors",
        "/incidents/{busy}/fix-plan/options/{chosen}/implementations/",
        data={"impl-window_start": "soon", "impl-outcome": "maybe"},
        status=400,
    ),
    Page(
        "incident, an implementation recorded",
        "/incidents/{busy}/fix-plan/options/{chosen}/implementations/",
        data={
            "impl-window_start": "{earlier}",
            "impl-window_end": "{just_now}",
            "impl-outcome": "failed",
            "impl-rolled_back": "true",
            "impl-rollback_plan": "Kembali ke prosesor utama",
        },
        follow=True,
    ),
    Page("incident, a recurrence without a reason", "/incidents/{mitigated}/recurrence/", data={}, status=400),
    Page(
        "incident, a recurrence reported",
        "/incidents/{mitigated}/recurrence/",
        data={"recurrence-reason": "Ekspor kembali timeout"},
        follow=True,
    ),
    Page(
        "incident, an empty status update",
        "/incidents/{busy}/updates/",
        data={"update-audience": "internal"},
        status=400,
    ),
    Page(
        "incident, a status update sent",
        "/incidents/{busy}/updates/",
        data={"update-body": "Pembayaran kartu sebagian sudah pulih", "update-audience": "stakeholders"},
        follow=True,
    ),
    Page(
        "incident, a duplicate of no incident",
        "/incidents/{busy}/links/duplicate/",
        data={"duplicate-duplicate_of": "INC-999999"},
        status=400,
    ),
    Page(
        "incident, marked a duplicate",
        "/incidents/{spare}/links/duplicate/",
        data={"duplicate-duplicate_of": "{busy}"},
        follow=True,
    ),
    Page(
        "incident, its own major incident",
        "/incidents/{busy}/links/major/",
        data={"major-major_incident": "{busy}"},
        status=400,
    ),
    Page(
        "incident, linked to a major incident",
        "/incidents/{spare}/links/major/",
        data={"major-major_incident": "{busy}"},
        follow=True,
    ),
    Page("incident, no file to attach", "/incidents/{busy}/attachments/", data={}, status=400),
    Page(
        "incident, a file attached",
        "/incidents/{busy}/attachments/",
        data={"attachment-file": Upload("trace.txt", b"upstream timed out")},
        follow=True,
    ),
    # Saved filters and the header's language switcher.
    Page("queue, a filter saved", "/filters/", data={"name": "Baru milik saya", "query": "state=new"}, follow=True),
    Page("queue, a filter without a name", "/filters/", data={"name": "", "query": ""}, follow=True),
    Page("queue, a filter deleted", "/filters/{filter}/delete/", data={}, follow=True),
    Page(
        "language chosen in the header", "/profile/language/", data={"language": "id", "next": "/oncall/"}, follow=True
    ),
    # On call, and the pages sent to me.
    Page("on call", "/oncall/"),
    Page("on call, four weeks, as an agent", "/oncall/?weeks=4", user="agent"),
    Page(
        "on call, an override with errors",
        "/oncall/overrides/",
        data={"schedule": "{schedule}", "user": "", "starts_at": "soon", "ends_at": ""},
        status=400,
    ),
    Page(
        "on call, an override ending before it starts",
        "/oncall/overrides/",
        data={"schedule": "{schedule}", "user": "agus", "starts_at": "{later}", "ends_at": "{soon}"},
        status=400,
    ),
    Page(
        "on call, an override added",
        "/oncall/overrides/",
        data={"schedule": "{schedule}", "user": "agus", "starts_at": "{soon}", "ends_at": "{later}", "reason": "Cuti"},
        follow=True,
    ),
    Page("my pages", "/oncall/pages/"),
    Page("my pages, one acknowledged", "/oncall/pages/{page}/acknowledge/", data={}, follow=True),
    Page("my pages, already acknowledged", "/oncall/pages/{acknowledged_page}/acknowledge/", data={}, follow=True),
    Page("my pages, nothing to acknowledge", "/oncall/pages/{settled_page}/acknowledge/", data={}, status=409),
    # My profile.
    Page("profile", "/profile/"),
    Page("profile, nothing set up yet", "/profile/", user="reporter"),
    Page(
        "profile, settings with errors",
        "/profile/",
        data={"first_name": "Maya", "email": "maya@", "time_zone": "Mars/Olympus", "language": "xx"},
        status=400,
    ),
    Page(
        "profile, settings saved",
        "/profile/",
        data={"first_name": "Maya", "last_name": "Sari", "time_zone": "Asia/Makassar", "language": "id"},
        follow=True,
    ),
    Page("profile, calendar address renewed", "/profile/calendar/", data={}, follow=True),
    Page("profile, a new API token shown once", "/profile/api-token/", data={}),
    Page("profile, API token revoked", "/profile/api-token/revoke/", data={}, follow=True),
    Page("profile, no API token to revoke", "/profile/api-token/revoke/", data={}, user="reporter", follow=True),
    Page(
        "profile, a contact method with errors",
        "/profile/contact-methods/",
        data={"method-new-channel": "webhook", "method-new-address": "not a url"},
        status=400,
    ),
    Page(
        "profile, a webhook added: its secret",
        "/profile/contact-methods/",
        data={"method-new-channel": "webhook", "method-new-address": "https://hooks.example.com/maya-2"},
    ),
    Page(
        "profile, an email address added",
        "/profile/contact-methods/",
        data={"method-new-channel": "email", "method-new-address": "maya.rumah@example.com"},
        follow=True,
    ),
    Page(
        "profile, a contact method changed, with errors",
        "/profile/contact-methods/{webhook}/",
        data={"method-{webhook}-channel": "email", "method-{webhook}-address": "no-at-sign"},
        status=400,
    ),
    Page(
        "profile, a contact method saved",
        "/profile/contact-methods/{webhook}/",
        data={"method-{webhook}-channel": "webhook", "method-{webhook}-address": "https://hooks.example.com/m"},
        follow=True,
    ),
    Page("profile, a new signing secret", "/profile/contact-methods/{webhook}/rotate-secret/", data={}),
    Page("profile, an email is not signed", "/profile/contact-methods/{email}/rotate-secret/", data={}, status=400),
    Page("profile, a contact method removed", "/profile/contact-methods/{email}/delete/", data={}, follow=True),
    Page(
        "profile, a notification rule with errors",
        "/profile/notification-rules/",
        data={"rule-new-contact_method": "{email}", "rule-new-delay": "-5"},
        status=400,
    ),
    Page(
        "profile, a notification rule added",
        "/profile/notification-rules/",
        data={"rule-new-contact_method": "{webhook}", "rule-new-delay": "5"},
        follow=True,
    ),
    Page(
        "profile, a notification rule saved",
        "/profile/notification-rules/{rule}/",
        data={
            "rule-{rule}-contact_method": "{email}",
            "rule-{rule}-delay": "10",
            "rule-{rule}-high_priority_only": "on",
        },
        follow=True,
    ),
    Page("profile, a notification rule removed", "/profile/notification-rules/{rule}/delete/", data={}, follow=True),
    # The post-mortem editor: not started, draft, in review, published; its timeline and action items.
    Page("post-mortem, not started", "/incidents/{resolved}/postmortem/"),
    Page("post-mortem, started", "/incidents/{resolved}/postmortem/start/", data={}, follow=True),
    Page(
        "post-mortem, not started, a first save with errors",
        "/incidents/{resolved}/postmortem/",
        data={"summary": "Sertifikat kedaluwarsa", "downtime_started_at": "soon", "version": ""},
        status=400,
    ),
    Page("post-mortem, draft", "/incidents/{draft}/postmortem/"),
    Page("post-mortem, draft, as an agent", "/incidents/{draft}/postmortem/", user="agent"),
    Page("post-mortem, in review", "/incidents/{review}/postmortem/"),
    Page("post-mortem, published", "/incidents/{published}/postmortem/"),
    Page("post-mortem, published, as a reporter", "/incidents/{published}/postmortem/", user="reporter"),
    Page("post-mortem, as Markdown", "/incidents/{published}/postmortem/markdown/"),
    Page("incident, its management report", "/incidents/{published}/report/"),
    Page("incident, its management report without a post-mortem", "/incidents/{busy}/report/"),
    Page(
        "post-mortem, saved",
        "/incidents/{draft}/postmortem/",
        data={"summary": "Login gagal.", "root_cause": "Sertifikat.", "author": "agus", "version": "{draft_version}"},
        follow=True,
    ),
    Page(
        "post-mortem, with errors",
        "/incidents/{draft}/postmortem/",
        data={"downtime_started_at": "soon", "affected_users": "-1", "author": "nobody", "version": "{draft_version}"},
        status=400,
    ),
    Page(
        "post-mortem, saved by someone else meanwhile",
        "/incidents/{draft}/postmortem/",
        data={"summary": "Versi saya", "version": "2020-01-01T00:00:00+00:00"},
        status=409,
    ),
    Page(
        "post-mortem, published: what was typed is not saved",
        "/incidents/{published}/postmortem/",
        data={"summary": "Terlambat", "author": "agus", "version": "{published_version}"},
        status=409,
    ),
    Page(
        "post-mortem, submitted for review",
        "/incidents/{draft}/postmortem/transitions/submit/",
        data={"pm-submit-note": "Siap ditinjau"},
        follow=True,
    ),
    Page(
        "post-mortem, published by its reviewer",
        "/incidents/{review}/postmortem/transitions/publish/",
        data={},
        follow=True,
    ),
    Page(
        "post-mortem, a review step refused", "/incidents/{draft}/postmortem/transitions/publish/", data={}, status=409
    ),
    Page(
        "post-mortem, a review step on a stale page",
        "/incidents/{review}/postmortem/transitions/return_to_draft/",
        data={"pm-return_to_draft-seen": "draft"},
        status=409,
    ),
    Page(
        "post-mortem, reopened without a reason",
        "/incidents/{published}/postmortem/transitions/reopen/",
        data={},
        status=400,
    ),
    Page(
        "post-mortem, a moment added",
        "/incidents/{draft}/postmortem/timeline/",
        data={
            "add-moment-occurred_at": "{earlier}",
            "add-moment-body": "Sertifikat diperbarui",
            "add-moment-visibility": "public",
            "add-moment-by": "agus",
        },
        follow=True,
    ),
    Page(
        "post-mortem, a moment with errors",
        "/incidents/{draft}/postmortem/timeline/",
        data={"add-moment-occurred_at": "soon", "add-moment-visibility": "everyone", "add-moment-by": "nobody"},
        status=400,
    ),
    Page(
        "post-mortem, a moment in the future",
        "/incidents/{draft}/postmortem/timeline/",
        data={"add-moment-occurred_at": "{soon}", "add-moment-body": "Nanti", "add-moment-visibility": "internal"},
        status=400,
    ),
    Page(
        "post-mortem, a timeline row with errors",
        "/incidents/{draft}/postmortem/timeline/{moment}/",
        data={"moment-{moment}-occurred_at": "{earlier}", "moment-{moment}-visibility": "internal"},
        status=400,
    ),
    Page(
        "post-mortem, a timeline row saved",
        "/incidents/{draft}/postmortem/timeline/{moment}/",
        data={
            "moment-{moment}-occurred_at": "{earlier}",
            "moment-{moment}-body": "Gateway diperiksa",
            "moment-{moment}-visibility": "internal",
        },
        follow=True,
    ),
    Page(
        "post-mortem, a key moment",
        "/incidents/{draft}/postmortem/timeline/{moment}/key/",
        data={"key": "1"},
        follow=True,
    ),
    Page("post-mortem, a row removed", "/incidents/{draft}/postmortem/timeline/{moment}/remove/", data={}, follow=True),
    Page(
        "post-mortem, regenerating unconfirmed",
        "/incidents/{draft}/postmortem/timeline/regenerate/",
        data={},
        status=400,
    ),
    Page(
        "post-mortem, timeline regenerated",
        "/incidents/{draft}/postmortem/timeline/regenerate/",
        data={"regenerate-confirm": "on"},
        follow=True,
    ),
    Page(
        "post-mortem, an action item added",
        "/incidents/{draft}/postmortem/action-items/",
        data={
            "add-item-title": "Pantau masa berlaku sertifikat",
            "add-item-kind": "detect",
            "add-item-owner": "agus",
            "add-item-due_date": "{next_month}",
        },
        follow=True,
    ),
    Page(
        "post-mortem, an action item with errors",
        "/incidents/{draft}/postmortem/action-items/",
        data={"add-item-title": "", "add-item-kind": "someday", "add-item-due_date": "soon"},
        status=400,
    ),
    Page(
        "post-mortem, an action item not done without a reason",
        "/incidents/{draft}/postmortem/action-items/{item}/",
        data={"item-{item}-status": "wont_do", "item-{item}-owner": "maya"},
        status=400,
    ),
    Page(
        "post-mortem, an action item saved",
        "/incidents/{draft}/postmortem/action-items/{item}/",
        data={"item-{item}-status": "in_progress", "item-{item}-owner": "agus", "item-{item}-due_date": "{next_month}"},
        follow=True,
    ),
    # Published post-mortems, and my action items.
    Page("published post-mortems", "/postmortems/", user="reporter"),
    Page("published post-mortems, searched", "/postmortems/?q=sertifikat"),
    Page("published post-mortems, nothing found", "/postmortems/?q=zzzz"),
    Page("my action items", "/action-items/"),
    Page("my action items, everyone's overdue", "/action-items/?scope=all&status=any&overdue=on&sort=-due"),
    Page("my action items, nothing matches", "/action-items/?status=wont_do", user="agent"),
    Page(
        "my action items, one done",
        "/action-items/{item}/status/",
        data={"item-{item}-status": "done", "next": "/action-items/?sort=-due"},
        follow=True,
    ),
    Page(
        "my action items, not done without a reason",
        "/action-items/{item}/status/",
        data={"item-{item}-status": "wont_do", "next": "/action-items/"},
        status=400,
    ),
    Page(
        "my action items, one changed by htmx",
        "/action-items/{item}/status/",
        data={"item-{item}-status": "in_progress", "next": "/action-items/"},
        htmx=True,
    ),
    # The reports dashboard: an empty period, this month's incidents, and a query with errors.
    Page("reports", "/reports/"),
    Page("reports, this month", "/reports/?period=this_month&priority=P1&priority=P3"),
    Page("reports, by week and service", "/reports/?period=last_90&service=checkout-payments"),
    Page("reports, a query with errors", "/reports/?start=2026-13-01&end=soon&service=nope&tz=Mars/Olympus"),
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
        data = {key.format(**self.numbers): self._filled(value) for key, value in page.data.items()}
        return client.post(path, data, headers=headers, follow=page.follow)

    def _filled(self, value: str | Upload) -> Any:
        if isinstance(value, Upload):
            return SimpleUploadedFile(value.name, value.content, content_type="text/plain")
        return value.format(**self.numbers)


def speaking_indonesian(user: Any = None) -> Client:
    """A browser that chose Indonesian in the header's switcher, then logged in through the form."""
    client = Client()
    assert client.post("/i18n/setlang/", {"language": "id", "next": "/"}).status_code == 302
    if user is not None:
        response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
        assert response.status_code == 302, "the login form refused the user"
    return client


@pytest.fixture(scope="class")
def shared_world(django_db_setup: None, django_db_blocker: Any) -> Iterator[World]:
    """The world, built once for the page checks in one transaction, and rolled back after them.

    Each check runs in a savepoint inside it (pytest-django's `db`), so whatever a page posts is
    undone before the next check: every page still sees the world exactly as built.
    """
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
    try:
        # What conftest's autouse fixtures set for each test, for the pages this posts.
        with django_db_blocker.unblock(), override_settings(**_TEST_SETTINGS):
            cache.clear()
            yield _build_world()
    finally:
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


_TEST_SETTINGS: dict[str, Any] = {
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.MD5PasswordHasher"],
    "STORAGES": {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    },
    "INTAKE_WAKE_GAP_MS": 0,
}


@pytest.fixture
def world(shared_world: World, db: None) -> World:
    # A post may change its client's cookies (the language, a new session): each check starts
    # from the clients as the world left them.
    clients = {}
    for who, built in shared_world.clients.items():
        clients[who] = Client()
        clients[who].cookies = copy.deepcopy(built.cookies)
    return World(users=shared_world.users, numbers=dict(shared_world.numbers), clients=clients)


def _user(role: str, username: str) -> Any:
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    user.groups.add(Group.objects.get(name=role))
    return user


def _build_world() -> World:
    manager, agent = _user(INCIDENT_MANAGER, "maya"), _user(AGENT, "agus")
    reporter = _user(REPORTER, "rina")
    team = Team.objects.create(name="Payments", slug="payments")
    service = Service.objects.create(name="Checkout payments", slug="checkout-payments", owner_team=team)

    def make_incident(**fields: Any) -> Incident:  # as conftest's make_incident makes them
        return report_incident(reporter=agent, **fields)

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
        # Resolved ones with a post-mortem in each state, and the "resolved" one without.
        for name in ("draft", "review", "published"):
            lives[name] = lives["resolved"]
        titles = {
            "on_hold": "VPN drops every hour",
            "mitigated": "Reports export times out",
            "resolved": "Login fails with a certificate error",
            "cancelled": "Checkout alert fired twice",
            "draft": "Password reset emails arrive late",
            "review": "Invoices were sent twice",
            "published": "The API certificate expired",
        }
        incidents = {}
        for name, steps in lives.items():
            incident = make_incident(title=titles[name], services=[service])
            for transition, fields in steps:
                incident = lifecycle.transition_incident(incident=incident, name=transition, actor=manager, **fields)
            world.numbers[name] = incident.number
            incidents[name] = incident
        with time_machine.travel(timezone.now() - dt.timedelta(hours=2), tick=False):
            incidents["breached"] = make_incident(title="Search returns nothing", impact=Level.HIGH, urgency=Level.HIGH)
        world.numbers["breached"] = incidents["breached"].number
        incidents["low"] = make_incident(title="Typo in an email footer", impact=Level.LOW, urgency=Level.LOW)
        world.numbers["low"] = incidents["low"].number
        incidents["busy"] = Incident.objects.get(pk=Incident.pk_from_number(busy))
        incidents["spare"] = make_incident(title="Refunds fail too", services=[service])
        world.numbers["spare"] = incidents["spare"].number
        _set_up_my_profile(world)
        _set_up_on_call(world, team, incidents)
        _write_postmortems(world, incidents)
        _work_the_busy_incident(world, incidents, service)
    # A saved filter, through the queue's form.
    assert manager_client.post("/filters/", {"name": "Insiden saya", "query": "scope=mine"}).status_code == 302
    world.numbers["filter"] = str(SavedFilter.objects.get(user=manager).pk)
    return world


def _local(moment: dt.datetime) -> str:
    """A moment as the manager's datetime-local fields take it, in their time zone (Asia/Jakarta)."""
    return timezone.localtime(moment, zoneinfo.ZoneInfo("Asia/Jakarta")).strftime("%Y-%m-%dT%H:%M")


def _set_up_my_profile(world: World) -> None:
    """The manager's settings (Asia/Jakarta), calendar feed, a webhook and an email address, and a rule."""
    maya = world.users["manager"]
    settings_of.update_settings(
        user=maya,
        actor=maya,
        first_name="Maya",
        last_name="Sari",
        email="maya@example.com",
        time_zone="Asia/Jakarta",
        language="",
    )
    settings_of.renew_feed_token(user=maya, actor=maya)
    webhook = contacts.add_contact_method(
        user=maya, actor=maya, channel=Channel.WEBHOOK, address="https://hooks.example.com/maya", label="Pager"
    )
    email = contacts.add_contact_method(user=maya, actor=maya, channel=Channel.EMAIL, address="maya.hp@example.com")
    rule = contacts.add_notification_rule(user=maya, actor=maya, contact_method=email, delay=dt.timedelta(0))
    world.numbers.update(webhook=str(webhook.pk), email=str(email.pk), rule=str(rule.pk))


def _set_up_on_call(world: World, team: Team, incidents: dict[str, Incident]) -> None:
    """Payments' weekly rota (the manager, then the agent), a team with nobody on call, an override, and pages.

    Schedules are configuration (the back office's admin writes them), so they are made here as it saves them.
    """
    maya, agus = world.users["manager"], world.users["agent"]
    primary = OnCallSchedule.objects.create(team=team, name="Utama", time_zone="Asia/Jakarta")
    layer = RotationLayer.objects.create(
        schedule=primary,
        name="Mingguan",
        start_date=timezone.localdate() - dt.timedelta(days=3),
        handoff_time=dt.time(9),
        rotation_length=dt.timedelta(weeks=1),
    )
    for turn, person in enumerate([maya, agus], start=1):
        LayerParticipant.objects.create(layer=layer, user=person, position=turn)
    network = Team.objects.create(name="Jaringan", slug="jaringan")
    OnCallSchedule.objects.create(team=network, name="Malam")
    now = timezone.now()
    overrides.create_override(
        schedule=primary,
        user=agus,
        starts_at=now + dt.timedelta(days=3),
        ends_at=now + dt.timedelta(days=3, hours=8),
        actor=maya,
        reason="Tukar shift",
    )
    world.numbers.update(
        schedule=str(primary.pk),
        soon=_local(now + dt.timedelta(days=1)),
        later=_local(now + dt.timedelta(days=2)),
        earlier=_local(now - dt.timedelta(hours=1)),
    )
    # Pages to the manager: one to acknowledge, one acknowledged already, one about an incident cancelled meanwhile.
    for key, name in [("page", "low"), ("acknowledged_page", "busy"), ("settled_page", "cancelled")]:
        (page,) = page_users(incident=incidents[name], users=[maya], key=f"i18n-{key}", level=1)
        world.numbers[key] = str(page.pk)


def _work_the_busy_incident(world: World, incidents: dict[str, Incident], service: Service) -> None:
    """Every section of the busy incident's page filled: a team, tasks, a fix plan carried out, an update,
    a duplicate and a child incident, a file, an alert (written as the intake processor writes it)."""
    maya, agus = world.users["manager"], world.users["agent"]
    busy, now = incidents["busy"], timezone.now()
    role = response.add_responder(incident=busy, actor=maya, user=agus, role=ResponseRoleKind.SCRIBE)
    task = investigation.create_task(
        incident=busy, actor=maya, title="Periksa log gateway", owner=agus, due_at=now - dt.timedelta(minutes=10)
    )
    finished = investigation.create_task(incident=busy, actor=maya, title="Hubungi vendor kartu")
    investigation.update_task(task=finished, actor=maya, changes={"status": TaskStatus.DONE})
    chosen = fix_plan.propose_option(
        incident=busy, actor=maya, title="Alihkan ke prosesor cadangan", kind=FixKind.QUICK_FIX, risk=RiskRating.LOW
    )
    option = fix_plan.propose_option(
        incident=busy, actor=maya, title="Perbarui library TLS", kind=FixKind.PERMANENT, risk=RiskRating.HIGH
    )
    fix_plan.choose_option(option=chosen, actor=maya)
    fix_plan.record_implementation(
        incident=busy,
        actor=maya,
        option=chosen,
        window_start=now - dt.timedelta(hours=1),
        window_end=now - dt.timedelta(minutes=30),
        outcome=ImplementationOutcome.SUCCEEDED,
        communicated_to="Tim pembayaran",
        executed_by=agus,
        supervised_by=maya,
    )
    updates.post_status_update(
        incident=busy, actor=maya, body="Kami sedang menangani pembayaran kartu", audience=UpdateAudience.STAKEHOLDERS
    )
    services.link_as_duplicate(incident=incidents["on_hold"], actor=maya, original=busy)
    services.link_to_major_incident(incident=incidents["breached"], actor=maya, major=busy)
    services.add_attachment(incident=busy, actor=maya, file=SimpleUploadedFile("gateway.log", b"502", "text/plain"))
    integration = create_integration(service=service, kind="generic", actor=None)[0]
    Alert.objects.create(
        integration=integration,
        incident=busy,
        dedup_key="checkout-5xx",
        group_key="g",
        summary="Tingkat 5xx tinggi di checkout",
        severity="critical",
        source="prometheus",
        fired_at=now - dt.timedelta(minutes=50),
    )
    world.numbers.update(
        role=str(role.pk),
        task=str(task.pk),
        option=str(option.pk),
        chosen=str(chosen.pk),
        just_now=_local(now - dt.timedelta(minutes=5)),
    )


def _write_postmortems(world: World, incidents: dict[str, Incident]) -> None:
    """A draft with a timeline row of its author's and an overdue action item, one in review, one published."""
    maya, agus = world.users["manager"], world.users["agent"]
    texts = {
        "summary": "Pengguna tidak dapat masuk selama 40 menit.",
        "root_cause": "Sertifikat TLS kedaluwarsa.",
        "lessons": "Perpanjang sertifikat secara otomatis.",
    }
    draft = postmortems.write_postmortem(incident=incidents["draft"], actor=agus, changes=texts)
    moment = postmortem_timeline.add_moment(
        postmortem=draft,
        actor=agus,
        occurred_at=timezone.now() - dt.timedelta(minutes=30),
        body="Tim memeriksa gateway",
        by=agus,
    )
    item = action_items.add_action_item(
        postmortem=draft,
        actor=maya,
        title="Pasang alert masa berlaku sertifikat",
        owner=maya,
        due_date=timezone.localdate() - dt.timedelta(days=2),
    )
    review = postmortems.write_postmortem(incident=incidents["review"], actor=agus, changes=texts)
    postmortems.submit_postmortem(postmortem=review, actor=agus)
    published = published_postmortem(incidents["published"], author=agus, publisher=maya, **texts)
    action_items.add_action_item(
        postmortem=published,
        actor=maya,
        title="Dokumentasikan penggantian sertifikat",
        kind=ActionItemKind.PROCESS,
        owner=agus,
        status=ActionItemStatus.DONE,
    )
    world.numbers.update(
        moment=str(moment.pk),
        item=str(item.pk),
        next_month=(timezone.localdate() + dt.timedelta(days=30)).isoformat(),
        draft_version=version_of(PostMortem.objects.get(pk=draft.pk)),
        published_version=version_of(PostMortem.objects.get(pk=published.pk)),
    )


class TestThePages:
    """The page checks share one world (`shared_world`, built once for this class)."""

    @pytest.mark.pages
    @pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
    def test_the_main_pages_leave_no_english_in_indonesian(self, page: Page, world: World) -> None:
        response = world.show(page)
        assert response.status_code == page.status
        content = response.content.decode()
        if response["Content-Type"].startswith("text/markdown"):
            texts = markdown_texts(content)  # a download: the document as its reader sees it
        else:
            if not page.htmx:
                assert '<html lang="id">' in content
            texts = visible_texts(content, "id")
        leftovers = leftovers_for("id")
        left = leftovers.find_in(texts)
        assert not left, f"English left on {page.name!r} ({page.path}):\n" + "\n".join(
            f"  {text.where} {text.text!r} (msgid {msgid!r})" for text, msgid in left
        )
        # Not passing for want of words: the page does speak Indonesian.
        assert sum(text.text in leftovers.translations for text in texts) >= 1

    @pytest.mark.pages
    @pytest.mark.parametrize("path", ["/", "/incidents/{busy}/", "/incidents/new/"])
    def test_the_same_pages_in_english_are_found_english(self, path: str, world: World) -> None:
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
            return "1"  # stands for an id and for an incident's number alike: the paths resolve the same

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


def _speaks_indonesian(html: str, *, heading: str) -> None:
    assert '<html lang="id">' in html
    assert f"<h1>{heading}</h1>" in html
    left = leftovers_for("id").find(html)
    assert not left, [(text.text, msgid) for text, msgid in left]


@pytest.mark.parametrize(
    ("who", "path", "status", "heading"),
    [
        ("manager", "/no-such-page/", 404, "Halaman tidak ditemukan"),
        ("reporter", "/reports/", 403, "Tidak diizinkan"),
    ],
)
def test_the_not_found_and_not_allowed_pages_speak_the_readers_language(
    who: str, path: str, status: int, heading: str, request: pytest.FixtureRequest
) -> None:
    response = speaking_indonesian(request.getfixturevalue(who)).get(path)
    assert response.status_code == status
    html = response.content.decode()
    _speaks_indonesian(html, heading=heading)
    assert "Ke antrean insiden" in html  # and the way back


def test_the_error_page_speaks_the_readers_language(db: None, settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.unavailable_urls"
    response = Client(raise_request_exception=False, headers={"accept-language": "id"}).get("/broken/")
    assert response.status_code == 500
    _speaks_indonesian(response.content.decode(), heading="Terjadi kesalahan")


def test_a_bad_request_page_speaks_the_readers_language(db: None) -> None:
    response = Client(headers={"accept-language": "id"}).get("/", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
    _speaks_indonesian(response.content.decode(), heading="Permintaan tidak valid")


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
