"""The follow-up action items of post-mortems (the seeds' step 9: follow up).

An action item belongs to a post-mortem and its incident but outlives them:
closing the incident does not touch it, a published post-mortem still takes
new ones and status changes, and it ends as done or won't do — never deleted.
Agents add and change them; who changed what is in each item's history.
"""

import datetime as dt
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.choices import ACTION_ITEM_PENDING, ActionItemKind, ActionItemStatus
from incidents.lifecycle import MAX_TEXT_LENGTH
from incidents.models import ActionItem, PostMortem
from incidents.services import _check_responder, _text
from incidents.timeline import Actor, save_audited

ADD_PERMISSION = "incidents.add_actionitem"
CHANGE_PERMISSION = "incidents.change_actionitem"
EDITABLE_FIELDS = ("title", "description", "kind", "owner", "due_date", "status", "resolution_note")


def _clean(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed here.")] for field in sorted(unknown)})
    cleaned = dict(changes)
    errors: dict[str, list[str]] = {}
    for field, required, limit in (
        ("title", True, 200),
        ("description", False, MAX_TEXT_LENGTH),
        ("resolution_note", False, MAX_TEXT_LENGTH),
    ):
        if field in cleaned:
            try:
                cleaned[field] = _text(cleaned[field], field, required=required, limit=limit)
            except ValidationError as error:
                errors.update(error.message_dict)
    for field, choices in (("kind", ActionItemKind), ("status", ActionItemStatus)):
        if field in cleaned and cleaned[field] not in choices.values:
            errors[field] = [_("%(value)r is not a valid choice.") % {"value": cleaned[field]}]
    due_date = cleaned.get("due_date")
    if due_date is not None and (not isinstance(due_date, dt.date) or isinstance(due_date, dt.datetime)):
        errors["due_date"] = [_("Give a date such as 2026-03-31.")]
    if cleaned.get("owner") is not None:
        try:
            _check_responder(cleaned["owner"], "owner")
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _check_outcome(item: ActionItem) -> None:
    if item.status == ActionItemStatus.WONT_DO and not item.resolution_note:
        raise ValidationError({"resolution_note": [_("Say why this will not be done.")]})


def _stamp_completion(item: ActionItem, previous_status: str | None) -> None:
    """An item that leaves open/in progress is stamped; one taken up again is not done any more."""
    if item.status == previous_status:
        return
    item.completed_at = None if item.status in ACTION_ITEM_PENDING else timezone.now()


def add_action_item(
    *,
    postmortem: PostMortem,
    actor: Actor,
    title: str,
    description: str = "",
    kind: str = ActionItemKind.PREVENT,
    owner: Any = None,
    due_date: dt.date | None = None,
    status: str = ActionItemStatus.OPEN,
    resolution_note: str = "",
) -> ActionItem:
    """Add a follow-up to the post-mortem, in whatever state the post-mortem and its incident are."""
    if not actor.has_perm(ADD_PERMISSION):
        raise PermissionDenied(_("You may not add action items."))
    cleaned = _clean(
        {
            "title": title,
            "description": description,
            "kind": kind,
            "owner": owner,
            "due_date": due_date,
            "status": status,
            "resolution_note": resolution_note,
        }
    )
    item = ActionItem(
        postmortem=postmortem,
        incident_id=postmortem.incident_id,
        created_by=actor if actor.is_authenticated else None,
        **cleaned,
    )
    _check_outcome(item)
    _stamp_completion(item, None)
    with transaction.atomic():
        save_audited(item, actor=actor, reason="added")
    return item


def update_action_item(*, item: ActionItem, actor: Actor, changes: dict[str, Any]) -> ActionItem:
    """Change an item's status, owner, due date or text; the history names who and what.

    Won't do needs the reason in `resolution_note`; moving to done or won't do
    stamps `completed_at`, moving back to open or in progress clears it.
    """
    if not actor.has_perm(CHANGE_PERMISSION):
        raise PermissionDenied(_("You may not change action items."))
    cleaned = _clean(changes)
    with transaction.atomic():
        item = ActionItem.objects.select_for_update().get(pk=item.pk)
        previous_status = item.status
        changed = [field for field, value in cleaned.items() if getattr(item, field) != value]
        if not changed:
            return item
        for field in changed:
            setattr(item, field, cleaned[field])
        _check_outcome(item)
        _stamp_completion(item, previous_status)
        save_audited(item, actor=actor, reason="changed: " + ", ".join(changed))
    return item
