"""Use cases that change an incident other than by a lifecycle transition."""

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.models import Team
from incidents import effects
from incidents.attachments import checked_content_type
from incidents.choices import Category, EntryKind, Level, Priority, Source, Visibility
from incidents.deferred import work_unit
from incidents.lifecycle import MAX_TEXT_LENGTH, cancel_incident, lock_incident
from incidents.models import Attachment, Incident, Service
from incidents.models.history import record_created
from incidents.priority import priority_for
from incidents.response import sync_commander
from incidents.timeline import Actor, record_entry, save_audited

logger = logging.getLogger(__name__)
# Clocks of reporters and monitoring drift; a start a little in the future is not an error.
CLOCK_SKEW = dt.timedelta(minutes=5)
# The fields `update_incident` may change, and how the timeline names them.
EDITABLE_FIELDS = (
    "title",
    "description",
    "category",
    "impact",
    "urgency",
    "affected_users",
    "diagnostics",
    "started_at",
    "detected_at",
    "services",
    "war_room_url",
    "chat_channel_url",
)
# Where the responders meet: links to a conference bridge and a chat channel.
MEETING_LINK_FIELDS = ("war_room_url", "chat_channel_url")
MEETING_LINK_LENGTH = 500


def _require(actor: Actor, permission: str, message: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(message)


def _text(value: str, field: str, *, required: bool = False, limit: int = MAX_TEXT_LENGTH) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: [_("This field is required.")]})
    if len(value) > limit:
        raise ValidationError({field: [_("Keep this under %(limit)d characters.") % {"limit": limit}]})
    return value


def _meeting_link(value: str | None, field: str) -> str:
    """An http(s) URL, or empty to remove the link; any other scheme could run script in a browser."""
    value = (value or "").strip()
    if not value:
        return ""
    if len(value) > MEETING_LINK_LENGTH:
        raise ValidationError({field: [_("Keep this under %(limit)d characters.") % {"limit": MEETING_LINK_LENGTH}]})
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise ValidationError({field: [_("Give an http:// or https:// address.")]}) from None
    return value


def _check_times(*, started_at: dt.datetime, detected_at: dt.datetime, now: dt.datetime) -> None:
    errors: dict[str, list[str]] = {}
    if started_at > now + CLOCK_SKEW:
        errors["started_at"] = [_("The impact cannot start in the future.")]
    if detected_at > now + CLOCK_SKEW:
        errors["detected_at"] = [_("Detection cannot be in the future.")]
    if detected_at < started_at:
        errors["detected_at"] = [_("Detection cannot come before the impact started.")]
    if errors:
        raise ValidationError(errors)


def _check_responder(user: Any, field: str) -> None:
    if user is not None and not (user.is_active and user.has_perm("incidents.transition_incident")):
        raise ValidationError({field: [_("%(user)s is not an active agent.") % {"user": user}]})


