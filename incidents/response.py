"""The response team's use cases: naming the commander, adding and ending roles, paging a responder.

The team is a list of role rows (`ResponseRole`). The commander is also the
incident's `commander` field, which the API, webhooks and lists show; every
change of either goes through `sync_commander`, so the two never disagree,
and the database keeps at most one active commander row per incident.
"""

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation import paging
from escalation.models import Notification, Team
from escalation.oncall import oncall_now
from incidents.choices import EntryKind, ResponseRoleKind, State
from incidents.exceptions import IncidentFinished
from incidents.lifecycle import MAX_TEXT_LENGTH, allowed_transitions, lock_incident
from incidents.models import MANAGE_RESPONSE_PERMISSION, TRANSITION_PERMISSION, Incident, ResponseRole
from incidents.timeline import Actor, record_entry, save_audited

logger = logging.getLogger(__name__)
FINISHED_STATES = (State.CLOSED, State.CANCELLED)
EXPERTISE_LENGTH = 120


# --- Shared by the response coordination use cases ---------------------------


def require_manage_response(actor: Actor) -> None:
    if not actor.has_perm(MANAGE_RESPONSE_PERMISSION):
        raise PermissionDenied(_("You may not change the response team, tasks or fix plan."))


def lock_for_response(incident: Incident, actor: Actor) -> Incident:
    """Lock the incident (inside `transaction.atomic()`); refuse once it is closed or cancelled."""
    incident = lock_incident(incident)
    if incident.state in FINISHED_STATES:
        raise IncidentFinished(
            _("%(number)s is %(state)s; its response team, tasks and fix plan no longer change.")
            % {"number": incident.number, "state": incident.get_state_display().lower()},
            state=incident.state,
            allowed=allowed_transitions(incident=incident, user=actor),
        )
    return incident


def clean_text(value: str | None, field: str, *, required: bool = False, limit: int = MAX_TEXT_LENGTH) -> str:
    value = (value or "").strip()
    if required and not value:
        raise ValidationError({field: [_("This field is required.")]})
    if len(value) > limit:
        raise ValidationError({field: [_("Keep this under %(limit)d characters.") % {"limit": limit}]})
    return value


def check_active_user(user: Any, field: str) -> None:
    if user is not None and not user.is_active:
        raise ValidationError({field: [_("%(user)s is not an active user.") % {"user": user}]})


def person(user: Any) -> str:
    """How the timeline names someone."""
    if user is None:
        return "—"
    return str(user.get_full_name() or user.get_username())


# --- The commander -------------------------------------------------------------


def _check_commander(user: Any, field: str = "user") -> None:
    if not (user.is_active and user.has_perm(TRANSITION_PERMISSION)):
        raise ValidationError(
            {field: [_("%(user)s is not an active agent and cannot command an incident.") % {"user": user}]}
        )


def active_commander_role(incident: Incident) -> ResponseRole | None:
    return (
        ResponseRole.objects.select_for_update()
        .filter(incident=incident, role=ResponseRoleKind.COMMANDER, ended_at__isnull=True)
        .first()
    )


def _end_row(row: ResponseRole, actor: Actor, reason: str) -> None:
    row.ended_at = timezone.now()
    row.ended_by = actor if isinstance(actor, User) else None
    save_audited(row, actor=actor, reason=reason)


def _open_role(*, incident: Incident, actor: Actor, user: User, role: str, expertise: str) -> ResponseRole:
    added = ResponseRole(
        incident=incident,
        user=user,
        role=role,
        expertise=expertise,
        added_by=actor if isinstance(actor, User) else None,
        added_at=timezone.now(),
    )
    save_audited(added, actor=actor, reason="added to the response team")
    return added


def _record_command(incident: Incident, actor: Actor, user: User | None, previous: User | None) -> None:
    if user is None:
        body = _("%(old)s no longer commands the incident; nobody does now.") % {"old": person(previous)}
    elif previous is None:
        body = _("%(new)s is the incident commander.") % {"new": person(user)}
    else:
        body = _("%(new)s took over command from %(old)s.") % {"new": person(user), "old": person(previous)}
    record_entry(
        incident=incident,
        kind=EntryKind.RESPONSE_TEAM,
        actor=actor,
        body=body,
        data={
            "event": "command",
            "role": ResponseRoleKind.COMMANDER,
            "from": previous.get_username() if previous else None,
            "to": user.get_username() if user else None,
        },
    )


