"""The period report as a workbook: a sheet per table, with real numbers, percentages and durations."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from reports.exports.period_tables import (
    COUNT,
    DATE,
    DATETIME,
    DURATION,
    PERCENT,
    TEXT,
    Table,
    filters_text,
    period_tables,
)
from reports.metrics import Summary

# Excel's rules for a sheet's tab: at most 31 characters, none of these.
_SHEET_NAME_LIMIT = 31
_NOT_IN_SHEET_NAMES = str.maketrans(dict.fromkeys("[]:*?/\\", " "))
_FORMATS = {
    COUNT: "#,##0",
    PERCENT: "0.00%",
    DURATION: "[h]:mm:ss",
    DATE: "yyyy-mm-dd",
    DATETIME: "yyyy-mm-dd hh:mm",
    "change": '+0.0"%";-0.0"%";0"%"',
}
_WIDTHS = {TEXT: 12, COUNT: 12, PERCENT: 14, DURATION: 14, DATE: 12, DATETIME: 18, "mixed": 16, "change": 12}


def sheet_name(name: str) -> str:
    return name.translate(_NOT_IN_SHEET_NAMES)[:_SHEET_NAME_LIMIT]


def period_xlsx(summary: Summary) -> bytes:
    """The workbook's bytes: the Overview first, then one sheet per table."""
    workbook = Workbook(write_only=True)
    for table in period_tables(summary):
        _write_table(workbook.create_sheet(title=sheet_name(table.name)), table, summary)
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()


def _write_table(sheet: WriteOnlyWorksheet, table: Table, summary: Summary) -> None:
    for index, kind in enumerate(table.kinds):
        width = _WIDTHS.get(kind, 16)
        if kind == TEXT:
            # As wide as the column's longest text, within reason.
            longest = max([len(table.headers[index]), *(len(str(row[index] or "")) for row in table.rows)])
            width = min(60, max(width, longest + 2))
        sheet.column_dimensions[get_column_letter(index + 1)].width = width
    sheet.freeze_panes = "A4"
    title = WriteOnlyCell(sheet, value=table.title)
    title.font = Font(bold=True, size=13)
    sheet.append([title])
    sheet.append([_period_line(summary)])
    header = []
    for text in table.headers:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for row in table.rows:
        sheet.append([_cell(sheet, value, kind, summary) for value, kind in zip(row, table.kinds, strict=True)])


def _period_line(summary: Summary) -> str:
    period = summary.period
    line = _("%(start)s to %(end)s (%(zone)s)") % {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "zone": period.zone.key,
    }
    narrowed = filters_text(summary)
    return f"{line}. {narrowed}" if narrowed else line


def _cell(sheet: WriteOnlyWorksheet, value: Any, kind: str, summary: Summary) -> Any:
    if value is None:
        return None
    if kind == "mixed":
        # The Overview mixes counts, durations and percentages in one column.
        kind = DURATION if isinstance(value, dt.timedelta) else PERCENT if isinstance(value, float) else COUNT
    if kind == PERCENT:
        value = value / 100.0
    elif kind == DATETIME:
        # Excel has no time zones: the wall time in the report's zone, which the second row names.
        value = timezone.localtime(value, summary.period.zone).replace(tzinfo=None)
    elif kind == TEXT:
        value = str(value)
        if value.startswith(("=", "+", "-", "@")):
            value = "'" + value
    cell = WriteOnlyCell(sheet, value=value)
    if kind in _FORMATS:
        cell.number_format = _FORMATS[kind]
    return cell