def report_incident(
    *,
    reporter: Actor,
    title: str,
    description: str = "",
    category: str = Category.OTHER,
    source: str = Source.WEB,
    impact: str = Level.MEDIUM,
    urgency: str = Level.MEDIUM,
    services: Iterable[Service] = (),
    started_at: dt.datetime | None = None,
    detected_at: dt.datetime | None = None,
    affected_users: int | None = None,
    diagnostics: str = "",
    team: Team | None = None,
    assignee: Any = None,
    commander: Any = None,
    priority: str | None = None,
    priority_override_reason: str = "",
) -> Incident:
    """Open a new incident (the seeds' step 1: identify and document).

    1. Check the reporter may report, and may assign or override if asked to.
    2. Validate the text, the choices and the times.
    3. Take the priority from the impact × urgency matrix, or the override.
    4. Insert the incident, its services and its first timeline entry together.
    """
    _require(reporter, "incidents.add_incident", _("You may not report incidents."))
    if assignee is not None or commander is not None:
        _require(reporter, "incidents.assign_incident", _("You may not assign incidents."))
    _check_responder(assignee, "assignee")
    _check_responder(commander, "commander")

    now = timezone.now()
    started_at = started_at or now
    if detected_at is None:
        detected_at = max(started_at, now)
    _check_times(started_at=started_at, detected_at=detected_at, now=now)
    errors: dict[str, list[str]] = {}
    for field, value, choices in (
        ("category", category, Category),
        ("source", source, Source),
        ("impact", impact, Level),
        ("urgency", urgency, Level),
    ):
        if value not in choices.values:
            errors[field] = [_("%(value)r is not a valid choice.") % {"value": value}]
    if errors:
        raise ValidationError(errors)

    overridden = priority is not None and priority != priority_for(impact=impact, urgency=urgency)
    if priority is not None:
        if priority not in Priority.values:
            raise ValidationError({"priority": [_("%(value)r is not a valid choice.") % {"value": priority}]})
        if overridden:
            _require(reporter, "incidents.override_priority", _("You may not override the priority."))
            _text(priority_override_reason, "priority_override_reason", required=True)

    incident = Incident(
        title=_text(title, "title", required=True, limit=200),
        description=_text(description, "description"),
        category=category,
        source=source,
        impact=impact,
        urgency=urgency,
        priority=priority if overridden and priority else priority_for(impact=impact, urgency=urgency),
        priority_overridden=overridden,
        priority_override_reason=priority_override_reason.strip() if overridden else "",
        started_at=started_at,
        detected_at=detected_at,
        created_at=now,
        affected_users=affected_users,
        diagnostics=_text(diagnostics, "diagnostics", limit=1_000_000),
        team=team,
        assignee=assignee,
        commander=commander,
        reporter=reporter if reporter.is_authenticated else None,
    )
    with transaction.atomic(), work_unit():
        # One "created" history row, written once the services are set.
        incident.skip_history_when_saving = True
        save_audited(incident, actor=reporter, reason="reported")
        services = list(services)
        if services:
            incident.services.add(*services)
        record_created(incident)
        if commander is not None:
            sync_commander(incident=incident, actor=reporter)
        record_entry(
            incident=incident,
            kind=EntryKind.CREATED,
            actor=reporter,
            body=incident.title,
            visibility=Visibility.PUBLIC,
            data={"priority": incident.priority, "source": incident.source},
        )
        effects.incident_reported(incident=incident, actor=reporter)
    logger.info(
        "incident %s reported (%s)",
        incident.number,
        incident.priority,
        extra={"incident": incident.number, "priority": incident.priority, "source": incident.source},
    )
    return incident


def update_incident(*, incident: Incident, actor: Actor, changes: dict[str, Any]) -> Incident:
    """Change an incident's details (not its state, priority override or people).

    A new impact or urgency re-derives the priority unless a person overrode it.
    """
    _require(actor, "incidents.change_incident", _("You may not edit incidents."))
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed here.")] for field in sorted(unknown)})

    with transaction.atomic():
        incident = lock_incident(incident)
        before = {field: getattr(incident, field) for field in EDITABLE_FIELDS if field != "services"}
        for field, value in changes.items():
            if field == "services":
                continue
            if field == "title":
                value = _text(value, "title", required=True, limit=200)
            elif field in ("description", "diagnostics"):
                value = _text(value, field, limit=1_000_000 if field == "diagnostics" else MAX_TEXT_LENGTH)
            elif field in MEETING_LINK_FIELDS:
                value = _meeting_link(value, field)
            setattr(incident, field, value)
        _check_times(started_at=incident.started_at, detected_at=incident.detected_at, now=timezone.now())

        changed = [f for f, old in before.items() if getattr(incident, f) != old]
        old_priority = incident.priority
        if not incident.priority_overridden:
            incident.priority = priority_for(impact=incident.impact, urgency=incident.urgency)

        services_changed = False
        if "services" in changes:
            new_slugs = sorted(s.slug for s in changes["services"])
            old_slugs = sorted(incident.services.values_list("slug", flat=True))
            services_changed = new_slugs != old_slugs

        if not changed and not services_changed:
            return incident
        save_audited(incident, actor=actor, reason="details changed")
        if services_changed:
            incident.services.set(changes["services"])
            changed.append("services")
        record_entry(
            incident=incident,
            kind=EntryKind.FIELD_CHANGE,
            actor=actor,
            body=_("Changed %(fields)s.") % {"fields": ", ".join(_field_label(field) for field in changed)},
            data={"fields": changed},
        )
        if incident.priority != old_priority:
            record_entry(
                incident=incident,
                kind=EntryKind.PRIORITY_CHANGE,
                actor=actor,
                body=_("Priority %(old)s → %(new)s from impact and urgency.")
                % {"old": old_priority, "new": incident.priority},
                visibility=Visibility.PUBLIC,
                data={"from": old_priority, "to": incident.priority, "overridden": False},
            )
            effects.priority_changed(incident=incident, actor=actor, previous=old_priority)
    return incident


