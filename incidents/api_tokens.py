"""A person's API token: issued and revoked by its owner (profile page) or an admin (back office).

DRF's token authentication reads the token row at every request, so a revoked
token is refused from the very next one. Each issue and revocation is written
to the admin log against the user, by whom and when; the key itself never is.
"""

import json
import logging
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth.models import User
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from rest_framework.authtoken.models import Token

logger = logging.getLogger(__name__)

# The name the admin log gives the token, translated when the log is shown.
TOKEN_NAME = gettext_noop("API token")


def _may_manage(*, user: User, actor: User) -> None:
    if actor.pk != user.pk and not actor.is_superuser:
        raise PermissionDenied(_("Only the owner or an admin may manage an API token."))


def _audit(*, user: User, actor: User, revoked: bool) -> None:
    # Read by the admin as "Changed API token." or "Deleted API token “name”.", in the reader's language.
    if revoked:
        message: dict[str, Any] = {"deleted": {"name": TOKEN_NAME, "object": str(user)}}
    else:
        message = {"changed": {"fields": [TOKEN_NAME]}}
    LogEntry.objects.create(
        user_id=actor.pk,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(user.pk),
        object_repr=str(user)[:200],
        action_flag=CHANGE,
        change_message=json.dumps([message]),
    )
    logger.info("API token of %s %s by %s", user, "revoked" if revoked else "issued", actor)


def api_token_of(user: User) -> Token | None:
    return Token.objects.filter(user=user).first()


def issue_api_token(*, user: User, actor: User) -> Token:
    """A new token for `user`; the previous one, if any, stops working at once."""
    _may_manage(user=user, actor=actor)
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
        _audit(user=user, actor=actor, revoked=False)
    return token


def revoke_api_token(*, user: User, actor: User) -> bool:
    """Delete `user`'s token; False (and nothing logged) when there was none."""
    _may_manage(user=user, actor=actor)
    with transaction.atomic():
        deleted, _kinds = Token.objects.filter(user=user).delete()
        if deleted:
            _audit(user=user, actor=actor, revoked=True)
    return bool(deleted)
