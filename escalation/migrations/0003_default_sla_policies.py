"""The default SLA policies of DESIGN.md and the business calendar P3/P4 run on.

A business day is the calendar's working day (09:00–17:00, eight hours), so
"3 business days" is 24 business hours. Admins edit both afterwards.
"""

import datetime as dt

from django.db import migrations

DEFAULTS = [
    # priority, acknowledge within, resolve within, business hours?
    ("P1", dt.timedelta(minutes=15), dt.timedelta(hours=4), False),
    ("P2", dt.timedelta(minutes=30), dt.timedelta(hours=8), False),
    ("P3", dt.timedelta(hours=4), dt.timedelta(hours=3 * 8), True),
    ("P4", dt.timedelta(hours=8), dt.timedelta(hours=5 * 8), True),
]


def create_defaults(apps, schema_editor):
    calendar_model = apps.get_model("escalation", "BusinessCalendar")
    period_model = apps.get_model("escalation", "WorkingPeriod")
    policy_model = apps.get_model("escalation", "SlaPolicy")
    calendar, created = calendar_model.objects.get_or_create(name="Business hours", defaults={"time_zone": "UTC"})
    if created:
        period_model.objects.bulk_create(
            period_model(calendar=calendar, weekday=day, starts=dt.time(9), ends=dt.time(17)) for day in range(5)
        )
    for priority, acknowledge, resolve, business in DEFAULTS:
        policy_model.objects.get_or_create(
            priority=priority,
            defaults={
                "acknowledge_within": acknowledge,
                "resolve_within": resolve,
                "calendar": calendar if business else None,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("escalation", "0002_sla_timers_escalation_schedules")]

    operations = [migrations.RunPython(create_defaults, migrations.RunPython.noop)]
