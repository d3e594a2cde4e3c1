"""The post-mortem use cases: writing it and moving it draft → in review → published.

Who may do what (DESIGN's role table, extended to post-mortems):
- reporters read published post-mortems;
- agents write them (create, edit, and their timeline: `incidents.postmortem_timeline`)
  and move them between draft and in review: they submit them and take them back;
- incident managers also publish them — the review is theirs, as closing the
  incident is, and a P1/P2 closes once its post-mortem is published — and may
  reopen a published one to draft, with a reason.

A published post-mortem is final: nothing in it changes until it is reopened
(its action items, in `incidents.action_items`, go on changing).

Every write locks the incident first and then the post-mortem, the order the
`close` transition takes, so closing and publishing are serialised and the
close guard always sees the latest status.
"""

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.choices import EntryKind, PostMortemStatus, Visibility
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.lifecycle import MAX_TEXT_LENGTH, lock_incident
from incidents.models import Incident, PostMortem
from incidents.postmortem_generation import sync_generated_moments
from incidents.services import CLOCK_SKEW, _check_responder, _text
from incidents.timeline import Actor, record_entry, save_audited

logger = logging.getLogger(__name__)
ADD_PERMISSION = "incidents.add_postmortem"
WRITE_PERMISSION = "incidents.change_postmortem"
TEXT_LIMIT = MAX_TEXT_LENGTH * 5
TEXT_FIELDS = ("summary", "root_cause", "contributing_factors", "what_went_well", "what_went_badly", "lessons")
# The fields `write_postmortem` changes; the status moves only by the transitions below.
EDITABLE_FIELDS = (
    *TEXT_FIELDS,
    "downtime_started_at",
    "downtime_ended_at",
    "affected_users",
    "affected_services",
    "author",
)
TRANSITIONS = ("submit", "return_to_draft", "publish", "reopen")


