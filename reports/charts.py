"""Charts for the report pages, drawn on the server as inline SVG.

No JavaScript and no Node build: each chart is a small SVG that scales with its
`viewBox`, carries `role="img"` and a one-sentence summary for screen readers,
and is always shown beside a table of the same numbers, so nothing depends on
seeing the picture. Colours come from CSS classes (`fill-p1`...), the same
palette as the priority badges.

A chart with nothing to draw says so in words rather than drawing an empty frame,
and no size here is ever divided by a zero total.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# The drawing's own units; the page stretches them to its width.
WIDTH = 640
ROW = 26  # a horizontal bar's row
LABEL_WIDTH = 170  # room for the category names left of horizontal bars
VALUE_ROOM = 70  # room for the value right of the longest bar
LABEL_CHARACTERS = 24  # longer names are shortened in the picture; the table has them whole
COLUMNS_HEIGHT = 220
MAX_AXIS_LABELS = 8


@dataclass(frozen=True)
class Bar:
    """One bar: its category's name, its length, the text shown at its end, and its colour's class."""

    label: str
    value: float
    text: str
    css: str = "fill-accent"


@dataclass(frozen=True)
class Segment:
    """One part of a stacked column: a priority's share of a bucket."""

    value: int
    css: str


@dataclass(frozen=True)
class Column:
    label: str  # the bucket's name under the axis (may be left out when crowded)
    segments: tuple[Segment, ...]

    @property
    def total(self) -> int:
        return sum(segment.value for segment in self.segments)


@dataclass(frozen=True)
class LegendEntry:
    label: str
    css: str


def _shortened(text: str) -> str:
    return text if len(text) <= LABEL_CHARACTERS else text[: LABEL_CHARACTERS - 1] + "…"


def _nice_ceiling(value: float) -> float:
    """The axis maximum: `value` rounded up to 1, 2 or 5 times a power of ten (at least 1)."""
    if value <= 1:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return float(step * magnitude)
    return float(10 * magnitude)  # pragma: no cover — the loop always returns


def _empty(message: str) -> SafeString:
    return format_html('<p class="empty chart-empty">{}</p>', message)


def _ticks(scale_max: float) -> list[float]:
    """Zero, the middle and the top of an axis; no middle when it is not a whole number (half an incident)."""
    middle = scale_max / 2
    return [0.0, middle, scale_max] if middle.is_integer() else [0.0, scale_max]


def _tick_text(value: float) -> str:
    return f"{value:g}"


def horizontal_bars(
    *, summary: str, bars: Sequence[Bar], axis_label: str, empty: str, maximum: float | None = None
) -> SafeString:
    """Bars from a left axis of names, each with its value written at its end.

    `maximum` fixes the scale (100 for percentages); otherwise the longest bar sets it.
    With no bar longer than zero and no fixed scale, the `empty` sentence is shown instead.
    """
    if not bars or (maximum is None and not any(bar.value > 0 for bar in bars)):
        return _empty(empty)
    scale_max = maximum if maximum is not None else _nice_ceiling(max(bar.value for bar in bars))
    plot_width = WIDTH - LABEL_WIDTH - VALUE_ROOM
    top = 8
    height = top + ROW * len(bars) + 44

    def x_of(value: float) -> float:
        return LABEL_WIDTH + plot_width * max(0.0, min(value, scale_max)) / scale_max

    rows = format_html_join(
        "",
        '<g class="bar-row"><text class="label" x="{}" y="{}" text-anchor="end">{}</text>'
        '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>'
        '<text class="value" x="{}" y="{}">{}</text></g>',
        (
            (
                LABEL_WIDTH - 6,
                top + ROW * index + ROW * 0.65,
                _shortened(bar.label),
                bar.css,
                LABEL_WIDTH,
                top + ROW * index + 4,
                f"{x_of(bar.value) - LABEL_WIDTH:.1f}",
                ROW - 8,
                bar.label,
                bar.text,
                f"{x_of(bar.value) + 4:.1f}",
                top + ROW * index + ROW * 0.65,
                bar.text,
            )
            for index, bar in enumerate(bars)
        ),
    )
    axis_y = top + ROW * len(bars) + 2
    ticks = format_html_join(
        "",
        '<line class="tick" x1="{0}" x2="{0}" y1="{1}" y2="{2}"/><text class="tick-label" x="{0}" y="{3}" '
        'text-anchor="middle">{4}</text>',
        ((f"{x_of(value):.1f}", axis_y, axis_y + 4, axis_y + 16, _tick_text(value)) for value in _ticks(scale_max)),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'preserveAspectRatio="xMinYMin meet"><title>{}</title>{}'
        '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>{}'
        '<text class="axis-label" x="{}" y="{}" text-anchor="middle">{}</text></svg>',
        WIDTH,
        height,
        summary,
        summary,
        rows,
        LABEL_WIDTH,
        LABEL_WIDTH + plot_width,
        axis_y,
        axis_y,
        ticks,
        LABEL_WIDTH + plot_width / 2,
        axis_y + 34,
        axis_label,
    )


