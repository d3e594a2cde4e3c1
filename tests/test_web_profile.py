"""The profile page: settings (zone, language, name), the calendar feed, contact methods and notification rules."""

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from escalation.models import Channel, ContactMethod, NotificationRule, ResponderProfile
from incidents.models import Incident

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"  # the make_user fixture's


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def settings_form(**changes: str) -> dict[str, str]:
    return {
        "first_name": "Agus",
        "last_name": "Santoso",
        "email": "agus@example.com",
        "time_zone": "UTC",
        "language": "",
        **changes,
    }


def log_of(obj: Any) -> list[tuple[int, Any]]:
    entries = LogEntry.objects.filter(object_id=str(obj.pk), content_type__model=obj._meta.model_name).order_by("id")
    return [(entry.action_flag, json.loads(entry.change_message or "[]")) for entry in entries]


# --- Settings -----------------------------------------------------------------


def test_the_profile_page_labels_every_control(agent: Any) -> None:
    html = client_for(agent).get("/profile/").content.decode()
    for field in ("first_name", "last_name", "email", "time_zone", "language"):
        assert f'<label for="id_{field}">' in html
    assert 'value="Asia/Jakarta"' in html
    assert 'for="id_method-new-address"' in html
    assert 'href="/profile/"' in html  # the header's name links here


def test_saving_the_time_zone_shows_the_queue_in_it(agent: Any, make_incident: Callable[..., Incident]) -> None:
    make_incident(title="Zoned")
    client = client_for(agent)
    assert "+07:00" not in client.get("/").content.decode()

    response = client.post("/profile/", settings_form(time_zone="Asia/Jakarta"))

    assert (response.status_code, response["Location"]) == (302, "/profile/")
    agent.refresh_from_db()
    profile = ResponderProfile.objects.get(user=agent)
    assert (agent.first_name, agent.last_name, agent.email, profile.time_zone) == (
        "Agus",
        "Santoso",
        "agus@example.com",
        "Asia/Jakarta",
    )
    assert "+07:00" in client.get("/").content.decode()
    assert log_of(agent) == [(CHANGE, [{"changed": {"fields": ["First name", "Last name", "Email address"]}}])]
    assert log_of(profile) == [(ADDITION, [{"added": {}}])]
    assert LogEntry.objects.filter(user=agent).count() == 2

    client.post("/profile/", settings_form(time_zone="Europe/Lisbon"))
    assert log_of(profile)[-1] == (CHANGE, [{"changed": {"fields": ["Time zone"]}}])