def _require(actor: Actor, permission: str, message: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(message)


def _user(actor: Actor) -> User | None:
    return actor if isinstance(actor, User) else None


def allowed_postmortem_transitions(*, postmortem: PostMortem, user: Actor) -> list[str]:
    """The transitions `user` may run on `postmortem` now, in the order of the states."""
    available = {t.name for t in postmortem.get_available_user_status_transitions(user)}  # type: ignore[attr-defined]
    return [name for name in TRANSITIONS if name in available]


def possible_postmortem_transitions(*, postmortem: PostMortem, user: Actor) -> list[str]:
    """The transitions the status and `user`'s rights permit, whether or not their conditions hold yet.

    For forms that offer a transition and let the domain explain a refusal.
    """
    names = []
    for name in TRANSITIONS:
        fsm_transition = getattr(PostMortem, name)._django_fsm.get_transition(postmortem.status)
        if fsm_transition is not None and user.has_perm(fsm_transition.permission):
            names.append(name)
    return names


def lock_postmortem(postmortem: PostMortem) -> PostMortem:
    """Lock the incident, then reload the post-mortem under a row lock; call inside `transaction.atomic()`."""
    incident = lock_incident(postmortem.incident)
    locked = PostMortem.objects.select_for_update().get(pk=postmortem.pk)
    locked.incident = incident
    return locked


def _refuse_if_published(postmortem: PostMortem, actor: Actor) -> None:
    if postmortem.status == PostMortemStatus.PUBLISHED:
        raise TransitionNotAllowed(
            _("The post-mortem is published; an incident manager reopens it before it can change."),
            state=postmortem.status,
            allowed=allowed_postmortem_transitions(postmortem=postmortem, user=actor),
        )


def lock_for_edit(postmortem: PostMortem, actor: Actor) -> PostMortem:
    """Check the right to write, lock, and refuse a published post-mortem (HTTP 409)."""
    _require(actor, WRITE_PERMISSION, _("You may not write post-mortems."))
    locked = lock_postmortem(postmortem)
    _refuse_if_published(locked, actor)
    return locked


# --- The document ------------------------------------------------------------


def _check_window(start: dt.datetime | None, end: dt.datetime | None) -> None:
    now = timezone.now()
    errors: dict[str, list[str]] = {}
    if start is not None and start > now + CLOCK_SKEW:
        errors["downtime_started_at"] = [_("The downtime cannot start in the future.")]
    if end is not None and end > now + CLOCK_SKEW:
        errors["downtime_ended_at"] = [_("The downtime cannot end in the future.")]
    if start is not None and end is not None and end < start:
        errors["downtime_ended_at"] = [_("The downtime cannot end before it started.")]
    if errors:
        raise ValidationError(errors)


def _clean_changes(changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({field: [_("This field cannot be changed here.")] for field in sorted(unknown)})
    cleaned = dict(changes)
    errors: dict[str, list[str]] = {}
    for field in TEXT_FIELDS:
        if field in cleaned:
            try:
                cleaned[field] = _text(cleaned[field], field, limit=TEXT_LIMIT)
            except ValidationError as error:
                errors.update(error.message_dict)
    users = cleaned.get("affected_users")
    if users is not None and (not isinstance(users, int) or users < 0):
        errors["affected_users"] = [_("Give a whole number of users, 0 or more.")]
    if "author" in cleaned:
        if cleaned["author"] is None:
            errors["author"] = [_("A post-mortem has an author.")]
        else:
            try:
                _check_responder(cleaned["author"], "author")
            except ValidationError as error:
                errors.update(error.message_dict)
    if "affected_services" in cleaned:
        cleaned["affected_services"] = list(cleaned["affected_services"])
    if errors:
        raise ValidationError(errors)
    return cleaned


def _start(incident: Incident, actor: Actor) -> PostMortem:
    """A new post-mortem with what the incident already knows, and its generated timeline."""
    postmortem = PostMortem(
        incident=incident,
        author=_user(actor),
        downtime_started_at=incident.started_at,
        downtime_ended_at=incident.mitigated_at or incident.resolved_at,
        affected_users=incident.affected_users,
        root_cause=incident.root_cause,
    )
    save_audited(postmortem, actor=actor, reason="started")
    services = list(incident.services.all())
    if services:
        postmortem.affected_services.set(services)
    sync_generated_moments(postmortem=postmortem, actor=actor)
    return postmortem


def write_postmortem(*, incident: Incident, actor: Actor, changes: dict[str, Any] | None = None) -> PostMortem:
    """Create the incident's post-mortem on its first write, and change its fields.

    1. Check the right to write (and to create, the first time) and validate the changes.
    2. Lock the incident, then the post-mortem; refuse a published one (409).
    3. The first write starts it with the incident's impact window (start to
       mitigation, or resolution), affected users and services, root cause,
       the writer as author, and the generated timeline; then the changes apply.
    4. Save with the actor in the history; nothing is written if any check fails.
    """
    _require(actor, WRITE_PERMISSION, _("You may not write post-mortems."))
    cleaned = _clean_changes(changes or {})
    with transaction.atomic():
        incident = lock_incident(incident)
        postmortem = PostMortem.objects.select_for_update().filter(incident=incident).first()
        if postmortem is None:
            _require(actor, ADD_PERMISSION, _("You may not write post-mortems."))
            postmortem = _start(incident, actor)
        else:
            postmortem.incident = incident
            _refuse_if_published(postmortem, actor)
        services = cleaned.pop("affected_services", None)
        changed = [field for field, value in cleaned.items() if getattr(postmortem, field) != value]
        for field in changed:
            setattr(postmortem, field, cleaned[field])
        _check_window(postmortem.downtime_started_at, postmortem.downtime_ended_at)
        if changed:
            save_audited(postmortem, actor=actor, reason="edited: " + ", ".join(changed)[:90])
        if services is not None:
            current = set(postmortem.affected_services.values_list("pk", flat=True))
            if current != {service.pk for service in services}:
                # The many-to-many change writes its own history row, naming the same actor.
                postmortem._history_user = _user(actor)
                postmortem._change_reason = "edited: affected_services"
                postmortem.affected_services.set(services)
    return postmortem


# --- States --------------------------------------------------------------------


def _announce(name: str, note: str) -> str:
    said = {
        "submit": _("Post-mortem submitted for review."),
        "return_to_draft": _("Post-mortem returned to draft."),
        "publish": _("Post-mortem published."),
        "reopen": _("Post-mortem reopened to draft."),
    }[name]
    return f"{said} {note}" if note else said


def _move(*, postmortem: PostMortem, name: str, actor: Actor, note: str = "", reason: str = "") -> PostMortem:
    """Run the post-mortem transition `name`.

    1. Refuse an actor without the transition's permission (PermissionDenied).
    2. Refuse a missing reason (reopen) or an oversized note (ValidationError).
    3. Lock the incident and the post-mortem; refuse if the status is no longer
       the one the actor saw (IncidentConflict), or if it does not allow the
       transition or its condition fails (TransitionNotAllowed); both 409.
    4. Move the status, save with the actor in the history and write the
       incident's timeline entry, all in one transaction.
    """
    method: Callable[..., None] = getattr(PostMortem, name)
    fsm_meta = method._django_fsm  # type: ignore[attr-defined]
    permission = next(iter(fsm_meta.transitions.values())).permission
    if not actor.has_perm(permission):
        raise PermissionDenied(_("You may not %(transition)s post-mortems.") % {"transition": name.replace("_", " ")})
    note = _text(note, "note")
    if name == "reopen":
        note = _text(reason, "reason", required=True)

    with transaction.atomic():
        seen = postmortem.status
        postmortem = lock_postmortem(postmortem)
        current = postmortem.status
        allowed = allowed_postmortem_transitions(postmortem=postmortem, user=actor)
        if current != seen:
            raise IncidentConflict(
                _("Someone else changed this post-mortem first (it is now %(state)s); reload it and try again.")
                % {"state": postmortem.get_status_display()},
                state=current,
                allowed=allowed,
            )
        fsm_transition = fsm_meta.get_transition(current)
        if fsm_transition is None:
            raise TransitionNotAllowed(
                _("'%(transition)s' is not allowed while the post-mortem is %(state)s.")
                % {"transition": name, "state": postmortem.get_status_display()},
                state=current,
                allowed=allowed,
            )
        unmet = [c for c in fsm_transition.conditions if not c(postmortem)]
        if unmet:
            hints = "; ".join(str(getattr(c, "hint", c.__name__)) for c in unmet)
            raise TransitionNotAllowed(
                _("Cannot %(transition)s the post-mortem yet: %(hints)s.")
                % {"transition": name.replace("_", " "), "hints": hints},
                state=current,
                allowed=allowed,
            )
        getattr(postmortem, name)(by=_user(actor))
        save_audited(postmortem, actor=actor, reason=f"{name}: {current} → {postmortem.status}")
        public = name in ("publish", "reopen")
        record_entry(
            incident=postmortem.incident,
            kind=EntryKind.POSTMORTEM,
            actor=actor,
            body=_announce(name, note),
            visibility=Visibility.PUBLIC if public else Visibility.INTERNAL,
            data={"postmortem": postmortem.pk, "transition": name, "from": current, "to": postmortem.status},
        )
    number = postmortem.incident.number
    logger.info(
        "post-mortem of %s: %s → %s",
        number,
        current,
        postmortem.status,
        extra={"incident": number, "transition": name, "actor": actor.get_username()},
    )
    return postmortem


def submit_postmortem(*, postmortem: PostMortem, actor: Actor, note: str = "") -> PostMortem:
    """Draft → in review: the author asks for the review (needs a summary and a root cause)."""
    return _move(postmortem=postmortem, name="submit", actor=actor, note=note)


def return_postmortem_to_draft(*, postmortem: PostMortem, actor: Actor, note: str = "") -> PostMortem:
    """In review → draft: the author takes it back, or the reviewer sends it back with a note."""
    return _move(postmortem=postmortem, name="return_to_draft", actor=actor, note=note)


def publish_postmortem(*, postmortem: PostMortem, actor: Actor, note: str = "") -> PostMortem:
    """In review → published (incident managers): final, searchable, and it lets a P1/P2 close."""
    return _move(postmortem=postmortem, name="publish", actor=actor, note=note)


def reopen_postmortem(*, postmortem: PostMortem, actor: Actor, reason: str) -> PostMortem:
    """Published → draft (incident managers), with the reason on the incident's timeline."""
    return _move(postmortem=postmortem, name="reopen", actor=actor, reason=reason)


TRANSITION_FUNCTIONS: dict[str, Callable[..., PostMortem]] = {
    "submit": submit_postmortem,
    "return_to_draft": return_postmortem_to_draft,
    "publish": publish_postmortem,
    "reopen": reopen_postmortem,
}


def transition_postmortem(*, postmortem: PostMortem, name: str, actor: Actor, note: str = "") -> PostMortem:
    """Run the transition called `name`; for doors that take its name as data (the API, the admin).

    `note` is the reason for a reopen.
    """
    if name == "reopen":
        return reopen_postmortem(postmortem=postmortem, actor=actor, reason=note)
    return TRANSITION_FUNCTIONS[name](postmortem=postmortem, actor=actor, note=note)
