"""How SLA clocks and escalation follow the incident's life (and the webhook events of the clock's own doing).

The incident domain functions call these inside their own transaction, so a
change and its clock and paging consequences commit together or not at all.
"""

from escalation import paging, sla, webhooks
from escalation.models import ClockKind, EscalationTrigger, SlaClock, Timer, TimerPurpose
from escalation.timers import on_fire
from incidents.models import Incident


def incident_reported(*, incident: Incident) -> None:
    sla.start_clocks(incident=incident)
    if incident.priority in paging.HIGH_PRIORITIES:
        paging.start_escalation(incident=incident, trigger=EscalationTrigger.CREATED)


def incident_transitioned(*, incident: Incident, transition: str, previous_state: str) -> None:
    if transition == "acknowledge" or (transition == "investigate" and previous_state == "new"):
        sla.meet_clock(incident=incident, kind=ClockKind.ACKNOWLEDGE)
        paging.stop_escalation(incident=incident, reason="acknowledged")
    elif transition == "hold":
        sla.pause_clocks(incident=incident)
    elif transition == "resume":
        sla.resume_clocks(incident=incident)
    elif transition == "resolve":
        sla.meet_clock(incident=incident, kind=ClockKind.RESOLVE)
    elif transition == "reopen":
        sla.restart_clock(incident=incident, kind=ClockKind.RESOLVE)
    elif transition in ("close", "cancel"):
        sla.stop_clocks(incident=incident)
        paging.stop_escalation(incident=incident, reason=transition)


def incident_priority_changed(*, incident: Incident, previous: str) -> None:
    sla.retarget_clocks(incident=incident)
    if incident.priority in paging.HIGH_PRIORITIES and previous not in paging.HIGH_PRIORITIES:
        paging.start_escalation(
            incident=incident, trigger=EscalationTrigger.CREATED, detail=f"priority {incident.priority}"
        )


def _clock_of(timer: Timer) -> SlaClock | None:
    return (
        SlaClock.objects.select_related("incident", "calendar")
        .filter(incident=timer.incident, kind=timer.clock, met_at__isnull=True, stopped_at__isnull=True)
        .first()
    )


def _escalate_for(clock: SlaClock, trigger: str) -> None:
    """An at-risk acknowledge clock starts paging; a resolve clock pages the next tier once."""
    incident = clock.incident
    if clock.kind == ClockKind.ACKNOWLEDGE:
        paging.start_escalation(incident=incident, trigger=trigger, detail=clock.kind, page_now=True)
        return
    paging.page_next_tier(incident=incident, reason=f"{clock.kind}-{trigger}", trigger=trigger)


@on_fire(TimerPurpose.SLA_WARNING)
def fire_sla_warning(timer: Timer) -> None:
    clock = _clock_of(timer)
    if clock is None:
        return
    sla.record_warning(clock=clock, at=timer.due_at)
    _escalate_for(clock, EscalationTrigger.SLA_WARNING)


@on_fire(TimerPurpose.SLA_BREACH)
def fire_sla_breach(timer: Timer) -> None:
    clock = _clock_of(timer)
    if clock is None:
        return
    sla.record_breach(clock=clock, at=timer.due_at)
    webhooks.sla_breached(clock=clock)
    _escalate_for(clock, EscalationTrigger.SLA_BREACH)
