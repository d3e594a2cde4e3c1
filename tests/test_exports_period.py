"""The period report as XLSX (a sheet per table) and PDF (charts and tables), read back with openpyxl and pypdf."""

import datetime as dt
import io
from collections.abc import Callable, Iterator
from typing import Any

import openpyxl
import pypdf
import pytest
import time_machine

from escalation.models import SlaClock, Team
from incidents import lifecycle
from incidents.choices import Category, Level
from incidents.models import Incident, Service
from reports import facts
from reports.exports.pdf_common import drawable

XLSX_URL = "/api/v1/reports/summary/xlsx/"
PDF_URL = "/api/v1/reports/summary/pdf/"
OCTOBER = "?start=2026-10-01&end=2026-10-31&tz=UTC"
REPORTED = dt.datetime(2026, 10, 5, 8, 0, tzinfo=dt.UTC)


# The day the files are made: October is over, and the follow-up due on 20 October is overdue.
TODAY = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def made_on_a_fixed_day() -> Iterator[None]:
    with time_machine.travel(TODAY, tick=False):
        yield


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def october(agent: Any, team: Team, service: Service, make_incident: Callable[..., Incident]) -> dict[str, Incident]:
    """October: a P1 down an hour on checkout (1,200 users), a P3 on the network that breached; a P2 in September."""
    with time_machine.travel(REPORTED, tick=False):
        p1 = make_incident(
            title="Payments failing for all users",
            category=Category.APPLICATION_ERROR,
            impact=Level.HIGH,
            urgency=Level.HIGH,
            services=[service],
            team=team,
            affected_users=1200,
            started_at=REPORTED,
        )
    with time_machine.travel(REPORTED + dt.timedelta(minutes=10), tick=False):
        p1 = lifecycle.investigate_incident(incident=p1, actor=agent)
    with time_machine.travel(REPORTED + dt.timedelta(hours=1), tick=False):
        p1 = lifecycle.mitigate_incident(incident=p1, actor=agent, note="Failed over")
    with time_machine.travel(REPORTED + dt.timedelta(days=2), tick=False):
        p3 = make_incident(title="VPN drops every hour", category=Category.NETWORK, affected_users=30)
    SlaClock.objects.filter(incident=p3, kind="acknowledge").update(
        breached_at=REPORTED + dt.timedelta(days=2, hours=5), due_at=REPORTED + dt.timedelta(days=2, hours=4)
    )
    facts.refresh([p3.pk])  # written past save(), so the reports' facts are told
    with time_machine.travel(REPORTED - dt.timedelta(days=20), tick=False):
        make_incident(title="Search is slow", impact=Level.HIGH, urgency=Level.MEDIUM)
    return {"p1": p1, "p3": p3}


@pytest.mark.django_db
def test_the_workbook_has_a_sheet_per_table_with_the_numbers(
    october: dict[str, Incident], manager: Any, api: Any
) -> None:
    response = api(manager).get(XLSX_URL + OCTOBER)

    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response["Content-Disposition"] == 'attachment; filename="incident-report-20261001-20261031.xlsx"'
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [
        "Overview",
        "By priority",
        "By category",
        "By service",
        "By team",
        "Over time",
        "Response times",
        "Availability",
        "SLA compliance",
        "SLA breaches",
    ]
    overview = list(workbook["Overview"].values)
    assert overview[0][0] == "Overview"
    assert overview[1][0] == "2026-10-01 to 2026-10-31 (UTC)"
    assert overview[2] == ("Figure", "This period", "Previous period", "Change (%)")
    figures = {row[0]: row[1:] for row in overview[3:]}
    # Two incidents in October, one in September: +100%.
    assert figures["Incidents"] == (2, 1, 100.0)
    assert figures["Affected users"][0] == 1230
    # Service downtime: the P1's hour on checkout. September's P2, never mitigated, and the P3
    # are on no service, so they take none down.
    assert figures["Downtime"][0] == dt.timedelta(hours=1)
    assert figures["Mean time to acknowledge"][0] == dt.timedelta(minutes=10)
    assert figures["SLA breaches"][0] == 1
    # Percentages are real percentages: 0.5 shown as 50.00%.
    assert figures["Response SLA compliance"][0] == 0.5
    assert workbook["Overview"]["B8"].number_format == "[h]:mm:ss"
    # Columns as wide as their longest label, so nothing is cut off when the file opens.
    assert workbook["Overview"].column_dimensions["A"].width == len("Resolution SLA compliance") + 2

    by_priority = list(workbook["By priority"].values)
    assert by_priority[2] == ("Priority", "Incidents")
    assert by_priority[3:] == [("P1 · Critical", 1), ("P2 · High", 0), ("P3 · Medium", 1), ("P4 · Low", 0)]
    by_category = dict(list(workbook["By category"].values)[3:])
    assert by_category == {"Application error": 1, "Network problem": 1}
    assert list(workbook["By service"].values)[3:] == [("Checkout payments", 1)]
    assert dict(list(workbook["By team"].values)[3:]) == {"Payments": 1, "No team": 1}
    over_time = list(workbook["Over time"].values)
    assert over_time[2] == ("From", "Incidents", "P1", "P2", "P3", "P4")
    assert len(over_time) == 3 + 31
    fifth = over_time[3 + 4]
    assert (fifth[0].date(), fifth[1], fifth[2]) == (dt.date(2026, 10, 5), 1, 1)
    availability = list(workbook["Availability"].values)[3:]
    assert availability == [("Checkout payments", 1, dt.timedelta(hours=1), pytest.approx(1 - 3600 / (31 * 86400)))]
    breaches = list(workbook["SLA breaches"].values)
    assert breaches[0][0] == "SLA breaches (1)"
    assert breaches[3][:4] == (october["p3"].number, "VPN drops every hour", "P3", "Response (acknowledge)")
    # In the report's zone (UTC here), as its second row says.
    assert breaches[3][5].replace(tzinfo=dt.UTC) == REPORTED + dt.timedelta(days=2, hours=5)


