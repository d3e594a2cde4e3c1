"""The data bench/faults.py starts from, and the counts it ends with, read from the private database.

Import after django.setup(): the bench points the settings at its private servers first.
"""

import collections
import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, User
from django.db.models import Count
from django.test import Client
from django.utils import timezone
from faults_traffic import Answer, Load, Receiver
from rest_framework.authtoken.models import Token

from escalation.contacts import add_contact_method, add_notification_rule
from escalation.models import (
    DeliveryStatus,
    EscalationLevel,
    EscalationPolicy,
    Notification,
    Team,
    Timer,
    TimerFiring,
    TimerPurpose,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEvent,
    WebhookSubscription,
)
from incidents.choices import EntryKind
from incidents.intake.integrations import create_integration
from incidents.models import Alert, AlertEvent, Incident, Service, TimelineEntry
from incidents.roles import AGENT
from incidents.system import system_user

# Level 1 pages at once, level 2 this much later: short, so pages fall due while a worker is dead.
LEVEL_DELAY = dt.timedelta(seconds=6)
STEP = TimerPurpose.ESCALATION_STEP


def prepare(receiver: Receiver) -> dict[str, str]:
    """A service with a two-level escalation policy paging two people by webhook, an alert integration,
    a webhook subscription to every event, and an agent with an API token and a web session."""
    team = Team.objects.create(name="Payments", slug="payments")
    policy = EscalationPolicy.objects.create(name="Faults", repeat_count=0, is_default=True)
    service = Service.objects.create(name="Checkout", slug="checkout", owner_team=team, escalation_policy=policy)
    for position in (1, 2):
        pager = User.objects.create_user(username=f"pager-{position}", email=f"pager-{position}@example.com")
        delay = dt.timedelta(0) if position == 1 else LEVEL_DELAY
        EscalationLevel.objects.create(policy=policy, position=position, escalate_after=delay).users.add(pager)
        method = add_contact_method(user=pager, actor=system_user(), channel="webhook", address=f"{receiver.url}/pages")
        add_notification_rule(user=pager, actor=system_user(), contact_method=method, delay=dt.timedelta(0))
    _, routing_key = create_integration(service=service, kind="pagerduty", actor=None, rate_limit_per_minute=0)
    WebhookSubscription.objects.create(name="Faults", url=f"{receiver.url}/events", event_types=WebhookEvent.values)
    agent = User.objects.create_user(username="agus")
    agent.groups.add(Group.objects.get(name=AGENT))
    browser = Client()
    browser.force_login(agent)
    return {
        "token": Token.objects.create(user=agent).key,
        "routing_key": routing_key,
        "service": service.slug,
        "session_cookie": browser.cookies["sessionid"].value,
    }


def backlog(*, claimed: bool = False) -> dict[str, int]:
    """What is due and not done yet; all zero once the workers have caught up.

    With `claimed`, also the pages and webhook events a worker claimed and never
    finished (it died, or the database went away mid-send): they are due again
    only when their claim's lease runs out (escalation/outbox.py CLAIM_LEASE).
    """
    now = timezone.now()
    pages = Notification.objects.filter(status=DeliveryStatus.PENDING)
    events = WebhookDelivery.objects.filter(status=WebhookDeliveryStatus.PENDING)
    if not claimed:
        pages, events = pages.filter(next_attempt_at__lte=now), events.filter(next_attempt_at__lte=now)
    return {
        "alert events": AlertEvent.objects.filter(processed_at=None).count(),
        "due timers": Timer.objects.filter(fired_at=None, cancelled_at=None, due_at__lte=now).count(),
        "pages": pages.count(),
        "webhook events": events.count(),
    }


@dataclass
class Check:
    what: str
    expected: int
    counted: int
    note: str = ""
    violation: bool = False


def _accepted(answers: list[Answer], kind: str, status: int) -> tuple[set[str], set[str]]:
    """The refs the product accepted, and the refs of requests that got no clear answer or a 5xx."""
    accepted = {a.ref for a in answers if a.kind == kind and a.status == status}
    unclear = {a.ref for a in answers if a.kind == kind and (a.status == 0 or a.status >= 500)} - accepted
    return accepted, unclear


