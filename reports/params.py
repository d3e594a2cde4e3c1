"""A report's period and filters from a query string, with an error per field when they are wrong.

The API, the dashboard, the exports and the scheduled summaries all read the
same parameters: `start` and `end` (dates, both included), `tz` (an IANA time
zone; the user's own by default), and any number of `service`, `team`,
`priority` and `category` values.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.models import Team
from incidents.choices import Category, Priority
from incidents.models import Service
from reports.filters import ReportFilters
from reports.periods import MAX_DAYS, Period

# The period when none is asked for: the last 30 whole days.
DEFAULT_DAYS = 30


def _values(query: Mapping[str, object], name: str) -> list[str]:
    """Every value of a parameter: from a QueryDict's `getlist`, or a plain dict of strings or lists."""
    getlist = getattr(query, "getlist", None)
    raw = getlist(name) if getlist else query.get(name, [])
    items: list[object] = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list | tuple) else []
    values: list[str] = []
    for item in items:
        # "a,b" and repeated parameters both work.
        values += [part.strip() for part in str(item).split(",") if part.strip()]
    return values


def _one(query: Mapping[str, object], name: str) -> str:
    values = _values(query, name)
    return values[-1] if values else ""


def parse_zone(text: str, default: dt.tzinfo | None = None) -> zoneinfo.ZoneInfo:
    if not text:
        current = default or timezone.get_current_timezone()
        return current if isinstance(current, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo("UTC")
    try:
        return zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError({"tz": [_("Unknown time zone: %(zone)s.") % {"zone": text}]}) from None


def parse_report_query(query: Mapping[str, object], *, today: dt.date | None = None) -> tuple[Period, ReportFilters]:
    """The period and filters a query asks for, or a ValidationError with a message per field."""
    errors: dict[str, list[str]] = {}
    try:
        zone = parse_zone(_one(query, "tz"))
    except ValidationError as error:
        errors.update(error.message_dict)
        zone = zoneinfo.ZoneInfo("UTC")

    dates: dict[str, dt.date | None] = {}
    for name in ("start", "end"):
        text = _one(query, name)
        try:
            dates[name] = dt.date.fromisoformat(text) if text else None
        except ValueError:
            errors[name] = [_("Enter a date as YYYY-MM-DD.")]
            dates[name] = None
    today = today or dt.datetime.now(zone).date()
    end = dates["end"] or (max(dates["start"], today) if dates["start"] else today - dt.timedelta(days=1))
    start = dates["start"] or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if "start" not in errors and "end" not in errors:
        if end < start:
            errors["end"] = [_("The end is before the start.")]
        elif (end - start).days + 1 > MAX_DAYS:
            errors["end"] = [_("A report covers at most %(days)d days.") % {"days": MAX_DAYS}]

    chosen = {name: _values(query, name) for name in ("service", "team", "priority", "category")}
    # A value with a NUL is never a slug, and PostgreSQL refuses it in a query: it stays unknown.
    asked = {name: [value for value in chosen[name] if "\x00" not in value] for name in ("service", "team")}
    known = {
        "service": set(Service.objects.filter(slug__in=asked["service"]).values_list("slug", flat=True)),
        "team": set(Team.objects.filter(slug__in=asked["team"]).values_list("slug", flat=True)),
        "priority": set(Priority.values),
        "category": set(Category.values),
    }
    for name, values in chosen.items():
        unknown = [value for value in values if value not in known[name]]
        if unknown:
            errors[name] = [_("Unknown: %(values)s.") % {"values": ", ".join(unknown)}]

    if errors:
        raise ValidationError(errors)
    filters = ReportFilters.of(
        services=chosen["service"], teams=chosen["team"], priorities=chosen["priority"], categories=chosen["category"]
    )
    return Period(start, end, zone), filters
