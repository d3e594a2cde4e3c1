"""The incidents app's models: incidents and their records, and alert intake."""

from incidents.models.incidents import (
    CLOSE_PERMISSION,
    NUMBER_PREFIX,
    TRANSITION_PERMISSION,
    Attachment,
    Incident,
    PostMortem,
    Service,
    TimelineEntry,
    attachment_path,
)
from incidents.models.intake import Alert, AlertEvent, Integration

__all__ = [
    "CLOSE_PERMISSION",
    "NUMBER_PREFIX",
    "TRANSITION_PERMISSION",
    "Alert",
    "AlertEvent",
    "Attachment",
    "Incident",
    "Integration",
    "PostMortem",
    "Service",
    "TimelineEntry",
    "attachment_path",
]
