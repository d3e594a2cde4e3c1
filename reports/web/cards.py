"""The dashboard's headline figures, each beside the previous period's and what the change means.

A change is written as an arrow and in words ("▲ 12% more than the previous
period"), never only as a colour, and each card says which way is good for
its metric, since more incidents is bad news and more SLA compliance good news.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from reports.formatting import duration, number, percent
from reports.metrics import DurationStats, Summary

# How a metric's change is measured: relative to its previous value, or in percentage points.
RELATIVE = "relative"
POINTS = "points"


@dataclass(frozen=True)
class Card:
    key: str
    label: str
    value: str
    detail: str  # "median 4 min · p90 9 min", or ""
    previous: str
    change: str  # the arrow and the words
    trend: str  # up, down, same or none: a CSS class, the words say it too
    verdict: str  # "better", "worse" or "" (said in words on the card)
    verdict_text: str
    sense: str  # which way is good


@dataclass(frozen=True)
class _Metric:
    key: str
    label: str
    read: Callable[[Summary], float | None]
    show: Callable[[float | None], str]
    lower_is_better: bool = True
    measure: str = RELATIVE
    detail: Callable[[Summary], str] | None = None


def _times(stats: DurationStats) -> str:
    if not stats.count:
        return ""
    return _("median %(median)s · p90 %(p90)s") % {"median": duration(stats.median), "p90": duration(stats.p90)}


def _change(current: float | None, previous: float | None, measure: str) -> tuple[str, str]:
    """The change from `previous` to `current` in words, and its direction."""
    if current is None or previous is None:
        return _("No comparison: the value is missing in one of the periods."), "none"
    if round(current, 2) == round(previous, 2):
        return _("= the same as the previous period"), "same"
    up = current > previous
    if measure == POINTS:
        amount = _("%(points)s points") % {"points": number(abs(current - previous), 1)}
    elif previous == 0:
        return _("▲ up from none in the previous period"), "up"
    else:
        amount = percent(abs(current - previous) / previous * 100, 0)
    if up:
        return _("▲ %(change)s more than the previous period") % {"change": amount}, "up"
    return _("▼ %(change)s less than the previous period") % {"change": amount}, "down"


def _metrics() -> list[_Metric]:
    return [
        _Metric("incidents", _("Incidents"), lambda s: s.total, lambda v: number(v)),
        _Metric(
            "mtta",
            _("Mean time to acknowledge (MTTA)"),
            lambda s: s.response_times.acknowledge.mean,
            duration,
            detail=lambda s: _times(s.response_times.acknowledge),
        ),
        _Metric(
            "mitigate",
            _("Mean time to mitigate"),
            lambda s: s.response_times.mitigate.mean,
            duration,
            detail=lambda s: _times(s.response_times.mitigate),
        ),
        _Metric(
            "mttr",
            _("Mean time to resolve (MTTR)"),
            lambda s: s.response_times.resolve.mean,
            duration,
            detail=lambda s: _times(s.response_times.resolve),
        ),
        _Metric("downtime", _("Downtime"), lambda s: s.downtime_seconds, duration),
        _Metric(
            "sla_response",
            _("SLA compliance, response"),
            lambda s: s.sla_compliance("acknowledge"),
            percent,
            lower_is_better=False,
            measure=POINTS,
        ),
        _Metric(
            "sla_resolution",
            _("SLA compliance, resolution"),
            lambda s: s.sla_compliance("resolve"),
            percent,
            lower_is_better=False,
            measure=POINTS,
        ),
        _Metric("affected_users", _("Affected users"), lambda s: s.affected_users, lambda v: number(v)),
        _Metric("reopen_rate", _("Reopen rate"), lambda s: s.reopen_rate_percent, percent, measure=POINTS),
        _Metric("followups_open", _("Follow-ups open"), lambda s: s.action_items_open, lambda v: number(v)),
        _Metric("followups_overdue", _("Follow-ups overdue"), lambda s: s.action_items_overdue, lambda v: number(v)),
    ]


def headline_cards(summary: Summary) -> list[Card]:
    cards = []
    for metric in _metrics():
        current = metric.read(summary)
        previous = metric.read(summary.previous) if summary.previous else None
        change, trend = _change(current, previous, metric.measure)
        verdict = ""
        if trend in ("up", "down"):
            verdict = "better" if (trend == "down") == metric.lower_is_better else "worse"
        cards.append(
            Card(
                key=metric.key,
                label=metric.label,
                value=metric.show(current),
                detail=metric.detail(summary) if metric.detail else "",
                previous=metric.show(previous),
                change=change,
                trend=trend,
                verdict=verdict,
                verdict_text={"better": _("better"), "worse": _("worse")}.get(verdict, ""),
                sense=_("Lower is better.") if metric.lower_is_better else _("Higher is better."),
            )
        )
    return cards
