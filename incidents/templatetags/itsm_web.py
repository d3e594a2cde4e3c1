"""Small presentation helpers for the web UI's templates."""

from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def duration(seconds: int | None) -> str:
    """Seconds as a person reads a countdown: "2 d 3 h", "1 h 05 min", "4 min 09 s"."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return _("%(d)d d %(h)d h") % {"d": days, "h": hours}
    if hours:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
    return _("%(m)d min %(s)02d s") % {"m": minutes, "s": secs}


@register.filter
def person(user: object, empty: str = "—") -> str:
    """A user as the UI names them: full name, else user name; `empty` for nobody."""
    if user is None:
        return empty
    return str(getattr(user, "get_full_name", lambda: "")() or getattr(user, "username", "") or empty)


@register.filter
def state_name(value: str) -> str:
    """An incident state's name in the reader's language ("investigating" → "Investigating")."""
    from incidents.choices import State

    try:
        return str(State(value).label)
    except ValueError:
        return value
