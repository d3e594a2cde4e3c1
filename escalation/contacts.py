"""A person's own paging settings: how to reach them (contact methods) and when (notification rules).

The self-service API and the profile page both change them through these
functions, so both apply the same rules and leave the same history rows (who
changed what, and why). Which objects a person may touch is the caller's
question: each door shows people only their own.
"""

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Model
from django.utils.translation import gettext as _

from escalation.models import Channel, ContactMethod, NotificationRule
from escalation.models.notifications import new_signing_secret
from incidents.timeline import Actor, save_audited

MAX_RULE_DELAY = dt.timedelta(hours=24)
ADDRESS_LENGTH = ContactMethod._meta.get_field("address").max_length or 500
LABEL_LENGTH = ContactMethod._meta.get_field("label").max_length or 80


def address_problem(*, channel: str, address: str) -> str | None:
    """Why `address` cannot reach anyone on `channel`, or None if it can."""
    if channel == Channel.EMAIL:
        try:
            validate_email(address)
        except ValidationError:
            return _("Enter a valid email address.")
        return None
    if not address.startswith(("https://", "http://")):
        return _("Give the webhook's http(s) URL.")
    return None


def clean_contact_method(*, channel: str, address: str, label: str = "") -> None:
    """Refuse an unknown channel, an address that does not fit it, or fields too long for their column."""
    errors: dict[str, list[str]] = {}
    if channel not in Channel.values:
        errors["channel"] = [_("Choose email, webhook or chat webhook.")]
    elif problem := address_problem(channel=channel, address=address):
        errors["address"] = [problem]
    if len(address) > ADDRESS_LENGTH:
        errors["address"] = [_("Keep this under %(limit)d characters.") % {"limit": ADDRESS_LENGTH}]
    if len(label) > LABEL_LENGTH:
        errors["label"] = [_("Keep this under %(limit)d characters.") % {"limit": LABEL_LENGTH}]
    if errors:
        raise ValidationError(errors)


def contact_method_problem(*, user: Any, method: ContactMethod) -> str | None:
    """Why a rule of `user` may not use `method`, or None if it may."""
    if method.user_id != user.pk:
        return _("Use one of your own contact methods.")
    return None


def delay_problem(delay: dt.timedelta) -> str | None:
    """Why a rule may not wait `delay`, or None if it may."""
    if delay < dt.timedelta(0) or delay > MAX_RULE_DELAY:
        return _("Between 0 and 24 hours.")
    return None


def clean_notification_rule(*, user: Any, contact_method: ContactMethod, delay: dt.timedelta) -> None:
    errors: dict[str, list[str]] = {}
    if problem := contact_method_problem(user=user, method=contact_method):
        errors["contact_method"] = [problem]
    if problem := delay_problem(delay):
        errors["delay"] = [problem]
    if errors:
        raise ValidationError(errors)


def _delete_audited(record: Model, *, actor: Actor, reason: str) -> None:
    """Delete a record kept with django-simple-history so that its last history row names the actor."""
    record._history_user = actor if isinstance(actor, User) else None  # type: ignore[attr-defined]
    record._change_reason = reason  # type: ignore[attr-defined]
    record.delete()


def add_contact_method(
    *, user: User, actor: Actor, channel: str, address: str, label: str = "", is_active: bool = True
) -> ContactMethod:
    """A new way to reach `user`, with a fresh signing secret for its webhooks."""
    clean_contact_method(channel=channel, address=address, label=label)
    method = ContactMethod(user=user, channel=channel, address=address, label=label, is_active=is_active)
    with transaction.atomic():
        save_audited(method, actor=actor, reason="contact method added")
    return method


def change_contact_method(*, method: ContactMethod, actor: Actor, **fields: Any) -> ContactMethod:
    """Change any of `channel`, `address`, `label` and `is_active`; the others keep their values."""
    unknown = set(fields) - {"channel", "address", "label", "is_active"}
    if unknown:
        raise TypeError(f"not a contact method setting: {', '.join(sorted(unknown))}")
    values = {name: getattr(method, name) for name in ("channel", "address", "label", "is_active")} | fields
    clean_contact_method(channel=values["channel"], address=values["address"], label=values["label"])
    changed = sorted(name for name, value in fields.items() if getattr(method, name) != value)
    if not changed:
        return method
    for name in changed:
        setattr(method, name, values[name])
    with transaction.atomic():
        save_audited(method, actor=actor, reason=f"contact method changed: {', '.join(changed)}", update_fields=changed)
    return method


def rotate_contact_secret(*, method: ContactMethod, actor: Actor) -> ContactMethod:
    """Issue a new signing secret; the old one stops verifying at once."""
    method.secret = new_signing_secret()
    with transaction.atomic():
        save_audited(method, actor=actor, reason="signing secret rotated", update_fields=["secret"])
    return method


def remove_contact_method(*, method: ContactMethod, actor: Actor) -> None:
    """Delete the contact method, and with it the rules that used it."""
    with transaction.atomic():
        for rule in NotificationRule.objects.filter(contact_method=method):
            _delete_audited(rule, actor=actor, reason="its contact method was removed")
        _delete_audited(method, actor=actor, reason="contact method removed")


def add_notification_rule(
    *, user: User, actor: Actor, contact_method: ContactMethod, delay: dt.timedelta, high_priority_only: bool = False
) -> NotificationRule:
    """When `user` is paged, reach them on `contact_method` after `delay`."""
    clean_notification_rule(user=user, contact_method=contact_method, delay=delay)
    rule = NotificationRule(
        user=user, contact_method=contact_method, delay=delay, high_priority_only=high_priority_only
    )
    with transaction.atomic():
        save_audited(rule, actor=actor, reason="notification rule added")
    return rule


def change_notification_rule(*, rule: NotificationRule, actor: Actor, **fields: Any) -> NotificationRule:
    """Change any of `contact_method`, `delay` and `high_priority_only`; the others keep their values."""
    unknown = set(fields) - {"contact_method", "delay", "high_priority_only"}
    if unknown:
        raise TypeError(f"not a notification rule setting: {', '.join(sorted(unknown))}")
    method = fields.get("contact_method", rule.contact_method)
    clean_notification_rule(user=rule.user, contact_method=method, delay=fields.get("delay", rule.delay))
    changed = sorted(name for name, value in fields.items() if getattr(rule, name) != value)
    if not changed:
        return rule
    for name in changed:
        setattr(rule, name, fields[name])
    with transaction.atomic():
        save_audited(
            rule, actor=actor, reason=f"notification rule changed: {', '.join(changed)}", update_fields=changed
        )
    return rule


def remove_notification_rule(*, rule: NotificationRule, actor: Actor) -> None:
    with transaction.atomic():
        _delete_audited(rule, actor=actor, reason="notification rule removed")
