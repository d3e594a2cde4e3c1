"""What else happens when an incident changes: its SLA clocks and its escalation.

Called by the incident domain functions inside their transaction. The
escalation app builds on this one (its rows point at incidents), so it is
imported when first called rather than when this module loads.
"""

from incidents.models import Incident


def incident_reported(*, incident: Incident) -> None:
    from escalation import reactions

    reactions.incident_reported(incident=incident)


def incident_transitioned(*, incident: Incident, transition: str, previous_state: str) -> None:
    from escalation import reactions

    reactions.incident_transitioned(incident=incident, transition=transition, previous_state=previous_state)


def priority_changed(*, incident: Incident, previous: str) -> None:
    from escalation import reactions

    reactions.incident_priority_changed(incident=incident, previous=previous)
