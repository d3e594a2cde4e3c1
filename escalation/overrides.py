"""Overrides: someone takes a schedule's shift between two moments, whoever the rotation says.

Swapping a shift is every responder's business (agents hold the right to add
one), so the web UI and the admin both write overrides through these
functions: the same checks, and a history row naming who did it.
"""

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.models import OnCallSchedule, ScheduleOverride
from escalation.oncall import MAX_WINDOW
from incidents.timeline import Actor, save_audited

ADD_PERMISSION = "escalation.add_scheduleoverride"
CHANGE_PERMISSION = "escalation.change_scheduleoverride"
DELETE_PERMISSION = "escalation.delete_scheduleoverride"
REASON_LENGTH = ScheduleOverride._meta.get_field("reason").max_length or 200
OVERRIDE_FIELDS = ("user", "starts_at", "ends_at", "reason")


def _require(actor: Actor, permission: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(_("You may not change who is on call."))


def clean_override(
    *,
    user: Any,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
    new: bool = True,
    now: dt.datetime | None = None,
) -> None:
    """Refuse an override nobody could take or that makes no sense in time.

    - `user` must be an active account: a page to a disabled one reaches nobody.
    - It must end after it starts, and last at most `MAX_WINDOW` (a typo in the year, most likely).
    - A `new` one must end in the future: an override that is already over changes nothing.
    Raises ValueError for naive datetimes (a programming error, not a user's).
    """
    for moment in (starts_at, ends_at):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("overrides take aware datetimes")
    errors: dict[str, list[str]] = {}
    if user is None or not user.is_active:
        errors["user"] = [_("Choose someone whose account is active.")]
    if ends_at <= starts_at:
        errors["ends_at"] = [_("The override must end after it starts.")]
    elif ends_at - starts_at > MAX_WINDOW:
        errors["ends_at"] = [_("An override may last at most %(days)d days.") % {"days": MAX_WINDOW.days}]
    elif new and ends_at <= (now or timezone.now()):
        errors["ends_at"] = [_("This moment has passed: an override that is already over changes nothing.")]
    if len(reason) > REASON_LENGTH:
        errors["reason"] = [_("Keep this under %(limit)d characters.") % {"limit": REASON_LENGTH}]
    if errors:
        raise ValidationError(errors)


def create_override(
    *,
    schedule: OnCallSchedule,
    user: User,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    actor: Actor,
    reason: str = "",
) -> ScheduleOverride:
    """Put `user` on call for `schedule` from `starts_at` until `ends_at`.

    1. Refuse an actor without the right to add overrides (PermissionDenied).
    2. Refuse what `clean_override` refuses (ValidationError by field).
    3. Save it with the actor in its history. Where overrides overlap, the newest wins
       (`escalation.oncall`), so this one takes precedence over those already there.
    """
    _require(actor, ADD_PERMISSION)
    reason = reason.strip()
    clean_override(user=user, starts_at=starts_at, ends_at=ends_at, reason=reason)
    override = ScheduleOverride(schedule=schedule, user=user, starts_at=starts_at, ends_at=ends_at, reason=reason)
    with transaction.atomic():
        save_audited(override, actor=actor, reason="override added")
    return override


def change_override(*, override: ScheduleOverride, actor: Actor, **fields: Any) -> ScheduleOverride:
    """Change any of `user`, `starts_at`, `ends_at` and `reason`; past overrides may be corrected too."""
    _require(actor, CHANGE_PERMISSION)
    unknown = set(fields) - set(OVERRIDE_FIELDS)
    if unknown:
        raise TypeError(f"not an override setting: {', '.join(sorted(unknown))}")
    values = {name: getattr(override, name) for name in OVERRIDE_FIELDS} | fields
    clean_override(**values, new=False)
    for name, value in fields.items():
        setattr(override, name, value)
    with transaction.atomic():
        save_audited(override, actor=actor, reason=f"override changed: {', '.join(sorted(fields)) or 'nothing'}")
    return override


def delete_override(*, override: ScheduleOverride, actor: Actor) -> None:
    """Remove the override; the rotation decides again for its stretch."""
    _require(actor, DELETE_PERMISSION)
    override._history_user = actor if isinstance(actor, User) else None  # type: ignore[attr-defined]
    override._change_reason = "override removed"  # type: ignore[attr-defined]
    with transaction.atomic():
        override.delete()
