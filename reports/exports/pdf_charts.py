"""The period report's charts, drawn by reportlab's own graphics (vector, no images, no other package)."""

from __future__ import annotations

from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from incidents.choices import Priority
from reports.exports.pdf_common import BOLD, FONT, drawable
from reports.metrics import Summary

# One colour per priority, P1 to P4, as the dashboard colours them (critical reads red).
PRIORITY_COLOURS = [
    colors.HexColor("#c0392b"),
    colors.HexColor("#e67e22"),
    colors.HexColor("#f1c40f"),
    colors.HexColor("#7f8c8d"),
]
WIDTH = 510
# At most this many services in the availability chart: the least available first.
SERVICES_CHARTED = 12


def _titled(height: float, title: str) -> Drawing:
    drawing = Drawing(WIDTH, height)
    drawing.add(String(0, height - 12, drawable(title), fontName=BOLD, fontSize=10))
    return drawing


def _scale(top: float) -> tuple[int, int]:
    """A round axis end above `top` and its step: at most about five gridlines."""
    top = max(1.0, top)
    magnitude = 1
    while True:
        for base in (1, 2, 5):
            step = base * magnitude
            if top / step <= 5:
                return step * -int(-top // step), step
        magnitude *= 10


def over_time_chart(summary: Summary, title: str, date_format: str = "%m-%d") -> Drawing:
    """Incidents per day, week or month, stacked by priority."""
    drawing = _titled(210, title)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 35, 40, WIDTH - 130, 145
    chart.data = [[b.by_priority.get(p, 0) for b in summary.over_time] for p in Priority.values] or [[0]]
    chart.categoryAxis.style = "stacked"
    buckets = summary.over_time
    every = max(1, len(buckets) // 12)
    chart.categoryAxis.categoryNames = [
        b.start.strftime(date_format) if i % every == 0 else "" for i, b in enumerate(buckets)
    ]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 45
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.valueMin = 0
    chart.valueAxis.valueMax, chart.valueAxis.valueStep = _scale(max((b.count for b in buckets), default=0))
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.bars.strokeWidth = 0
    chart.barSpacing = 1
    for index, colour in enumerate(PRIORITY_COLOURS):
        chart.bars[index].fillColor = colour
    drawing.add(chart)
    drawing.add(_priority_legend(WIDTH - 70, 175))
    return drawing


def _priority_legend(x: float, y: float) -> Legend:
    legend = Legend()
    legend.x, legend.y = x, y
    legend.fontName = FONT
    legend.fontSize = 8
    legend.alignment = "right"
    legend.columnMaximum = len(Priority.values)
    legend.colorNamePairs = list(zip(PRIORITY_COLOURS, Priority.values, strict=True))
    return legend


def by_priority_chart(summary: Summary, title: str) -> Drawing:
    """Incidents per priority, one bar each."""
    drawing = _titled(160, title)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 110, 25, WIDTH - 160, 110
    counts = [t.count for t in summary.by_priority]
    chart.data = [list(reversed(counts))]
    chart.categoryAxis.categoryNames = [drawable(t.label) for t in reversed(summary.by_priority)]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 8
    chart.valueAxis.valueMin = 0
    # Room at the end of the longest bar for its number.
    chart.valueAxis.valueMax, chart.valueAxis.valueStep = _scale(max(counts) * 1.15)
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.bars.strokeWidth = 0
    for index, colour in enumerate(reversed(PRIORITY_COLOURS)):
        chart.bars[(0, index)].fillColor = colour
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 7
    drawing.add(chart)
    return drawing


def availability_chart(summary: Summary, title: str) -> Drawing | None:
    """Each service's availability in the period, the least available first; None without services."""
    services = summary.availability[:SERVICES_CHARTED]
    if not services:
        return None
    height = 40 + 16 * len(services)
    drawing = _titled(height + 25, title)
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 150, 25, WIDTH - 200, height - 25
    values = [s.availability_percent for s in reversed(services)]
    chart.data = [values]
    chart.categoryAxis.categoryNames = [drawable(s.name[:28]) for s in reversed(services)]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 8
    # Availability lives near 100%: start the axis low enough to show the worst service's gap.
    floor = min(values)
    chart.valueAxis.valueMin = max(0.0, float(int(floor) - 1)) if floor < 100 else 90.0
    chart.valueAxis.valueMax = 100
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = "%g%%"
    chart.bars.strokeWidth = 0
    chart.bars[0].fillColor = colors.HexColor("#2e86c1")
    chart.barLabelFormat = "%.2f%%"
    chart.barLabels.fontName = FONT
    chart.barLabels.fontSize = 7
    chart.barLabels.nudge = 14
    drawing.add(chart)
    return drawing
