"""The author's hand on a post-mortem's timeline: edit, add, remove and mark rows, and regenerate.

Rows the author adds are theirs: "regenerate" keeps them, and keeps the key
marks of generated rows whose source still exists (`incidents.postmortem_generation`).
Like the rest of the post-mortem, the timeline is final once published.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.choices import MomentSource, Visibility
from incidents.models import PostMortem, PostMortemMoment
from incidents.postmortem_generation import sync_generated_moments
from incidents.postmortems import lock_for_edit
from incidents.services import CLOCK_SKEW, _text
from incidents.timeline import Actor, delete_audited, save_audited

MOMENT_FIELDS = ("occurred_at", "body", "visibility", "is_key_moment", "actor")


def regenerate_timeline(*, postmortem: PostMortem, actor: Actor) -> PostMortem:
    """Rebuild the generated rows from the incident as it is now.

    Rows the author added and key marks on moments that still exist are kept;
    edits to generated rows are replaced by what their source says, and
    generated rows the author removed come back.
    """
    with transaction.atomic():
        postmortem = lock_for_edit(postmortem, actor)
        sync_generated_moments(postmortem=postmortem, actor=actor)
    return postmortem


def _clean_moment(changes: dict[str, Any], *, adding: bool) -> dict[str, Any]:
    unknown = set(changes) - set(MOMENT_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed here.")] for field in sorted(unknown)})
    cleaned = dict(changes)
    errors: dict[str, list[str]] = {}
    if adding or "body" in cleaned:
        try:
            cleaned["body"] = _text(cleaned.get("body", ""), "body", required=True)
        except ValidationError as error:
            errors.update(error.message_dict)
    occurred_at = cleaned.get("occurred_at")
    if adding and occurred_at is None:
        errors["occurred_at"] = [_("This field is required.")]
    elif occurred_at is not None and occurred_at > timezone.now() + CLOCK_SKEW:
        errors["occurred_at"] = [_("A moment of the incident cannot be in the future.")]
    if "occurred_at" in cleaned and occurred_at is None and not adding:
        errors["occurred_at"] = [_("This field is required.")]
    if cleaned.get("visibility", Visibility.INTERNAL) not in Visibility.values:
        errors["visibility"] = [_("%(value)r is not a valid choice.") % {"value": cleaned["visibility"]}]
    person = cleaned.get("actor")
    if person is not None and not person.is_active:
        errors["actor"] = [_("%(user)s is not an active user.") % {"user": person}]
    if errors:
        raise ValidationError(errors)
    return cleaned


def add_moment(
    *,
    postmortem: PostMortem,
    actor: Actor,
    occurred_at: dt.datetime,
    body: str,
    visibility: str = Visibility.INTERNAL,
    is_key_moment: bool = False,
    by: Any = None,
) -> PostMortemMoment:
    """Add a row of the author's own (kept by "regenerate"); `by` is who acted in that moment."""
    cleaned = _clean_moment(
        {
            "occurred_at": occurred_at,
            "body": body,
            "visibility": visibility,
            "is_key_moment": is_key_moment,
            "actor": by,
        },
        adding=True,
    )
    with transaction.atomic():
        postmortem = lock_for_edit(postmortem, actor)
        moment = PostMortemMoment(postmortem=postmortem, source=MomentSource.AUTHOR, **cleaned)
        save_audited(moment, actor=actor, reason="added")
    return moment


def update_moment(*, moment: PostMortemMoment, actor: Actor, changes: dict[str, Any]) -> PostMortemMoment:
    """Change a row's text, time, visibility, person or key mark."""
    cleaned = _clean_moment(changes, adding=False)
    with transaction.atomic():
        lock_for_edit(moment.postmortem, actor)
        moment = PostMortemMoment.objects.select_for_update().get(pk=moment.pk)
        changed = [field for field, value in cleaned.items() if getattr(moment, field) != value]
        if not changed:
            return moment
        for field in changed:
            setattr(moment, field, cleaned[field])
        save_audited(moment, actor=actor, reason="edited: " + ", ".join(changed))
    return moment


def remove_moment(*, moment: PostMortemMoment, actor: Actor) -> None:
    """Take a row out of the timeline (a generated one comes back on "regenerate")."""
    with transaction.atomic():
        lock_for_edit(moment.postmortem, actor)
        moment = PostMortemMoment.objects.select_for_update().get(pk=moment.pk)
        delete_audited(moment, actor=actor, reason="removed")
