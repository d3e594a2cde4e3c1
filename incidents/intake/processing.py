"""Turning stored alert events into alerts and incidents, in the order they arrived.

One processor runs at a time (a PostgreSQL advisory lock; SQLite serialises
writers by itself), taking pending events in id order in batches. So two
triggers for one key, even sent at the same instant, meet here one after
the other: the first opens the incident, the second finds its alert.

What each event does:

- **trigger**: no open alert for the key → a new alert, on the open incident
  of the alert's group if there is one (reopened if it was mitigated), else
  on a new incident. An open alert → the same content again (a sender's
  retry, Alertmanager's repeat notification) only counts; new content (a
  new firing time, a changed summary or labels) is a re-fire on the timeline.
- **acknowledge**: the open alert is acknowledged, and so is its incident if
  it was new. No open alert → dropped (PagerDuty's rule).
- **resolve**: the open alert is resolved. Once no alert of its incident is
  firing, the integration's "when the alert clears" setting decides: mitigate,
  resolve, or only note it. No open alert → dropped.

Repeats and re-fires, the bulk of any alert storm, are applied in memory and
written once per batch; everything that changes an incident goes through
the domain functions, as the system account, in a savepoint of its own, so
one bad event is marked failed without holding up the others.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import time
from collections.abc import Sequence
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InterfaceError, OperationalError, connection, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from incidents.choices import (
    OPEN_STATES,
    AlertAction,
    AlertStatus,
    EntryKind,
    EventOutcome,
    ResolveAction,
    Source,
    State,
    Visibility,
)
from incidents.deferred import work_unit
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.intake.parsers import content_hash, parse_time
from incidents.intake.sql import column, concrete_fields, table
from incidents.intake.wake import wake_processor
from incidents.lifecycle import (
    acknowledge_incident,
    investigate_incident,
    mitigate_incident,
    reopen_incident,
    resolve_incident,
)
from incidents.models import Alert, AlertEvent, Incident, Integration, TimelineEntry
from incidents.services import report_incident
from incidents.system import system_user
from incidents.timeline import Actor, record_entry

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
# Any constant will do; it names "the alert processor" among PostgreSQL advisory locks.
ADVISORY_LOCK_ID = 7_201_944_611
ERROR_LIMIT = 2000
# /healthz reports events that waited longer than this for the processor.
WAITING_ALARM = dt.timedelta(seconds=30)
ALERT_COLUMNS = ("id", "integration", "incident", "dedup_key", "group_key", "first_seen_at")
ALERT_FIELDS = (
    "status",
    "summary",
    "severity",
    "source",
    "labels",
    "annotations",
    "details",
    "links",
    "generator_url",
    "content_hash",
    "fired_at",
    "last_seen_at",
    "resolved_at",
    "event_count",
)
EVENT_FIELDS = ("processed_at", "outcome", "incident", "error")
# A repeat only moves these.
COUNT_FIELDS = ("last_seen_at", "event_count")
# An acknowledge or a resolve moves these as well.
STATUS_FIELDS = ("status", "resolved_at", *COUNT_FIELDS)
# What a batch reads of the open alerts it holds: the rest (labels, annotations,
# details) is only ever written whole, by a re-fire that carries new content.
HELD_FIELDS = (*STATUS_FIELDS, "summary", "links", "generator_url", "content_hash", "fired_at")

REFUSALS = (ValidationError, PermissionDenied, TransitionNotAllowed, IncidentConflict)

Key = tuple[int, str]


def process_pending_events(
    *, batch_size: int = BATCH_SIZE, budget_seconds: float = 120.0, gather_seconds: float = 0.0
) -> int:
    """Process pending events, oldest first, until none is left or the budget is spent; return how many.

    With `gather_seconds`, a batch that was not full is followed by that long a
    pause before the next one, so that under a steady stream of events the
    batches grow and their fixed costs (a lock, a few reads, a commit) are
    shared by many events; the run ends at the first empty fetch.
    """
    deadline = time.monotonic() + budget_seconds
    processed = 0
    while time.monotonic() < deadline:
        count = _process_batch(batch_size)
        if not count:
            break
        processed += count
        if count < batch_size and gather_seconds:
            time.sleep(gather_seconds)
    return processed


def _take_lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_ID])


def _process_batch(batch_size: int) -> int:
    # One work unit: the report facts of every incident the batch touched are written once, at its end.
    with transaction.atomic(), work_unit():
        _take_lock()
        # The payloads stay in the database unless an event turns out to be news (see _Batch).
        pending = AlertEvent.objects.filter(processed_at__isnull=True).defer("payload")
        events = list(pending.order_by("id")[:batch_size])
        integrations = Integration.objects.select_related("service__owner_team").in_bulk(
            {event.integration_id for event in events}
        )
        for event in events:
            event.integration = integrations[event.integration_id]
        if events:
            _Batch(events).run()
    return len(events)


def _update_rows(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Write `fields` of each row: on PostgreSQL one `UPDATE … FROM unnest(…)` for the whole batch,
    with one array parameter per column; elsewhere one statement run for each row (executemany).

    Django's bulk_update builds a CASE expression per field and row, which for
    the few hundred rows of a batch costs more than the batch's work; a
    statement per row costs PostgreSQL a parse, plan and execution per event;
    and a VALUES list of a placeholder per value makes a statement so long that
    the driver parses it afresh for every batch. The arrays keep it short.
    """
    model = type(rows[0])
    columns = [*concrete_fields(model, fields), model._meta.pk]
    values = [[field.get_db_prep_save(getattr(row, field.attname), connection) for field in columns] for row in rows]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = [list(each) for each in zip(*values, strict=True)]
            cursor.execute(_update_from_arrays_sql(model, tuple(fields)), arrays)
        else:
            assignments = ", ".join(f"{column(field)} = %s" for field in columns[:-1])
            key = column(columns[-1])
            cursor.executemany(f"UPDATE {table(model)} SET {assignments} WHERE {key} = %s", values)  # noqa: S608 — names from the model


