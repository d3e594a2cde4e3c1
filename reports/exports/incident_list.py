"""The incident list as rows for a file: one query, read in chunks, whatever the number of incidents.

The queue's filters and ordering decide which incidents and in what order
(the views apply them); this module turns that queryset into plain rows.
Each row's services and SLA outcomes come from correlated subqueries, so a
million incidents are still one query read through a server-side cursor,
never a list in memory and never a query per row.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.aggregates import StringAgg
from django.db import connection, transaction
from django.db.models import Aggregate, Case, CharField, OuterRef, QuerySet, Subquery, Value, When
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from escalation.models import SlaClock
from escalation.models.sla import ClockKind
from incidents.models import Incident
from incidents.models.incidents import NUMBER_PREFIX

# Rows fetched from the database at a time (the server-side cursor's batch on PostgreSQL).
CHUNK_SIZE = 2000
# The separator between the slugs of an incident's services.
SERVICE_SEPARATOR = ", "


@dataclass(frozen=True)
class Column:
    key: str  # the CSV header, the API's field name
    label: Promise  # the XLSX header, in the reader's language
    kind: str = "text"  # text, number or datetime: how a spreadsheet shows it


def _field_label(name: str) -> Promise:
    return Incident._meta.get_field(name).verbose_name


COLUMNS = [
    Column("number", _("Number")),
    Column("title", _field_label("title")),
    Column("state", _field_label("state")),
    Column("priority", _field_label("priority")),
    Column("impact", _field_label("impact")),
    Column("urgency", _field_label("urgency")),
    Column("category", _field_label("category")),
    Column("source", _field_label("source")),
    Column("services", _field_label("services")),
    Column("team", _field_label("team")),
    Column("assignee", _field_label("assignee")),
    Column("commander", _field_label("commander")),
    Column("affected_users", _field_label("affected_users"), "number"),
    Column("started_at", _field_label("started_at"), "datetime"),
    Column("detected_at", _field_label("detected_at"), "datetime"),
    Column("created_at", _field_label("created_at"), "datetime"),
    Column("acknowledged_at", _field_label("acknowledged_at"), "datetime"),
    Column("mitigated_at", _field_label("mitigated_at"), "datetime"),
    Column("resolved_at", _field_label("resolved_at"), "datetime"),
    Column("closed_at", _field_label("closed_at"), "datetime"),
    Column("downtime_seconds", _("Downtime (seconds)"), "number"),
    Column("reopen_count", _field_label("reopen_count"), "number"),
    Column("acknowledge_sla", _("Acknowledge SLA"), "text"),
    Column("resolve_sla", _("Resolve SLA"), "text"),
]

# What the query reads, in order; `row_values` turns it into the columns above.
_READ = (
    "pk",
    "title",
    "state",
    "priority",
    "impact",
    "urgency",
    "category",
    "source",
    "service_slugs",
    "team__slug",
    "assignee__username",
    "commander__username",
    "affected_users",
    "started_at",
    "detected_at",
    "created_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "reopen_count",
    "acknowledge_sla",
    "resolve_sla",
)


class _GroupConcat(Aggregate):
    """SQLite's `group_concat`: it joins in the order it reads the rows, here the
    (incident, service) unique index's, so by the service's id as on PostgreSQL."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, '" + SERVICE_SEPARATOR + "')"
    output_field = CharField()


def _service_slugs() -> Subquery:
    """The slugs of the incident's services, joined, in the order of the service's id."""
    links = Incident.services.through.objects.filter(incident_id=OuterRef("pk")).order_by()
    joined: Aggregate
    if connection.vendor == "postgresql":
        joined = StringAgg("service__slug", delimiter=SERVICE_SEPARATOR, order_by="service_id")
    else:
        joined = _GroupConcat("service__slug")
    return Subquery(links.values("incident_id").annotate(slugs=joined).values("slugs")[:1], output_field=CharField())


def _sla_outcome(kind: str) -> Subquery:
    """How the incident's clock of `kind` ended or stands: breached (even if met late), met, stopped
    (the incident was cancelled or closed first) or running; '' without a clock."""
    clocks = (
        SlaClock.objects.filter(incident_id=OuterRef("pk"), kind=kind)
        .order_by()
        .annotate(
            outcome=Case(
                When(breached_at__isnull=False, then=Value("breached")),
                When(met_at__isnull=False, then=Value("met")),
                When(stopped_at__isnull=False, then=Value("stopped")),
                default=Value("running"),
                output_field=CharField(),
            )
        )
    )
    return Subquery(clocks.values("outcome")[:1], output_field=CharField())


def export_rows(incidents: QuerySet[Incident]) -> QuerySet[Any]:
    """The filtered, ordered incidents as tuples of `_READ`, for `row_values`."""
    return incidents.annotate(
        service_slugs=_service_slugs(),
        acknowledge_sla=_sla_outcome(ClockKind.ACKNOWLEDGE),
        resolve_sla=_sla_outcome(ClockKind.RESOLVE),
    ).values_list(*_READ)


