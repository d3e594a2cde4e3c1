"""Status updates: posting them, their cadence by priority, the overdue reminder, and who subscribes.

Posting (`post_status_update`), for agents and above:
1. Refused on a closed or cancelled incident (409); an update has no one
   left to tell there.
2. The update, its timeline entry (a status update, public when it is
   stakeholder-facing), the history row naming its author and the
   `note.added` webhook event commit together.
3. The cadence starts again from it.
4. A stakeholder-facing update is written to every active subscriber of the
   incident's services as a delivery row, sent after commit
   (`incidents.update_delivery`); internal updates never leave the product.

The cadence (`UpdateCadence`): while the incident is open — new,
acknowledged, investigating, on hold and also mitigated, because during the
monitoring period stakeholders are still waiting to hear "resolved" — the
next update is due its priority's `SlaPolicy.update_every` after the last
update (internal or stakeholder-facing), or after the report when there is
none yet. The reminder is a timer of purpose `UPDATE_REMINDER` on the clock
"updates" whose level is the number of updates posted: it fires at most once
per overdue period, and the next update arms the next level. A priority
change re-targets it, resolving, closing or cancelling stops it, and a
reopen resumes it (a period already reminded about is not reminded again).
"""

import logging
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.models import Timer, TimerPurpose
from escalation.paging import notify_users
from escalation.sla import policy_for
from escalation.timers import arm_timer, disarm_timers, on_fire
from incidents import effects, update_delivery
from incidents.choices import EntryKind, State, SubscriptionChannel, UpdateAudience, Visibility
from incidents.exceptions import IncidentConflict
from incidents.lifecycle import MAX_TEXT_LENGTH, lock_incident
from incidents.models import Incident, Service, StatusUpdate, UpdateCadence, UpdateSubscription
from incidents.monitoring import human_duration, names, utc_text
from incidents.timeline import Actor, record_entry, save_audited

logger = logging.getLogger(__name__)

POST_PERMISSION = "incidents.add_statusupdate"
READ_INTERNAL_PERMISSION = "incidents.add_internal_note"
SUBSCRIBE_PERMISSION = "incidents.subscribe_to_updates"
UPDATES_CLOCK = "updates"
CLOSED_STATES = (State.CLOSED, State.CANCELLED)


def _require(actor: Actor, permission: str, message: str) -> None:
    if not actor.has_perm(permission):
        raise PermissionDenied(message)


# --- Posting ----------------------------------------------------------------------


def post_status_update(*, incident: Incident, actor: Actor, body: str, audience: str) -> StatusUpdate:
    """Post a status update on the incident (see the module's docstring for what follows)."""
    _require(actor, POST_PERMISSION, _("You may not post status updates."))
    if audience not in UpdateAudience.values:
        raise ValidationError({"audience": [_("%(value)r is not a valid choice.") % {"value": audience}]})
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": [_("This field is required.")]})
    if len(body) > MAX_TEXT_LENGTH:
        raise ValidationError({"body": [_("Keep this under %(limit)d characters.") % {"limit": MAX_TEXT_LENGTH}]})

    with transaction.atomic():
        incident = lock_incident(incident)
        if incident.state in CLOSED_STATES:
            raise IncidentConflict(
                _("%(number)s is %(state)s: it takes no more status updates.")
                % {"number": incident.number, "state": incident.get_state_display().lower()},
                state=incident.state,
                allowed=[],
            )
        stakeholders = audience == UpdateAudience.STAKEHOLDERS
        update = StatusUpdate(
            incident=incident,
            audience=audience,
            body=body,
            state=incident.state,
            priority=incident.priority,
            author=actor if isinstance(actor, User) else None,
            created_at=timezone.now(),
        )
        save_audited(update, actor=actor, reason=f"{audience} status update")
        entry = record_entry(
            incident=incident,
            kind=EntryKind.STATUS_UPDATE,
            actor=actor,
            body=body,
            visibility=Visibility.PUBLIC if stakeholders else Visibility.INTERNAL,
            data={"status_update": update.pk, "audience": audience},
        )
        # The link is bookkeeping, not a change of the update: no history row for it.
        StatusUpdate.objects.filter(pk=update.pk).update(timeline_entry=entry)
        update.timeline_entry = entry
        effects.note_added(entry=entry, actor=actor)
        _reschedule(incident, posted_at=update.created_at)
        deliveries = update_delivery.fan_out(update=update) if stakeholders else []
    logger.info(
        "incident %s: %s status update %s (%d deliveries)",
        incident.number,
        audience,
        update.pk,
        len(deliveries),
        extra={"incident": incident.number, "status_update": update.pk},
    )
    return update


