"""The period report's tables, once, for every format that shows them (the workbook, the PDF).

Each table holds typed values (counts, percentages 0–100, durations as
timedeltas, dates, aware datetimes); each format decides how they look.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from escalation.models.sla import ClockKind
from incidents.choices import Priority
from reports.metrics import DurationStats, ResponseTimes, Summary
from reports.periods import Interval

TEXT, COUNT, PERCENT, DURATION, DATE, DATETIME = "text", "count", "percent", "duration", "date", "datetime"


@dataclass(frozen=True)
class Table:
    name: str  # the sheet's tab, at most 31 characters
    title: str
    headers: list[str]
    kinds: list[str]
    rows: list[list[Any]]


@dataclass(frozen=True)
class Headline:
    label: str
    kind: str
    value: Any
    previous: Any

    @property
    def change_percent(self) -> float | None:
        """How much the figure moved since the previous period, in percent of what it was."""
        now, before = _number(self.value), _number(self.previous)
        if now is None or before is None or before == 0:
            return None
        return round(100.0 * (now - before) / before, 1)


def _number(value: Any) -> float | None:
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return None if value is None else float(value)


def duration(seconds: float | None) -> dt.timedelta | None:
    return None if seconds is None else dt.timedelta(seconds=round(seconds))


def priority_label(value: str) -> str:
    return str(Priority(value).label) if value in Priority.values else value


def clock_label(kind: str) -> str:
    return _("Response (acknowledge)") if kind == ClockKind.ACKNOWLEDGE else _("Resolution (resolve)")


def headlines(summary: Summary) -> list[Headline]:
    """The figures a manager reads first, with the previous period's beside them."""

    def pick(of: Summary | None, read: Any) -> Any:
        return None if of is None else read(of)

    figures: list[tuple[str, str, Any]] = [
        (_("Incidents"), COUNT, lambda s: s.total),
        (_("Affected users"), COUNT, lambda s: s.affected_users),
        (_("Downtime"), DURATION, lambda s: duration(s.downtime_seconds)),
        (_("Mean time to acknowledge"), DURATION, lambda s: duration(s.response_times.acknowledge.mean)),
        (_("Mean time to mitigate"), DURATION, lambda s: duration(s.response_times.mitigate.mean)),
        (_("Mean time to resolve"), DURATION, lambda s: duration(s.response_times.resolve.mean)),
        (_("Response SLA compliance"), PERCENT, lambda s: s.sla_compliance(ClockKind.ACKNOWLEDGE)),
        (_("Resolution SLA compliance"), PERCENT, lambda s: s.sla_compliance(ClockKind.RESOLVE)),
        (_("SLA breaches"), COUNT, lambda s: s.breach_count),
        (_("Reopen rate"), PERCENT, lambda s: s.reopen_rate_percent),
        (_("Action items open"), COUNT, lambda s: s.action_items_open),
        (_("Action items overdue"), COUNT, lambda s: s.action_items_overdue),
    ]
    return [Headline(label, kind, read(summary), pick(summary.previous, read)) for label, kind, read in figures]


def _overview(summary: Summary) -> Table:
    rows = [[h.label, h.value, h.previous, h.change_percent] for h in headlines(summary)]
    return Table(
        name=_("Overview"),
        title=_("Overview"),
        headers=[_("Figure"), _("This period"), _("Previous period"), _("Change (%)")],
        kinds=[TEXT, "mixed", "mixed", "change"],
        rows=rows,
    )


def _tally(name: str, title: str, label: str, tallies: list[Any]) -> Table:
    return Table(
        name=name,
        title=title,
        headers=[label, _("Incidents")],
        kinds=[TEXT, COUNT],
        rows=[[t.label or _("No team"), t.count] for t in tallies],
    )


def _over_time(summary: Summary) -> Table:
    return Table(
        name=_("Over time"),
        title=_("Incidents per %(interval)s") % {"interval": Interval.LABELS.get(summary.interval, summary.interval)},
        headers=[_("From"), _("Incidents"), *Priority.values],
        kinds=[DATE, COUNT, *[COUNT] * len(Priority.values)],
        rows=[[b.start, b.count, *(b.by_priority.get(p, 0) for p in Priority.values)] for b in summary.over_time],
    )


def _stats_row(label: str, stats: DurationStats) -> list[Any]:
    return [label, stats.count, duration(stats.mean), duration(stats.median), duration(stats.p90)]


def _response_rows(label: str, times: ResponseTimes) -> list[list[Any]]:
    # Marked outside the f-strings, where `makemessages` would not see them.
    steps = ((_("acknowledge"), times.acknowledge), (_("mitigate"), times.mitigate), (_("resolve"), times.resolve))
    return [_stats_row(f"{label} · {step}", stats) for step, stats in steps]


def _response_times(summary: Summary) -> Table:
    rows = _response_rows(_("All"), summary.response_times)
    for priority in Priority.values:
        rows += _response_rows(priority, summary.response_times_by_priority[priority])
    return Table(
        name=_("Response times"),
        title=_("Response times, from the report"),
        headers=[_("Measure"), _("Incidents"), _("Mean"), _("Median"), _("90th percentile")],
        kinds=[TEXT, COUNT, DURATION, DURATION, DURATION],
        rows=rows,
    )


def _availability(summary: Summary) -> Table:
    return Table(
        name=_("Availability"),
        title=_("Availability per service"),
        headers=[_("Service"), _("Incidents"), _("Downtime"), _("Availability")],
        kinds=[TEXT, COUNT, DURATION, PERCENT],
        rows=[
            [s.name, s.incidents, duration(s.downtime_seconds), s.availability_percent] for s in summary.availability
        ],
    )


def _sla(summary: Summary) -> Table:
    return Table(
        name=_("SLA compliance"),
        title=_("SLA compliance per priority"),
        headers=[_("Clock"), _("Priority"), _("Met"), _("Breached"), _("Running"), _("Compliance")],
        kinds=[TEXT, TEXT, COUNT, COUNT, COUNT, PERCENT],
        rows=[
            [clock_label(o.kind), o.priority, o.met, o.breached, o.running, o.compliance_percent] for o in summary.sla
        ],
    )


def _breaches(summary: Summary) -> Table:
    return Table(
        name=_("SLA breaches"),
        title=_("SLA breaches (%(count)d)") % {"count": summary.breach_count},
        headers=[_("Incident"), _("Title"), _("Priority"), _("Clock"), _("Due"), _("Breached")],
        kinds=[TEXT, TEXT, TEXT, TEXT, DATETIME, DATETIME],
        rows=[[b.number, b.title, b.priority, clock_label(b.kind), b.due_at, b.breached_at] for b in summary.breaches],
    )


def period_tables(summary: Summary) -> list[Table]:
    """Every table of the period report, in the order the report shows them."""
    return [
        _overview(summary),
        _tally(_("By priority"), _("Incidents by priority"), _("Priority"), summary.by_priority),
        _tally(_("By category"), _("Incidents by category"), _("Category"), summary.by_category),
        _tally(_("By service"), _("Incidents by service"), _("Service"), summary.by_service),
        _tally(_("By team"), _("Incidents by team"), _("Team"), summary.by_team),
        _over_time(summary),
        _response_times(summary),
        _availability(summary),
        _sla(summary),
        _breaches(summary),
    ]


def filters_text(summary: Summary) -> str:
    """The filters in one line ('' when the report is not narrowed)."""
    names = {"service": _("Services"), "team": _("Teams"), "priority": _("Priorities"), "category": _("Categories")}
    parts = [f"{names[key]}: {', '.join(values)}" for key, values in summary.filters.as_query().items()]
    return "; ".join(parts)