def _take_command(*, incident: Incident, actor: Actor, user: User) -> ResponseRole:
    """Make `user` the commander of the locked incident: the field, the role rows and the timeline.

    1. If someone else commands, set `Incident.commander`, save it audited and
       write the hand-over on the timeline.
    2. End the active commander row of anyone else (the database allows one).
    3. Open a commander row for `user` unless they hold one already.
    """
    previous = incident.commander
    if incident.commander_id != user.pk:
        incident.commander = user
        save_audited(incident, actor=actor, reason="command handed over")
        _record_command(incident, actor, user, previous)
    current = active_commander_role(incident)
    if current is not None and current.user_id == user.pk:
        return current
    if current is not None:
        _end_row(current, actor, "command handed over")
    return _open_role(incident=incident, actor=actor, user=user, role=ResponseRoleKind.COMMANDER, expertise="")


def _release_command(*, incident: Incident, actor: Actor) -> None:
    """Leave the locked incident with no commander: the field cleared, the row ended, the timeline told."""
    previous = incident.commander
    incident.commander = None
    save_audited(incident, actor=actor, reason="command ended")
    current = active_commander_role(incident)
    if current is not None:
        _end_row(current, actor, "command ended")
    _record_command(incident, actor, None, previous)


def sync_commander(*, incident: Incident, actor: Actor) -> ResponseRole | None:
    """Make the team's commander row agree with `incident.commander`; return the active row.

    For the use cases that set `Incident.commander` themselves (reporting and
    assigning an incident), with the incident saved and locked in the current
    transaction; they write their own timeline entry. An active commander row
    of anyone else ends, and the new commander gets one.
    """
    if incident.commander is None:
        current = active_commander_role(incident)
        if current is not None:
            _end_row(current, actor, "command ended")
        return None
    return _take_command(incident=incident, actor=actor, user=incident.commander)


def name_commander(*, incident: Incident, actor: Actor, user: User) -> ResponseRole:
    """Hand command of the incident to `user`; the previous commander's role ends."""
    require_manage_response(actor)
    _check_commander(user)
    with transaction.atomic():
        incident = lock_for_response(incident, actor)
        role = _take_command(incident=incident, actor=actor, user=user)
    logger.info("incident %s: %s commands", incident.number, user.get_username(), extra={"incident": incident.number})
    return role


# --- Other roles -------------------------------------------------------------


def _validate_role(role: str, expertise: str, user: Any) -> str:
    if role not in ResponseRoleKind.values:
        raise ValidationError({"role": [_("%(value)r is not a valid choice.") % {"value": role}]})
    check_active_user(user, "user")
    return clean_text(
        expertise, "expertise", required=role == ResponseRoleKind.SUBJECT_MATTER_EXPERT, limit=EXPERTISE_LENGTH
    )


def _active_role(incident: Incident, user: User, role: str, expertise: str) -> ResponseRole | None:
    return ResponseRole.objects.filter(
        incident=incident, user=user, role=role, expertise=expertise, ended_at__isnull=True
    ).first()


def _role_label(role: str, expertise: str) -> str:
    label = str(ResponseRoleKind(role).label)
    return f"{label} ({expertise})" if expertise else label


def add_responder(*, incident: Incident, actor: Actor, user: User, role: str, expertise: str = "") -> ResponseRole:
    """Put `user` on the response team in `role`; naming a commander hands command over.

    A person may hold several roles, but not the same role and expertise twice at once.
    """
    require_manage_response(actor)
    if role == ResponseRoleKind.COMMANDER:
        return name_commander(incident=incident, actor=actor, user=user)
    expertise = _validate_role(role, expertise, user)
    with transaction.atomic():
        incident = lock_for_response(incident, actor)
        if _active_role(incident, user, role, expertise) is not None:
            raise ValidationError(
                {"user": [_("%(user)s already holds this role on the team.") % {"user": person(user)}]}
            )
        added = _open_role(incident=incident, actor=actor, user=user, role=role, expertise=expertise)
        record_entry(
            incident=incident,
            kind=EntryKind.RESPONSE_TEAM,
            actor=actor,
            body=_("%(user)s joined the response team as %(role)s.")
            % {"user": person(user), "role": _role_label(role, expertise)},
            data={"event": "added", "role": role, "user": user.get_username(), "expertise": expertise},
        )
    return added