@pytest.mark.django_db
def test_the_pdf_has_the_period_the_figures_and_the_tables(
    october: dict[str, Incident], manager: Any, api: Any
) -> None:
    response = api(manager).get(PDF_URL + OCTOBER + "&service=checkout-payments")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    assert "Incident report, 2026-10-01 to 2026-10-31" in text
    assert "Time zone: UTC" in text
    assert "Filters: Services: checkout-payments" in text
    assert "Headline figures" in text
    assert "Incidents over time, by priority" in text
    assert "Availability per service" in text
    assert "Checkout payments" in text
    assert "Page 1" in text
    # Narrowed to checkout: the P1 alone, against nothing in September on that service.
    # A table cell a line: the figure, this period, the previous one, the change (none from zero).
    assert "Incidents\n1\n0\n–" in text
    assert "Affected users\n1,200\n0" in text
    assert "Downtime\n1 h\n0 s" in text
    assert "Mean time to acknowledge\n10 min" in text


@pytest.mark.django_db
def test_an_indonesian_reader_gets_an_indonesian_pdf(october: dict[str, Incident], manager: Any, api: Any) -> None:
    response = api(manager).get(PDF_URL + OCTOBER, HTTP_ACCEPT_LANGUAGE="id")

    text = pdf_text(response.content)
    assert "Laporan insiden, 2026-10-01 sampai 2026-10-31" in text
    assert "Zona waktu: UTC" in text
    assert "Angka utama" in text
    assert "Halaman 1" in text
    assert "Headline figures" not in text


@pytest.mark.django_db
def test_the_period_exports_are_managements(
    october: dict[str, Incident], reporter: Any, agent: Any, admin_user: Any, api: Any
) -> None:
    for url in (XLSX_URL, PDF_URL):
        assert api(reporter).get(url + OCTOBER).status_code == 403
        assert api(agent).get(url + OCTOBER).status_code == 403
        assert api(None).get(url + OCTOBER).status_code in (401, 403)
        assert api(admin_user).get(url + OCTOBER).status_code == 200


@pytest.mark.django_db
def test_bad_period_parameters_are_a_400_per_field(manager: Any, api: Any) -> None:
    response = api(manager).get(
        PDF_URL + "?start=2026-13-01&tz=Mars/Olympus&priority=P9", HTTP_ACCEPT="application/pdf"
    )
    assert response.status_code == 400
    assert set(response.json()) == {"start", "tz", "priority"}
    assert api(manager).get(XLSX_URL + "?start=2026-10-31&end=2026-10-01").status_code == 400


@pytest.mark.django_db
def test_an_empty_period_still_makes_both_files(manager: Any, api: Any) -> None:
    client = api(manager)
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(XLSX_URL + OCTOBER).content))
    figures = {row[0]: row[1:] for row in list(workbook["Overview"].values)[3:]}
    assert figures["Incidents"] == (0, 0, None)
    assert "Nothing in this period." in pdf_text(client.get(PDF_URL + OCTOBER).content)


def test_text_the_pdf_font_cannot_draw_gets_a_stand_in() -> None:
    # Helvetica draws Windows-1252: Indonesian and the reports' punctuation, not arrows, stars or other scripts.
    assert drawable("Pembayaran gagal · 5–10 menit — “kartu” ×2") == "Pembayaran gagal · 5–10 menit — “kartu” ×2"
    assert drawable("new → acknowledged ★ 支付") == "new -> acknowledged * ??"


@pytest.mark.django_db
def test_a_title_the_font_cannot_draw_still_makes_a_pdf(october: dict[str, Incident], manager: Any, api: Any) -> None:
    Incident.objects.filter(pk=october["p3"].pk).update(title="VPN → 支付 ★")
    text = pdf_text(api(manager).get(PDF_URL + OCTOBER).content)
    assert "VPN -> ?? *" in text
