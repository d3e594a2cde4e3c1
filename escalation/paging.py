"""Escalation: who gets paged, when, and the notifications that reach them.

A run snapshots its policy when it starts; its steps (every level, times the
repeats) are timers armed up front, so editing the policy does not move an
escalation that is already running, and acknowledging disarms them all.
"""

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation import delivery, webhooks
from escalation.models import (
    Channel,
    ContactMethod,
    DeliveryStatus,
    EscalationLevel,
    EscalationPolicy,
    EscalationRun,
    EscalationTrigger,
    Notification,
    NotificationKind,
    NotificationRule,
    OnCallSchedule,
    Team,
    Timer,
    TimerPurpose,
)
from escalation.oncall import oncall_user_at
from escalation.timers import arm_timers, disarm_timers, fire_timer, on_fire
from incidents.choices import EntryKind, Priority, Visibility
from incidents.lifecycle import lock_incident
from incidents.models import Incident
from incidents.system import system_user
from incidents.timeline import Actor, record_entry, save_audited

logger = logging.getLogger(__name__)
HIGH_PRIORITIES = (Priority.P1, Priority.P2)


def policy_for(incident: Incident) -> EscalationPolicy | None:
    """The first affected service's policy, else the default one."""
    levels = Prefetch(
        "levels", queryset=EscalationLevel.objects.prefetch_related("users", "oncall_teams", "manager_teams")
    )
    policies = EscalationPolicy.objects.prefetch_related(levels)
    chosen = (
        incident.services.exclude(escalation_policy=None).order_by("pk").values_list("escalation_policy", flat=True)
    )
    return policies.filter(pk__in=chosen[:1]).first() or policies.filter(is_default=True).first()


def _snapshot(policy: EscalationPolicy) -> dict[str, Any]:
    return {
        "policy": policy.name,
        "repeat": policy.repeat_count,
        "levels": [
            {
                "position": level.position,
                "escalate_after": int(level.escalate_after.total_seconds()),
                "users": sorted(user.pk for user in level.users.all()),
                "oncall_teams": sorted(team.pk for team in level.oncall_teams.all()),
                "manager_teams": sorted(team.pk for team in level.manager_teams.all()),
            }
            for level in policy.levels.all()
        ],
    }


def active_run(incident: Incident) -> EscalationRun | None:
    return EscalationRun.objects.filter(incident=incident, stopped_at__isnull=True).first()


def start_escalation(
    *, incident: Incident, trigger: str, detail: str = "", page_now: bool = False
) -> EscalationRun | None:
    """Start paging by the incident's policy, unless an escalation is already running.

    Every step is armed now: step k fires after the delays of the steps
    before it, and the first one at once — by its wake-up, or right here with
    `page_now` (for callers already in a worker, such as a firing SLA timer,
    so level 1 is paged in the same transaction instead of a queue later).
    """
    if incident.acknowledged_at is not None and trigger != EscalationTrigger.MANUAL:
        return None
    current = active_run(incident)
    if current is not None:
        return current
    policy = policy_for(incident)
    snapshot = _snapshot(policy) if policy is not None else None
    if policy is None or snapshot is None or not snapshot["levels"]:
        record_entry(
            incident=incident,
            kind=EntryKind.STATUS_UPDATE,
            actor=None,
            body=_("No escalation policy with levels applies to this incident; nobody was paged."),
            data={"escalation": "no_policy"},
        )
        return None
    now = timezone.now()
    run = EscalationRun.objects.create(
        incident=incident, trigger=trigger, trigger_detail=detail, policy=policy, snapshot=snapshot, started_at=now
    )
    due = now
    levels = snapshot["levels"]
    steps = []
    for step in range(len(levels) * (snapshot["repeat"] + 1)):
        steps.append((step, due))
        due += dt.timedelta(seconds=levels[step % len(levels)]["escalate_after"])
    timers = arm_timers(incident=incident, purpose=TimerPurpose.ESCALATION_STEP, clock=run.clock, steps=steps)
    first = timers[0] if timers else None
    record_entry(
        incident=incident,
        kind=EntryKind.STATUS_UPDATE,
        actor=None,
        body=_("Escalation started by policy “%(policy)s” (%(trigger)s).")
        % {"policy": policy.name, "trigger": EscalationTrigger(trigger).label},
        data={"escalation": run.pk, "event": "started", "trigger": trigger},
    )
    if page_now and first is not None:
        fire_timer(timer_id=first.pk)
    return run


