"""The dashboard's filter form: a period preset or custom dates, a time zone, and the filters.

The form only draws the controls and turns a preset into dates; what the
query means, and what is wrong with it, is decided once by
`reports.params.parse_report_query` (as for the API and the exports), and its
errors are put back on the form's fields. The choice fields therefore accept
any value here, so an unknown service is reported once, in the parser's words.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from escalation.models import Team
from escalation.profile import time_zone_names
from incidents.choices import Category, Priority
from incidents.models import Service
from reports.params import parse_zone
from reports.periods import Period


class Preset:
    LAST_7 = "last_7"
    LAST_30 = "last_30"
    LAST_90 = "last_90"
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    CUSTOM = "custom"
    CHOICES = [
        (LAST_7, _("Last 7 days")),
        (LAST_30, _("Last 30 days")),
        (LAST_90, _("Last 90 days")),
        (THIS_MONTH, _("This month")),
        (LAST_MONTH, _("Last month")),
        (CUSTOM, _("Custom dates")),
    ]
    DEFAULT = LAST_30


def preset_dates(preset: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first and last day a preset covers, seen from `today`; None for custom dates."""
    days = {Preset.LAST_7: 7, Preset.LAST_30: 30, Preset.LAST_90: 90}
    if preset in days:
        return today - dt.timedelta(days=days[preset]), today - dt.timedelta(days=1)
    first_of_month = today.replace(day=1)
    if preset == Preset.THIS_MONTH:
        return first_of_month, today
    if preset == Preset.LAST_MONTH:
        last_day = first_of_month - dt.timedelta(days=1)
        return last_day.replace(day=1), last_day
    return None


class _AnyChoice(forms.ChoiceField):
    def valid_value(self, value: Any) -> bool:
        return True


class _AnyChoices(forms.MultipleChoiceField):
    def valid_value(self, value: Any) -> bool:
        return True


def _zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in time_zone_names()]


def _service_choices() -> list[tuple[str, str]]:
    return list(Service.objects.order_by("name").values_list("slug", "name"))


def _team_choices() -> list[tuple[str, str]]:
    return list(Team.objects.order_by("name").values_list("slug", "name"))


class DashboardForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"),
        choices=Preset.CHOICES,
        required=False,
        help_text=_("Choose “Custom dates” to use the dates below."),
    )
    start = forms.CharField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.CharField(label=_("To (included)"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    tz = _AnyChoice(label=_("Time zone"), choices=_zone_choices, required=False)
    service = _AnyChoices(label=_("Services"), choices=_service_choices, required=False)
    team = _AnyChoices(label=_("Teams"), choices=_team_choices, required=False)
    priority = _AnyChoices(
        label=_("Priorities"), choices=Priority.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    category = _AnyChoices(label=_("Categories"), choices=Category.choices, required=False)


def dashboard_query(query: QueryDict, *, default_zone: zoneinfo.ZoneInfo) -> QueryDict:
    """The query as the form shows it and the parser reads it: the preset's dates filled in.

    1. The time zone is the user's unless one is chosen.
    2. Without a preset, dates mean custom dates, and no dates at all the default preset.
    3. A preset (other than custom) replaces the dates with its own, counted in the chosen zone.
    """
    filled = query.copy()
    zone_name = filled.get("tz") or default_zone.key
    preset = filled.get("period") or (Preset.CUSTOM if filled.get("start") or filled.get("end") else Preset.DEFAULT)
    filled["tz"], filled["period"] = zone_name, preset
    try:
        zone = parse_zone(zone_name)
    except ValidationError:
        zone = default_zone  # the parser reports the unknown zone; the preset's days still need one
    dates = preset_dates(preset, dt.datetime.now(zone).date())
    if dates:
        filled["start"], filled["end"] = (day.isoformat() for day in dates)
    return filled


def period_query(period: Period, extra: dict[str, list[str]]) -> QueryDict:
    """The resolved period and filters as a query string for the exports."""
    query = QueryDict(mutable=True)
    query["start"] = period.start.isoformat()
    query["end"] = period.end.isoformat()
    query["tz"] = period.zone.key
    for name, values in extra.items():
        query.setlist(name, values)
    return query
