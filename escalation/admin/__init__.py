"""The escalation back office: teams, calendars, SLA, escalation policies, on-call schedules, notifications, webhooks.

Incident managers and admins configure teams, business calendars, SLA
policies, escalation policies, on-call schedules and how people are reached.
What the engines write (SLA clocks, timers, escalations, notifications,
webhook deliveries) is read-only here.

Importing the modules below registers their admins (`admin.autodiscover`
imports this package).
"""

from escalation.admin import (  # noqa: F401
    calendars,
    notifications,
    policies,
    schedules,
    sla,
    teams,
    timers,
    webhooks,
)
