"""SLA clocks: start, pause, resume, re-target, meet and stop, and what a clock shows.

A clock keeps the business time it used before its current run in
`consumed`; while running, its deadline is `running_since` plus what is left
of the target in business time. Every change re-arms the clock's warning and
breach timers, which bumps their version, so no wake-up fires an old deadline.
"""

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from escalation import businesstime
from escalation.models import ClockKind, SlaClock, SlaPolicy, TimerPurpose
from escalation.timers import Step, arm_steps, disarm_timers
from incidents import deferred
from incidents.choices import EntryKind, Visibility
from incidents.models import Incident
from incidents.timeline import record_entry

SLA_PURPOSES = (TimerPurpose.SLA_WARNING, TimerPurpose.SLA_BREACH)


def _week(clock: SlaClock) -> businesstime.WorkingWeek | None:
    """The clock's working week, read once per work unit (an incident's two clocks share a calendar)."""
    return deferred.remembered("business-weeks", clock.calendar_id, lambda: businesstime.load_week(clock.calendar))


def _used(clock: SlaClock, week: businesstime.WorkingWeek | None, now: dt.datetime) -> dt.timedelta:
    if clock.running_since is None:
        return clock.consumed
    return clock.consumed + businesstime.business_time_between(week, clock.running_since, now)


def _rearm(clock: SlaClock) -> None:
    """Recompute a running clock's deadlines, save it (or create it, when new) and arm its timers."""
    if clock.running_since is None:
        raise ValueError("only a running clock has deadlines")
    week = _week(clock)
    left = clock.target - clock.consumed
    clock.due_at = businesstime.add_business_time(week, clock.running_since, max(left, dt.timedelta(0)))
    clock.warn_at = None
    if clock.warned_at is None:
        # Past the warning point already (a tighter target): warn at once.
        warning_left = max(clock.target * clock.warning_percent / 100 - clock.consumed, dt.timedelta(0))
        clock.warn_at = businesstime.add_business_time(week, clock.running_since, warning_left)
    clock.save()
    # The warning comes first (a lower id) so that, due together, it fires before the breach.
    steps: list[Step] = []
    if clock.warn_at is not None:
        steps.append((TimerPurpose.SLA_WARNING, clock.kind, 0, clock.warn_at))
    if clock.breached_at is None:
        steps.append((TimerPurpose.SLA_BREACH, clock.kind, 0, clock.due_at))
    arm_steps(incident=clock.incident, steps=steps)


def policy_for(priority: str) -> SlaPolicy | None:
    """The SLA policy of a priority, with its calendar; read once per work unit (`incidents.deferred`)."""
    return deferred.remembered(
        "sla-policies", priority, lambda: SlaPolicy.objects.select_related("calendar").filter(priority=priority).first()
    )


def start_clocks(*, incident: Incident) -> list[SlaClock]:
    """Start the acknowledge and resolve clocks from the incident's report time."""
    policy = policy_for(incident.priority)
    if policy is None:
        return []
    clocks = []
    for kind in (ClockKind.ACKNOWLEDGE, ClockKind.RESOLVE):
        # Saved once, by _rearm, with its deadlines.
        clock = SlaClock(
            incident=incident,
            kind=kind,
            priority=incident.priority,
            target=policy.target(kind),
            calendar=policy.calendar,
            warning_percent=policy.warning_percent,
            started_at=incident.created_at,
            running_since=incident.created_at,
        )
        _rearm(clock)
        clocks.append(clock)
    return clocks


def _open_clocks(incident: Incident, *kinds: str) -> list[SlaClock]:
    clocks = SlaClock.objects.select_related("calendar", "incident").filter(
        incident=incident, met_at__isnull=True, stopped_at__isnull=True
    )
    if kinds:
        clocks = clocks.filter(kind__in=kinds)
    return list(clocks.select_for_update(of=("self",)).order_by("kind"))


def pause_clocks(*, incident: Incident) -> None:
    now = timezone.now()
    for clock in _open_clocks(incident):
        if clock.running_since is None:
            continue
        clock.consumed = _used(clock, _week(clock), now)
        clock.running_since = None
        clock.paused_at = now
        clock.due_at = clock.warn_at = None
        clock.save()
        disarm_timers(incident=incident, clock=clock.kind, purposes=SLA_PURPOSES)


def resume_clocks(*, incident: Incident) -> None:
    now = timezone.now()
    for clock in _open_clocks(incident):
        if clock.running_since is not None:
            continue
        clock.running_since = now
        clock.paused_at = None
        _rearm(clock)


