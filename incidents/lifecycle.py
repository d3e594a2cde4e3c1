"""The incident lifecycle's use cases: one domain function per transition.

Every door (web UI, admin, API, alert intake, Celery tasks) moves an incident
through these functions, so the rules, the timeline and the audit trail are
the same whichever way the change came in.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django_fsm import ConcurrentTransition

from incidents import effects
from incidents.choices import EntryKind, Visibility
from incidents.deferred import work_unit
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.models import Incident
from incidents.timeline import Actor, record_entry, save_audited

# Transition name → the text fields it requires, in the API's words.
TRANSITION_FIELDS: dict[str, tuple[str, ...]] = {
    "acknowledge": (),
    "investigate": (),
    "hold": ("reason",),
    "resume": (),
    "mitigate": ("note",),
    "resolve": ("root_cause", "resolution"),
    "reopen": ("reason",),
    "close": (),
    "cancel": ("reason",),
}
TRANSITIONS = tuple(TRANSITION_FIELDS)
logger = logging.getLogger(__name__)
MAX_TEXT_LENGTH = 20_000


def allowed_transitions(*, incident: Incident, user: Actor) -> list[str]:
    """The transitions `user` may run on `incident` now, in the lifecycle's order."""
    available = {t.name for t in incident.get_available_user_state_transitions(user)}  # type: ignore[attr-defined]
    return [name for name in TRANSITIONS if name in available]


def lock_incident(incident: Incident) -> Incident:
    """Reload the incident under a row lock; call inside `transaction.atomic()`.

    Every write to an incident starts here, so two people acting at once are
    serialised by the database and the second one sees the first one's result.
    """
    return Incident.objects.select_for_update().get(pk=incident.pk)


def _clean_fields(name: str, fields: dict[str, str]) -> dict[str, str]:
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, str] = {}
    for field in TRANSITION_FIELDS[name]:
        value = (fields.get(field) or "").strip()
        if not value:
            errors[field] = [_("This field is required to %(transition)s an incident.") % {"transition": name}]
        elif len(value) > MAX_TEXT_LENGTH:
            errors[field] = [_("Keep this under %(limit)d characters.") % {"limit": MAX_TEXT_LENGTH}]
        cleaned[field] = value
    if errors:
        raise ValidationError(errors)
    return cleaned


def _run(*, incident: Incident, name: str, actor: Actor, note: str = "", **fields: str) -> Incident:
    """Run transition `name`.

    1. Refuse an actor without the transition's permission (PermissionDenied).
    2. Lock the row; refuse if its state is no longer the one the actor saw
       (IncidentConflict), or if the state does not allow the transition or
       its guard fails (TransitionNotAllowed); both carry the allowed list.
    3. Refuse missing or oversized required fields (ValidationError).
    4. Move the state, stamp the timestamps, save with the actor in the history
       and write the timeline entry, all in one transaction.
    """
    method: Callable[..., None] = getattr(Incident, name)
    fsm_meta = method._django_fsm  # type: ignore[attr-defined]
    permission = next(iter(fsm_meta.transitions.values())).permission
    if not actor.has_perm(permission):
        raise PermissionDenied(_("You may not %(transition)s incidents.") % {"transition": name})

    note = note.strip()
    if len(note) > MAX_TEXT_LENGTH:
        raise ValidationError({"note": [_("Keep this under %(limit)d characters.") % {"limit": MAX_TEXT_LENGTH}]})

    with transaction.atomic(), work_unit():
        seen = incident.state
        incident = lock_incident(incident)
        current = incident.state
        if current != seen:
            # The actor decided on a state that is gone: exactly one of two
            # people acting at once wins, the other is told to look again.
            raise IncidentConflict(
                _("Someone else changed this incident first (it is now %(state)s); reload it and try again.")
                % {"state": incident.get_state_display()},
                state=current,
                allowed=allowed_transitions(incident=incident, user=actor),
            )
        fsm_transition = fsm_meta.get_transition(current)
        if fsm_transition is None:
            raise TransitionNotAllowed(
                _("'%(transition)s' is not allowed while the incident is %(state)s.")
                % {"state": incident.get_state_display(), "transition": name},
                state=current,
                allowed=allowed_transitions(incident=incident, user=actor),
            )
        unmet = [c for c in fsm_transition.conditions if not c(incident)]
        if unmet:
            hints = "; ".join(str(getattr(c, "hint", c.__name__)) for c in unmet)
            raise TransitionNotAllowed(
                _("Cannot %(transition)s yet: %(hints)s.") % {"transition": name, "hints": hints},
                state=current,
                allowed=allowed_transitions(incident=incident, user=actor),
            )
        cleaned = _clean_fields(name, fields if name != "mitigate" else {"note": note})

        getattr(incident, name)(**cleaned)
        try:
            save_audited(incident, actor=actor, reason=f"{name}: {current} → {incident.state}")
        except ConcurrentTransition:
            raise IncidentConflict(
                _("Someone else changed this incident first; reload it and try again."),
                state=current,
                allowed=[],
            ) from None
        body = note if name != "mitigate" else cleaned["note"]
        data: dict[str, Any] = {"transition": name, "from": current, "to": incident.state, **cleaned}
        record_entry(
            incident=incident,
            kind=EntryKind.TRANSITION,
            actor=actor,
            body=body or next((v for v in cleaned.values()), ""),
            visibility=Visibility.PUBLIC,
            data=data,
        )
        effects.incident_transitioned(incident=incident, actor=actor, transition=name, previous_state=current)
    logger.info(
        "incident %s: %s → %s",
        incident.number,
        current,
        incident.state,
        extra={"incident": incident.number, "transition": name, "actor": actor.get_username()},
    )
    return incident


