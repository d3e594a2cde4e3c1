"""One incident's management report (the seeds' step 10): what the page and the PDF show, gathered once.

A short report for management: what happened, its impact (downtime, users
affected, services), the moments that mattered, the root cause, how each SLA
clock ended, and the recommendations: the lessons learnt and the follow-up
action items with their owner, due date and status.

`incident_report` reads it all in a fixed number of queries, however long
the incident's timeline or its list of action items.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import F, Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from escalation.models import SlaClock
from escalation.models.sla import ClockKind
from incidents.choices import EntryKind, PostMortemStatus, State
from incidents.models import ActionItem, Incident, PostMortem, PostMortemMoment, TimelineEntry

# The highlights of an incident without a published post-mortem: how it was reported and each state change.
TRANSITION_KINDS = (EntryKind.CREATED, EntryKind.TRANSITION)


@dataclass(frozen=True)
class Highlight:
    at: dt.datetime
    text: str
    actor: str


@dataclass(frozen=True)
class ClockOutcome:
    kind: str
    label: str
    target_seconds: float
    business_hours: bool
    outcome: str  # breached, met, stopped or running
    outcome_label: str
    due_at: dt.datetime | None
    met_at: dt.datetime | None
    breached_at: dt.datetime | None


@dataclass(frozen=True)
class FollowUp:
    title: str
    kind: str
    owner: str
    due_date: dt.date | None
    status: str
    status_label: str
    overdue: bool


@dataclass(frozen=True)
class IncidentReport:
    incident: Incident
    generated_at: dt.datetime
    summary: str
    downtime_started_at: dt.datetime
    downtime_ended_at: dt.datetime | None  # None while the impact lasts
    downtime_seconds: float
    affected_users: int | None
    services: list[str]
    highlights: list[Highlight]
    highlights_are_key_moments: bool
    root_cause: str
    contributing_factors: str
    mitigation: str
    resolution: str
    clocks: list[ClockOutcome]
    lessons: str
    follow_ups: list[FollowUp]
    postmortem_status: str  # '' without a post-mortem

    @property
    def postmortem_published(self) -> bool:
        return self.postmortem_status == PostMortemStatus.PUBLISHED

    @property
    def postmortem_status_label(self) -> str:
        if not self.postmortem_status:
            return _("not written")
        return str(PostMortemStatus(self.postmortem_status).label)

    @property
    def time_to_acknowledge(self) -> float | None:
        acknowledged = self.incident.acknowledged_at
        return None if acknowledged is None else (acknowledged - self.incident.created_at).total_seconds()

    @property
    def time_to_resolve(self) -> float | None:
        resolved = self.incident.resolved_at
        return None if resolved is None else (resolved - self.incident.created_at).total_seconds()


def _person(user: object | None) -> str:
    if user is None:
        return ""
    full = getattr(user, "get_full_name", lambda: "")()
    return str(full or getattr(user, "username", ""))


def _outcome(clock: SlaClock) -> tuple[str, str]:
    """The clock's outcome as the exports say it: breached (even if met late), met, stopped, or running."""
    if clock.breached_at is not None:
        return "breached", _("Breached")
    if clock.met_at is not None:
        return "met", _("Met")
    if clock.stopped_at is not None:
        return "stopped", _("Stopped")
    return "running", _("Running")


def _clock(clock: SlaClock) -> ClockOutcome:
    outcome, label = _outcome(clock)
    return ClockOutcome(
        kind=clock.kind,
        label=_("Acknowledge") if clock.kind == ClockKind.ACKNOWLEDGE else _("Resolve"),
        target_seconds=clock.target.total_seconds(),
        business_hours=clock.calendar_id is not None,
        outcome=outcome,
        outcome_label=label,
        due_at=clock.due_at,
        met_at=clock.met_at,
        breached_at=clock.breached_at,
    )


def _entry_text(entry: TimelineEntry) -> str:
    data = entry.data or {}
    if entry.kind == EntryKind.CREATED:
        return _("Reported: %(title)s") % {"title": entry.body} if entry.body else _("Reported")
    states = dict(State.choices)
    if "to" in data:
        moved = _("Now %(state)s") % {"state": states.get(data["to"], data["to"])}
        return f"{moved}: {entry.body}" if entry.body else moved
    return entry.body


def _follow_up(item: ActionItem, today: dt.date) -> FollowUp:
    return FollowUp(
        title=item.title,
        kind=str(item.get_kind_display()),
        owner=_person(item.owner),
        due_date=item.due_date,
        status=item.status,
        status_label=str(item.get_status_display()),
        overdue=item.is_overdue(today),
    )


def incident_report(incident: Incident) -> IncidentReport:
    """Everything the report shows, in six queries whatever the incident's size.

    1. The incident with its team, people and post-mortem (one join),
       then its services, SLA clocks and action items with their owners (prefetches).
    2. The highlights: the post-mortem's key moments when it is published and
       marks some, else the report and each state change from the incident's timeline.
    """
    incident = (
        Incident.objects.select_related("team", "assignee", "commander", "postmortem")
        .prefetch_related(
            "services",
            Prefetch("sla_clocks", queryset=SlaClock.objects.order_by("kind")),
            Prefetch(
                "action_items",
                queryset=ActionItem.objects.select_related("owner").order_by(
                    F("due_date").asc(nulls_last=True), "created_at", "id"
                ),
            ),
        )
        .get(pk=incident.pk)
    )
    postmortem: PostMortem | None = getattr(incident, "postmortem", None)
    published = postmortem is not None and postmortem.status == PostMortemStatus.PUBLISHED
    highlights: list[Highlight] = []
    if published:
        moments = PostMortemMoment.objects.filter(postmortem=postmortem, is_key_moment=True).select_related("actor")
        highlights = [
            Highlight(m.occurred_at, m.body, _person(m.actor))
            for m in moments.order_by("occurred_at", "sequence", "id")
        ]
    key_moments = bool(highlights)
    if not highlights:
        entries = (
            incident.timeline.filter(kind__in=TRANSITION_KINDS).select_related("actor").order_by("created_at", "id")
        )
        highlights = [Highlight(e.created_at, _entry_text(e), _person(e.actor)) for e in entries]

    # The post-mortem's impact window once published (its authors may have corrected it), else the incident's.
    started = incident.started_at
    ended = incident.mitigated_at or incident.resolved_at
    users = incident.affected_users
    services = [service.name for service in incident.services.all()]
    if published and postmortem is not None:
        started = postmortem.downtime_started_at or started
        ended = postmortem.downtime_ended_at or ended
        users = postmortem.affected_users if postmortem.affected_users is not None else users
    now = timezone.now()
    downtime = max(0.0, ((ended or now) - started).total_seconds())
    today = timezone.localdate()
    return IncidentReport(
        incident=incident,
        generated_at=now,
        summary=(postmortem.summary if published and postmortem is not None else "") or incident.description,
        downtime_started_at=started,
        downtime_ended_at=ended,
        downtime_seconds=downtime,
        affected_users=users,
        services=services,
        highlights=highlights,
        highlights_are_key_moments=key_moments,
        root_cause=(postmortem.root_cause if published and postmortem is not None else "") or incident.root_cause,
        contributing_factors=postmortem.contributing_factors if published and postmortem is not None else "",
        mitigation=incident.mitigation,
        resolution=incident.resolution,
        clocks=[_clock(clock) for clock in incident.sla_clocks.all()],
        lessons=postmortem.lessons if published and postmortem is not None else "",
        follow_ups=[_follow_up(item, today) for item in incident.action_items.all()],
        postmortem_status=postmortem.status if postmortem is not None else "",
    )
