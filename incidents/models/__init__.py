"""The incidents app's models: incidents and their records, post-mortems, and alert intake."""

from incidents.models.incidents import (
    CLOSE_PERMISSION,
    NUMBER_PREFIX,
    TRANSITION_PERMISSION,
    Attachment,
    Incident,
    Service,
    TimelineEntry,
    attachment_path,
)
from incidents.models.intake import Alert, AlertEvent, Integration
from incidents.models.postmortems import (
    POSTMORTEM_REQUIRED_PRIORITIES,
    ActionItem,
    PostMortem,
    PostMortemMoment,
)

__all__ = [
    "CLOSE_PERMISSION",
    "NUMBER_PREFIX",
    "POSTMORTEM_REQUIRED_PRIORITIES",
    "TRANSITION_PERMISSION",
    "ActionItem",
    "Alert",
    "AlertEvent",
    "Attachment",
    "Incident",
    "Integration",
    "PostMortem",
    "PostMortemMoment",
    "Service",
    "TimelineEntry",
    "attachment_path",
]
