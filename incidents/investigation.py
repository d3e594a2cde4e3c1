"""Investigation tasks: who looks into what on an incident, by when, and whether it is done."""

import datetime as dt
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.choices import OPEN_TASK_STATUSES, EntryKind, TaskStatus
from incidents.models import Incident, InvestigationTask
from incidents.response import (
    EXPERTISE_LENGTH,
    check_active_user,
    clean_text,
    lock_for_response,
    person,
    require_manage_response,
)
from incidents.timeline import Actor, record_entry, save_audited

# The fields `update_task` may change.
TASK_FIELDS = ("title", "description", "owner", "expertise", "status", "due_at")
TITLE_LENGTH = 200


def _clean(field: str, value: Any) -> Any:
    if field == "title":
        return clean_text(value, "title", required=True, limit=TITLE_LENGTH)
    if field == "description":
        return clean_text(value, "description")
    if field == "expertise":
        return clean_text(value, "expertise", limit=EXPERTISE_LENGTH)
    if field == "owner":
        check_active_user(value, "owner")
        return value
    if field == "status":
        if value not in TaskStatus.values:
            raise ValidationError({"status": [_("%(value)r is not a valid choice.") % {"value": value}]})
        return value
    if field == "due_at" and value is not None and (not isinstance(value, dt.datetime) or timezone.is_naive(value)):
        raise ValidationError({"due_at": [_("Give a date and time with its time zone.")]})
    return value


def _record_status(task: InvestigationTask, actor: Actor, previous: str) -> None:
    """Put a status change on the incident's timeline: done, reopened, or moved along."""
    status = TaskStatus(task.status)
    if status == TaskStatus.DONE:
        event, body = "completed", _("Task “%(title)s” done by %(user)s.")
    elif previous in (TaskStatus.DONE, TaskStatus.CANCELLED) and status in OPEN_TASK_STATUSES:
        event, body = "reopened", _("Task “%(title)s” reopened by %(user)s.")
    elif status == TaskStatus.CANCELLED:
        event, body = "cancelled", _("Task “%(title)s” cancelled by %(user)s.")
    else:
        event, body = "status", _("Task “%(title)s” is %(status)s (%(user)s).")
    record_entry(
        incident=task.incident,
        kind=EntryKind.TASK,
        actor=actor,
        body=body % {"title": task.title, "user": person(actor), "status": status.label.lower()},
        data={"event": event, "task": task.pk, "from": previous, "to": task.status},
    )


def _set_status(task: InvestigationTask, status: str, actor: Actor) -> None:
    task.status = status
    if status == TaskStatus.DONE:
        task.completed_at = timezone.now()
        task.completed_by = actor if isinstance(actor, User) else None
    else:
        task.completed_at = None
        task.completed_by = None


def create_task(
    *,
    incident: Incident,
    actor: Actor,
    title: str,
    description: str = "",
    owner: User | None = None,
    expertise: str = "",
    due_at: dt.datetime | None = None,
    status: str = TaskStatus.OPEN,
) -> InvestigationTask:
    """Add an investigation task to the incident; it starts open or in progress."""
    require_manage_response(actor)
    values = {
        field: _clean(field, value)
        for field, value in (
            ("title", title),
            ("description", description),
            ("owner", owner),
            ("expertise", expertise),
            ("due_at", due_at),
            ("status", status),
        )
    }
    if values["status"] not in OPEN_TASK_STATUSES:
        raise ValidationError({"status": [_("A new task starts open or in progress.")]})
    with transaction.atomic():
        incident = lock_for_response(incident, actor)
        task = InvestigationTask(
            incident=incident,
            created_by=actor if isinstance(actor, User) else None,
            created_at=timezone.now(),
            **values,
        )
        save_audited(task, actor=actor, reason="task created")
        owned = _(" for %(owner)s") % {"owner": person(task.owner)} if task.owner else ""
        record_entry(
            incident=incident,
            kind=EntryKind.TASK,
            actor=actor,
            body=_("Task “%(title)s” added%(owned)s.") % {"title": task.title, "owned": owned},
            data={"event": "created", "task": task.pk, "owner": task.owner.get_username() if task.owner else None},
        )
    return task


def update_task(*, task: InvestigationTask, actor: Actor, changes: dict[str, Any]) -> InvestigationTask:
    """Change a task's details or status.

    Done stamps who completed it and when; moving a done task back reopens it.
    Every status change goes on the incident's timeline, every change in the
    task's history with the actor.
    """
    require_manage_response(actor)
    unknown = set(changes) - set(TASK_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed here.")] for field in sorted(unknown)})
    cleaned = {field: _clean(field, value) for field, value in changes.items()}
    with transaction.atomic():
        incident = lock_for_response(task.incident, actor)
        task = InvestigationTask.objects.select_for_update().get(pk=task.pk, incident=incident)
        task.incident = incident
        previous = task.status
        changed = [field for field, value in cleaned.items() if getattr(task, field) != value]
        if not changed:
            return task
        for field in changed:
            if field == "status":
                _set_status(task, cleaned[field], actor)
            else:
                setattr(task, field, cleaned[field])
        save_audited(task, actor=actor, reason=f"task changed: {', '.join(changed)}")
        if "status" in changed:
            _record_status(task, actor, previous)
    return task