def test_an_invalid_zone_is_refused_with_what_was_typed_kept(agent: Any) -> None:
    response = client_for(agent).post(
        "/profile/", settings_form(time_zone="Mars/Olympus_Mons", first_name="Typed name", email="not-an-address")
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_time_zone_error"' in html
    assert 'id="id_email_error"' in html
    assert 'value="Typed name"' in html
    agent.refresh_from_db()
    assert agent.first_name == ""
    assert not ResponderProfile.objects.exists()
    assert not LogEntry.objects.exists()


def test_saving_nothing_new_logs_nothing(agent: Any) -> None:
    client = client_for(agent)
    client.post("/profile/", settings_form())
    before = LogEntry.objects.count()
    assert client.post("/profile/", settings_form()).status_code == 302
    assert LogEntry.objects.count() == before


# --- Language -----------------------------------------------------------------


def test_the_chosen_language_applies_on_every_page(agent: Any) -> None:
    client = client_for(agent)
    response = client.post("/profile/", settings_form(language="id"))
    assert response.status_code == 302
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "id"
    assert ResponderProfile.objects.get(user=agent).language == "id"

    # Even against the browser's wish and an old cookie.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/", headers={"Accept-Language": "en"})
    assert '<html lang="id">' in page.content.decode()
    assert page["Content-Language"] == "id"
    assert page.cookies[settings.LANGUAGE_COOKIE_NAME].value == "id"  # the cookie follows the profile


def test_the_chosen_language_applies_at_login_on_a_new_device(agent: Any) -> None:
    ResponderProfile.objects.create(user=agent, language="id")
    browser = Client()
    assert '<html lang="en">' in browser.get("/accounts/login/").content.decode()
    response = browser.post("/accounts/login/", {"username": agent.username, "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert '<html lang="id">' in response.content.decode()


def test_the_header_switcher_remembers_the_choice_for_someone_logged_in(agent: Any) -> None:
    ResponderProfile.objects.create(user=agent, language="id")
    client = client_for(agent)
    response = client.post("/profile/language/", {"language": "en", "next": "/oncall/pages/"})
    assert (response.status_code, response["Location"]) == (302, "/oncall/pages/")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert ResponderProfile.objects.get(user=agent).language == "en"
    assert '<html lang="en">' in client.get("/").content.decode()
    assert '<form action="/profile/language/" method="post" class="language">' in client.get("/").content.decode()


def test_the_header_switcher_works_without_logging_in(db: None) -> None:
    browser = Client()
    response = browser.post("/profile/language/", {"language": "id", "next": "/accounts/login/"})
    assert response.status_code == 302
    assert '<html lang="id">' in browser.get("/accounts/login/").content.decode()
    assert not ResponderProfile.objects.exists()


def test_a_language_the_site_does_not_offer_is_refused(agent: Any) -> None:
    response = client_for(agent).post("/profile/", settings_form(language="fr"))
    assert response.status_code == 400
    assert 'id="id_language_error"' in response.content.decode()
    assert not ResponderProfile.objects.exists()


# --- Calendar feed --------------------------------------------------------------


def test_the_calendar_feed_address_is_shown_for_copying_and_can_be_renewed(agent: Any) -> None:
    client = client_for(agent)
    assert "/oncall/users/" not in client.get("/profile/").content.decode()

    assert client.post("/profile/calendar/").status_code == 302
    first = ResponderProfile.objects.get(user=agent).feed_token
    html = client.get("/profile/").content.decode()
    url = f"http://testserver/oncall/users/{first}.ics"
    assert re.search(rf'<input type="text" id="feed-url" value="{re.escape(url)}" readonly', html)
    assert '<label for="feed-url">' in html
    assert Client().get(f"/oncall/users/{first}.ics").status_code == 200

    client.post("/profile/calendar/")
    renewed = ResponderProfile.objects.get(user=agent).feed_token
    assert renewed != first
    assert Client().get(f"/oncall/users/{first}.ics").status_code == 404
    assert Client().get(f"/oncall/users/{renewed}.ics").status_code == 200
    assert first not in str(log_of(ResponderProfile.objects.get(user=agent)))


# --- Contact methods ------------------------------------------------------------


def add_method(client: Client, **fields: str) -> Any:
    data = {"channel": "webhook", "address": "https://hooks.example.com/agus", "label": "Phone", **fields}
    return client.post("/profile/contact-methods/", {f"method-new-{name}": value for name, value in data.items()})


def test_a_webhooks_secret_is_shown_once_on_creation(agent: Any) -> None:
    client = client_for(agent)
    response = add_method(client)
    method = ContactMethod.objects.get()
    html = response.content.decode()
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert f'value="{method.secret}"' in html
    assert "shown only this once" in html
    assert (method.user, method.channel, method.address, method.label) == (
        agent,
        Channel.WEBHOOK,
        "https://hooks.example.com/agus",
        "Phone",
    )
    assert method.history.get().history_user == agent
    profile_page = client.get("/profile/").content.decode()
    assert "https://hooks.example.com/agus" in profile_page
    assert method.secret not in profile_page


def test_an_email_method_has_no_secret_to_show(agent: Any) -> None:
    response = add_method(client_for(agent), channel="email", address="agus@example.com")
    assert (response.status_code, response["Location"]) == (302, "/profile/#contact-methods")
    assert ContactMethod.objects.get().channel == Channel.EMAIL


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"channel": "webhook", "address": "ftp://example.com/hook"}, "Give the webhook&#x27;s http(s) URL."),
        ({"channel": "slack", "address": "hooks.slack.example/abc"}, "Give the webhook&#x27;s http(s) URL."),
        ({"channel": "email", "address": "not-an-email"}, "Enter a valid email address."),
        ({"channel": "email", "address": ""}, "This field is required."),
    ],
)
def test_a_bad_address_is_refused_by_field_and_nothing_is_saved(agent: Any, fields: dict[str, str], error: str) -> None:
    response = add_method(client_for(agent), label="Typed label", **fields)
    html = response.content.decode()
    assert response.status_code == 400
    assert 'id="id_method-new-address_error"' in html
    assert error in html
    assert 'value="Typed label"' in html
    assert "<details open>" in html
    assert not ContactMethod.objects.exists()


