"""The default SLA policies of DESIGN.md and the business calendar P3/P4 run on.

Kept after every `migrate`: a priority without a policy gets the default one;
policies that exist are never changed, so admins' edits stay. A business day
is the calendar's working day (09:00–17:00, eight hours), so "3 business
days" is 24 business hours.

Each policy also says how long a mitigated incident is watched before it is
ready to resolve, and how often a status update is due while it is open
(P4 has no cadence: nobody is reminded).
"""

import datetime as dt
from typing import Any

from escalation.models import BusinessCalendar, SlaPolicy, WorkingPeriod

DEFAULT_CALENDAR = "Business hours"
MINUTE = dt.timedelta(minutes=1)
HOUR = dt.timedelta(hours=1)
DEFAULT_POLICIES = [
    # priority, acknowledge within, resolve within, on business hours?, monitoring period, update every
    ("P1", 15 * MINUTE, 4 * HOUR, False, 60 * MINUTE, 30 * MINUTE),
    ("P2", 30 * MINUTE, 8 * HOUR, False, 60 * MINUTE, 60 * MINUTE),
    ("P3", 4 * HOUR, 3 * 8 * HOUR, True, 30 * MINUTE, 4 * HOUR),
    ("P4", 8 * HOUR, 5 * 8 * HOUR, True, 30 * MINUTE, None),
]


def ensure_default_sla_policies(**_: Any) -> None:
    if SlaPolicy.objects.count() == len(DEFAULT_POLICIES):
        return
    calendar, created = BusinessCalendar.objects.get_or_create(name=DEFAULT_CALENDAR, defaults={"time_zone": "UTC"})
    if created:
        WorkingPeriod.objects.bulk_create(
            WorkingPeriod(calendar=calendar, weekday=day, starts=dt.time(9), ends=dt.time(17)) for day in range(5)
        )
    for priority, acknowledge, resolve, business_hours, monitoring, cadence in DEFAULT_POLICIES:
        SlaPolicy.objects.get_or_create(
            priority=priority,
            defaults={
                "acknowledge_within": acknowledge,
                "resolve_within": resolve,
                "calendar": calendar if business_hours else None,
                "monitoring_period": monitoring,
                "update_every": cadence,
            },
        )
