"""Who changed what on an incident: its django-simple-history rows as the page lists them.

Each row is compared with the one before it. The comparison reads only rows
already loaded (`diff_against` without the services, which it would query
row by row); the services, the people and the teams the changes name are read
in one query each, so the list costs the same whatever its length.
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model
from django.utils import formats, timezone
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _

from escalation.models import Team
from incidents.models import NUMBER_PREFIX, Incident

# Rows shown before "show all".
HISTORY_LIMIT = 20
TEXT_LIMIT = 200
_PEOPLE = ("reporter", "assignee", "commander")
_INCIDENTS = ("duplicate_of", "major_incident")


@dataclass
class Change:
    field: str
    label: str
    old: str
    new: str


@dataclass
class HistoryRow:
    at: dt.datetime
    user: Any
    reason: str
    kind: str  # "+" created, "~" changed, "-" deleted
    changes: list[Change] = field(default_factory=list)


def _history_model() -> Any:
    return Incident.history.model


def _services_by_row(row_ids: list[int]) -> dict[int, list[str]]:
    """The services each history row recorded, by name (one query)."""
    through = _history_model()._meta.get_field("historicalincident_services").related_model
    names: dict[int, list[str]] = {row_id: [] for row_id in row_ids}
    pairs = through.objects.filter(history_id__in=row_ids).order_by("service__name")
    for row_id, name in pairs.values_list("history_id", "service__name"):
        names[row_id].append(name or "?")
    return names


def _labels(pairs: list[tuple[Any, Any]]) -> dict[tuple[str, Any], str]:
    """How the changed foreign keys read: people and teams by name, incidents by number."""
    wanted_people: set[Any] = set()
    wanted_teams: set[Any] = set()
    for new, old in pairs:
        for name in _PEOPLE:
            wanted_people |= {getattr(new, f"{name}_id"), getattr(old, f"{name}_id")}
        wanted_teams |= {new.team_id, old.team_id}
    labels: dict[tuple[str, Any], str] = {}
    wanted_people.discard(None)
    wanted_teams.discard(None)
    if wanted_people:
        for user in get_user_model().objects.filter(pk__in=wanted_people):
            labels[("user", user.pk)] = str(user.get_full_name() or user.get_username())
    if wanted_teams:
        for team in Team.objects.filter(pk__in=wanted_teams):
            labels[("team", team.pk)] = team.name
    return labels


def _shown(model: type[Model], name: str, value: Any, labels: dict[tuple[str, Any], str]) -> str:
    """A field's value as a person reads it in the history."""
    if value is None or value == "":
        return "—"
    if name in _PEOPLE:
        return labels.get(("user", value), f"#{value}")
    if name == "team":
        return labels.get(("team", value), f"#{value}")
    if name in _INCIDENTS:
        return f"{NUMBER_PREFIX}{value}"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    choices = dict(model._meta.get_field(name).flatchoices)  # type: ignore[union-attr]
    if value in choices:
        return str(choices[value])
    return Truncator(str(value)).chars(TEXT_LIMIT)


def _label(model: type[Model], name: str) -> str:
    if name == "services":
        return str(capfirst(Incident._meta.get_field("services").verbose_name))
    return str(capfirst(model._meta.get_field(name).verbose_name))  # type: ignore[union-attr]


def incident_history(incident: Incident, *, limit: int | None = HISTORY_LIMIT) -> tuple[list[HistoryRow], bool]:
    """The incident's history, newest first, each row with its changes; and whether there is more.

    1. Read `limit` + 1 rows (the extra one is the base the oldest shown row is compared with).
    2. Read the services every row recorded, and the names of the people and teams the rows name.
    3. Diff each shown row against the row before it; the first row is the report itself.
    """
    model = _history_model()
    query = model.objects.filter(id=incident.pk).select_related("history_user").order_by("-history_date", "-history_id")
    rows = list(query[: limit + 1] if limit is not None else query)
    more = limit is not None and len(rows) > limit
    shown = rows[:limit] if limit is not None else rows
    if not rows:
        return [], False
    services = _services_by_row([row.history_id for row in rows])
    pairs = [(row, rows[index + 1]) for index, row in enumerate(shown) if index + 1 < len(rows)]
    labels = _labels(pairs)
    base = {row.history_id: old for row, old in pairs}
    result = []
    for row in shown:
        entry = HistoryRow(
            at=row.history_date, user=row.history_user, reason=row.history_change_reason or "", kind=row.history_type
        )
        old = base.get(row.history_id)
        if old is not None:
            delta = row.diff_against(old, excluded_fields=["services"])
            for change in delta.changes:
                entry.changes.append(
                    Change(
                        field=change.field,
                        label=_label(Incident, change.field),
                        old=_shown(Incident, change.field, change.old, labels),
                        new=_shown(Incident, change.field, change.new, labels),
                    )
                )
            before, after = services[old.history_id], services[row.history_id]
            if before != after:
                entry.changes.append(
                    Change(
                        field="services",
                        label=_label(Incident, "services"),
                        old=", ".join(before) or "—",
                        new=", ".join(after) or "—",
                    )
                )
        result.append(entry)
    return result, more
