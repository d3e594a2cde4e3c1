"""A person's own settings: name and email, the time zone and language pages use, their calendar feed.

Changes are recorded in the admin's log (the "History" of the user and of the
responder profile in the back office), as the admin records its own changes of
these objects, so whoever reviews an account sees every change in one place.
"""

from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Model
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from escalation.models import ResponderProfile
from escalation.models.schedules import new_feed_token

USER_FIELDS = ("first_name", "last_name", "email")
PROFILE_FIELDS = ("time_zone", "language")


@cache
def time_zone_names() -> tuple[str, ...]:
    """Every IANA zone name the server knows, sorted."""
    return tuple(sorted(available_timezones()))


def language_codes() -> tuple[str, ...]:
    return tuple(code for code, _name in settings.LANGUAGES)


def profile_of(user: Any) -> ResponderProfile | None:
    """The person's profile, or None while they have never saved one."""
    return ResponderProfile.objects.filter(user=user).first()


def _length_problem(model: type[Model], name: str, value: str) -> str | None:
    limit = getattr(model._meta.get_field(name), "max_length", None)
    if limit is not None and len(value) > limit:
        return _("Keep this under %(limit)d characters.") % {"limit": limit}
    return None


def clean_settings(*, first_name: str, last_name: str, email: str, time_zone: str, language: str) -> None:
    """Refuse a zone that is not an IANA name, a language the site does not offer, a malformed email."""
    errors: dict[str, list[str]] = {}
    for name, value in (("first_name", first_name), ("last_name", last_name), ("email", email)):
        if problem := _length_problem(User, name, value):
            errors[name] = [problem]
    if email and "email" not in errors:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = [_("Enter a valid email address.")]
    if time_zone not in time_zone_names():
        errors["time_zone"] = [_("%(value)s is not an IANA time zone such as Asia/Jakarta.") % {"value": time_zone}]
    if language and language not in language_codes():
        errors["language"] = [_("This site is not offered in %(value)s.") % {"value": language}]
    if errors:
        raise ValidationError(errors)


def _log(actor: User, obj: Model, names: list[str], *, added: bool = False) -> None:
    labels = [capfirst(str(getattr(obj._meta.get_field(name), "verbose_name", name))) for name in names]
    message: list[dict[str, Any]] = [{"added": {}}] if added else []
    if names and not added:
        message.append({"changed": {"fields": labels}})
    LogEntry.objects.log_actions(
        user_id=actor.pk, queryset=[obj], action_flag=ADDITION if added else CHANGE, change_message=message
    )


def _apply(obj: Model, values: dict[str, Any]) -> list[str]:
    """Set the values that differ; the names of those changed."""
    changed = [name for name, value in values.items() if getattr(obj, name) != value]
    for name in changed:
        setattr(obj, name, values[name])
    return changed


def _profile_for_update(user: User) -> tuple[ResponderProfile, bool]:
    profile, created = ResponderProfile.objects.select_for_update().get_or_create(user=user)
    return profile, created


def update_settings(
    *, user: User, actor: User, first_name: str, last_name: str, email: str, time_zone: str, language: str
) -> ResponderProfile:
    """Save the person's settings; only what changed is written and logged.

    1. Refuse what `clean_settings` refuses (ValidationError by field); nothing is saved.
    2. Save the account's name and email, and the profile's zone and language (making the
       profile on first use), each logged with the names of the fields that changed.
    """
    first_name, last_name, email = first_name.strip(), last_name.strip(), email.strip()
    clean_settings(first_name=first_name, last_name=last_name, email=email, time_zone=time_zone, language=language)
    with transaction.atomic():
        changed = _apply(user, {"first_name": first_name, "last_name": last_name, "email": email})
        if changed:
            user.save(update_fields=changed)
            _log(actor, user, changed)
        profile, created = _profile_for_update(user)
        changed = _apply(profile, {"time_zone": time_zone, "language": language})
        if changed or created:
            profile.save()
            _log(actor, profile, changed, added=created)
    return profile


def set_language(*, user: User, actor: User, language: str) -> ResponderProfile:
    """Remember the language the person chose (from the header's switcher): it follows them to every device."""
    if language not in language_codes():
        raise ValidationError({"language": [_("This site is not offered in %(value)s.") % {"value": language}]})
    with transaction.atomic():
        profile, created = _profile_for_update(user)
        if profile.language != language or created:
            profile.language = language
            profile.save()
            _log(actor, profile, [] if created else ["language"], added=created)
    return profile


def renew_feed_token(*, user: User, actor: User) -> ResponderProfile:
    """Give the person a new calendar feed address; the old one stops working at once.

    The token is the feed's credential (calendar apps cannot log in), so a leaked
    address is fixed by renewing it. Makes the profile on first use.
    """
    with transaction.atomic():
        profile, created = _profile_for_update(user)
        if not created:
            profile.feed_token = new_feed_token()
            profile.save(update_fields=["feed_token"])
        _log(actor, profile, [] if created else ["feed_token"], added=created)
    return profile
