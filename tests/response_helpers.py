"""Small helpers the response coordination tests share."""

import datetime as dt
from typing import Any

from simple_history.utils import get_history_model_for_model

from escalation.models import LayerParticipant, OnCallSchedule, RotationLayer, Team
from incidents.models import Incident, TimelineEntry


def put_on_call(team: Team, user: Any) -> OnCallSchedule:
    """A schedule for `team` with `user` on call around the clock since 2020."""
    schedule = OnCallSchedule.objects.create(team=team, name="Primary")
    layer = RotationLayer.objects.create(
        schedule=schedule, name="Everyone", start_date=dt.date(2020, 1, 1), rotation_length=dt.timedelta(days=7)
    )
    LayerParticipant.objects.create(layer=layer, user=user, position=1)
    return schedule


def entries(incident: Incident, kind: str) -> list[TimelineEntry]:
    return list(TimelineEntry.objects.filter(incident=incident, kind=kind).select_related("actor").order_by("id"))


def history_of(record: Any) -> list[Any]:
    """The record's history rows, oldest first."""
    model = get_history_model_for_model(type(record))
    return list(model.objects.filter(id=record.pk).order_by("history_date", "history_id"))


def incident_path(incident: Incident, rest: str = "") -> str:
    return f"/api/v1/incidents/{incident.number}/{rest}"