def updates_for(*, incident: Incident, viewer: Actor) -> QuerySet[StatusUpdate]:
    """The incident's status updates, oldest first; internal ones only for responders."""
    updates = incident.status_updates.select_related("author").order_by("created_at", "id")
    if not viewer.has_perm(READ_INTERNAL_PERMISSION):
        updates = updates.filter(audience=UpdateAudience.STAKEHOLDERS)
    return updates


# --- The cadence -----------------------------------------------------------------------


def _cadence_for(priority: str) -> Any:
    policy = policy_for(priority)
    return policy.update_every if policy is not None else None


def _reschedule(incident: Incident, *, posted_at: Any = None, new: bool = False) -> UpdateCadence | None:
    """Set, move or stop the reminder for the incident's next update; `posted_at`: an update was just posted;
    `new`: the incident was just reported, so it has neither a reminder nor a cadence yet.

    Callers hold the incident's lock. The pending reminder is cancelled before
    the cadence row is locked, the order a firing reminder takes them in.
    """
    if not new:
        disarm_timers(incident=incident, clock=UPDATES_CLOCK, purposes=(TimerPurpose.UPDATE_REMINDER,))
    every = _cadence_for(incident.priority) if incident.is_open else None
    cadence = None if new else UpdateCadence.objects.select_for_update().filter(incident=incident).first()
    if cadence is None:
        if every is None and posted_at is None:
            return None
        cadence = UpdateCadence(incident=incident)
    if posted_at is not None:
        cadence.updates_posted += 1
        cadence.last_update_at = posted_at
    cadence.every = every
    cadence.due_at = (cadence.last_update_at or incident.created_at) + every if every else None
    cadence.save()
    if cadence.due_at is not None:
        # None when this round's reminder has fired already: one reminder per overdue period.
        arm_timer(
            incident=incident,
            purpose=TimerPurpose.UPDATE_REMINDER,
            clock=UPDATES_CLOCK,
            level=cadence.updates_posted,
            due_at=cadence.due_at,
        )
    return cadence


def incident_reported(*, incident: Incident) -> None:
    _reschedule(incident, new=True)


def incident_transitioned(*, incident: Incident, transition: str) -> None:
    # Resolving, closing and cancelling stop the cadence; reopening resumes it.
    if transition in ("resolve", "close", "cancel", "reopen"):
        _reschedule(incident)


def priority_changed(*, incident: Incident) -> None:
    _reschedule(incident)


def next_update_due_at(incident: Incident) -> Any:
    """When the incident's next status update is due (past: overdue); None when none is due."""
    cadence: UpdateCadence | None = getattr(incident, "update_cadence", None)
    return cadence.due_at if cadence is not None else None


@on_fire(TimerPurpose.UPDATE_REMINDER)
def fire_update_reminder(timer: Timer) -> None:
    """No update came in time: remind the commander (else the assignee) once, and say so on the timeline."""
    cadence = UpdateCadence.objects.select_for_update().filter(incident_id=timer.incident_id).first()
    if cadence is None or cadence.updates_posted != timer.level or cadence.due_at is None:
        return
    incident = Incident.objects.select_related("assignee", "commander").get(pk=timer.incident_id)
    if not incident.is_open:
        return
    cadence.reminded_at = timezone.now()
    cadence.save(update_fields=["reminded_at"])
    person = next((p for p in (incident.commander, incident.assignee) if p is not None and p.is_active), None)
    told = [person] if person is not None else []
    every = human_duration(cadence.every) if cadence.every else ""
    notify_users(
        incident=incident,
        users=told,
        key=f"update-reminder{timer.level}",
        subject=_("[%(priority)s] %(number)s: a status update is due: %(title)s")
        % {"priority": incident.priority, "number": incident.number, "title": incident.title},
        body=_(
            "No status update on %(number)s since %(since)s; %(priority)s incidents get one every %(every)s. "
            "Post one for the stakeholders."
        )
        % {
            "number": incident.number,
            "since": utc_text(cadence.last_update_at or incident.created_at),
            "priority": incident.priority,
            "every": every,
        },
    )
    body = _("A status update is overdue (due %(due)s; every %(every)s for %(priority)s).") % {
        "due": utc_text(cadence.due_at),
        "every": every,
        "priority": incident.priority,
    }
    body += " " + (
        _("Reminded %(names)s.") % {"names": names(told)} if told else _("Nobody to remind: no commander or assignee.")
    )
    record_entry(
        incident=incident,
        kind=EntryKind.UPDATE_REMINDER,
        actor=None,
        body=body,
        visibility=Visibility.INTERNAL,
        data={"round": timer.level, "due_at": cadence.due_at.isoformat(), "reminded": [u.get_username() for u in told]},
    )


