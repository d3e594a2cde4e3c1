"""The SVG charts and the number formats of the reports pages, on their own."""

import datetime as dt
import re

from django.utils import translation

from reports import charts
from reports.formatting import bucket_label, duration, percent


def test_bars_are_scaled_to_a_round_maximum_and_names_are_escaped() -> None:
    svg = charts.horizontal_bars(
        summary="Incidents by service: <b>most</b> on A & B",
        bars=[charts.Bar("A & B <script>", 7, "7"), charts.Bar("C", 0, "0")],
        axis_label="Incidents",
        empty="Nothing",
    )
    assert svg.startswith('<svg class="chart" viewBox="0 0 640 104" width="100%" role="img"')
    assert 'aria-label="Incidents by service: &lt;b&gt;most&lt;/b&gt; on A &amp; B"' in svg
    assert "<script>" not in svg
    # The axis goes to 10 (7 rounded up): 7 is 70% of the 400 units of the plot, 0 is no width at all.
    assert re.findall(r'<rect class="bar fill-accent" x="170" y="\d+" width="([\d.]+)"', svg) == ["280.0", "0.0"]
    assert re.findall(r'<text class="tick-label"[^>]*>([^<]+)</text>', svg) == ["0", "5", "10"]
    assert '<text class="axis-label" x="370.0" y="96" text-anchor="middle">Incidents</text>' in svg


def test_a_fixed_scale_draws_percentages_and_long_names_are_shortened_in_the_picture_only() -> None:
    name = "A service with a remarkably long name"
    svg = charts.horizontal_bars(
        summary="Availability", bars=[charts.Bar(name, 99.5, "99.5%")], axis_label="%", empty="", maximum=100
    )
    assert ">A service with a remark…</text>" in svg
    assert f"<title>{name}: 99.5%</title>" in svg
    assert re.findall(r'<text class="tick-label"[^>]*>([^<]+)</text>', svg) == ["0", "50", "100"]


def test_nothing_to_draw_is_said_in_words() -> None:
    assert charts.horizontal_bars(summary="s", bars=[], axis_label="", empty="No incidents.") == (
        '<p class="empty chart-empty">No incidents.</p>'
    )
    zeros = [charts.Bar("P1", 0, "0")]
    assert "<svg" not in charts.horizontal_bars(summary="s", bars=zeros, axis_label="", empty="None")
    columns = [charts.Column("1 Oct", (charts.Segment(0, "fill-p1"),))]
    assert charts.stacked_columns(
        summary="s", columns=columns, legend=[], axis_label="", time_label="", empty="None"
    ) == ('<p class="empty chart-empty">None</p>')


def test_many_columns_name_only_every_few_under_the_axis() -> None:
    columns = [
        charts.Column(f"{day} Oct", (charts.Segment(day % 3, "fill-p1"), charts.Segment(1, "fill-p4")))
        for day in range(1, 31)
    ]
    svg = charts.stacked_columns(
        summary="Incidents per day",
        columns=columns,
        legend=[charts.LegendEntry("P1", "fill-p1"), charts.LegendEntry("P4", "fill-p4")],
        axis_label="Incidents",
        time_label="Day",
        empty="None",
    )
    named = re.findall(r'<text class="tick-label" x="[\d.]+" y="182" text-anchor="middle">([^<]+)</text>', svg)
    assert named == ["1 Oct", "5 Oct", "9 Oct", "13 Oct", "17 Oct", "21 Oct", "25 Oct", "29 Oct"]
    # Thirty P4 segments and twenty P1 ones (the days divisible by three have none), plus the legend's two.
    assert len(re.findall(r'<rect class="bar fill-p4"', svg)) == 31
    assert len(re.findall(r'<rect class="bar fill-p1"', svg)) == 21
    # The tallest column is 3, so the axis is 5; no half incidents on it.
    assert re.findall(r'text-anchor="end">([^<]+)</text>', svg) == ["0", "5"]


def test_numbers_and_durations_in_english_and_indonesian() -> None:
    with translation.override("en"):
        assert percent(99.305_6, 2) == "99.31%"
        assert percent(12.5, 0) == "13%"
        assert percent(100.0, 2) == "100%"
        assert percent(None) == "—"
        assert duration(0) == "0 s"
        assert duration(45) == "45 s"
        assert duration(3_900) == "1 h 5 min"
        assert duration(2 * 86_400 + 3 * 3_600 + 59) == "2 d 3 h"
        assert bucket_label(dt.date(2026, 10, 5), "week") == "5 Oct"
        assert bucket_label(dt.date(2026, 10, 1), "month") == "Oct 2026"
    with translation.override("id"):
        assert percent(99.305_6, 2) == "99,31%"
        assert duration(3_900) == "1 jam 5 mnt"
        assert bucket_label(dt.date(2026, 10, 1), "month") == "Okt 2026"