def override_priority(*, incident: Incident, actor: Actor, priority: str, reason: str) -> Incident:
    """Set the priority by hand; the reason is kept and the matrix stops applying."""
    _require(actor, "incidents.override_priority", _("You may not override the priority."))
    if priority not in Priority.values:
        raise ValidationError({"priority": [_("%(value)r is not a valid choice.") % {"value": priority}]})
    reason = _text(reason, "priority_override_reason", required=True)
    with transaction.atomic():
        incident = lock_incident(incident)
        old = incident.priority
        incident.priority = priority
        incident.priority_overridden = True
        incident.priority_override_reason = reason
        save_audited(incident, actor=actor, reason=f"priority {old} → {priority}: {reason}")
        record_entry(
            incident=incident,
            kind=EntryKind.PRIORITY_CHANGE,
            actor=actor,
            body=_("Priority %(old)s → %(new)s: %(reason)s") % {"old": old, "new": priority, "reason": reason},
            visibility=Visibility.PUBLIC,
            data={"from": old, "to": priority, "overridden": True, "reason": reason},
        )
        if priority != old:
            effects.priority_changed(incident=incident, actor=actor, previous=old)
    return incident


_UNSET: Any = object()


def assign_incident(
    *, incident: Incident, actor: Actor, assignee: Any = _UNSET, commander: Any = _UNSET, team: Any = _UNSET
) -> Incident:
    """Give the incident an assignee, a commander or a team (None clears one).

    A new commander takes over on the response team too (`response.sync_commander`).
    """
    _require(actor, "incidents.assign_incident", _("You may not assign incidents."))
    if assignee is not _UNSET:
        _check_responder(assignee, "assignee")
    if commander is not _UNSET:
        _check_responder(commander, "commander")
    with transaction.atomic():
        incident = lock_incident(incident)
        changes: dict[str, dict[str, str | None]] = {}
        for field, value in (("assignee", assignee), ("commander", commander), ("team", team)):
            if value is _UNSET or getattr(incident, f"{field}_id") == (value.pk if value else None):
                continue
            old = getattr(incident, field)
            setattr(incident, field, value)
            changes[field] = {"from": _label(old), "to": _label(value)}
        if not changes:
            return incident
        save_audited(incident, actor=actor, reason="assigned")
        if "commander" in changes:
            # The response team's commander row follows, so the two never disagree.
            sync_commander(incident=incident, actor=actor)
        body = "; ".join(
            _("%(field)s: %(old)s → %(new)s")
            % {"field": _field_label(field), "old": c["from"] or "—", "new": c["to"] or "—"}
            for field, c in changes.items()
        )
        record_entry(incident=incident, kind=EntryKind.ASSIGNMENT, actor=actor, body=body, data=changes)
    return incident


def _field_label(name: str) -> str:
    """An incident field as the timeline names it: its verbose name in the actor's language, not the column's."""
    return str(Incident._meta.get_field(name).verbose_name)


def _label(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Team):
        return value.slug
    return str(value.get_username())


def add_note(
    *,
    incident: Incident,
    actor: Actor,
    body: str,
    visibility: str = Visibility.INTERNAL,
    kind: str = EntryKind.NOTE,
) -> Any:
    """Add a note or a status update to the timeline.

    Reporters may add public notes; internal notes and status updates are for agents.
    """
    if visibility not in Visibility.values:
        raise ValidationError({"visibility": [_("%(value)r is not a valid choice.") % {"value": visibility}]})
    if kind not in (EntryKind.NOTE, EntryKind.STATUS_UPDATE):
        raise ValidationError({"kind": [_("Only notes and status updates can be added by hand.")]})
    _require(actor, "incidents.add_timelineentry", _("You may not add notes."))
    if visibility == Visibility.INTERNAL or kind == EntryKind.STATUS_UPDATE:
        _require(actor, "incidents.add_internal_note", _("You may add public notes only."))
    body = _text(body, "body", required=True)
    with transaction.atomic():
        entry = record_entry(
            incident=incident, kind=EntryKind(kind), actor=actor, body=body, visibility=Visibility(visibility)
        )
        effects.note_added(entry=entry, actor=actor)
    return entry


