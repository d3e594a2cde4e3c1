"""Verification after mitigation: the monitoring period, "ready to resolve", and recurrences.

1. Mitigating starts a monitoring period as long as the priority's SLA policy
   says (`SlaPolicy.monitoring_period`, read when it starts): a
   `MonitoringPeriod` row and its deadline, a timer of purpose
   `MONITORING_END` on the clock "monitoring:<period id>" kept by
   `escalation.timers`, so it fires once, by the ETA wake-up or the sweeper,
   and a second mitigation after a reopen gets a deadline of its own.
2. When the deadline fires with the incident still mitigated, the incident is
   ready to resolve: the period is marked (its `ended_at` is the stamp), the
   timeline says so, and the assignee and commander are told through the
   paging machinery.
3. A recurrence — `report_recurrence`, or any `reopen` (by hand, through the
   API, or by an alert that fires again) — reopens the incident with the
   lifecycle's `reopen`, ends the running period, and tells every responder
   (`incidents.responders`) once. The reopen's timeline entry, with its
   reason, is the recurrence's record; a transition writes one entry only.
4. Resolving, closing or cancelling stops a running period.

The lifecycle calls `incident_transitioned` (through `incidents.effects`)
inside the transition's transaction, so all of this commits with it.
"""

import datetime as dt
import logging

from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.models import Timer, TimerPurpose
from escalation.paging import notify_users
from escalation.sla import policy_for
from escalation.timers import arm_timer, disarm_timers, on_fire
from incidents.choices import EntryKind, MonitoringOutcome, State, Visibility
from incidents.lifecycle import reopen_incident
from incidents.models import Incident, MonitoringPeriod, TimelineEntry
from incidents.responders import responders
from incidents.system import system_user
from incidents.timeline import Actor, record_entry, save_audited

logger = logging.getLogger(__name__)

# Used only for a priority that has no SLA policy (the defaults give every one a period).
FALLBACK_MONITORING_PERIOD = dt.timedelta(minutes=30)


