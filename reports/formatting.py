"""Numbers, durations and percentages as the reports write them (pages and exports alike), in the reader's language.

Decimal commas for Indonesian come from Django's number formatting; the short
time units are the ones the SLA countdown already uses ("2 h 5 min", "2 jam 5 mnt").
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.utils import dateformat, formats
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from reports.periods import Interval

MISSING = "—"


def number(value: float | int | Decimal | None, decimals: int = 0) -> str:
    if value is None:
        return MISSING
    return formats.number_format(value, decimal_pos=decimals, use_l10n=True, force_grouping=True)


def percent(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return MISSING
    # Half up, as people round (12.5% shows as 13%, not Python's banker's 12%).
    shown = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    # Whole percentages read better without ",0".
    return (number(shown, 0) if shown == shown.to_integral_value() else number(shown, decimals)) + "%"


def duration(seconds: float | None) -> str:
    """The two largest units that matter: "2 d 3 h", "1 h 5 min", "12 min", "45 s"."""
    if seconds is None:
        return MISSING
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    units = [
        (days, pgettext("days, short", "d")),
        (hours, pgettext("hours, short", "h")),
        (minutes, pgettext("minutes, short", "min")),
        (secs, pgettext("seconds, short", "s")),
    ]
    for index, (amount, _unit) in enumerate(units):
        if amount or index == len(units) - 1:
            shown = [f"{amount} {unit}" for amount, unit in units[index : index + 2] if amount]
            return " ".join(shown) or f"0 {units[-1][1]}"
    return MISSING  # pragma: no cover — the loop always returns


def bucket_label(day: dt.date, interval: str) -> str:
    """A chart bucket's name: "5 Nov" for a day or the week starting then, "Nov 2026" for a month."""
    if interval == Interval.MONTH:
        return dateformat.format(day, "M Y")
    return dateformat.format(day, "j M")


def bucket_heading(interval: str) -> str:
    return {
        Interval.DAY: _("Day"),
        Interval.WEEK: _("Week starting"),
        Interval.MONTH: _("Month"),
    }.get(interval, _("Day"))
