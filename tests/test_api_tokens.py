"""API tokens: revoked by their owner (profile page) or an admin (back office), refused from the next request.

Every issue and revocation is in the admin log against the user, with who did it;
the key is never written there.
"""

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def _api_status(key: str) -> int:
    return Client(headers={"authorization": f"Token {key}"}).get("/api/v1/services/").status_code


def _log_of(user: User) -> list[tuple[str, str]]:
    entries = LogEntry.objects.filter(object_id=str(user.pk), content_type__model="user").order_by("pk")
    return [(entry.user.username, entry.get_change_message()) for entry in entries]


def _no_key_in_the_log(key: str) -> None:
    for entry in LogEntry.objects.all():
        assert key not in entry.object_repr
        assert key not in entry.change_message


def test_the_owner_issues_and_revokes_from_the_profile(reporter: Any) -> None:
    client = Client()
    client.force_login(reporter)

    shown = client.post("/profile/api-token/")
    key = Token.objects.get(user=reporter).key
    assert shown.status_code == 200
    assert key in shown.content.decode()
    assert "no-store" in shown["Cache-Control"]
    assert _api_status(key) == 200
    assert key not in client.get("/profile/").content.decode()

    revoked = client.post("/profile/api-token/revoke/", follow=True)

    assert "Your API token is revoked" in revoked.content.decode()
    assert _api_status(key) == 401
    assert not Token.objects.filter(user=reporter).exists()
    assert _log_of(reporter) == [("rina", "Changed API token."), ("rina", "Deleted API token “rina”.")]
    _no_key_in_the_log(key)


def test_a_new_token_replaces_the_old_one_at_once(agent: Any) -> None:
    client = Client()
    client.force_login(agent)
    client.post("/profile/api-token/")
    first = Token.objects.get(user=agent).key

    client.post("/profile/api-token/")
    second = Token.objects.get(user=agent).key

    assert first != second
    assert (_api_status(first), _api_status(second)) == (401, 200)


def test_revoking_without_a_token_writes_nothing(reporter: Any) -> None:
    client = Client()
    client.force_login(reporter)

    answer = client.post("/profile/api-token/revoke/", follow=True)

    assert "You had no API token." in answer.content.decode()
    assert _log_of(reporter) == []


def test_an_admin_revokes_in_the_back_office(root_client: Client, staff_admin: Any, agent: Any) -> None:
    call_command("create_api_token", agent.username, stdout=open("/dev/null", "w"))  # noqa: SIM115
    key = Token.objects.get(user=agent).key
    assert _api_status(key) == 200

    listing = root_client.get("/admin/authtoken/tokenproxy/").content.decode()
    confirm = root_client.get(f"/admin/authtoken/tokenproxy/{agent.pk}/delete/").content.decode()
    deleted = root_client.post(f"/admin/authtoken/tokenproxy/{agent.pk}/delete/", {"post": "yes"}, follow=True)

    assert "agus" in listing
    assert key not in listing
    assert key not in confirm
    assert deleted.status_code == 200
    assert "The API token is revoked" in deleted.content.decode()
    assert "API token of agus" in confirm
    assert key not in deleted.content.decode()
    assert _api_status(key) == 401
    assert _log_of(agent) == [("backoffice-root", "Deleted API token “agus”.")]
    _no_key_in_the_log(key)


def test_no_one_else_revokes_a_token(reporter: Any, agent: Any) -> None:
    from django.core.exceptions import PermissionDenied

    from incidents.api_tokens import revoke_api_token

    Token.objects.create(user=reporter)
    with pytest.raises(PermissionDenied):
        revoke_api_token(user=reporter, actor=agent)
    assert Token.objects.filter(user=reporter).exists()
