"""The period report as a PDF, in the reader's language: headline figures, charts, then every table.

Built with reportlab alone (pip installs it with its fonts), so the scheduled
summaries can attach it from a worker with no system packages.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Paragraph, Spacer

from reports.exports.pdf_charts import availability_chart, by_priority_chart, over_time_chart
from reports.exports.pdf_common import PAGE_WIDTH, Styles, build_pdf, grid_table, para_text, paragraph, when
from reports.exports.period_tables import (
    COUNT,
    DATE,
    DATETIME,
    DURATION,
    PERCENT,
    Headline,
    Table,
    filters_text,
    headlines,
    period_tables,
)
from reports.formatting import duration
from reports.metrics import Summary


def _shown(value: Any, kind: str, summary: Summary) -> str:
    if value is None:
        return "–"
    if kind == "mixed":
        kind = DURATION if isinstance(value, dt.timedelta) else PERCENT if isinstance(value, float) else COUNT
    if kind == COUNT:
        return f"{value:,}"
    if kind == PERCENT:
        return f"{value:.2f}%"
    if kind == DURATION:
        return duration(value.total_seconds())
    if kind == DATE:
        return value.isoformat()
    if kind == DATETIME:
        return when(value, summary.period.zone)
    if kind == "change":
        return f"{value:+.1f}%"
    return str(value)


def period_title(summary: Summary) -> str:
    period = summary.period
    return _("Incident report, %(start)s to %(end)s") % {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }


def _headline_rows(figures: list[Headline], summary: Summary) -> list[list[str]]:
    rows = [[_("Figure"), _("This period"), _("Previous period"), _("Change")]]
    for figure in figures:
        rows.append(
            [
                figure.label,
                _shown(figure.value, figure.kind, summary),
                _shown(figure.previous, figure.kind, summary),
                _shown(figure.change_percent, "change", summary),
            ]
        )
    return rows


def _table(table: Table, summary: Summary, styles: Styles) -> list[Flowable]:
    if not table.rows:
        return [Paragraph(para_text(table.title), styles.h2), paragraph(_("Nothing in this period."), styles.body)]
    text_columns = [i for i, kind in enumerate(table.kinds) if kind == "text"]
    rows: list[list[Any]] = [table.headers]
    for row in table.rows:
        cells: list[Any] = []
        for index, (value, kind) in enumerate(zip(row, table.kinds, strict=True)):
            text = _shown(value, kind, summary)
            # Long text (a title, a service name) wraps inside its cell.
            cells.append(paragraph(text, styles.cell) if index in text_columns else text)
        rows.append(cells)
    numeric_from = max(text_columns) + 1 if text_columns else 0
    return [
        CondPageBreak(40 * mm),
        Paragraph(para_text(table.title), styles.h2),
        grid_table(rows, _widths(table, summary), numeric_from=numeric_from),
    ]


# The width of a column of figures; text columns share what is left, by how long their text is.
_FIGURE_WIDTHS = {COUNT: 18 * mm, PERCENT: 20 * mm, DURATION: 22 * mm, DATE: 22 * mm, DATETIME: 28 * mm}


def _widths(table: Table, summary: Summary) -> list[float]:
    fixed = sum(_FIGURE_WIDTHS.get(kind, 0) for kind in table.kinds if kind != "text")
    weights = {
        index: min(
            40, max(4, len(table.headers[index]), *(len(_shown(row[index], "text", summary)) for row in table.rows))
        )
        for index, kind in enumerate(table.kinds)
        if kind == "text"
    }
    share = (PAGE_WIDTH - fixed) / (sum(weights.values()) or 1)
    return [
        weights[i] * share if kind == "text" else _FIGURE_WIDTHS.get(kind, 20 * mm)
        for i, kind in enumerate(table.kinds)
    ]


def period_pdf(summary: Summary) -> bytes:
    """The PDF's bytes for `summary` (made with `compare=True` to show the change from the previous period)."""
    styles = Styles()
    period = summary.period
    title = period_title(summary)
    story: list[Flowable] = [Paragraph(para_text(title), styles.title)]
    facts = [
        _("Time zone: %(zone)s") % {"zone": period.zone.key},
        _("Filters: %(filters)s") % {"filters": filters_text(summary) or _("none")},
        _("Generated %(when)s") % {"when": when(summary.generated_at, period.zone)},
    ]
    if summary.previous is not None:
        facts.append(
            _("Compared with %(start)s to %(end)s")
            % {"start": summary.previous.period.start.isoformat(), "end": summary.previous.period.end.isoformat()}
        )
    story += [paragraph(fact, styles.small) for fact in facts]
    story += [
        Spacer(1, 4 * mm),
        Paragraph(para_text(_("Headline figures")), styles.h2),
        grid_table(_headline_rows(headlines(summary), summary)),
        Spacer(1, 6 * mm),
    ]
    date_format = "%Y-%m" if summary.interval == "month" else "%m-%d"
    charts: list[Flowable] = [
        over_time_chart(summary, _("Incidents over time, by priority"), date_format),
        Spacer(1, 4 * mm),
        by_priority_chart(summary, _("Incidents by priority")),
    ]
    availability = availability_chart(summary, _("Availability per service"))
    if availability is not None:
        charts += [Spacer(1, 4 * mm), KeepTogether([availability])]
    story += charts
    for table in period_tables(summary)[1:]:  # the Overview is the headline table above
        story += _table(table, summary, styles)
    footer = f"{title} · {period.zone.key} · {timezone.localtime(summary.generated_at, period.zone):%Y-%m-%d %H:%M}"
    return build_pdf(story, title=title, footer=footer)