def acknowledge_incident(*, incident: Incident, actor: Actor, note: str = "") -> Incident:
    return _run(incident=incident, name="acknowledge", actor=actor, note=note)


def investigate_incident(*, incident: Incident, actor: Actor, note: str = "") -> Incident:
    return _run(incident=incident, name="investigate", actor=actor, note=note)


def hold_incident(*, incident: Incident, actor: Actor, reason: str, note: str = "") -> Incident:
    return _run(incident=incident, name="hold", actor=actor, note=note, reason=reason)


def resume_incident(*, incident: Incident, actor: Actor, note: str = "") -> Incident:
    return _run(incident=incident, name="resume", actor=actor, note=note)


def mitigate_incident(*, incident: Incident, actor: Actor, note: str) -> Incident:
    return _run(incident=incident, name="mitigate", actor=actor, note=note)


def resolve_incident(*, incident: Incident, actor: Actor, root_cause: str, resolution: str, note: str = "") -> Incident:
    return _run(incident=incident, name="resolve", actor=actor, note=note, root_cause=root_cause, resolution=resolution)


def reopen_incident(*, incident: Incident, actor: Actor, reason: str, note: str = "") -> Incident:
    return _run(incident=incident, name="reopen", actor=actor, note=note, reason=reason)


def close_incident(*, incident: Incident, actor: Actor, note: str = "") -> Incident:
    return _run(incident=incident, name="close", actor=actor, note=note)


def cancel_incident(*, incident: Incident, actor: Actor, reason: str, note: str = "") -> Incident:
    return _run(incident=incident, name="cancel", actor=actor, note=note, reason=reason)


_BY_NAME: dict[str, Callable[..., Incident]] = {
    "acknowledge": acknowledge_incident,
    "investigate": investigate_incident,
    "hold": hold_incident,
    "resume": resume_incident,
    "mitigate": mitigate_incident,
    "resolve": resolve_incident,
    "reopen": reopen_incident,
    "close": close_incident,
    "cancel": cancel_incident,
}


def transition_incident(*, incident: Incident, name: str, actor: Actor, **fields: str) -> Incident:
    """Run the transition called `name` with whichever of its fields were given.

    For doors that take the transition's name as data (the API, the admin).
    Fields the transition does not take are ignored; missing ones are a
    ValidationError from the transition itself.
    """
    if name not in _BY_NAME:
        raise ValueError(f"unknown transition {name!r}")
    accepted = {"note", *TRANSITION_FIELDS[name]}
    arguments = {key: fields.get(key, "") or "" for key in accepted}
    if name == "mitigate":
        return mitigate_incident(incident=incident, actor=actor, note=arguments["note"])
    return _BY_NAME[name](incident=incident, actor=actor, **arguments)
