"""The reports' facts (`IncidentFact`, `ServiceFact`), kept in step with the incidents.

`refresh(ids)` rewrites the facts of those incidents from their rows, their SLA
clocks and their services, with two or three set-based statements. The signal
handlers at the bottom call it in the transaction of every save of an incident
or a clock and every change of an incident's services, so a report never reads
a fact older than what was committed. Inside a work unit (`incidents.deferred`:
reporting an incident, a transition, a batch of alerts) they call it once per
incident as the unit ends, still in its transaction. Writers that bypass `save()` (bulk loads,
the synthetic generator) call `refresh` or `refresh_range` themselves, and
`manage.py refresh_report_facts` rebuilds all of them.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    Case,
    Exists,
    F,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Round
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from escalation.models import ClockKind, SlaClock
from incidents import deferred
from incidents.choices import State
from incidents.models import Incident, Service
from reports import rollups
from reports.models import IncidentFact, ServiceFact, SlaOutcomeCode
from reports.sql import EpochSeconds, Seconds

FACT_COLUMNS = [
    "incident_id",
    "created_at",
    "priority",
    "category",
    "team_id",
    "cancelled",
    "affected_users",
    "reopened",
    "acknowledge_seconds",
    "restore_seconds",
    "resolve_seconds",
    "sla_acknowledge",
    "sla_resolve",
]
SERVICE_COLUMNS = [
    "incident_id",
    "service_id",
    "created_at",
    "priority",
    "category",
    "team_id",
    "cancelled",
    "started",
    "restored",
]


def _whole_seconds(end: str) -> Cast:
    return Cast(Round(Seconds(end, "created_at")), IntegerField())


def _outcome(kind: str) -> Subquery:
    clocks = SlaClock.objects.filter(incident=OuterRef("pk"), kind=kind)
    code = Case(
        When(breached_at__isnull=False, then=Value(SlaOutcomeCode.BREACHED)),
        When(met_at__isnull=False, then=Value(SlaOutcomeCode.MET)),
        When(stopped_at__isnull=False, then=Value(SlaOutcomeCode.STOPPED)),
        default=Value(SlaOutcomeCode.RUNNING),
        output_field=IntegerField(),
    )
    return Subquery(clocks.annotate(code=code).values("code")[:1])


def _facts_of(incidents: QuerySet[Incident]) -> QuerySet[Any]:
    return (
        incidents.order_by()
        .annotate(
            incident_id=F("pk"),
            cancelled=Q(state=State.CANCELLED),
            affected=Coalesce("affected_users", 0),
            reopened=Q(reopen_count__gt=0),
            acknowledge_seconds=_whole_seconds("acknowledged_at"),
            restore_seconds=_whole_seconds("restored"),
            resolve_seconds=_whole_seconds("resolved_at"),
            sla_acknowledge=Coalesce(_outcome(ClockKind.ACKNOWLEDGE), Value(SlaOutcomeCode.NONE)),
            sla_resolve=Coalesce(_outcome(ClockKind.RESOLVE), Value(SlaOutcomeCode.NONE)),
        )
        .values_list(
            "incident_id",
            "created_at",
            "priority",
            "category",
            "team_id",
            "cancelled",
            "affected",
            "reopened",
            "acknowledge_seconds",
            "restore_seconds",
            "resolve_seconds",
            "sla_acknowledge",
            "sla_resolve",
        )
    )


def _service_facts_of(incidents: QuerySet[Incident]) -> QuerySet[Any]:
    links = Incident.services.through.objects.filter(incident__in=incidents.order_by().values("pk"))
    return links.annotate(
        created=F("incident__created_at"),
        priority=F("incident__priority"),
        category=F("incident__category"),
        team=F("incident__team_id"),
        cancelled=Q(incident__state=State.CANCELLED),
        started_s=EpochSeconds("incident__started_at"),
        restored_s=EpochSeconds(Coalesce("incident__mitigated_at", "incident__resolved_at")),
    ).values_list(
        "incident_id", "service_id", "created", "priority", "category", "team", "cancelled", "started_s", "restored_s"
    )


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(connection.ops.quote_name(name) for name in names)


# What every statement that writes facts hands back, for the months it touched (`_bump`).
_RETURNING = {
    "incident": ("created_at",),
    "services": ("created_at", "started", "restored"),
}


def _write(incidents: QuerySet[Incident], *, incident: bool = True, services: bool = True, cursor: Any = None) -> None:
    """Rewrite the incident facts and (or) the service facts of `incidents`, and mark the ended
    months they touched, before and after, changed (`reports.rollups`)."""
    incidents = incidents.annotate(restored=Coalesce("mitigated_at", "resolved_at"))
    quote = connection.ops.quote_name
    touched: list[tuple[Any, ...]] = []
    with cursor or connection.cursor() as cursor:
        if incident:
            sql, params = _facts_of(incidents).query.sql_with_params()
            updates = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in FACT_COLUMNS[1:])
            # An upsert: the incident's row is written whether or not it had one.
            cursor.execute(
                f"INSERT INTO {quote(IncidentFact._meta.db_table)} ({_quoted(FACT_COLUMNS)}) {sql} "  # noqa: S608 — names from the models
                f"ON CONFLICT (incident_id) DO UPDATE SET {updates} RETURNING {_quoted(_RETURNING['incident'])}",
                params,
            )
            touched += cursor.fetchall()
        if services:
            table = quote(ServiceFact._meta.db_table)
            ids_sql, ids_params = incidents.order_by().values("pk").query.sql_with_params()
            sql, params = _service_facts_of(incidents).query.sql_with_params()
            returning = f"RETURNING {_quoted(_RETURNING['services'])}"
            cursor.execute(f"DELETE FROM {table} WHERE incident_id IN ({ids_sql}) {returning}", ids_params)  # noqa: S608
            touched += cursor.fetchall()
            cursor.execute(f"INSERT INTO {table} ({_quoted(SERVICE_COLUMNS)}) {sql} {returning}", params)  # noqa: S608
            touched += cursor.fetchall()
    _bump(touched)


def _bump(rows: Iterable[tuple[Any, ...]]) -> None:
    """Mark changed the ended months from the earliest to the latest moment of these fact rows:
    (report time) or (report time, impact start, impact end) in seconds, the end None while it goes on."""
    earliest: dt.datetime | None = None
    latest: dt.datetime | None = None
    now = timezone.now()
    for row in rows:
        moments = [_aware(row[0])]
        if len(row) > 1:
            moments.append(dt.datetime.fromtimestamp(row[1], dt.UTC))
            moments.append(now if row[2] is None else dt.datetime.fromtimestamp(row[2], dt.UTC))
        low, high = min(moments), max(moments)
        earliest = low if earliest is None or low < earliest else earliest
        latest = high if latest is None or high > latest else latest
    # Most writes are of this month's incidents: nothing ended is touched, and nothing is written.
    if earliest is None or latest is None or rollups.month_window(rollups.month_of(earliest)).ends_at > now:
        return
    rollups.bump(rollups.months_from(earliest, min(latest, now)))


def _aware(moment: dt.datetime | str) -> dt.datetime:
    # SQLite hands RETURNING's timestamps back as text.
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if timezone.is_aware(moment) else moment.replace(tzinfo=dt.UTC)


def refresh(incident_ids: Iterable[int], *, incident: bool = True, services: bool = True) -> None:
    """Rewrite the facts of these incidents from what the database holds now.

    A clock's change touches only the incident's row; a change of services, only its service rows.
    """
    ids = sorted(set(incident_ids))
    if len(ids) == 1:
        _refresh_one(ids[0], incident=incident, services=services)
    elif ids:
        _write(Incident.objects.filter(pk__in=ids), incident=incident, services=services)


# A number no incident has, compiled into the one-incident statements in its place.
_SENTINEL = -7_346_019_228


@functools.cache
def _one_incident_statements(vendor: str) -> dict[str, tuple[str, list[Any]]]:
    """The statements that rewrite one incident's facts, compiled once per process.

    The signal handlers run them at every save; building them with the ORM each time
    cost more than running them.
    """
    statements: dict[str, tuple[str, list[Any]]] = {}
    captured: list[tuple[str, list[Any]]] = []

    class Recorder:
        def execute(self, sql: str, params: Any) -> None:
            captured.append((sql, list(params)))

        def fetchall(self) -> list[Any]:
            return []

        def __enter__(self) -> Recorder:
            return self

        def __exit__(self, *_: Any) -> None:
            return None

    _write(Incident.objects.filter(pk=_SENTINEL), cursor=Recorder())
    for name, statement in zip(("incident", "delete", "insert"), captured, strict=True):
        statements[name] = statement
    return statements


def _refresh_one(pk: int, *, incident: bool, services: bool) -> None:
    statements = _one_incident_statements(connection.vendor)
    wanted = (["incident"] if incident else []) + (["delete", "insert"] if services else [])
    touched: list[tuple[Any, ...]] = []
    with connection.cursor() as cursor:
        for name in wanted:
            sql, params = statements[name]
            cursor.execute(sql, [pk if value == _SENTINEL else value for value in params])
            touched += cursor.fetchall()
    _bump(touched)


def refresh_range(first: int, last: int) -> None:
    """Rewrite the facts of the incidents numbered `first` to `last` (included)."""
    _write(Incident.objects.filter(pk__gte=first, pk__lte=last))


def missing() -> QuerySet[Incident]:
    """Incidents without facts (made before the facts existed, or by a writer that skipped them)."""
    return Incident.objects.filter(~Exists(IncidentFact.objects.filter(incident=OuterRef("pk"))))


# --- Kept in step: every save of what the facts are made of ----------------------------


def _refresh_pending(wanted: dict[int, tuple[bool, bool]]) -> None:
    """Refresh what a work unit collected: each incident once, with what any of its saves needed."""
    groups: dict[tuple[bool, bool], list[int]] = {}
    for pk, parts in wanted.items():
        groups.setdefault(parts, []).append(pk)
    for (incident, services), ids in groups.items():
        refresh(ids, incident=incident, services=services)


def _refresh_soon(pk: int, *, incident: bool = True, services: bool = True) -> None:
    """Refresh now, or, inside a work unit (`incidents.deferred`), once as the unit ends."""
    wanted = deferred.pending("report-facts", _refresh_pending)
    if wanted is None:
        refresh([pk], incident=incident, services=services)
        return
    had_incident, had_services = wanted.get(pk, (False, False))
    wanted[pk] = (had_incident or incident, had_services or services)


def _incident_saved(sender: Any, instance: Incident, raw: bool = False, **_: Any) -> None:
    if not raw:
        _refresh_soon(instance.pk)


def _clock_changed(sender: Any, instance: SlaClock, raw: bool = False, **_: Any) -> None:
    if not raw:
        _refresh_soon(instance.incident_id, services=False)


def _incident_deleted(sender: Any, instance: Incident, **_: Any) -> None:
    services = ServiceFact.objects.filter(incident_id=instance.pk)
    touched: list[tuple[Any, ...]] = list(services.values_list("created_at", "started", "restored"))
    touched += IncidentFact.objects.filter(incident_id=instance.pk).values_list("created_at")
    IncidentFact.objects.filter(incident_id=instance.pk).delete()
    services.delete()
    _bump(touched)


def _services_changed(sender: Any, instance: Any, action: str, pk_set: set[int] | None, **_: Any) -> None:
    if isinstance(instance, Incident):
        if action.startswith("post_"):
            _refresh_soon(instance.pk, incident=False)
    elif isinstance(instance, Service):
        # From the service's side: the incidents added or removed, or, on a clear, all it had.
        if action == "pre_clear":
            instance._report_fact_incidents = list(instance.incidents.values_list("pk", flat=True))  # type: ignore[attr-defined]
        elif action == "post_clear":
            refresh(getattr(instance, "_report_fact_incidents", []), incident=False)
        elif action.startswith("post_"):
            refresh(pk_set or [], incident=False)


def connect() -> None:
    post_save.connect(_incident_saved, sender=Incident, dispatch_uid="report-facts-incident")
    post_delete.connect(_incident_deleted, sender=Incident, dispatch_uid="report-facts-incident-gone")
    post_save.connect(_clock_changed, sender=SlaClock, dispatch_uid="report-facts-clock")
    post_delete.connect(_clock_changed, sender=SlaClock, dispatch_uid="report-facts-clock-gone")
    m2m_changed.connect(_services_changed, sender=Incident.services.through, dispatch_uid="report-facts-services")


def rebuild(batch: int = 20_000, progress: Any = None) -> int:
    """Rewrite every incident's facts, `batch` numbers at a time; the number of incidents."""
    bounds = Incident.objects.aggregate(first=Min("pk"), last=Max("pk"))
    if bounds["first"] is None:
        return 0
    done = 0
    for first in range(bounds["first"], bounds["last"] + 1, batch):
        with transaction.atomic():
            refresh_range(first, first + batch - 1)
        done = min(first + batch - 1, bounds["last"]) - bounds["first"] + 1
        if progress:
            progress(done, bounds["last"] - bounds["first"] + 1)
    return Incident.objects.count()
