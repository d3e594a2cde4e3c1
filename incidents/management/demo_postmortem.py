"""The demo's closed P1: a login outage told the seed runbook's way, with its published post-mortem.

Identify and document, escalate, form the team, diagnose, fix, verify, then
the post-mortem (step 8) and its follow-ups (step 9). Every step goes through
the domain functions. They stamp the time they run at, so the post-mortem's
author then sets each generated row to the minute it happened in the story,
as authors do from the war-room log; the downtime window is the story's too.
"""

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from escalation.models import Team
from incidents import action_items, lifecycle, postmortem_timeline, postmortems, services
from incidents.choices import ActionItemKind, ActionItemStatus, Category, EntryKind, MomentSource, Source, Visibility
from incidents.models import Incident, PostMortem, Service

TITLE = "Login outage after certificate expiry"
HOURS_AGO = 72
DOWNTIME_MINUTES = 40

# (minute after the impact began, who, what, fields, key moment)
STORY: list[tuple[int, str, str, dict[str, Any], bool]] = [
    (6, "maya", "assign", {}, False),
    (7, "agus", "investigate", {"note": "War room open on the bridge; every login fails in the TLS handshake."}, True),
    (
        12,
        "agus",
        "note",
        {"body": "Load balancer logs: the certificate for login.example.com expired the minute logins began to fail."},
        True,
    ),
    (
        15,
        "maya",
        "update",
        {"body": "Logins are failing for all users. We know the cause and are replacing the certificate."},
        False,
    ),
    (
        28,
        "sari",
        "note",
        {"body": "Emergency certificate issued by the CA; rolling it out one load balancer at a time."},
        False,
    ),
    (
        40,
        "agus",
        "mitigate",
        {"note": "New certificate installed on all load balancers; logins succeed again."},
        True,
    ),
    (70, "maya", "update", {"body": "Logins have worked normally for 30 minutes; we keep watching."}, False),
    (
        180,
        "agus",
        "resolve",
        {
            "root_cause": "Certificate renewal was manual and its reminder went to a retired mailbox.",
            "resolution": "Certificate replaced; renewal automation and expiry alerts are follow-ups.",
        },
        False,
    ),
]

POSTMORTEM: dict[str, Any] = {
    "summary": (
        "For 40 minutes every login failed with a TLS error: the certificate of login.example.com "
        "expired and nobody had renewed it. An emergency certificate restored service."
    ),
    "root_cause": (
        "The certificate was renewed by hand once a year. The CA's renewal reminders went to ops@, "
        "a mailbox retired in the spring, so nobody saw them."
    ),
    "contributing_factors": (
        "- No monitoring of certificate expiry dates.\n"
        "- The renewal was in no runbook and no calendar; one engineer knew it.\n"
        "- Each load balancer needed the certificate installed by hand."
    ),
    "what_went_well": (
        "- The login error-rate alert fired within four minutes.\n"
        "- The cause was found in five minutes from the load balancer logs.\n"
        "- Customers had a status update within a quarter of an hour."
    ),
    "what_went_badly": (
        "- Issuing the emergency certificate took 13 minutes of waiting on the CA.\n"
        "- Rolling it out by hand to each load balancer took another 12."
    ),
    "lessons": (
        "Anything that expires needs an owner, an alert well ahead of time and an automated renewal. "
        "Vendor notices must go to a team list, never to a personal or retired mailbox."
    ),
}

# (title, kind, owner, due in days from today, status, outcome)
ACTION_ITEMS: list[tuple[str, str, str, int, str, str]] = [
    (
        "Automate certificate renewal on every load balancer",
        ActionItemKind.PREVENT,
        "sari",
        14,
        ActionItemStatus.IN_PROGRESS,
        "",
    ),
    (
        "Alert 30, 14 and 3 days before any certificate expires",
        ActionItemKind.DETECT,
        "budi",
        -3,
        ActionItemStatus.OPEN,
        "",
    ),
    (
        "Add 'certificate expired' to the on-call runbook, with the emergency-issue steps",
        ActionItemKind.PROCESS,
        "agus",
        7,
        ActionItemStatus.OPEN,
        "",
    ),
    (
        "Send vendor notices to the platform team's list instead of ops@",
        ActionItemKind.PROCESS,
        "agus",
        -10,
        ActionItemStatus.DONE,
        "CA and registrar contacts changed to platform@.",
    ),
]


