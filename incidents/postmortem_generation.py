"""A post-mortem's timeline, generated from the incident's own.

The incident's timeline already holds every event with its actor: each domain
function writes the timeline entry and the history row together (report,
transitions with their notes, assignments, priority changes, pages, notes,
status updates). The post-mortem copies those entries into rows of its own,
plus two moments kept on the incident record itself: when the impact began
and when it was detected. Its own state changes are left out.

Callers hold the post-mortem's lock (`incidents.postmortems.lock_postmortem`).
"""

import datetime as dt
from dataclasses import dataclass

from django.utils.translation import gettext as _

from incidents.choices import EntryKind, MomentSource, State, Visibility
from incidents.models import Incident, PostMortem, PostMortemMoment, TimelineEntry
from incidents.timeline import Actor, delete_audited, save_audited

# Moments at the same instant: the impact begins before it is detected, and both before any entry.
IMPACT_SEQUENCE = -2
DETECTED_SEQUENCE = -1


@dataclass(frozen=True)
class MomentSpec:
    """What a generated row says, as its source says it now."""

    source: str
    entry_id: int | None
    kind: str
    sequence: int
    occurred_at: dt.datetime
    actor_id: int | None
    body: str
    visibility: str

    @property
    def key(self) -> str:
        return f"entry:{self.entry_id}" if self.entry_id is not None else self.source


def moment_key(moment: PostMortemMoment) -> str:
    """The source a generated row was made from; a row whose entry is gone matches nothing."""
    if moment.source == MomentSource.ENTRY:
        return f"entry:{moment.source_entry_id}" if moment.source_entry_id is not None else f"gone:{moment.pk}"
    return moment.source


def _state_label(value: str) -> str:
    return str(State(value).label) if value in State.values else value


def describe_entry(entry: TimelineEntry) -> str:
    """An incident timeline entry as one readable line."""
    data = entry.data or {}
    if entry.kind == EntryKind.CREATED:
        priority = data.get("priority")
        if priority:
            return _("Reported: %(title)s (%(priority)s).") % {"title": entry.body, "priority": priority}
        return _("Reported: %(title)s.") % {"title": entry.body}
    if entry.kind == EntryKind.TRANSITION and "from" in data and "to" in data:
        change = _("%(from)s → %(to)s") % {"from": _state_label(data["from"]), "to": _state_label(data["to"])}
        return f"{change}: {entry.body}" if entry.body else f"{change}."
    label = str(EntryKind(entry.kind).label) if entry.kind in EntryKind.values else entry.kind
    return f"{label}: {entry.body}" if entry.body else label


def _is_about_the_postmortem(entry: TimelineEntry) -> bool:
    return entry.kind == EntryKind.POSTMORTEM or "postmortem" in (entry.data or {})


def moment_sources(incident: Incident) -> list[MomentSpec]:
    """Every moment the generated timeline shows, in the incident's own order."""
    specs = [
        MomentSpec(
            source=MomentSource.IMPACT_STARTED,
            entry_id=None,
            kind="",
            sequence=IMPACT_SEQUENCE,
            occurred_at=incident.started_at,
            actor_id=None,
            body=_("Impact began."),
            visibility=Visibility.PUBLIC,
        ),
        MomentSpec(
            source=MomentSource.DETECTED,
            entry_id=None,
            kind="",
            sequence=DETECTED_SEQUENCE,
            occurred_at=incident.detected_at,
            actor_id=None,
            body=_("Detected."),
            visibility=Visibility.PUBLIC,
        ),
    ]
    for entry in incident.timeline.order_by("created_at", "id"):
        if _is_about_the_postmortem(entry):
            continue
        specs.append(
            MomentSpec(
                source=MomentSource.ENTRY,
                entry_id=entry.pk,
                kind=entry.kind,
                sequence=entry.pk,
                occurred_at=entry.created_at,
                actor_id=entry.actor_id,
                body=describe_entry(entry),
                visibility=entry.visibility,
            )
        )
    return specs


def _apply(moment: PostMortemMoment, spec: MomentSpec) -> bool:
    """Make the row say what its source says; True if anything changed."""
    values = {
        "source": spec.source,
        "source_entry_id": spec.entry_id,
        "kind": spec.kind,
        "sequence": spec.sequence,
        "occurred_at": spec.occurred_at,
        "actor_id": spec.actor_id,
        "body": spec.body,
        "visibility": spec.visibility,
    }
    changed = False
    for field, value in values.items():
        if getattr(moment, field) != value:
            setattr(moment, field, value)
            changed = True
    return changed


def sync_generated_moments(*, postmortem: PostMortem, actor: Actor) -> None:
    """Rebuild the generated rows from the incident, keeping the author's rows and key marks.

    1. Read what the incident says now (its impact start, detection and timeline).
    2. A source with a row: the row is reset to the source (its key mark stays).
    3. A source without one (new, or removed by the author): a row is made.
    4. A row whose source is gone is deleted.
    Every row written or deleted gets a history row naming the actor.
    """
    existing = {moment_key(row): row for row in postmortem.moments.exclude(source=MomentSource.AUTHOR)}
    for spec in moment_sources(postmortem.incident):
        row = existing.pop(spec.key, None)
        if row is None:
            row = PostMortemMoment(postmortem=postmortem)
            _apply(row, spec)
            save_audited(row, actor=actor, reason="generated")
        elif _apply(row, spec):
            save_audited(row, actor=actor, reason="regenerated")
    for row in existing.values():
        delete_audited(row, actor=actor, reason="source gone")