def _intake(answers: list[Answer]) -> list[Check]:
    accepted, unclear = _accepted(answers, "intake", 202)
    incidents = collections.Counter(Alert.objects.filter(dedup_key__in=accepted).values_list("dedup_key", flat=True))
    lost = len(accepted - incidents.keys())
    doubled = sum(1 for n in incidents.values() if n > 1)
    stored_anyway = AlertEvent.objects.filter(dedup_key__in=unclear).count()
    return [
        Check(
            "alerts accepted (202) → one incident each",
            len(accepted),
            sum(incidents.values()),
            "",
            bool(lost or doubled),
        ),
        Check("  … alerts lost / doubled", 0, lost + doubled, f"lost {lost}, doubled {doubled}", bool(lost or doubled)),
        Check("  … 503/no answer but stored (client would retry)", 0, stored_anyway, "at-least-once; not a loss"),
    ]


def _creates(answers: list[Answer]) -> list[Check]:
    accepted, unclear = _accepted(answers, "api-create", 201)
    titles = collections.Counter(Incident.objects.filter(title__in=accepted | unclear).values_list("title", flat=True))
    lost = len(accepted - titles.keys())
    doubled = sum(1 for n in titles.values() if n > 1)
    created = sum(titles[t] for t in accepted)
    return [
        Check("API creates accepted (201) → one incident each", len(accepted), created, "", bool(lost or doubled)),
        Check(
            "  … creates lost / doubled", 0, lost + doubled, f"lost {lost}, doubled {doubled}", bool(lost or doubled)
        ),
        Check(
            "  … 503/no answer but committed", 0, sum(titles[t] for t in unclear), "the client cannot tell; reported"
        ),
    ]


def _transitions(answers: list[Answer]) -> list[Check]:
    accepted = collections.Counter(a.ref for a in answers if a.kind == "api-transition" and a.status == 200)
    pks = {number: Incident.pk_from_number(number) for number in accepted}
    entries = collections.Counter(
        TimelineEntry.objects.filter(
            incident_id__in=[pk for pk in pks.values() if pk], kind=EntryKind.TRANSITION, data__transition="acknowledge"
        ).values_list("incident_id", flat=True)
    )
    wrong = sum(1 for number, n in accepted.items() if n != 1 or entries[pks[number]] != 1)
    return [
        Check(
            "acknowledgements accepted (200) → one timeline entry each",
            sum(accepted.values()),
            sum(entries[pk] for pk in pks.values()),
            "",
            bool(wrong),
        )
    ]


def _escalation() -> list[Check]:
    steps = Timer.objects.filter(purpose=STEP)
    fired = steps.exclude(fired_at=None).count()
    firings = TimerFiring.objects.filter(purpose=STEP).count()
    unfired = steps.filter(fired_at=None, cancelled_at=None, due_at__lte=timezone.now()).count()
    # One person per level: each fired step pages exactly one person once (its idempotency key).
    pages = Notification.objects.filter(level__isnull=False).exclude(escalation_run=None)
    per_step = pages.values("escalation_run", "level").annotate(n=Count("id")).filter(n__gt=1).count()
    return [
        Check(
            "escalation steps due → fired once (firing rows)",
            fired,
            firings,
            f"{unfired} due but unfired",
            firings != fired or bool(unfired),
        ),
        Check(
            "pages written for fired steps",
            firings,
            pages.count(),
            f"{per_step} steps paged twice",
            pages.count() != firings or bool(per_step),
        ),
    ]


