"""Writing the incident's timeline and stamping its history with who acted."""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Model

from incidents.choices import EntryKind, Visibility
from incidents.models import Incident, TimelineEntry

Actor = User | AnonymousUser


def record_entry(
    *,
    incident: Incident,
    kind: EntryKind,
    actor: Actor | None,
    body: str = "",
    visibility: Visibility = Visibility.INTERNAL,
    data: dict[str, Any] | None = None,
) -> TimelineEntry:
    return TimelineEntry.objects.create(
        incident=incident,
        kind=kind,
        actor=actor if isinstance(actor, User) else None,
        body=body,
        visibility=visibility,
        data=data or {},
    )


def save_audited(record: Model, *, actor: Actor | None, reason: str, update_fields: list[str] | None = None) -> None:
    """Save a record kept with django-simple-history so that its history row names the actor and why."""
    record._history_user = actor if isinstance(actor, User) else None  # type: ignore[attr-defined]
    record._change_reason = reason  # type: ignore[attr-defined]
    record.save(update_fields=update_fields)


def delete_audited(record: Model, *, actor: Actor | None, reason: str) -> None:
    """Delete a record kept with django-simple-history so that its last history row names the actor and why."""
    record._history_user = actor if isinstance(actor, User) else None  # type: ignore[attr-defined]
    record._change_reason = reason  # type: ignore[attr-defined]
    record.delete()
