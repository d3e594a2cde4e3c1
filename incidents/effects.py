"""What else happens when an incident changes: SLA clocks, escalation, webhooks, monitoring and update cadence.

Called by the incident domain functions inside their transaction. The
escalation app builds on this one (its rows point at incidents), so it is
imported when first called rather than when this module loads.
"""

from incidents.models import Incident, TimelineEntry
from incidents.timeline import Actor


def incident_reported(*, incident: Incident, actor: Actor) -> None:
    from escalation import reactions, webhooks
    from incidents import updates

    webhooks.incident_created(incident=incident, actor=actor)
    reactions.incident_reported(incident=incident)
    updates.incident_reported(incident=incident)


def incident_transitioned(*, incident: Incident, actor: Actor, transition: str, previous_state: str) -> None:
    from escalation import reactions, webhooks
    from incidents import monitoring, updates

    webhooks.incident_transitioned(incident=incident, actor=actor, transition=transition, previous_state=previous_state)
    reactions.incident_transitioned(incident=incident, transition=transition, previous_state=previous_state)
    monitoring.incident_transitioned(
        incident=incident, actor=actor, transition=transition, previous_state=previous_state
    )
    updates.incident_transitioned(incident=incident, transition=transition)


def priority_changed(*, incident: Incident, actor: Actor, previous: str) -> None:
    from escalation import reactions, webhooks
    from incidents import updates

    webhooks.priority_changed(incident=incident, actor=actor, previous=previous)
    reactions.incident_priority_changed(incident=incident, previous=previous)
    updates.priority_changed(incident=incident)


def note_added(*, entry: TimelineEntry, actor: Actor) -> None:
    from escalation import webhooks

    webhooks.note_added(entry=entry, actor=actor)
