"""A post-mortem as one Markdown document: every section, the timeline with its key moments, the action items.

The sections are the author's own text (they may write Markdown in them);
one-line values (timeline rows, item titles) are flattened to one line so
they cannot break the document's structure.
"""

import datetime as dt
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from incidents.models import PostMortem
from incidents.monitoring import human_duration
from incidents.postmortem_selectors import moments_for
from incidents.timeline import Actor

KEY_MARK = "★"


def markdown_filename(postmortem: PostMortem) -> str:
    return f"{postmortem.incident.number}-postmortem.md"


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return "—"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M}"


def _line(text: str) -> str:
    return " ".join(text.split())


def _person(user: Any) -> str:
    if user is None:
        return _("system")
    return str(user.get_full_name() or user.get_username())


def _duration(delta: dt.timedelta | None) -> str:
    return "" if delta is None else f" ({human_duration(delta)})"


# Labels are passed in rather than called inside f-strings: xgettext does not look into f-strings,
# so `make messages` would miss them.
def _item(label: str, value: str) -> str:
    return f"- **{label}:** {value}"


def _emphasis(text: str) -> str:
    return f"_{text}_"


def _section(title: str, body: str) -> list[str]:
    return [f"## {title}", "", body.strip() or _emphasis(_("Not written yet.")), ""]


def _header(postmortem: PostMortem) -> list[str]:
    incident = postmortem.incident
    status = str(postmortem.get_status_display())
    if postmortem.published_at is not None:
        status += " " + _("by %(person)s, %(when)s") % {
            "person": _person(postmortem.published_by),
            "when": _when(postmortem.published_at),
        }
    return [
        "# " + _("Post-mortem") + f": {incident.number} — {_line(incident.title)}",
        "",
        _item(_("Incident"), f"{incident.number} · {incident.priority} · {incident.get_state_display()}"),
        _item(_("Status"), status),
        _item(_("Author"), _person(postmortem.author) if postmortem.author else "—"),
        "",
    ]


def _impact(postmortem: PostMortem) -> list[str]:
    services = ", ".join(service.name for service in postmortem.affected_services.all()) or "—"
    users = f"{postmortem.affected_users:,}" if postmortem.affected_users is not None else "—"
    window = f"{_when(postmortem.downtime_started_at)} → {_when(postmortem.downtime_ended_at)}"
    return [
        "## " + _("Impact"),
        "",
        _item(_("Downtime"), window + _duration(postmortem.downtime)),
        _item(_("Affected users"), users),
        _item(_("Affected services"), services),
        "",
    ]


def _timeline(postmortem: PostMortem, viewer: Actor) -> list[str]:
    lines = [
        "## " + _("Timeline"),
        "",
        _("Times in %(zone)s. %(mark)s marks a key moment.")
        % {"zone": timezone.get_current_timezone_name(), "mark": KEY_MARK},
        "",
    ]
    moments = list(moments_for(postmortem=postmortem, viewer=viewer))
    for moment in moments:
        mark = f"{KEY_MARK} " if moment.is_key_moment else ""
        who = f" — {_person(moment.actor)}" if moment.actor is not None else ""
        lines.append(f"- {mark}**{_when(moment.occurred_at)}**{who} — {_line(moment.body)}")
    if not moments:
        lines.append(_emphasis(_("No moments recorded.")))
    lines.append("")
    return lines


def _action_items(postmortem: PostMortem) -> list[str]:
    lines = ["## " + _("Action items"), ""]
    items = list(postmortem.action_items.select_related("owner").order_by("created_at", "id"))
    today = timezone.localdate()
    for item in items:
        box = " " if item.is_pending else "x"
        details = [
            str(item.get_status_display()),
            _("owner %(person)s") % {"person": _person(item.owner)} if item.owner else _("no owner"),
            _("due %(date)s") % {"date": item.due_date.isoformat()} if item.due_date else _("no due date"),
            str(item.get_kind_display()),
        ]
        if item.is_overdue(today):
            details.insert(1, _("OVERDUE"))
        lines.append(f"- [{box}] **{_line(item.title)}** — {', '.join(details)}")
        for text in (item.description, item.resolution_note):
            if text.strip():
                lines.append(f"  {_line(text)}")
    if not items:
        lines.append(_emphasis(_("No action items.")))
    lines.append("")
    return lines


def postmortem_markdown(*, postmortem: PostMortem, viewer: Actor) -> str:
    """The whole post-mortem as `viewer` may read it (internal timeline rows for responders only)."""
    lines = [
        *_header(postmortem),
        *_section(_("Summary"), postmortem.summary),
        *_impact(postmortem),
        *_timeline(postmortem, viewer),
        *_section(_("Root cause"), postmortem.root_cause),
        *_section(_("Contributing factors"), postmortem.contributing_factors),
        *_section(_("What went well"), postmortem.what_went_well),
        *_section(_("What went badly"), postmortem.what_went_badly),
        *_section(_("Lessons learnt"), postmortem.lessons),
        *_action_items(postmortem),
    ]
    return "\n".join(lines).rstrip() + "\n"