def stop_escalation(*, incident: Incident, reason: str) -> None:
    """Stop paging: disarm the remaining steps and cancel pages not yet sent."""
    now = timezone.now()
    for run in EscalationRun.objects.filter(incident=incident, stopped_at__isnull=True):
        run.stopped_at = now
        run.stop_reason = reason
        run.save(update_fields=["stopped_at", "stop_reason"])
        disarm_timers(incident=incident, clock=run.clock)
    # Only escalation pages (they have a level); a responder paged into the team
    # is asked to join, and delivery drops that page once the incident is over.
    Notification.objects.filter(
        incident=incident,
        kind=NotificationKind.PAGE,
        status=DeliveryStatus.PENDING,
        sent_at__isnull=True,
        level__isnull=False,
    ).update(status=DeliveryStatus.CANCELLED, last_error=f"cancelled: {reason}")


def _level_targets(level: dict[str, Any], at: dt.datetime) -> list[User]:
    """The people a level names, resolving on-call schedules and managers now."""
    users = {user.pk: user for user in User.objects.filter(pk__in=level["users"], is_active=True)}
    if level["oncall_teams"]:
        schedules = OnCallSchedule.objects.filter(team_id__in=level["oncall_teams"]).prefetch_related(
            "layers__participants__user", "overrides__user"
        )
        for schedule in schedules:
            user = oncall_user_at(schedule=schedule, at=at)
            if user is not None and user.is_active:
                users.setdefault(user.pk, user)
    if level["manager_teams"]:
        for team in Team.objects.filter(pk__in=level["manager_teams"]).prefetch_related("managers"):
            for user in team.managers.all():
                if user.is_active:
                    users.setdefault(user.pk, user)
    return sorted(users.values(), key=lambda user: user.pk)


def page_users(
    *,
    incident: Incident,
    users: Iterable[User],
    key: str,
    level: int | None,
    run: EscalationRun | None = None,
    message: str = "",
) -> list[Notification]:
    """Page each person by their notification rules: a request to respond (see `notify_users`).

    `level` is None for a page outside an escalation level (a responder paged
    into the response team): acknowledging the incident does not cancel it,
    as it cancels an escalation's pages. `message`, if given, follows the
    standard text.
    """
    subject = f"[{incident.priority}] {incident.number} {incident.title}"[:250]
    body = _("%(number)s needs a responder: %(title)s (priority %(priority)s, %(state)s).") % {
        "number": incident.number,
        "title": incident.title,
        "priority": incident.priority,
        "state": incident.get_state_display(),
    }
    if message:
        body = f"{body}\n\n{message}"
    return notify_users(
        incident=incident,
        users=users,
        key=key,
        subject=subject,
        body=body,
        kind=NotificationKind.PAGE,
        level=level,
        run=run,
    )


def notify_users(
    *,
    incident: Incident,
    users: Iterable[User],
    key: str,
    subject: str,
    body: str,
    kind: str = NotificationKind.UPDATE,
    level: int | None = None,
    run: EscalationRun | None = None,
) -> list[Notification]:
    """Write a message to each person by their notification rules (email if they have none).

    Pages and updates (an incident ready to resolve, a recurrence, an overdue
    status update) both go this way. `key` names the decision; with the
    incident, the person and the contact method it makes each notification's
    idempotency key, so the same decision never reaches anyone twice.
    """
    now = timezone.now()
    high = incident.priority in HIGH_PRIORITIES
    created = []
    for user in users:
        rules = NotificationRule.objects.filter(user=user, contact_method__is_active=True).select_related(
            "contact_method"
        )
        plan: list[tuple[ContactMethod | None, dt.timedelta]] = [
            (rule.contact_method, rule.delay) for rule in rules if high or not rule.high_priority_only
        ]
        for contact_method, delay in plan or [(None, dt.timedelta(0))]:
            address = contact_method.address if contact_method else user.email
            if not address:
                continue
            method_key = contact_method.pk if contact_method else "email"
            notification, made = Notification.objects.get_or_create(
                idempotency_key=f"inc{incident.pk}:{key}:u{user.pk}:c{method_key}",
                defaults={
                    "incident": incident,
                    "user": user,
                    "contact_method": contact_method,
                    "channel": contact_method.channel if contact_method else Channel.EMAIL,
                    "address": address,
                    "kind": kind,
                    "escalation_run": run,
                    "level": level,
                    "subject": subject[:250],
                    "body": body,
                    "next_attempt_at": now + delay,
                },
            )
            if made:
                delivery.enqueue_delivery(notification=notification)
                created.append(notification)
    return created


def _record_pages(incident: Incident, users: list[User], level: int, detail: str, data: dict[str, Any]) -> None:
    names = ", ".join(user.get_full_name() or user.get_username() for user in users) or _("nobody (no one to reach)")
    record_entry(
        incident=incident,
        kind=EntryKind.STATUS_UPDATE,
        actor=None,
        body=_("Paged %(names)s (level %(level)d%(detail)s).") % {"names": names, "level": level, "detail": detail},
        data={**data, "paged": [user.get_username() for user in users], "level": level},
    )