def stacked_columns(
    *,
    summary: str,
    columns: Sequence[Column],
    legend: Sequence[LegendEntry],
    axis_label: str,
    time_label: str,
    empty: str,
) -> SafeString:
    """Columns side by side (one a day, week or month), each stacked from its parts, with a legend.

    Only every few buckets are named under the axis when there are many; the table names them all.
    """
    if not columns or not any(column.total for column in columns):
        return _empty(empty)
    left, right, top, bottom = 44, 8, 30, 52
    plot_width = WIDTH - left - right
    plot_height = COLUMNS_HEIGHT - top - bottom
    scale_max = _nice_ceiling(max(column.total for column in columns))
    slot = plot_width / len(columns)
    bar_width = max(slot * 0.7, 1.0)
    every = math.ceil(len(columns) / MAX_AXIS_LABELS)

    def y_of(value: float) -> float:
        return top + plot_height - plot_height * value / scale_max

    parts = []
    for index, column in enumerate(columns):
        x = left + slot * index + (slot - bar_width) / 2
        base = 0
        for segment in column.segments:
            if segment.value:
                parts.append(
                    format_html(
                        '<rect class="bar {}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>',
                        segment.css,
                        f"{x:.1f}",
                        f"{y_of(base + segment.value):.1f}",
                        f"{bar_width:.1f}",
                        f"{y_of(base) - y_of(base + segment.value):.1f}",
                        column.label,
                        segment.value,
                    )
                )
            base += segment.value
        if index % every == 0:
            parts.append(
                format_html(
                    '<text class="tick-label" x="{}" y="{}" text-anchor="middle">{}</text>',
                    f"{x + bar_width / 2:.1f}",
                    top + plot_height + 14,
                    column.label,
                )
            )
    ticks = format_html_join(
        "",
        '<line class="grid" x1="{0}" x2="{1}" y1="{2}" y2="{2}"/>'
        '<text class="tick-label" x="{3}" y="{4}" text-anchor="end">{5}</text>',
        (
            (left, left + plot_width, f"{y_of(value):.1f}", left - 4, f"{y_of(value) + 4:.1f}", _tick_text(value))
            for value in _ticks(scale_max)
        ),
    )
    key = format_html_join(
        "",
        '<rect class="bar {}" x="{}" y="6" width="12" height="12"/><text class="legend" x="{}" y="16">{}</text>',
        ((entry.css, left + 110 * index, left + 110 * index + 16, entry.label) for index, entry in enumerate(legend)),
    )
    return format_html(
        '<svg class="chart" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}" '
        'preserveAspectRatio="xMinYMin meet"><title>{}</title>{}{}{}'
        '<line class="axis" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="axis-label" x="{}" y="{}" text-anchor="middle">{}</text>'
        '<text class="axis-label" transform="rotate(-90)" x="{}" y="12" text-anchor="middle">{}</text></svg>',
        WIDTH,
        COLUMNS_HEIGHT,
        summary,
        summary,
        key,
        ticks,
        format_html_join("", "{}", ((part,) for part in parts)),
        left,
        left + plot_width,
        top + plot_height,
        top + plot_height,
        left + plot_width / 2,
        COLUMNS_HEIGHT - 8,
        time_label,
        -(top + plot_height / 2),
        axis_label,
    )
