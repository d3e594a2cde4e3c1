"""Teams, calendars, SLA clocks, timers, escalation policies, on-call schedules, notifications and webhooks."""

from escalation.models.calendars import BusinessCalendar, Holiday, Weekday, WorkingPeriod
from escalation.models.notifications import (
    Channel,
    ContactMethod,
    DeliveryStatus,
    Notification,
    NotificationKind,
    NotificationRule,
)
from escalation.models.policies import EscalationLevel, EscalationPolicy, EscalationRun, EscalationTrigger
from escalation.models.schedules import (
    LayerParticipant,
    OnCallSchedule,
    ResponderProfile,
    RotationLayer,
    ScheduleOverride,
)
from escalation.models.sla import ClockKind, SlaClock, SlaPolicy
from escalation.models.teams import Team
from escalation.models.timers import Timer, TimerFiring, TimerPurpose
from escalation.models.webhooks import (
    PING_EVENT,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookSubscription,
)

__all__ = [
    "PING_EVENT",
    "BusinessCalendar",
    "Channel",
    "ClockKind",
    "ContactMethod",
    "DeliveryStatus",
    "EscalationLevel",
    "EscalationPolicy",
    "EscalationRun",
    "EscalationTrigger",
    "Holiday",
    "LayerParticipant",
    "Notification",
    "NotificationKind",
    "NotificationRule",
    "OnCallSchedule",
    "ResponderProfile",
    "RotationLayer",
    "ScheduleOverride",
    "SlaClock",
    "SlaPolicy",
    "Team",
    "Timer",
    "TimerFiring",
    "TimerPurpose",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEvent",
    "WebhookSubscription",
    "Weekday",
    "WorkingPeriod",
]