# --- Subscriptions ---------------------------------------------------------------------


def _check_recipient(*, service: Service, user: Any, email: str, url: str) -> str:
    """Validate a new subscription's one recipient; its channel."""
    given = [name for name, value in (("user", user), ("email", email), ("url", url)) if value]
    if len(given) != 1:
        raise ValidationError({"non_field_errors": [_("Give exactly one of a user, an email address or a URL.")]})
    if not service.is_active:
        raise ValidationError({"service": [_("%(service)s is not in use any more.") % {"service": service}]})
    if user is not None:
        if not user.is_active:
            raise ValidationError({"user": [_("%(user)s is not an active user.") % {"user": user}]})
        if not user.email:
            raise ValidationError({"user": [_("%(user)s has no email address to send updates to.") % {"user": user}]})
        taken = UpdateSubscription.objects.filter(service=service, user=user)
    elif email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError({"email": [_("Enter a valid email address.")]}) from None
        taken = UpdateSubscription.objects.filter(service=service, email__iexact=email)
    else:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise ValidationError({"url": [_("Give the receiver's http(s) URL.")]}) from None
        taken = UpdateSubscription.objects.filter(service=service, url=url)
    if taken.exists():
        raise ValidationError(
            {"service": [_("This subscriber already has updates of %(service)s.") % {"service": service}]}
        )
    return SubscriptionChannel.WEBHOOK if url else SubscriptionChannel.EMAIL


def subscribe(
    *, actor: Actor, service: Service, user: Any = None, email: str = "", url: str = ""
) -> UpdateSubscription:
    """Have a user (by their email), an email address or a webhook receive the service's stakeholder updates.

    Reporters and above subscribe themselves; someone else, an address or a
    webhook takes the right to manage subscriptions (incident managers). A
    webhook's signing secret is on the returned row: show it once.
    """
    email, url = (email or "").strip(), (url or "").strip()
    themselves = user is not None and not email and not url and getattr(actor, "pk", None) == user.pk
    if themselves:
        _require(actor, SUBSCRIBE_PERMISSION, _("You may not subscribe to updates."))
    else:
        _require(actor, "incidents.add_updatesubscription", _("You may not subscribe others to updates."))
    channel = _check_recipient(service=service, user=user, email=email, url=url)
    with transaction.atomic():
        subscription = UpdateSubscription(
            service=service,
            channel=channel,
            user=user,
            email=email,
            url=url,
            created_by=actor if isinstance(actor, User) else None,
        )
        save_audited(subscription, actor=actor, reason="subscribed")
    logger.info("update subscription %s to %s made", subscription.pk, service.slug)
    return subscription


def _may_change(actor: Actor, subscription: UpdateSubscription, permission: str) -> None:
    own = subscription.user_id is not None and subscription.user_id == getattr(actor, "pk", None)
    if not own:
        _require(actor, permission, _("You may not change others' subscriptions."))


def set_subscription_active(*, actor: Actor, subscription: UpdateSubscription, active: bool) -> UpdateSubscription:
    """Pause or resume a subscription; its owner, or whoever manages subscriptions."""
    _may_change(actor, subscription, "incidents.change_updatesubscription")
    with transaction.atomic():
        subscription = UpdateSubscription.objects.select_for_update().get(pk=subscription.pk)
        if subscription.is_active != active:
            subscription.is_active = active
            save_audited(subscription, actor=actor, reason="resumed" if active else "paused")
    return subscription


def unsubscribe(*, actor: Actor, subscription: UpdateSubscription) -> None:
    """End a subscription; its owner, or whoever manages subscriptions. Its undelivered updates go with it."""
    _may_change(actor, subscription, "incidents.delete_updatesubscription")
    with transaction.atomic():
        subscription._history_user = actor if isinstance(actor, User) else None  # type: ignore[attr-defined]
        subscription._change_reason = "unsubscribed"  # type: ignore[attr-defined]
        subscription.delete()


def subscriptions_of(user: Actor) -> QuerySet[UpdateSubscription]:
    """The user's own subscriptions (none for an anonymous user)."""
    if not isinstance(user, User):
        return UpdateSubscription.objects.none()
    return UpdateSubscription.objects.filter(user=user).select_related("service", "user")