def meet_clock(*, incident: Incident, kind: str) -> None:
    """The clock's goal was reached (acknowledged, resolved): it stops, met or late."""
    now = timezone.now()
    for clock in _open_clocks(incident, kind):
        clock.consumed = _used(clock, _week(clock), now)
        clock.running_since = clock.paused_at = None
        clock.met_at = now
        clock.save()
        disarm_timers(incident=incident, clock=clock.kind, purposes=SLA_PURPOSES)


def restart_clock(*, incident: Incident, kind: str) -> None:
    """A reopened incident: the met clock runs on from the time it had used."""
    clock = SlaClock.objects.select_related("calendar", "incident").filter(incident=incident, kind=kind).first()
    if clock is None or clock.met_at is None or clock.stopped_at is not None:
        return
    clock.met_at = None
    clock.running_since = timezone.now()
    _rearm(clock)


def stop_clocks(*, incident: Incident) -> None:
    """The incident ended without the goal (closed, cancelled): clocks stop where they are."""
    now = timezone.now()
    for clock in _open_clocks(incident):
        clock.consumed = _used(clock, _week(clock), now)
        clock.running_since = clock.paused_at = None
        clock.stopped_at = now
        clock.save()
    disarm_timers(incident=incident, purposes=SLA_PURPOSES)


def retarget_clocks(*, incident: Incident) -> None:
    """The priority changed: the open clocks take the new policy's targets.

    Time already used still counts; a clock whose new target is already used
    up breaches at once (its timer is due now).
    """
    policy = policy_for(incident.priority)
    if policy is None:
        return
    now = timezone.now()
    for clock in _open_clocks(incident):
        week = _week(clock)
        used = _used(clock, week, now)
        clock.priority = incident.priority
        clock.target = policy.target(clock.kind)
        clock.warning_percent = policy.warning_percent
        if clock.calendar_id != policy.calendar_id:
            # Time used so far stays as measured on the old calendar.
            clock.calendar = policy.calendar
        if clock.running_since is None:
            clock.save()
            continue
        clock.consumed, clock.running_since = used, now
        _rearm(clock)


def record_warning(*, clock: SlaClock, at: dt.datetime) -> None:
    clock.warned_at = at
    clock.save(update_fields=["warned_at"])
    record_entry(
        incident=clock.incident,
        kind=EntryKind.STATUS_UPDATE,
        actor=None,
        body=_("The %(clock)s SLA is at %(percent)d%% of its target (due %(due)s).")
        % {
            "clock": clock.get_kind_display(),
            "percent": clock.warning_percent,
            "due": f"{clock.due_at:%Y-%m-%d %H:%M} UTC",
        },
        visibility=Visibility.INTERNAL,
        data={"sla": clock.kind, "event": "warning"},
    )


def record_breach(*, clock: SlaClock, at: dt.datetime) -> None:
    clock.breached_at = at
    clock.save(update_fields=["breached_at"])
    record_entry(
        incident=clock.incident,
        kind=EntryKind.STATUS_UPDATE,
        actor=None,
        body=_("The %(clock)s SLA was breached.") % {"clock": clock.get_kind_display()},
        visibility=Visibility.INTERNAL,
        data={"sla": clock.kind, "event": "breach"},
    )


def clock_state(clock: SlaClock) -> str:
    if clock.met_at is not None:
        return "met"
    if clock.stopped_at is not None:
        return "stopped"
    if clock.breached_at is not None:
        return "breached"
    if clock.running_since is None:
        return "paused"
    return "running"


def sla_summary(clocks: list[SlaClock], *, now: dt.datetime | None = None) -> dict[str, Any]:
    """Each clock as the API shows it; no queries beyond the (prefetched) clocks."""
    now = now or timezone.now()
    summary: dict[str, Any] = {}
    for clock in clocks:
        if clock.running_since is not None and clock.due_at is not None:
            left = clock.due_at - now
        else:
            left = clock.target - clock.consumed
        state = clock_state(clock)
        summary[clock.kind] = {
            "target_seconds": int(clock.target.total_seconds()),
            "business_hours": clock.calendar_id is not None,
            "state": state,
            "due_at": clock.due_at,
            "warning_at": clock.warn_at,
            "breached": clock.breached_at is not None,
            "breached_at": clock.breached_at,
            "met_at": clock.met_at,
            "seconds_left": int(left.total_seconds()) if state in ("running", "paused", "breached") else None,
        }
    return summary