def test_the_same_rule_refuses_a_bad_url_over_the_api_and_here(agent: Any, api: Any) -> None:
    bad = {"channel": "webhook", "address": "ftp://example.com/hook"}
    over_api = api(agent).post("/api/v1/me/contact-methods/", bad).json()["address"]
    here = add_method(client_for(agent), **bad).content.decode()
    assert over_api == ["Give the webhook's http(s) URL."]
    assert "Give the webhook&#x27;s http(s) URL." in here


def edit_method(client: Client, method: ContactMethod, **fields: Any) -> Any:
    data = {"channel": method.channel, "address": method.address, "label": method.label, "is_active": "on", **fields}
    if data["is_active"] is False:
        del data["is_active"]
    return client.post(
        f"/profile/contact-methods/{method.pk}/", {f"method-{method.pk}-{name}": value for name, value in data.items()}
    )


def test_editing_and_deactivating_a_contact_method(agent: Any) -> None:
    method = ContactMethod.objects.create(user=agent, channel=Channel.EMAIL, address="old@example.com")
    client = client_for(agent)
    response = edit_method(client, method, address="new@example.com", is_active=False)
    assert response.status_code == 302
    method.refresh_from_db()
    assert (method.address, method.is_active) == ("new@example.com", False)
    latest = method.history.first()
    assert (latest.history_user, latest.history_change_reason) == (agent, "contact method changed: address, is_active")
    assert "✕ Inactive" in client.get("/profile/").content.decode()

    refused = edit_method(client, method, address="https://hooks.example.com/x")  # still an email method
    assert refused.status_code == 400
    assert f'id="id_method-{method.pk}-address_error"' in refused.content.decode()
    method.refresh_from_db()
    assert method.address == "new@example.com"


def test_rotating_a_secret_shows_the_new_one_once(agent: Any) -> None:
    method = ContactMethod.objects.create(user=agent, channel=Channel.SLACK, address="https://chat.example.com/h")
    old = method.secret
    client = client_for(agent)
    response = client.post(f"/profile/contact-methods/{method.pk}/rotate-secret/")
    method.refresh_from_db()
    assert response.status_code == 200
    assert method.secret != old
    assert f'value="{method.secret}"' in response.content.decode()
    assert "The previous secret no longer verifies." in response.content.decode()
    page = client.get("/profile/").content.decode()
    assert method.secret not in page
    assert old not in page
    assert method.history.first().history_change_reason == "signing secret rotated"


def test_deleting_a_contact_method_removes_its_rules_too(agent: Any) -> None:
    method = ContactMethod.objects.create(user=agent, channel=Channel.EMAIL, address="agus@example.com")
    rule = NotificationRule.objects.create(user=agent, contact_method=method)
    response = client_for(agent).post(f"/profile/contact-methods/{method.pk}/delete/")
    assert response.status_code == 302
    assert not ContactMethod.objects.exists()
    assert not NotificationRule.objects.exists()
    assert ContactMethod.history.filter(id=method.pk, history_type="-").get().history_user == agent
    assert NotificationRule.history.filter(id=rule.pk, history_type="-").get().history_user == agent


def test_other_peoples_methods_and_rules_are_not_found(agent: Any, make_user: Callable[..., Any]) -> None:
    sari = make_user(username="sari")
    theirs = ContactMethod.objects.create(user=sari, channel=Channel.WEBHOOK, address="https://hooks.example.com/s")
    rule = NotificationRule.objects.create(user=sari, contact_method=theirs)
    secret = theirs.secret
    client = client_for(agent)

    assert "hooks.example.com/s" not in client.get("/profile/").content.decode()
    assert edit_method(client, theirs, address="https://evil.example.com/").status_code == 404
    assert client.post(f"/profile/contact-methods/{theirs.pk}/rotate-secret/").status_code == 404
    assert client.post(f"/profile/contact-methods/{theirs.pk}/delete/").status_code == 404
    rule_data = {f"rule-{rule.pk}-contact_method": str(theirs.pk), f"rule-{rule.pk}-delay": "60"}
    assert client.post(f"/profile/notification-rules/{rule.pk}/", rule_data).status_code == 404
    assert client.post(f"/profile/notification-rules/{rule.pk}/delete/").status_code == 404

    theirs.refresh_from_db()
    assert (theirs.address, theirs.secret) == ("https://hooks.example.com/s", secret)
    assert NotificationRule.objects.get(pk=rule.pk).delay == dt.timedelta(0)


