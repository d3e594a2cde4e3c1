"""Durations as people say them, for the reports' pages and PDFs."""

from django.utils.translation import gettext as _


def span(seconds: float | None) -> str:
    """A duration as people say it: 2 d 3 h, 1 h 5 min, 4 min, 20 s."""
    if seconds is None:
        return "–"
    seconds = max(0, round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    if minutes:
        return _("%(minutes)d min") % {"minutes": minutes}
    return _("%(seconds)d s") % {"seconds": secs}
