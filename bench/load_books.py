"""The books of a bench/load.py run: what the load got accepted, against what the product did with it.

Read after the load, once the worker has drained, from the record the
locustfile wrote (every intake event answered 202, every incident answered
201, and the requests that got no answer) and from the product's tables.
Needs Django set up on the run's database.

1. Nothing pending, nothing failed.
2. Each (integration, key, action) was stored as often as it was accepted
   (plus at most the requests that got no answer: stored, but never told).
3. Replayed in the order the processor took them, every event had exactly the
   outcome its predecessors call for, on the right incident (`Replay`).
4. Every trigger that opened, joined or re-fired wrote exactly one alert entry
   on its incident's timeline; a repeat wrote none.
5. Every monitoring incident was opened by exactly one event; at the end each
   is in the state its alerts call for.
6. Every incident the API answered 201 for exists once, under its number.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

OPEN, MITIGATED, RESOLVED = "open", "mitigated", "resolved"
# What the product's incident states mean to the replay.
STATE_CLASSES = {
    "new": OPEN,
    "acknowledged": OPEN,
    "investigating": OPEN,
    "on_hold": OPEN,
    "mitigated": MITIGATED,
    "resolved": RESOLVED,
    "closed": RESOLVED,
    "cancelled": RESOLVED,
}


@dataclass
class Event:
    pk: int
    integration: int
    action: str
    key: str
    group: str
    content: str
    outcome: str
    incident: int | None


@dataclass
class Replay:
    """The outcomes a sequence of events calls for, as the design describes them.

    A key has at most one open alert. A trigger with an open alert is a repeat
    when it says what the alert says (same content hash), else a re-fire; with
    none, it joins the open incident of its group (reopening it if mitigated)
    or opens a new one. A resolve with an open alert resolves it, and when the
    incident has no other open alert, mitigates or resolves it as the
    integration says; with none, it is dropped.
    """

    resolve_actions: dict[int, str]
    alerts: dict[tuple[int, str], tuple[str, int]] = field(default_factory=dict)  # key → (content, incident)
    states: dict[int, str] = field(default_factory=dict)  # incident → OPEN, MITIGATED or RESOLVED
    groups: defaultdict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    opened: Counter[int] = field(default_factory=Counter)

    def expect(self, event: Event) -> tuple[str, int | None]:
        """The outcome and incident `event` calls for, given those before it; `event.incident` names a new one."""
        key = (event.integration, event.key)
        alert = self.alerts.get(key)
        if event.action == "trigger":
            if alert is not None:
                if alert[0] == event.content:
                    return "repeated", alert[1]
                self.alerts[key] = (event.content, alert[1])
                return "refired", alert[1]
            group = (event.integration, event.group)
            joined = next((pk for pk in reversed(self.groups[group]) if self.states[pk] != RESOLVED), None)
            if joined is None:
                if event.incident is None:
                    return "opened", None
                joined = event.incident
                self.opened[joined] += 1
                self.states[joined] = OPEN
                outcome = "opened"
            else:
                self.states[joined] = OPEN  # a mitigated incident is reopened
                outcome = "joined"
            self.groups[group].append(joined)
            self.alerts[key] = (event.content, joined)
            return outcome, joined
        if event.action == "resolve":
            if alert is None:
                return "dropped", None
            del self.alerts[key]
            incident = alert[1]
            if not any(other == incident for _, other in self.alerts.values()):
                self.states[incident] = MITIGATED if self.resolve_actions[event.integration] == "mitigate" else RESOLVED
            return "resolved", incident
        return "unexpected action", None


def read_record(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def check_books(record: list[dict[str, Any]], *, before: tuple[int, int]) -> list[tuple[bool, str]]:
    """Every check as (passed, what it found), on the incidents and events made after `before`
    (the highest incident and event ids before the load: the demo data's)."""
    from django.db.models import F

    from incidents.choices import EntryKind, Source
    from incidents.models import AlertEvent, Incident, Integration, TimelineEntry
    from incidents.models.incidents import NUMBER_PREFIX

    kinds = dict(Integration.objects.values_list("pk", "kind"))
    resolve_actions = dict(Integration.objects.values_list("pk", "resolve_action"))
    incidents_before, events_before = before
    rows = (
        AlertEvent.objects.filter(pk__gt=events_before)
        .order_by(F("processed_at").asc(nulls_last=True), "id")
        .values_list(
            "pk", "integration_id", "action", "dedup_key", "group_key", "content_hash", "outcome", "incident_id"
        )
    )
    events = [Event(*row) for row in rows]
    checks: list[tuple[bool, str]] = []

    # 1. The queue is empty and nothing failed.
    pending = AlertEvent.objects.filter(pk__gt=events_before, processed_at=None).count()
    failed = sum(1 for event in events if event.outcome == "failed")
    checks.append((pending == 0, f"alert events pending: {pending}"))
    checks.append((failed == 0, f"alert events failed: {failed}"))

    # 2. Stored as often as accepted.
    accepted = Counter((r["kind"], r["key"], r["action"]) for r in record if r["what"] == "intake")
    unknown = Counter((r["kind"], r["key"], r["action"]) for r in record if r["what"] == "intake unknown")
    stored = Counter((kinds[event.integration], event.key, event.action) for event in events)
    off = [
        item
        for item in set(accepted) | set(stored)
        if not accepted[item] <= stored[item] <= accepted[item] + unknown[item]
    ]
    checks.append(
        (
            not off,
            f"intake events stored: {sum(stored.values()):,} for {sum(accepted.values()):,} accepted (202) "
            f"and {sum(unknown.values()):,} unanswered; keys whose count differs: {len(off)}"
            + (f" (e.g. {sorted(off)[:3]})" if off else ""),
        )
    )

    # 3. Each outcome, on the right incident, as the events before it call for.
    replay = Replay(resolve_actions)
    wrong = []
    for event in events:
        if event.outcome == "failed" or event.outcome == "":
            continue
        outcome, incident = replay.expect(event)
        if (outcome, incident) != (event.outcome, event.incident):
            wrong.append(f"event {event.pk} ({event.action} {event.key}): {event.outcome} on {event.incident}, "
                         f"called for {outcome} on {incident}")  # fmt: skip
    outcomes = Counter(event.outcome for event in events)
    checks.append(
        (
            not wrong,
            "outcomes as the events in order call for: "
            + ", ".join(f"{name or '(none)'} {count:,}" for name, count in sorted(outcomes.items()))
            + (f"; {len(wrong)} wrong, e.g. {wrong[:3]}" if wrong else ""),
        )
    )

    # 4. One alert entry per trigger that opened, joined or re-fired; none for a repeat.
    entries: Counter[int] = Counter()
    entry_incident: dict[int, int] = {}
    for incident, data in TimelineEntry.objects.filter(kind=EntryKind.ALERT).values_list("incident_id", "data"):
        if isinstance(data, dict) and isinstance(data.get("event"), int):
            entries[data["event"]] += 1
            entry_incident[data["event"]] = incident
    written = {"opened", "joined", "refired"}
    triggers = [event for event in events if event.action == "trigger"]
    entry_wrong = [
        event.pk
        for event in triggers
        if entries[event.pk] != (1 if event.outcome in written else 0)
        or (event.outcome in written and entry_incident.get(event.pk) != event.incident)
    ]
    checks.append(
        (
            not entry_wrong,
            f"timeline: {sum(entries[event.pk] for event in triggers):,} alert entries for "
            f"{sum(1 for event in triggers if event.outcome in written):,} triggers that opened, joined or re-fired, "
            f"none for {sum(1 for event in triggers if event.outcome == 'repeated'):,} repeats"
            + (f"; wrong for {len(entry_wrong)} events, e.g. {entry_wrong[:5]}" if entry_wrong else ""),
        )
    )

    # 5. Monitoring incidents: each opened once, each in the state its alerts call for.
    monitoring = dict(
        Incident.objects.filter(source=Source.MONITORING, pk__gt=incidents_before).values_list("pk", "state")
    )
    twice = [pk for pk, count in replay.opened.items() if count != 1]
    strangers = set(monitoring) - set(replay.opened)
    states_wrong = [pk for pk, state in replay.states.items() if STATE_CLASSES.get(monitoring.get(pk, ""), "") != state]
    checks.append(
        (
            not twice and not strangers and not states_wrong,
            f"monitoring incidents: {len(monitoring):,}, each opened by one event: "
            f"{len(replay.opened) - len(twice):,}; opened twice: {len(twice)}; opened by no event: {len(strangers)}; "
            f"final states as the alerts call for: {len(replay.states) - len(states_wrong):,} of {len(replay.states):,}",
        )
    )

    # 6. Incidents the API answered 201 for: each exists once, under its number.
    created = {r["title"]: r["number"] for r in record if r["what"] == "create"}
    unanswered = sum(1 for r in record if r["what"] == "create unknown")
    found = Counter(
        Incident.objects.filter(source=Source.API, title__startswith="Load ").values_list("title", flat=True)
    )
    numbers = {
        title: f"{NUMBER_PREFIX}{pk}"
        for title, pk in Incident.objects.filter(title__in=list(created)).values_list("title", "pk")
    }
    missing = [title for title, number in created.items() if numbers.get(title) != number]
    doubled = [title for title, count in found.items() if count > 1]
    extra = sum(found.values()) - len(created)
    checks.append(
        (
            not missing and not doubled and 0 <= extra <= unanswered,
            f"API creates: {len(created):,} answered 201, {sum(found.values()):,} in the database "
            f"({unanswered} unanswered); missing or renumbered: {len(missing)}; stored twice: {len(doubled)}",
        )
    )
    return checks