@functools.cache
def _update_from_arrays_sql(model: type[Model], fields: tuple[str, ...]) -> str:
    """`UPDATE table SET a = new.a, … FROM unnest(%s::type[], …) AS new(a, …, pk) WHERE table.pk = new.pk`."""
    columns = [*concrete_fields(model, fields), model._meta.pk]
    names = [column(field) for field in columns]
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in columns)
    assignments = ", ".join(f"{name} = new.{name}" for name in names[:-1])
    return (
        f"UPDATE {table(model)} SET {assignments} FROM unnest({arrays}) AS new({', '.join(names)}) "  # noqa: S608 — names from the model
        f"WHERE {table(model)}.{names[-1]} = new.{names[-1]}"
    )


def _first_time(payload: dict[str, Any], fallback: dt.datetime) -> dt.datetime:
    fired_at = parse_time(payload["fired_at"]) if payload.get("fired_at") else None
    # A sender's clock may run ahead; the impact cannot start after we heard of it.
    return min(fired_at, fallback) if fired_at else fallback


def _describe(payload: dict[str, Any]) -> str:
    """The incident's description: the alert's own words, then its labels and details."""
    parts = [payload.get("description") or ""]
    if payload.get("source"):
        parts.append(_("Source: %(source)s") % {"source": payload["source"]})
    for title, values in ((_("Labels"), payload.get("labels")), (_("Annotations"), payload.get("annotations"))):
        if values:
            parts.append(f"{title}:\n" + "\n".join(f"  {key}: {value}" for key, value in sorted(values.items())))
    if payload.get("details"):
        details = json.dumps(payload["details"], indent=2, sort_keys=True, default=str)
        parts.append(_("Details") + f":\n{details}")
    for link in payload.get("links") or []:
        text = link.get("text") or _("Link")
        parts.append(f"{text}: {link['href']}")
    return Truncator("\n\n".join(part for part in parts if part)).chars(20_000)