def link_as_duplicate(*, incident: Incident, actor: Actor, original: Incident) -> Incident:
    """Mark `incident` a duplicate of `original`, and cancel it when it is still open.

    The link always points at the first report: a duplicate of a duplicate
    links to the original behind it.
    """
    _require(actor, "incidents.change_incident", _("You may not link incidents."))
    while original.duplicate_of_id is not None:
        original = original.duplicate_of  # type: ignore[assignment]
    if original.pk == incident.pk:
        raise ValidationError({"duplicate_of": [_("An incident cannot be a duplicate of itself.")]})
    with transaction.atomic():
        incident = lock_incident(incident)
        if incident.duplicate_of_id == original.pk:
            return incident
        incident.duplicate_of = original
        save_audited(incident, actor=actor, reason=f"duplicate of {original.number}")
        # Reports that named this one as their original now point at the first report.
        Incident.objects.filter(duplicate_of=incident).update(duplicate_of=original)
        record_entry(
            incident=incident,
            kind=EntryKind.LINK,
            actor=actor,
            body=_("Duplicate of %(number)s.") % {"number": original.number},
            visibility=Visibility.PUBLIC,
            data={"duplicate_of": original.number},
        )
        record_entry(
            incident=original,
            kind=EntryKind.LINK,
            actor=actor,
            body=_("%(number)s was marked a duplicate of this incident.") % {"number": incident.number},
            data={"duplicate": incident.number},
        )
        if incident.state in ("new", "acknowledged", "investigating"):
            incident = cancel_incident(
                incident=incident, actor=actor, reason=_("Duplicate of %(number)s") % {"number": original.number}
            )
    return incident


def link_to_major_incident(*, incident: Incident, actor: Actor, major: Incident) -> Incident:
    """Make `incident` a child of the major incident `major` (one level deep)."""
    _require(actor, "incidents.change_incident", _("You may not link incidents."))
    if major.pk == incident.pk:
        raise ValidationError({"major_incident": [_("An incident cannot be its own major incident.")]})
    if major.major_incident_id is not None:
        raise ValidationError(
            {"major_incident": [_("%(number)s is itself a child incident.") % {"number": major.number}]}
        )
    if incident.child_incidents.exists():
        raise ValidationError({"major_incident": [_("This incident has child incidents of its own.")]})
    with transaction.atomic():
        incident = lock_incident(incident)
        if incident.major_incident_id == major.pk:
            return incident
        incident.major_incident = major
        save_audited(incident, actor=actor, reason=f"child of {major.number}")
        record_entry(
            incident=incident,
            kind=EntryKind.LINK,
            actor=actor,
            body=_("Linked to major incident %(number)s.") % {"number": major.number},
            visibility=Visibility.PUBLIC,
            data={"major_incident": major.number},
        )
        record_entry(
            incident=major,
            kind=EntryKind.LINK,
            actor=actor,
            body=_("%(number)s linked as a child incident.") % {"number": incident.number},
            data={"child_incident": incident.number},
        )
    return incident


def add_attachment(*, incident: Incident, actor: Actor, file: UploadedFile) -> Attachment:
    """Keep a diagnostic file with the incident, within the size limit and of an allowed type (incidents/attachments.py)."""
    _require(actor, "incidents.add_attachment", _("You may not add attachments."))
    limit = settings.ATTACHMENT_MAX_BYTES
    if file.size is None or file.size > limit:
        raise ValidationError({"file": [_("The file is larger than the limit of %(limit)d bytes.") % {"limit": limit}]})
    name = _text(file.name or "attachment", "file", limit=255)
    content_type = checked_content_type(file, name)
    with transaction.atomic():
        attachment = Attachment.objects.create(
            incident=incident,
            file=file,
            name=name,
            size=file.size,
            content_type=content_type,
            uploaded_by=actor if isinstance(actor, User) else None,
        )
        record_entry(
            incident=incident,
            kind=EntryKind.ATTACHMENT,
            actor=actor,
            body=name,
            data={"attachment": attachment.pk, "size": file.size},
        )
    return attachment