def _received(
    what: str, sent: set[str], received: collections.Counter[str], stuck: int, written: set[str]
) -> list[Check]:
    """`sent`: ids the database says went out; `written`: every id it holds, whatever became of it."""
    missing = len(sent - received.keys())
    unknown = len(received.keys() - written)
    repeats = sum(n - 1 for n in received.values() if n > 1)
    return [
        Check(
            f"{what} sent → received",
            len(sent),
            len(sent & received.keys()),
            f"{stuck} still pending/failed",
            bool(missing or stuck),
        ),
        Check(f"  … {what} received twice (same id: at-least-once)", 0, repeats, "dropped by the id; reported"),
        Check(f"  … {what} received that the database never wrote", 0, unknown, "", bool(unknown)),
    ]


def _deliveries(receiver: Receiver) -> list[Check]:
    pages = Notification.objects.filter(kind="page")
    sent_pages = set(pages.filter(status=DeliveryStatus.SENT).values_list("idempotency_key", flat=True))
    all_pages = set(pages.values_list("idempotency_key", flat=True))
    stuck_pages = pages.filter(status__in=(DeliveryStatus.PENDING, DeliveryStatus.FAILED)).count()
    deliveries = WebhookDelivery.objects.all()
    delivered = deliveries.filter(status=WebhookDeliveryStatus.DELIVERED)
    sent_events = {str(e) for e in delivered.values_list("event_id", flat=True)}
    all_events = {str(e) for e in deliveries.values_list("event_id", flat=True)}
    stuck_events = deliveries.exclude(status=WebhookDeliveryStatus.DELIVERED).count()
    announced = deliveries.filter(event_type=WebhookEvent.INCIDENT_CREATED).values("incident").distinct().count()
    created_twice = (
        deliveries.filter(event_type=WebhookEvent.INCIDENT_CREATED)
        .values("incident")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    incidents = Incident.objects.count()
    with receiver.lock:
        pages_received, events_received = collections.Counter(receiver.pages), collections.Counter(receiver.events)
    # A page whose incident was acknowledged while it was on its way is recorded as cancelled.
    overtaken = len(pages_received.keys() & (all_pages - sent_pages))
    return [
        *_received("pages", sent_pages, pages_received, stuck_pages, all_pages),
        Check("  … pages received, then cancelled by an acknowledgement", 0, overtaken, "the receiver won the race"),
        Check(
            "incidents → one incident.created event each",
            incidents,
            announced,
            f"{created_twice} announced twice",
            announced != incidents or bool(created_twice),
        ),
        *_received("webhook events", sent_events, events_received, stuck_events, all_events),
    ]


def count(load: Load, receiver: Receiver) -> list[Check]:
    return [
        *_intake(load.answers),
        *_creates(load.answers),
        *_transitions(load.answers),
        *_escalation(),
        *_deliveries(receiver),
    ]


def late_steps(since: dt.datetime, until: dt.datetime) -> str:
    """The escalation steps that fell due between `since` and `until` (a dead worker), and how late they fired."""
    firings = TimerFiring.objects.filter(purpose=STEP, due_at__gte=since, due_at__lt=until)
    lateness = sorted((f.fired_at - f.due_at).total_seconds() for f in firings)
    if not lateness:
        return "no escalation step fell due meanwhile"
    return f"{len(lateness)} escalation steps fell due meanwhile; fired {lateness[0]:.1f}–{lateness[-1]:.1f} s late, once each"


def no_answers(answers: list[Answer]) -> list[str]:
    """What the requests that got no answer at all were, and why, most frequent first."""
    reasons = collections.Counter(f"{a.kind}: {a.error}" for a in answers if a.status == 0)
    return [f"{n} × {reason}" for reason, n in reasons.most_common(5)]


def unavailable_by_kind(answers: list[Answer]) -> str:
    kinds = collections.Counter(a.kind for a in answers if a.status == 503)
    return ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))


def answer_summary(answers: list[Answer]) -> dict[str, Any]:
    statuses = collections.Counter(a.status for a in answers)
    return {
        "requests": len(answers),
        "503": statuses[503],
        "other 5xx": sum(n for s, n in statuses.items() if s >= 500 and s != 503),
        "no answer": statuses[0],
        "slowest s": round(max((a.seconds for a in answers), default=0.0), 2),
    }