def test_pages_need_a_login(db: None) -> None:
    for url in ("/profile/", "/oncall/pages/"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert Client().post("/profile/contact-methods/", {}).status_code == 302
    assert not ContactMethod.objects.exists()


# --- Notification rules ---------------------------------------------------------


def rule_data(prefix: str, method: ContactMethod, delay: str, *, high_only: bool = False) -> dict[str, str]:
    data = {f"{prefix}-contact_method": str(method.pk), f"{prefix}-delay": delay}
    if high_only:
        data[f"{prefix}-high_priority_only"] = "on"
    return data


def test_notification_rules_are_added_changed_and_deleted(agent: Any) -> None:
    email = ContactMethod.objects.create(user=agent, channel=Channel.EMAIL, address="agus@example.com")
    hook = ContactMethod.objects.create(user=agent, channel=Channel.WEBHOOK, address="https://hooks.example.com/a")
    client = client_for(agent)

    added = client.post("/profile/notification-rules/", rule_data("rule-new", email, "5", high_only=True))
    assert (added.status_code, added["Location"]) == (302, "/profile/#notification-rules")
    rule = NotificationRule.objects.get()
    assert (rule.user, rule.contact_method, rule.delay, rule.high_priority_only) == (
        agent,
        email,
        dt.timedelta(minutes=5),
        True,
    )
    assert rule.history.get().history_user == agent
    assert "P1 and P2 only" in client.get("/profile/").content.decode()

    changed = client.post(f"/profile/notification-rules/{rule.pk}/", rule_data(f"rule-{rule.pk}", hook, "15"))
    assert changed.status_code == 302
    rule.refresh_from_db()
    assert (rule.contact_method, rule.delay, rule.high_priority_only) == (hook, dt.timedelta(minutes=15), False)
    assert rule.history.first().history_change_reason == (
        "notification rule changed: contact_method, delay, high_priority_only"
    )

    assert client.post(f"/profile/notification-rules/{rule.pk}/delete/").status_code == 302
    assert not NotificationRule.objects.exists()


def test_a_bad_rule_is_refused_by_field_and_nothing_is_saved(agent: Any, make_user: Callable[..., Any]) -> None:
    mine = ContactMethod.objects.create(user=agent, channel=Channel.EMAIL, address="agus@example.com")
    theirs = ContactMethod.objects.create(user=make_user(username="sari"), channel=Channel.EMAIL, address="s@x.io")
    client = client_for(agent)

    too_late = client.post("/profile/notification-rules/", rule_data("rule-new", mine, "1441"))
    assert too_late.status_code == 400
    assert 'id="id_rule-new-delay_error"' in too_late.content.decode()
    assert 'value="1441"' in too_late.content.decode()

    not_mine = client.post("/profile/notification-rules/", rule_data("rule-new", theirs, "0"))
    assert not_mine.status_code == 400
    assert 'id="id_rule-new-contact_method_error"' in not_mine.content.decode()
    assert not NotificationRule.objects.exists()


def test_the_profile_page_costs_the_same_queries_whatever_it_shows(agent: Any) -> None:
    client = client_for(agent)
    method = ContactMethod.objects.create(user=agent, channel=Channel.EMAIL, address="agus@example.com")
    NotificationRule.objects.create(user=agent, contact_method=method)
    client.post("/profile/calendar/")
    with CaptureQueriesContext(connection) as few:
        assert client.get("/profile/").status_code == 200
    for index in range(8):
        more = ContactMethod.objects.create(
            user=agent, channel=Channel.WEBHOOK, address=f"https://h.example.com/{index}"
        )
        NotificationRule.objects.create(user=agent, contact_method=more, delay=dt.timedelta(minutes=index))
    with CaptureQueriesContext(connection) as many:
        assert client.get("/profile/").status_code == 200
    assert len(many) == len(few)