def human_duration(duration: dt.timedelta) -> str:
    """A duration as people say it: "30 min", "4 h", "1 h 30 min"."""
    minutes = int(duration.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    parts = [_("%(hours)d h") % {"hours": hours}] if hours else []
    if minutes or not hours:
        parts.append(_("%(minutes)d min") % {"minutes": minutes})
    return " ".join(parts)


def utc_text(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def names(users: list[User]) -> str:
    return ", ".join(user.get_full_name() or user.get_username() for user in users)


# --- The lifecycle's hook -----------------------------------------------------


def incident_transitioned(*, incident: Incident, actor: Actor, transition: str, previous_state: str) -> None:
    if transition == "mitigate":
        start_monitoring(incident=incident, actor=actor)
    elif transition == "reopen":
        _end_running(incident=incident, actor=actor, outcome=MonitoringOutcome.RECURRED)
        _notify_recurrence(incident=incident, previous_state=previous_state)
    elif transition in ("resolve", "close", "cancel"):
        _end_running(incident=incident, actor=actor, outcome=MonitoringOutcome.STOPPED)


def start_monitoring(*, incident: Incident, actor: Actor) -> MonitoringPeriod:
    """Start watching a mitigated incident for its priority's monitoring period."""
    policy = policy_for(incident.priority)
    length = policy.monitoring_period if policy is not None else None
    if length is None:
        length = FALLBACK_MONITORING_PERIOD
    started_at = incident.mitigated_at or timezone.now()
    period = MonitoringPeriod(
        incident=incident,
        length=length,
        started_at=started_at,
        ends_at=started_at + length,
        started_by=actor if isinstance(actor, User) else None,
    )
    save_audited(period, actor=actor, reason="monitoring started")
    arm_timer(incident=incident, purpose=TimerPurpose.MONITORING_END, clock=period.timer_clock, due_at=period.ends_at)
    # The mitigation's own timeline entry tells the story; the period shows on the incident.
    logger.info(
        "incident %s: monitoring until %s",
        incident.number,
        period.ends_at.isoformat(),
        extra={"incident": incident.number, "monitoring": period.pk},
    )
    return period


def _end_running(*, incident: Incident, actor: Actor, outcome: str) -> MonitoringPeriod | None:
    """End the incident's running period, if any, and cancel its deadline.

    The deadline is cancelled before the period is locked: a firing takes the
    timer first and the period second, and taking them in the same order
    keeps the two from waiting on each other.
    """
    running = MonitoringPeriod.objects.filter(incident=incident, outcome=MonitoringOutcome.RUNNING).first()
    if running is None:
        return None
    disarm_timers(incident=incident, clock=running.timer_clock, purposes=(TimerPurpose.MONITORING_END,))
    period = (
        MonitoringPeriod.objects.select_for_update().filter(pk=running.pk, outcome=MonitoringOutcome.RUNNING).first()
    )
    if period is None:
        return None  # it ended (ready to resolve) just before
    period.outcome = outcome
    period.ended_at = timezone.now()
    save_audited(period, actor=actor, reason=f"monitoring {outcome}")
    return period


# --- The end of a monitoring period ------------------------------------------------


@on_fire(TimerPurpose.MONITORING_END)
def fire_monitoring_end(timer: Timer) -> None:
    """The period passed without a recurrence: mark the incident ready to resolve and tell its people."""
    period_id = int(timer.clock.split(":", 1)[1])
    period = (
        MonitoringPeriod.objects.select_for_update().filter(pk=period_id, outcome=MonitoringOutcome.RUNNING).first()
    )
    if period is None:
        return
    incident = Incident.objects.select_related("assignee", "commander").get(pk=timer.incident_id)
    if incident.state != State.MITIGATED:
        # A transition away from mitigated ends the period in its own
        # transaction; a period still running here is one it missed.
        period.outcome = MonitoringOutcome.STOPPED
        period.ended_at = timer.due_at
        save_audited(period, actor=system_user(), reason="monitoring stopped: no longer mitigated")
        return
    period.outcome = MonitoringOutcome.READY
    period.ended_at = timer.due_at
    save_audited(period, actor=system_user(), reason="monitoring ended without recurrence")

    people: dict[int, User] = {}
    for person in (incident.assignee, incident.commander):
        if person is not None and person.is_active:
            people.setdefault(person.pk, person)
    told = list(people.values())
    notify_users(
        incident=incident,
        users=told,
        key=f"monitoring{period.pk}:ready",
        subject=_("[%(priority)s] %(number)s is ready to resolve: %(title)s")
        % {"priority": incident.priority, "number": incident.number, "title": incident.title},
        body=_(
            "%(number)s was mitigated at %(start)s and nothing recurred for %(length)s. "
            "It is ready to resolve: record the root cause and the resolution."
        )
        % {"number": incident.number, "start": utc_text(period.started_at), "length": human_duration(period.length)},
    )
    body = _("Monitoring ended with no recurrence: ready to resolve.")
    body += " " + (
        _("Told %(names)s.") % {"names": names(told)} if told else _("Nobody was told: no assignee or commander.")
    )
    record_entry(
        incident=incident,
        kind=EntryKind.MONITORING,
        actor=None,
        body=body,
        visibility=Visibility.INTERNAL,
        data={"monitoring": period.pk, "event": "ready", "told": [user.get_username() for user in told]},
    )
    logger.info("incident %s is ready to resolve", incident.number, extra={"incident": incident.number})


# --- Recurrences -----------------------------------------------------------------


def report_recurrence(*, incident: Incident, actor: Actor, reason: str) -> Incident:
    """The impact is back: reopen the incident (mitigated or resolved), which tells its responders.

    Raises PermissionDenied without the right to move incidents,
    ValidationError without a reason, and TransitionNotAllowed (409) when the
    incident is not mitigated or resolved.
    """
    return reopen_incident(incident=incident, actor=actor, reason=reason)


def _notify_recurrence(*, incident: Incident, previous_state: str) -> None:
    """Tell every responder that the incident came back, once for this reopen."""
    reopened: TimelineEntry | None = (
        incident.timeline.filter(kind=EntryKind.TRANSITION, data__transition="reopen").order_by("-id").first()
    )
    if reopened is None:
        return
    reason = str(reopened.data.get("reason", ""))
    people = responders(incident)
    notify_users(
        incident=incident,
        users=people,
        key=f"recurrence{reopened.pk}",
        subject=_("[%(priority)s] %(number)s recurred: %(title)s")
        % {"priority": incident.priority, "number": incident.number, "title": incident.title},
        body=_("%(number)s came back after it was %(state)s and is being investigated again: %(reason)s")
        % {"number": incident.number, "state": State(previous_state).label.lower(), "reason": reason},
    )
    # The reopen's own timeline entry (with its reason) is the record; the notices are notifications.
    logger.info(
        "incident %s recurred: notified %s",
        incident.number,
        [user.get_username() for user in people],
        extra={"incident": incident.number, "recurrence": reopened.pk},
    )


# --- What the incident shows ---------------------------------------------------------


def monitoring_ends_at(periods: list[MonitoringPeriod]) -> dt.datetime | None:
    """When the running monitoring period ends, if one is running (`periods`: the incident's, oldest first)."""
    running = [period for period in periods if period.outcome == MonitoringOutcome.RUNNING]
    return running[-1].ends_at if running else None


def ready_to_resolve_at(incident: Incident, periods: list[MonitoringPeriod]) -> dt.datetime | None:
    """When the mitigated incident's last monitoring period ended without a recurrence; None otherwise."""
    if incident.state != State.MITIGATED or not periods:
        return None
    latest = periods[-1]
    return latest.ended_at if latest.is_ready else None