class _Batch:
    """One batch of events applied in order, with the alerts they touch held in memory."""

    def __init__(self, events: list[AlertEvent]) -> None:
        self.events = events
        self.actor: User = system_user()
        self.now = timezone.now()
        self.incidents: dict[int, Incident] = {}
        self.touched: dict[int, Alert] = {}  # alerts to write whole
        self.counted: dict[int, Alert] = {}  # alerts whose counters alone moved
        self.entries: list[TimelineEntry] = []
        keys = {(event.integration_id, event.dedup_key) for event in events}
        self.known: set[Key] = set(keys)
        self.open: dict[Key, Alert] = {}
        alerts = (
            Alert.objects.filter(integration_id__in={key[0] for key in keys}, dedup_key__in={key[1] for key in keys})
            .exclude(status=AlertStatus.RESOLVED)
            .select_related("incident")
            .only(*ALERT_COLUMNS, *HELD_FIELDS, "incident__id", "incident__state")
        )
        for alert in alerts:
            self._hold(alert)
        self._load_payloads()

    def _load_payloads(self) -> None:
        """Fetch, in one query, the payloads of the events that are not plain repeats of an open alert."""
        news = [
            event.pk
            for event in self.events
            if event.action == AlertAction.TRIGGER
            and (
                (alert := self.open.get((event.integration_id, event.dedup_key))) is None
                or not event.content_hash
                or alert.content_hash != event.content_hash
            )
        ]
        payloads = dict(AlertEvent.objects.filter(pk__in=news).values_list("pk", "payload")) if news else {}
        for event in self.events:
            if event.pk in payloads:
                event.payload = payloads[event.pk]

    # --- bookkeeping ---------------------------------------------------

    def _hold(self, alert: Alert) -> None:
        incident = self.incidents.setdefault(alert.incident_id, alert.incident)
        alert.incident = incident
        key = (alert.integration_id, alert.dedup_key)
        self.known.add(key)
        if alert.status == AlertStatus.RESOLVED:
            self.open.pop(key, None)
        else:
            self.open[key] = alert

    def _forget(self, key: Key) -> None:
        """After a failed event: whatever memory holds for the key may be ahead of the database."""
        alert = self.open.pop(key, None)
        self.known.discard(key)
        if alert is not None:
            self.touched.pop(alert.pk, None)
            self.counted.pop(alert.pk, None)
            self.incidents.pop(alert.incident_id, None)

    def _open_alert(self, key: Key) -> Alert | None:
        if key not in self.known:
            alert = (
                Alert.objects.filter(integration_id=key[0], dedup_key=key[1])
                .exclude(status=AlertStatus.RESOLVED)
                .select_related("incident")
                .first()
            )
            self.known.add(key)
            if alert is not None:
                self._hold(alert)
        return self.open.get(key)

    def _fresh(self, incident_id: int) -> Incident:
        """The incident as the database has it now, for a domain function to act on."""
        incident = Incident.objects.get(pk=incident_id)
        self.incidents[incident_id] = incident
        return incident

    def _save_status(self, alert: Alert) -> None:
        """Write an alert's status and counters now, with its content if an earlier event of the batch changed it."""
        alert.save(update_fields=ALERT_FIELDS if alert.pk in self.touched else STATUS_FIELDS)

    def _keep(self, incident: Incident) -> Incident:
        self.incidents[incident.pk] = incident
        for alert in self.open.values():
            if alert.incident_id == incident.pk:
                alert.incident = incident
        return incident

    # --- the run -------------------------------------------------------

    def run(self) -> None:
        for event in self.events:
            key = (event.integration_id, event.dedup_key)
            try:
                outcome, incident = self._apply(event, key)
            except (OperationalError, InterfaceError):
                raise  # the connection is gone: the whole batch is retried later
            except REFUSALS as refusal:
                # The domain said no (say, a severity mapped to an unknown level).
                logger.info("alert event %s refused: %s", event.pk, refusal)
                self._fail(event, key, refusal)
            except Exception as error:
                logger.exception("alert event %s failed", event.pk)
                self._fail(event, key, error)
            else:
                event.outcome, event.incident, event.error = outcome, incident, ""
            event.processed_at = self.now
        self._flush()

    def _fail(self, event: AlertEvent, key: Key, error: Exception) -> None:
        self._forget(key)
        if isinstance(error, ValidationError) and hasattr(error, "error_dict"):
            message = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in error.message_dict.items())
        elif isinstance(error, ValidationError):
            message = " ".join(error.messages)
        else:
            message = str(error)
        event.outcome, event.incident, event.error = EventOutcome.FAILED, None, message[:ERROR_LIMIT]

    def _flush(self) -> None:
        if self.touched:
            _update_rows(list(self.touched.values()), ALERT_FIELDS)
        counted = [alert for pk, alert in self.counted.items() if pk not in self.touched]
        if counted:
            _update_rows(counted, COUNT_FIELDS)
        if self.entries:
            TimelineEntry.objects.bulk_create(self.entries)
        _update_rows(self.events, EVENT_FIELDS)
        logger.info("processed %d alert event(s)", len(self.events))

    def _apply(self, event: AlertEvent, key: Key) -> tuple[str, Incident | None]:
        alert = self._open_alert(key)
        if alert is not None and alert.incident.state not in OPEN_STATES:
            # A person ended the incident while its alert was still open; the
            # alert ends with it, and what comes next is about a new problem.
            with transaction.atomic():
                self._resolve_alert(alert, at=event.received_at)
                self._save_status(alert)
            self.touched.pop(alert.pk, None)
            self.counted.pop(alert.pk, None)
            alert = None
        if event.action == AlertAction.TRIGGER:
            if alert is not None:
                return self._refire(alert, event), alert.incident
            with transaction.atomic():
                return self._open_new(event, key)
        if alert is None:
            return EventOutcome.DROPPED, None
        with transaction.atomic():
            if event.action == AlertAction.ACKNOWLEDGE:
                return self._acknowledge(alert, event), alert.incident
            return self._resolve(alert, event), alert.incident

    # --- trigger -------------------------------------------------------

    def _refire(self, alert: Alert, event: AlertEvent) -> str:
        alert.last_seen_at = max(alert.last_seen_at, event.received_at)
        alert.event_count += 1
        digest = event.content_hash or content_hash(event.payload)
        if digest == alert.content_hash:
            self.counted[alert.pk] = alert
            return EventOutcome.REPEATED
        self.touched[alert.pk] = alert
        payload = event.payload
        self._describe_alert(alert, payload, digest=digest)
        self.entries.append(
            TimelineEntry(
                incident=alert.incident,
                kind=EntryKind.ALERT,
                actor=self.actor,
                body=_("Alert fired again: %(summary)s") % {"summary": alert.summary},
                visibility=Visibility.INTERNAL,
                data=self._entry_data(alert, event, "refired"),
                created_at=timezone.now(),
            )
        )
        return EventOutcome.REFIRED

    def _describe_alert(self, alert: Alert, payload: dict[str, Any], *, digest: str) -> None:
        alert.content_hash = digest
        alert.summary = payload.get("summary") or alert.summary
        alert.severity = payload.get("severity") or ""
        alert.source = payload.get("source") or ""
        alert.labels = payload.get("labels") or {}
        alert.annotations = payload.get("annotations") or {}
        alert.details = payload.get("details") or {}
        alert.links = [*(payload.get("links") or []), *({"href": i["src"]} for i in payload.get("images") or [])]
        alert.generator_url = payload.get("generator_url") or ""
        alert.fired_at = _first_time(payload, alert.last_seen_at)

    def _entry_data(self, alert: Alert, event: AlertEvent, what: str) -> dict[str, Any]:
        data: dict[str, Any] = {
            "alert": alert.pk,
            "event": event.pk,
            "integration": alert.integration_id,
            "dedup_key": alert.dedup_key,
            "what": what,
        }
        if alert.generator_url:
            data["generator_url"] = alert.generator_url
        if alert.links:
            data["links"] = alert.links
        return data

    def _open_new(self, event: AlertEvent, key: Key) -> tuple[str, Incident]:
        integration: Integration = event.integration
        payload = event.payload
        incident = self._group_incident(integration, event.group_key)
        if incident is None:
            impact, urgency = integration.levels_for(payload.get("severity") or "")
            incident = report_incident(
                reporter=self.actor,
                title=Truncator(payload["summary"]).chars(200),
                description=_describe(payload),
                category=integration.category,
                source=Source.MONITORING,
                impact=impact,
                urgency=urgency,
                services=[integration.service],
                started_at=_first_time(payload, event.received_at),
                team=integration.service.owner_team,
            )
            outcome = EventOutcome.OPENED
        else:
            if incident.state == State.MITIGATED:
                incident = reopen_incident(
                    incident=incident,
                    actor=self.actor,
                    reason=_("Alert fired again: %(summary)s") % {"summary": payload["summary"]},
                )
            outcome = EventOutcome.JOINED
        self._keep(incident)
        alert = Alert(
            integration=integration,
            incident=incident,
            dedup_key=event.dedup_key,
            group_key=event.group_key,
            status=AlertStatus.FIRING,
            first_seen_at=event.received_at,
            last_seen_at=event.received_at,
        )
        self._describe_alert(alert, payload, digest=event.content_hash or content_hash(payload))
        alert.save()
        self._hold(alert)
        record_entry(
            incident=incident,
            kind=EntryKind.ALERT,
            actor=self.actor,
            body=_("Alert fired: %(summary)s (%(integration)s)")
            % {"summary": alert.summary, "integration": integration.name},
            visibility=Visibility.INTERNAL,
            data=self._entry_data(alert, event, "fired"),
        )
        logger.info(
            "alert %s %s incident %s",
            alert.dedup_key,
            "opened" if outcome == EventOutcome.OPENED else "joined",
            incident.number,
            extra={"incident": incident.number},
        )
        return outcome, incident

    def _group_incident(self, integration: Integration, group_key: str) -> Incident | None:
        """The open incident an alert of the same group is already on, if any."""
        sibling = (
            Alert.objects.filter(integration=integration, group_key=group_key, incident__state__in=OPEN_STATES)
            .order_by("-id")
            .values_list("incident_id", flat=True)
            .first()
        )
        return self._fresh(sibling) if sibling is not None else None

    # --- acknowledge and resolve ---------------------------------------

    def _acknowledge(self, alert: Alert, event: AlertEvent) -> str:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.last_seen_at = max(alert.last_seen_at, event.received_at)
        alert.event_count += 1
        self._save_status(alert)
        self.touched.pop(alert.pk, None)
        self.counted.pop(alert.pk, None)
        incident = self._fresh(alert.incident_id)
        note = _("Acknowledged by %(integration)s.") % {"integration": alert.integration.name}
        if incident.state == State.NEW:
            self._keep(acknowledge_incident(incident=incident, actor=self.actor, note=note))
        else:
            self._note(incident, _("Alert acknowledged: %(summary)s") % {"summary": alert.summary}, alert, event)
        return EventOutcome.ACKNOWLEDGED

    def _resolve_alert(self, alert: Alert, *, at: dt.datetime) -> None:
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = at
        self.open.pop((alert.integration_id, alert.dedup_key), None)

    def _resolve(self, alert: Alert, event: AlertEvent) -> str:
        self._resolve_alert(alert, at=event.received_at)
        alert.last_seen_at = max(alert.last_seen_at, event.received_at)
        alert.event_count += 1
        self._save_status(alert)
        self.touched.pop(alert.pk, None)
        self.counted.pop(alert.pk, None)
        incident = self._fresh(alert.incident_id)
        firing = Alert.objects.filter(incident=incident).exclude(status=AlertStatus.RESOLVED).count()
        if firing:
            self._note(
                incident,
                _("Alert cleared: %(summary)s; %(count)d other alert(s) still firing.")
                % {"summary": alert.summary, "count": firing},
                alert,
                event,
            )
        else:
            self._all_clear(incident, alert, event)
        return EventOutcome.RESOLVED

    def _all_clear(self, incident: Incident, alert: Alert, event: AlertEvent) -> None:
        integration = alert.integration
        said = _("The alert cleared: %(summary)s (%(integration)s).") % {
            "summary": alert.summary,
            "integration": integration.name,
        }
        action = integration.resolve_action
        if action == ResolveAction.MITIGATE and incident.state in (State.NEW, State.ACKNOWLEDGED, State.INVESTIGATING):
            if incident.state == State.NEW:
                incident = acknowledge_incident(incident=incident, actor=self.actor, note=said)
            self._keep(mitigate_incident(incident=incident, actor=self.actor, note=said))
        elif action == ResolveAction.RESOLVE and incident.state in (
            State.NEW,
            State.ACKNOWLEDGED,
            State.INVESTIGATING,
            State.MITIGATED,
        ):
            if incident.state in (State.NEW, State.ACKNOWLEDGED):
                incident = investigate_incident(incident=incident, actor=self.actor, note=said)
            self._keep(
                resolve_incident(
                    incident=incident,
                    actor=self.actor,
                    root_cause=_("Not recorded: resolved automatically when monitoring reported the alert clear."),
                    resolution=said,
                )
            )
        else:
            self._note(incident, said, alert, event)

    def _note(self, incident: Incident, body: str, alert: Alert, event: AlertEvent) -> None:
        record_entry(
            incident=incident,
            kind=EntryKind.ALERT,
            actor=self.actor,
            body=body,
            visibility=Visibility.INTERNAL,
            data=self._entry_data(alert, event, event.action),
        )


def waiting_event_count(*, older_than: dt.timedelta = WAITING_ALARM) -> int:
    """Events stored more than `older_than` ago and not processed yet: should be 0 while workers keep up."""
    cutoff = timezone.now() - older_than
    return AlertEvent.objects.filter(processed_at__isnull=True, received_at__lt=cutoff).count()


def retry_failed_events(*, events: QuerySet[AlertEvent], actor: Actor) -> int:
    """Put failed events back in the queue (once their cause is fixed, say a severity mapping); admins only."""
    if not actor.is_superuser:
        raise PermissionDenied(_("Only admins may process alert events again."))
    with transaction.atomic():
        ids = list(events.filter(outcome=EventOutcome.FAILED).values_list("pk", flat=True))
        AlertEvent.objects.filter(pk__in=ids).update(processed_at=None, outcome="", error="", incident=None)
        transaction.on_commit(wake_processor, robust=True)
    logger.info("alert events %s queued again by %s", ids, actor.get_username(), extra={"events": ids})
    return len(ids)
