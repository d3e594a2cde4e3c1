"""The incidents app's models: incidents and their records, alert intake, response coordination,
verification and status updates, post-mortems."""

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
from incidents.models.preferences import SavedFilter
from incidents.models.response import (
    MANAGE_RESPONSE_PERMISSION,
    Implementation,
    InvestigationTask,
    ResponseRole,
    SolutionOption,
)
from incidents.models.updates import (
    MonitoringPeriod,
    StatusUpdate,
    UpdateCadence,
    UpdateDelivery,
    UpdateSubscription,
)

__all__ = [
    "CLOSE_PERMISSION",
    "MANAGE_RESPONSE_PERMISSION",
    "NUMBER_PREFIX",
    "POSTMORTEM_REQUIRED_PRIORITIES",
    "TRANSITION_PERMISSION",
    "ActionItem",
    "Alert",
    "AlertEvent",
    "Attachment",
    "Implementation",
    "Incident",
    "Integration",
    "InvestigationTask",
    "MonitoringPeriod",
    "PostMortem",
    "ResponseRole",
    "SavedFilter",
    "PostMortemMoment",
    "Service",
    "SolutionOption",
    "StatusUpdate",
    "TimelineEntry",
    "UpdateCadence",
    "UpdateDelivery",
    "UpdateSubscription",
    "attachment_path",
]