def _run_step(incident: Incident, users: dict[str, Any], who: str, what: str, fields: dict[str, Any]) -> Incident:
    actor = users[who]
    if what == "assign":
        return services.assign_incident(incident=incident, actor=actor, assignee=users["agus"], commander=actor)
    if what in ("note", "update"):
        kind = EntryKind.STATUS_UPDATE if what == "update" else EntryKind.NOTE
        visibility = Visibility.PUBLIC if what == "update" else Visibility.INTERNAL
        services.add_note(incident=incident, actor=actor, body=fields["body"], kind=kind, visibility=visibility)
        return incident
    return lifecycle.transition_incident(incident=incident, name=what, actor=actor, **fields)


def _new_entries(incident: Incident, known: dict[int, int], minute: int, key: bool, keys: set[int]) -> None:
    for pk in incident.timeline.exclude(pk__in=list(known)).values_list("pk", flat=True):
        known[pk] = minute
        if key:
            keys.add(pk)


def _write_postmortem(incident: Incident, users: dict[str, Any], minutes: dict[int, int], keys: set[int]) -> None:
    author, started = users["agus"], incident.started_at
    postmortem = postmortems.write_postmortem(
        incident=incident,
        actor=author,
        changes={
            **POSTMORTEM,
            "downtime_started_at": started,
            "downtime_ended_at": started + dt.timedelta(minutes=DOWNTIME_MINUTES),
        },
    )
    for moment in postmortem.moments.all():
        changes: dict[str, Any] = {}
        if moment.source_entry_id in minutes:
            changes["occurred_at"] = started + dt.timedelta(minutes=minutes[moment.source_entry_id])
        if moment.source_entry_id in keys or moment.source in (MomentSource.IMPACT_STARTED, MomentSource.DETECTED):
            changes["is_key_moment"] = True
        if changes:
            postmortem_timeline.update_moment(moment=moment, actor=author, changes=changes)
    postmortem_timeline.add_moment(
        postmortem=postmortem,
        actor=author,
        occurred_at=started - dt.timedelta(days=30),
        body="The CA's last renewal reminder went to the retired ops@ mailbox (found during the review).",
        is_key_moment=True,
    )
    today = timezone.localdate()
    for title, kind, owner, due_in, status, outcome in ACTION_ITEMS:
        action_items.add_action_item(
            postmortem=postmortem,
            actor=author,
            title=title,
            kind=kind,
            owner=users[owner],
            due_date=today + dt.timedelta(days=due_in),
            status=status,
            resolution_note=outcome,
        )
    postmortems.submit_postmortem(postmortem=postmortem, actor=author, note="Ready for review.")
    postmortems.publish_postmortem(postmortem=PostMortem.objects.get(pk=postmortem.pk), actor=users["maya"])


def load_closed_p1(users: dict[str, Any], teams: dict[str, Team]) -> bool:
    """Make the story once; False when it exists already."""
    if Incident.objects.filter(title=TITLE).exists():
        return False
    started = timezone.now() - dt.timedelta(hours=HOURS_AGO)
    with transaction.atomic():
        incident = services.report_incident(
            reporter=users["maya"],
            title=TITLE,
            description="All logins failed with a TLS error for 40 minutes.",
            category=Category.SERVER_DOWNTIME,
            source=Source.MONITORING,
            impact="high",
            urgency="high",
            services=list(Service.objects.filter(slug="identity")),
            started_at=started,
            detected_at=started + dt.timedelta(minutes=3),
            affected_users=60_000,
            team=teams["platform"],
        )
        minutes: dict[int, int] = {}
        keys: set[int] = set()
        _new_entries(incident, minutes, 4, False, keys)
        for minute, who, what, fields, key in STORY:
            incident = _run_step(incident, users, who, what, fields)
            _new_entries(incident, minutes, minute, key, keys)
        _write_postmortem(incident, users, minutes, keys)
        lifecycle.close_incident(
            incident=incident, actor=users["maya"], note="Post-mortem published; follow-ups tracked."
        )
    return True
