"""Everyone manages their own contact methods and notification rules, and nobody else's."""

from typing import Any

import pytest

from escalation.models import ContactMethod, NotificationRule

METHODS = "/api/v1/me/contact-methods/"
RULES = "/api/v1/me/notification-rules/"


@pytest.mark.django_db
def test_contact_methods_are_mine_alone(agent: Any, make_user: Any, api: Any) -> None:
    mine = api(agent)
    created = mine.post(METHODS, {"channel": "webhook", "address": "https://hooks.example.com/agus", "label": "Phone"})
    assert created.status_code == 201, created.json()
    body = created.json()
    method = ContactMethod.objects.get(pk=body["id"])
    assert (method.user, body["secret"]) == (agent, method.secret)
    assert "secret" not in mine.get(f"{METHODS}{method.pk}/").json()
    assert [row["id"] for row in mine.get(METHODS).json()["results"]] == [method.pk]

    other = api(make_user("agent", username="sari"))
    assert other.get(METHODS).json()["results"] == []
    assert other.get(f"{METHODS}{method.pk}/").status_code == 404
    assert other.delete(f"{METHODS}{method.pk}/").status_code == 404
    assert ContactMethod.objects.filter(pk=method.pk).exists()
    assert method.history.first().history_user == agent


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"channel": "email", "address": "not-an-email"}, "address"),
        ({"channel": "webhook", "address": "ftp://example.com/hook"}, "address"),
        ({"channel": "pigeon", "address": "https://example.com"}, "channel"),
        ({"channel": "email"}, "address"),
    ],
)
def test_bad_contact_methods_are_refused(agent: Any, api: Any, payload: dict[str, str], field: str) -> None:
    response = api(agent).post(METHODS, payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not ContactMethod.objects.exists()


@pytest.mark.django_db
def test_rotating_the_secret(agent: Any, api: Any) -> None:
    client = api(agent)
    created = client.post(METHODS, {"channel": "slack", "address": "https://chat.example.com/hook"}).json()
    rotated = client.post(f"{METHODS}{created['id']}/rotate_secret/")
    assert rotated.status_code == 200
    assert rotated.json()["secret"] != created["secret"]
    assert ContactMethod.objects.get(pk=created["id"]).secret == rotated.json()["secret"]


@pytest.mark.django_db
def test_notification_rules_use_my_own_methods(agent: Any, make_user: Any, api: Any) -> None:
    mine = ContactMethod.objects.create(user=agent, channel="email", address="agus@example.com")
    theirs = ContactMethod.objects.create(user=make_user("agent", username="sari"), channel="email", address="s@x.io")
    client = api(agent)

    ok = client.post(RULES, {"contact_method": mine.pk, "delay": "00:05:00", "high_priority_only": True})
    assert ok.status_code == 201, ok.json()
    assert NotificationRule.objects.get().user == agent

    refused = client.post(RULES, {"contact_method": theirs.pk, "delay": "00:00:00"})
    assert (refused.status_code, list(refused.json())) == (400, ["contact_method"])
    negative = client.post(RULES, {"contact_method": mine.pk, "delay": "-00:05:00"})
    assert (negative.status_code, list(negative.json())) == (400, ["delay"])
    assert NotificationRule.objects.count() == 1


@pytest.mark.django_db
def test_anonymous_gets_401(api: Any) -> None:
    assert api(None).get(METHODS).status_code == 401
    assert api(None).post(RULES, {}).status_code == 401
