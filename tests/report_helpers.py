"""Helpers shared by the report tests."""

import datetime as dt

from escalation.models import SlaClock
from incidents.models import Incident


def clock(made: Incident, kind: str, *, met: bool | None) -> SlaClock:
    """A one-hour clock from the report that was met (True), breached (False) or is still running (None)."""
    start = made.created_at
    return SlaClock.objects.create(
        incident=made,
        kind=kind,
        priority=made.priority,
        target=dt.timedelta(hours=1),
        started_at=start,
        due_at=start + dt.timedelta(hours=1),
        met_at=start + dt.timedelta(minutes=30) if met else None,
        breached_at=start + dt.timedelta(hours=1) if met is False else None,
        running_since=start if met is None else None,
    )
