"""The default SLA policies of DESIGN.md and the business calendar P3/P4 run on.

Kept after every `migrate`: a priority without a policy gets the default one;
policies that exist are never changed, so admins' edits stay. A business day
is the calendar's working day (09:00–17:00, eight hours), so "3 business
days" is 24 business hours.
"""

import datetime as dt
from typing import Any

from escalation.models import BusinessCalendar, SlaPolicy, WorkingPeriod

DEFAULT_CALENDAR = "Business hours"
DEFAULT_POLICIES = [
    # priority, acknowledge within, resolve within, on business hours?
    ("P1", dt.timedelta(minutes=15), dt.timedelta(hours=4), False),
    ("P2", dt.timedelta(minutes=30), dt.timedelta(hours=8), False),
    ("P3", dt.timedelta(hours=4), dt.timedelta(hours=3 * 8), True),
    ("P4", dt.timedelta(hours=8), dt.timedelta(hours=5 * 8), True),
]


def ensure_default_sla_policies(**_: Any) -> None:
    if SlaPolicy.objects.count() == len(DEFAULT_POLICIES):
        return
    calendar, created = BusinessCalendar.objects.get_or_create(name=DEFAULT_CALENDAR, defaults={"time_zone": "UTC"})
    if created:
        WorkingPeriod.objects.bulk_create(
            WorkingPeriod(calendar=calendar, weekday=day, starts=dt.time(9), ends=dt.time(17)) for day in range(5)
        )
    for priority, acknowledge, resolve, business_hours in DEFAULT_POLICIES:
        SlaPolicy.objects.get_or_create(
            priority=priority,
            defaults={
                "acknowledge_within": acknowledge,
                "resolve_within": resolve,
                "calendar": calendar if business_hours else None,
            },
        )
