"""The dashboard's charts, each with the rows of the table printed beside it.

A `Figure` is what the page shows for one chart: its heading, the SVG from
`reports.charts`, and the same numbers as a table's header and rows, so the
template draws every chart the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from escalation.models.sla import ClockKind
from incidents.choices import Priority
from reports import charts
from reports.formatting import bucket_heading, bucket_label, duration, number, percent
from reports.metrics import DurationStats, Summary, Tally
from reports.periods import Interval

PRIORITY_CSS = {value: f"fill-{value.lower()}" for value in Priority.values}


@dataclass(frozen=True)
class Figure:
    key: str
    heading: str
    chart: SafeString
    columns: list[str]
    rows: list[list[str]]
    wide: bool = False  # a long table, folded away under the chart


def _clock_label(kind: str) -> str:
    return _("response") if kind == ClockKind.ACKNOWLEDGE else _("resolution")


def _priority_labels() -> dict[str, str]:
    return {value: str(label) for value, label in Priority.choices}


def _over_time(summary: Summary) -> Figure:
    labels = _priority_labels()
    interval_name = str(Interval.LABELS.get(summary.interval, summary.interval))
    columns = [
        charts.Column(
            label=bucket_label(bucket.start, summary.interval),
            segments=tuple(charts.Segment(bucket.by_priority.get(p, 0), PRIORITY_CSS[p]) for p in Priority.values),
        )
        for bucket in summary.over_time
    ]
    most = max((bucket.count for bucket in summary.over_time), default=0)
    chart = charts.stacked_columns(
        summary=_(
            "Incidents per %(interval)s, stacked by priority: %(total)s in all, at most %(most)s in one %(interval)s."
        )
        % {"interval": interval_name, "total": number(summary.total), "most": number(most)},
        columns=columns,
        legend=[charts.LegendEntry(labels[p], PRIORITY_CSS[p]) for p in Priority.values],
        axis_label=_("Incidents"),
        time_label=bucket_heading(summary.interval),
        empty=_("No incidents were reported in this period."),
    )
    rows = [
        [bucket_label(bucket.start, summary.interval)]
        + [number(bucket.by_priority.get(p, 0)) for p in Priority.values]
        + [number(bucket.count)]
        for bucket in summary.over_time
    ]
    return Figure(
        key="over-time",
        heading=_("Incidents over time"),
        chart=chart,
        columns=[bucket_heading(summary.interval), *Priority.values, _("Total")],
        rows=rows,
        wide=True,
    )


def _tallies(
    key: str, heading: str, name_heading: str, tallies: list[Tally], css: dict[str, str] | None = None
) -> Figure:
    bars = [
        charts.Bar(t.label or t.key, t.count, number(t.count), (css or {}).get(t.key, "fill-accent")) for t in tallies
    ]
    biggest = max(tallies, key=lambda t: t.count, default=None)
    summary = (
        _("%(heading)s: the most is %(name)s with %(count)s.")
        % {"heading": heading, "name": biggest.label or biggest.key, "count": number(biggest.count)}
        if biggest and biggest.count
        else heading
    )
    chart = charts.horizontal_bars(
        summary=summary, bars=bars, axis_label=_("Incidents"), empty=_("No incidents were reported in this period.")
    )
    return Figure(
        key=key,
        heading=heading,
        chart=chart,
        columns=[name_heading, _("Incidents")],
        rows=[[t.label or t.key, number(t.count)] for t in tallies],
    )


def _availability(summary: Summary) -> Figure:
    services = summary.availability
    bars = [
        charts.Bar(
            s.name,
            s.availability_percent,
            percent(s.availability_percent, 2),
            "fill-ok" if not s.downtime_seconds else "fill-warn",
        )
        for s in services
    ]
    lowest = services[0] if services else None  # sorted lowest first
    text = (
        _("Availability per service: the lowest is %(name)s at %(percent)s.")
        % {"name": lowest.name, "percent": percent(lowest.availability_percent, 2)}
        if lowest
        else _("Availability per service")
    )
    chart = charts.horizontal_bars(
        summary=text, bars=bars, axis_label=_("Availability (%)"), empty=_("No service is in this report."), maximum=100
    )
    return Figure(
        key="availability",
        heading=_("Availability per service"),
        chart=chart,
        columns=[_("Service"), _("Availability"), _("Downtime"), _("Incidents")],
        rows=[
            [s.name, percent(s.availability_percent, 2), duration(s.downtime_seconds), number(s.incidents)]
            for s in services
        ],
    )


def _sla(summary: Summary) -> Figure:
    bars = []
    rows = []
    for outcome in summary.sla:
        name = f"{outcome.priority} · {_clock_label(outcome.kind)}"
        compliance = outcome.compliance_percent
        shown = (
            _("%(percent)s (%(met)s of %(decided)s)")
            % {
                "percent": percent(compliance),
                "met": number(outcome.met),
                "decided": number(outcome.met + outcome.breached),
            }
            if compliance is not None
            else _("none ended")
        )
        bars.append(charts.Bar(name, compliance or 0.0, shown, PRIORITY_CSS.get(outcome.priority, "fill-accent")))
        rows.append([name, percent(compliance), number(outcome.met), number(outcome.breached), number(outcome.running)])
    decided = any(o.met + o.breached for o in summary.sla)
    text = _("SLA compliance per priority: %(response)s for response and %(resolution)s for resolution overall.") % {
        "response": percent(summary.sla_compliance(ClockKind.ACKNOWLEDGE)),
        "resolution": percent(summary.sla_compliance(ClockKind.RESOLVE)),
    }
    chart = (
        charts.horizontal_bars(summary=text, bars=bars, axis_label=_("Compliance (%)"), empty="", maximum=100)
        if decided
        else charts.horizontal_bars(
            summary=text, bars=[], axis_label="", empty=_("No SLA clock has ended for this period's incidents.")
        )
    )
    return Figure(
        key="sla",
        heading=_("SLA compliance per priority"),
        chart=chart,
        columns=[_("SLA"), _("Compliance"), _("Met"), _("Breached"), _("Running")],
        rows=rows,
    )


def dashboard_figures(summary: Summary) -> list[Figure]:
    return [
        _over_time(summary),
        _tallies("priority", _("Incidents by priority"), _("Priority"), summary.by_priority, PRIORITY_CSS),
        _tallies("category", _("Incidents by category"), _("Category"), summary.by_category),
        _tallies("service", _("Incidents by service"), _("Service"), summary.by_service),
        _availability(summary),
        _sla(summary),
    ]


@dataclass(frozen=True)
class ResponseRow:
    priority: str
    acknowledge: str
    mitigate: str
    resolve: str
    count: int


def response_rows(summary: Summary) -> list[ResponseRow]:
    """Mean · median · p90 of each response time, per priority."""

    def three(stats: DurationStats) -> str:
        if stats.mean is None:
            return "—"
        return f"{duration(stats.mean)} · {duration(stats.median)} · {duration(stats.p90)}"

    rows = []
    counts = {t.key: t.count for t in summary.by_priority}
    for value in Priority.values:
        times = summary.response_times_by_priority[value]
        rows.append(
            ResponseRow(
                value, three(times.acknowledge), three(times.mitigate), three(times.resolve), counts.get(value, 0)
            )
        )
    return rows