def downtime_seconds(
    started_at: dt.datetime, mitigated_at: dt.datetime | None, resolved_at: dt.datetime | None
) -> int | None:
    """Seconds from the start of the impact to its end (mitigation, or resolution); None while it lasts."""
    ended = mitigated_at or resolved_at
    if ended is None:
        return None
    return max(0, int((ended - started_at).total_seconds()))


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC)


def row_values(raw: tuple[Any, ...]) -> list[Any]:
    """One incident's cells, in the order of COLUMNS (datetimes aware, in UTC; empty cells None).

    Called once per row of a million: plain unpacking, no model instance, no dict.
    """
    (
        pk, title, state, priority, impact, urgency, category, source, slugs, team, assignee, commander,
        affected_users, started_at, detected_at, created_at, acknowledged_at, mitigated_at, resolved_at,
        closed_at, reopen_count, acknowledge_sla, resolve_sla,
    ) = raw  # fmt: skip
    return [
        f"{NUMBER_PREFIX}{pk}",
        title,
        state,
        priority,
        impact,
        urgency,
        category,
        source,
        slugs or "",
        team or "",
        assignee or "",
        commander or "",
        affected_users,
        _utc(started_at),
        _utc(detected_at),
        _utc(created_at),
        _utc(acknowledged_at),
        _utc(mitigated_at),
        _utc(resolved_at),
        _utc(closed_at),
        downtime_seconds(started_at, mitigated_at, resolved_at),
        reopen_count,
        acknowledge_sla or "",
        resolve_sla or "",
    ]


def iter_rows(incidents: QuerySet[Incident], chunk_size: int = CHUNK_SIZE) -> Iterator[list[Any]]:
    """Every incident's cells, read `chunk_size` rows at a time (a server-side cursor on PostgreSQL).

    Inside a transaction: outside one, Django declares the cursor WITH HOLD,
    and PostgreSQL then computes and stores the whole result before the first
    row leaves. Inside, rows stream from the database as the client reads them,
    all from one snapshot. Closing the generator (the client went away) ends it.
    """
    with transaction.atomic():
        for raw in export_rows(incidents).iterator(chunk_size=chunk_size):
            yield row_values(raw)


# --- CSV ---------------------------------------------------------------------------------

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_STARTS = frozenset("=+-@\t\r")
# Rows written into one piece of the streamed response.
ROWS_PER_PIECE = 500


def csv_cell(value: Any) -> str:
    """A cell as CSV text: datetimes in ISO 8601 (UTC, 'Z'), text defused against formulas.

    Called for every cell of a million rows, so the common cases come first.
    """
    kind = type(value)
    if kind is str:
        return "'" + value if value and value[0] in _FORMULA_STARTS else value
    if value is None:
        return ""
    if kind is dt.datetime:
        if value.utcoffset():
            value = value.astimezone(dt.UTC)
        return value.isoformat(timespec="seconds")[:19] + "Z"
    if isinstance(value, str):
        return csv_cell(str(value))
    return str(value)


def csv_pieces(incidents: QuerySet[Incident], chunk_size: int = CHUNK_SIZE) -> Iterator[str]:
    """The CSV file in pieces of a few hundred rows, the header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([column.key for column in COLUMNS])
    for written, row in enumerate(iter_rows(incidents, chunk_size), start=1):
        writer.writerow([csv_cell(value) for value in row])
        if written % ROWS_PER_PIECE == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# --- XLSX --------------------------------------------------------------------------------

# Excel's last row is 1,048,576; one is the header.
XLSX_MAX_ROWS = 1_048_575
_WIDTHS = {"text": 18, "number": 12, "datetime": 20}


def xlsx_bytes(incidents: QuerySet[Incident]) -> bytes:
    """The incidents as a workbook of one sheet: real numbers and datetimes (UTC), a frozen header."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=str(_("Incidents")))
    for index, column in enumerate(COLUMNS, start=1):
        width = 50 if column.key == "title" else _WIDTHS[column.kind]
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    header = []
    for column in COLUMNS:
        cell = WriteOnlyCell(sheet, value=str(column.label) + (" (UTC)" if column.kind == "datetime" else ""))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in iter_rows(incidents):
        sheet.append([_xlsx_value(value, column) for value, column in zip(row, COLUMNS, strict=True)])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _xlsx_value(value: Any, column: Column) -> Any:
    if isinstance(value, dt.datetime):
        # Excel has no time zones: the cell holds the UTC wall time, as its header says.
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, str):
        # openpyxl stores text starting with "=" as a formula; a title is never one.
        return csv_cell(value)
    return value