def end_role(*, incident: Incident, actor: Actor, role: ResponseRole) -> ResponseRole:
    """End a role on the team (the row stays, ended); ending the commander's leaves nobody in command."""
    require_manage_response(actor)
    with transaction.atomic():
        incident = lock_for_response(incident, actor)
        row = ResponseRole.objects.select_for_update().select_related("user").get(pk=role.pk, incident=incident)
        if row.ended_at is not None:
            return row
        if row.role == ResponseRoleKind.COMMANDER:
            _release_command(incident=incident, actor=actor)
            row.refresh_from_db()
            return row
        _end_row(row, actor, "left the response team")
        record_entry(
            incident=incident,
            kind=EntryKind.RESPONSE_TEAM,
            actor=actor,
            body=_("%(user)s is no longer %(role)s.")
            % {"user": person(row.user), "role": _role_label(row.role, row.expertise)},
            data={"event": "ended", "role": row.role, "user": row.user.get_username(), "expertise": row.expertise},
        )
    return row


# --- Paging a responder into the team -------------------------------------------


@dataclass(frozen=True)
class PagedResponder:
    """The role the paged person now holds, and the notifications that page them."""

    role: ResponseRole
    notifications: list[Notification]


def _oncall_person(team: Team) -> User:
    """The team's on-call person now, by the escalation app's schedules (first schedule by name with someone on)."""
    for shift in oncall_now(at=timezone.now(), team_slug=team.slug):
        if shift.user is not None and shift.user.is_active:
            return shift.user
    raise ValidationError(
        {"team": [_("Nobody in %(team)s is on call now; page a person by name instead.") % {"team": team.name}]}
    )


def page_responder(
    *,
    incident: Incident,
    actor: Actor,
    message: str,
    expertise: str = "",
    team: Team | None = None,
    user: User | None = None,
    role: str = ResponseRoleKind.SUBJECT_MATTER_EXPERT,
) -> PagedResponder:
    """Page a person, or a team's on-call person, to join the response team.

    1. Check the actor may change the team; validate the role, expertise and message.
    2. Lock the incident; find the person (a team with nobody on call is refused).
    3. Give them the role (an SME with that expertise unless another role is
       asked for; a commander takes over command), or keep the one they hold.
    4. Page them through the paging machinery (`escalation.paging.page_users`):
       a notification per contact method by their rules, delivered after
       commit and retried. Nobody to reach is refused, and nothing is written.
    5. Write the timeline entry naming who was paged, why and how.
    """
    require_manage_response(actor)
    if (team is None) == (user is None):
        raise ValidationError({"non_field_errors": [_("Page either a team or a person.")]})
    message = clean_text(message, "message", required=True)
    expertise = _validate_role(role, expertise, user)
    with transaction.atomic():
        incident = lock_for_response(incident, actor)
        target = user if user is not None else _oncall_person(team)  # type: ignore[arg-type]
        field = "user" if user is not None else "team"
        if role == ResponseRoleKind.COMMANDER:
            _check_commander(target, field)
            held = _take_command(incident=incident, actor=actor, user=target)
        else:
            held = _active_role(incident, target, role, expertise) or _open_role(
                incident=incident, actor=actor, user=target, role=role, expertise=expertise
            )
        held.paged_at = timezone.now()
        save_audited(held, actor=actor, reason="paged")
        notifications = paging.page_users(
            incident=incident, users=[target], key=f"responder:{uuid.uuid4().hex}", level=None, message=message
        )
        if not notifications:
            raise ValidationError(
                {field: [_("%(user)s has no email address or active contact method to page.") % {"user": target}]}
            )
        record_entry(
            incident=incident,
            kind=EntryKind.RESPONSE_TEAM,
            actor=actor,
            body=_("Paged %(user)s%(via)s to join as %(role)s: %(message)s")
            % {
                "user": person(target),
                "via": _(" (on call for %(team)s)") % {"team": team.name} if team is not None else "",
                "role": _role_label(role, expertise),
                "message": message,
            },
            data={
                "event": "paged",
                "role": role,
                "user": target.get_username(),
                "expertise": expertise,
                "team": team.slug if team is not None else None,
                "notifications": [notification.pk for notification in notifications],
            },
        )
    logger.info(
        "incident %s: paged %s as %s",
        incident.number,
        target.get_username(),
        role,
        extra={"incident": incident.number, "notifications": len(notifications)},
    )
    return PagedResponder(role=held, notifications=notifications)