@on_fire(TimerPurpose.ESCALATION_STEP)
def fire_escalation_step(timer: Timer) -> None:
    """Page one step of a running escalation; the run ends once none of its steps is left to fire.

    Not when the last step fires: after the workers were away every step of a
    run may be overdue at once, and the wake-ups take them in any order.
    """
    run = EscalationRun.objects.select_for_update().get(pk=int(timer.clock.split(":", 1)[1]))
    if run.stopped_at is not None:
        return
    levels = run.snapshot["levels"]
    level = levels[timer.level % len(levels)]
    round_number = timer.level // len(levels)
    users = _level_targets(level, timezone.now())
    page_users(
        incident=timer.incident, users=users, key=f"run{run.pk}:step{timer.level}", level=level["position"], run=run
    )
    detail = _(", repeat %(n)d") % {"n": round_number} if round_number else ""
    _record_pages(timer.incident, users, level["position"], detail, {"escalation": run.pk, "step": timer.level})
    webhooks.incident_escalated(
        incident=timer.incident, actor=None, trigger=run.trigger, level=level["position"], targets=users
    )
    # This step was marked fired in this transaction, under the incident's lock (timers.fire_timer).
    if not Timer.objects.filter(
        incident=timer.incident,
        purpose=TimerPurpose.ESCALATION_STEP,
        clock=run.clock,
        fired_at__isnull=True,
        cancelled_at__isnull=True,
    ).exists():
        run.stopped_at = timezone.now()
        run.stop_reason = "all levels paged"
        run.save(update_fields=["stopped_at", "stop_reason"])


def _tier_levels(incident: Incident) -> list[dict[str, Any]]:
    policy = policy_for(incident)
    return _snapshot(policy)["levels"] if policy is not None else []


def _page_tier(
    *, incident: Incident, levels: list[dict[str, Any]], key: str, trigger: str, actor: Actor | None
) -> list[User]:
    level = levels[incident.support_tier - 1]
    users = _level_targets(level, timezone.now())
    page_users(incident=incident, users=users, key=key, level=level["position"])
    _record_pages(incident, users, level["position"], "", {"escalation": key, "tier": incident.support_tier})
    webhooks.incident_escalated(incident=incident, actor=actor, trigger=trigger, level=level["position"], targets=users)
    return users


def escalate_incident(*, incident: Incident, actor: Actor, note: str = "") -> Incident:
    """Forward the incident to the next support tier by hand, and page that tier now."""
    if not actor.has_perm("incidents.escalate_incident"):
        raise PermissionDenied(_("You may not escalate incidents."))
    with transaction.atomic():
        incident = lock_incident(incident)
        if not incident.is_open:
            raise ValidationError({"non_field_errors": [_("Only open incidents can be escalated.")]})
        levels = _tier_levels(incident)
        if incident.support_tier >= len(levels):
            raise ValidationError({"non_field_errors": [_("This incident is already at the highest support tier.")]})
        incident.support_tier += 1
        save_audited(incident, actor=actor, reason=f"escalated to tier {incident.support_tier}")
        record_entry(
            incident=incident,
            kind=EntryKind.STATUS_UPDATE,
            actor=actor,
            body=_("Escalated to support tier %(tier)d%(note)s")
            % {"tier": incident.support_tier, "note": f": {note.strip()}" if note.strip() else "."},
            visibility=Visibility.PUBLIC,
            data={"escalation": "manual", "tier": incident.support_tier},
        )
        _page_tier(
            incident=incident,
            levels=levels,
            key=f"tier{incident.support_tier}",
            trigger=EscalationTrigger.MANUAL,
            actor=actor,
        )
    return incident


def page_next_tier(*, incident: Incident, reason: str, trigger: str) -> None:
    """A resolve clock at risk: page the next support tier (the top one stays the top one).

    Runs inside the timer's firing, which happens once; `reason` keys the pages,
    `trigger` (an EscalationTrigger) says what put the clock at risk.
    """
    incident = lock_incident(incident)
    levels = _tier_levels(incident)
    if not levels or not incident.is_open:
        return
    if incident.support_tier < len(levels):
        incident.support_tier += 1
        save_audited(incident, actor=system_user(), reason=f"{reason}: escalated to tier {incident.support_tier}")
    _page_tier(
        incident=incident, levels=levels, key=f"{reason}:tier{incident.support_tier}", trigger=trigger, actor=None
    )
