"""What the PDFs share: the page (A4, numbered), the styles, and text every glyph of which the font has.

The fonts are reportlab's built-in Helvetica: nothing to install or ship. It
draws the Windows-1252 characters, which cover English, Indonesian and the
punctuation the reports use (· – — × “ ”); anything else a user typed (an
arrow, a star, another script) is replaced by a close ASCII stand-in or "?",
so no glyph is ever missing from the page.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

FONT = "Helvetica"
BOLD = "Helvetica-Bold"
# Stand-ins for characters Helvetica (Windows-1252) does not draw.
_STAND_INS = {"→": "->", "←": "<-", "★": "*", "✓": "v", "≥": ">=", "≤": "<=", "■": "#", "▲": "+", "▼": "-"}
MARGIN = 16 * mm
# What the margins leave for the text.
PAGE_WIDTH = A4[0] - 2 * MARGIN
GRID = colors.HexColor("#c9ced6")
HEADER_FILL = colors.HexColor("#eef1f5")
INK = colors.HexColor("#1f2933")


def drawable(text: str) -> str:
    """`text` with every character the font cannot draw replaced."""
    out = []
    for char in text:
        try:
            char.encode("cp1252")
            out.append(char)
        except UnicodeEncodeError:
            out.append(_STAND_INS.get(char, "?"))
    return "".join(out)


def para_text(text: str) -> str:
    """User text for a Paragraph: drawable, markup escaped, line breaks kept."""
    return escape(drawable(text)).replace("\n", "<br/>")


class Styles:
    def __init__(self) -> None:
        sheet = getSampleStyleSheet()
        self.title = ParagraphStyle("title", parent=sheet["Title"], fontName=BOLD, fontSize=18, leading=22)
        self.h2 = ParagraphStyle("h2", parent=sheet["Heading2"], fontName=BOLD, fontSize=13, spaceBefore=10)
        self.body = ParagraphStyle("body", parent=sheet["BodyText"], fontName=FONT, fontSize=9.5, leading=12.5)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=8.5, leading=11, textColor=colors.grey)
        self.cell = ParagraphStyle("cell", parent=self.body, fontSize=8.5, leading=10.5)
        self.number = ParagraphStyle("number", parent=self.cell, alignment=TA_RIGHT)


def when(value: dt.datetime | None, zone: Any = None) -> str:
    if value is None:
        return "–"
    return f"{timezone.localtime(value, zone):%Y-%m-%d %H:%M}"


def grid_table(rows: list[list[Any]], widths: list[float] | None = None, numeric_from: int = 1) -> Table:
    """A table with a shaded header row and a light grid; columns from `numeric_from` on are right-aligned."""
    table = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT, 8.5),
                ("FONT", (0, 0), (-1, 0), BOLD, 8.5),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("ALIGN", (numeric_from, 1), (-1, -1), "RIGHT"),
                ("TEXTCOLOR", (0, 0), (-1, -1), INK),
            ]
        )
    )
    return table


def build_pdf(story: list[Flowable], *, title: str, footer: str) -> bytes:
    """The document's bytes: A4, with `footer` and "page n" at the foot of every page."""
    output = io.BytesIO()
    document = SimpleDocTemplate(
        output,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=16 * mm,
        bottomMargin=18 * mm,
        title=drawable(title),
        author="ITSM",
    )
    page_label = _("Page %(number)d")
    footer = drawable(footer)

    def decorate(canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 8)
        canvas.setFillColor(colors.grey)
        canvas.drawString(MARGIN, 10 * mm, footer)
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, page_label % {"number": doc.page})
        canvas.restoreState()

    on_page: Callable[[Canvas, SimpleDocTemplate], None] = decorate
    document.build(story, onFirstPage=on_page, onLaterPages=on_page)
    return output.getvalue()


def paragraph(text: str, style: ParagraphStyle) -> Paragraph:
    """A Paragraph of plain text (escaped, drawable)."""
    return Paragraph(para_text(text), style)
