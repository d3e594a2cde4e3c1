"""The reports dashboard (/reports/): the numbers of a hand-built October, its charts, its form and who sees it.

The data set, in UTC, for the period 1–10 October 2026 and the ten days before it:

- INC A, P1, 2 Oct 10:00 on the checkout service, 100 users: acknowledged after 10 min,
  mitigated after 40, resolved after 2 h;
- INC B, P1, 2 Oct 15:00 on the checkout service: its response SLA breached at 15:15,
  acknowledged after 30 min, mitigated after 60, resolved after 90;
- INC C, P3, 5 Oct 09:00, a network problem: acknowledged after 5 min, mitigated after 35,
  resolved after 60;
- before the period, INC D, P2, 25 Sep 12:00: acknowledged after 20 min, mitigated after 2 h,
  never resolved.

So the period has 3 incidents (1 before: 200% more), a mean time to acknowledge of
15 min (20 before: 25% less), and checkout down 100 minutes of 10 days (99.31% available): the
service downtime, 1 h 40 min (none before: D and C are on no service, so they take no service down).
"""

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.test import Client

from escalation import profile
from escalation.models import SlaClock
from escalation.sla import record_breach
from incidents import lifecycle
from incidents.choices import Category, Level
from incidents.models import Incident, Service

pytestmark = pytest.mark.django_db

OCTOBER = "/reports/?start=2026-10-01&end=2026-10-10&tz=UTC"
UTC = dt.UTC


def at(day: int, hour: int, minute: int = 0, month: int = 10) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=UTC)


def worked(
    make_incident: Callable[..., Incident],
    actor: Any,
    *,
    reported: dt.datetime,
    steps: dict[str, int],
    **fields: Any,
) -> Incident:
    """An incident reported at `reported`, then moved through `steps` (transition: minutes after the report)."""
    with time_machine.travel(reported, tick=False):
        incident = make_incident(started_at=reported, **fields)
    for name, minutes in steps.items():
        with time_machine.travel(reported + dt.timedelta(minutes=minutes), tick=False):
            extra = {"note": "Moved to the backup"} if name == "mitigate" else {}
            if name == "resolve":
                extra = {"root_cause": "A bad deploy", "resolution": "Rolled back"}
            incident = lifecycle.transition_incident(incident=incident, name=name, actor=actor, **extra)
    return incident


@pytest.fixture
def october(manager: Any, make_incident: Callable[..., Incident], service: Service) -> dict[str, Incident]:
    made = {
        "a": worked(
            make_incident,
            manager,
            reported=at(2, 10),
            steps={"acknowledge": 10, "investigate": 11, "mitigate": 40, "resolve": 120},
            title="Checkout fails",
            impact=Level.HIGH,
            urgency=Level.HIGH,
            services=[service],
            category=Category.API_DISRUPTION,
            affected_users=100,
        ),
        "b": worked(
            make_incident,
            manager,
            reported=at(2, 15),
            steps={},
            title="Checkout slow",
            impact=Level.HIGH,
            urgency=Level.HIGH,
            services=[service],
            category=Category.API_DISRUPTION,
        ),
        "c": worked(
            make_incident,
            manager,
            reported=at(5, 9),
            steps={"acknowledge": 5, "investigate": 6, "mitigate": 35, "resolve": 60},
            title="VPN drops",
            category=Category.NETWORK,
        ),
        "d": worked(
            make_incident,
            manager,
            reported=at(25, 12, month=9),
            steps={"acknowledge": 20, "investigate": 21, "mitigate": 120},
            title="Invoices late",
            impact=Level.HIGH,
            urgency=Level.MEDIUM,
        ),
    }
    clock = SlaClock.objects.get(incident=made["b"], kind="acknowledge")
    record_breach(clock=clock, at=at(2, 15, 15))
    b = made["b"]
    for name, minutes in {"acknowledge": 30, "investigate": 31, "mitigate": 60, "resolve": 90}.items():
        with time_machine.travel(at(2, 15) + dt.timedelta(minutes=minutes), tick=False):
            extra = {"note": "Scaled out"} if name == "mitigate" else {}
            if name == "resolve":
                extra = {"root_cause": "Too few workers", "resolution": "More workers"}
            b = lifecycle.transition_incident(incident=b, name=name, actor=manager, **extra)
    return made


def logged_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def section(html: str, key: str) -> str:
    """One section of the page, by the key in its class (`figure-over-time`, ...)."""
    match = re.search(rf'<section class="figure figure-{key}".*?</section>', html, re.S)
    assert match, key
    return match.group(0)


def card(html: str, key: str) -> str:
    match = re.search(rf'<li class="card card-{key}">(.*?)</li>', html, re.S)
    assert match, key
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def test_the_dashboard_shows_the_periods_numbers_beside_the_previous_ones(
    manager: Any, october: dict[str, Incident]
) -> None:
    response = logged_in(manager).get(OCTOBER)
    assert response.status_code == 200
    html = response.content.decode()

    assert card(html, "incidents") == (
        "Incidents 3 Previous period: 1 ▲ 200% more than the previous period (worse) Lower is better."
    )
    assert card(html, "mtta") == (
        "Mean time to acknowledge (MTTA) 15 min median 10 min · p90 26 min Previous period: 20 min "
        "▼ 25% less than the previous period (better) Lower is better."
    )
    assert card(html, "mitigate").startswith("Mean time to mitigate 45 min median 40 min · p90 56 min")
    assert card(html, "mttr").startswith("Mean time to resolve (MTTR) 1 h 30 min median 1 h 30 min")
    # The period before has no resolved incident: nothing to compare with, and it says so.
    assert "No comparison: the value is missing in one of the periods." in card(html, "mttr")
    assert card(html, "downtime").startswith(
        "Downtime 1 h 40 min Previous period: 0 s ▲ up from none in the previous period (worse)"
    )
    assert card(html, "sla_response").startswith("SLA compliance, response 66.7% Previous period: 100%")
    assert "▼ 33.3 points less than the previous period (worse) Higher is better." in card(html, "sla_response")
    assert card(html, "affected_users").startswith("Affected users 100 Previous period: 0 ▲ up from none")
    assert card(html, "reopen_rate").startswith("Reopen rate 0% Previous period: 0% = the same as the previous period")

    # The period and the downloads carry the same query.
    assert "From Oct. 1, 2026 to Oct. 10, 2026 (UTC)" in html
    assert 'href="/api/v1/reports/summary/pdf/?start=2026-10-01&amp;end=2026-10-10&amp;tz=UTC"' in html
    assert 'href="/api/v1/reports/summary/xlsx/?start=2026-10-01&amp;end=2026-10-10&amp;tz=UTC"' in html
    assert (
        'href="/api/v1/reports/incidents/csv/?created_after=2026-10-01T00%3A00%3A00%2B00%3A00'
        '&amp;created_before=2026-10-11T00%3A00%3A00%2B00%3A00"' in html
    )


def test_the_charts_draw_the_bars_and_the_tables_hold_the_same_numbers(
    manager: Any, october: dict[str, Incident]
) -> None:
    html = logged_in(manager).get(OCTOBER).content.decode()

    over_time = section(html, "over-time")
    # Ten days, two with incidents: 2 Oct's two P1s stacked as one segment, 5 Oct's P3.
    assert re.findall(r'<rect class="bar (fill-p\d)"[^>]*><title>([^<]+)</title>', over_time) == [
        ("fill-p1", "2 Oct: 2"),
        ("fill-p3", "5 Oct: 1"),
    ]
    assert 'role="img"' in over_time
    assert "Incidents per day, stacked by priority: 3 in all, at most 2 in one day." in over_time
    assert over_time.count('<tr><th scope="row">') == 10
    assert '<tr><th scope="row">2 Oct</th><td>2</td><td>0</td><td>0</td><td>0</td><td>2</td></tr>' in over_time

    priority = section(html, "priority")
    bars = re.findall(r'<rect class="bar (fill-p\d)"[^>]*><title>([^<]+)</title>', priority)
    assert bars == [
        ("fill-p1", "P1 · Critical: 2"),
        ("fill-p2", "P2 · High: 0"),
        ("fill-p3", "P3 · Medium: 1"),
        ("fill-p4", "P4 · Low: 0"),
    ]
    assert re.search(r'<rect class="bar fill-p2"[^>]* width="0.0"', priority)
    assert "Incidents by priority: the most is P1 · Critical with 2." in priority

    category = section(html, "category")
    assert re.findall(r"<title>([^<]+)</title></rect>", category) == ["API disruption: 2", "Network problem: 1"]

    availability = section(html, "availability")
    assert "<title>Checkout payments: 99.31%</title>" in availability
    assert '<tr><th scope="row">Checkout payments</th><td>99.31%</td><td>1 h 40 min</td><td>2</td></tr>' in availability

    sla = section(html, "sla")
    assert "<title>P1 · response: 50% (1 of 2)</title>" in sla
    assert "<title>P3 · response: 100% (1 of 1)</title>" in sla
    assert "<title>P2 · response: none ended</title>" in sla

    # The listed breach links to its incident; the recurring service is named.
    number = october["b"].number
    assert f'<a href="/incidents/{number}/">{number}</a>' in html
    assert '<tr><th scope="row">Checkout payments</th><td>2</td></tr>' in html
    # Response times per priority: mean · median · p90.
    assert "<td>20 min · 20 min · 28 min</td>" in html


def test_a_period_without_incidents_says_so_and_divides_by_nothing(manager: Any, service: Service) -> None:
    response = logged_in(manager).get(OCTOBER)
    assert response.status_code == 200
    html = response.content.decode()
    assert (
        card(html, "incidents") == "Incidents 0 Previous period: 0 = the same as the previous period Lower is better."
    )
    assert card(html, "mtta").startswith("Mean time to acknowledge (MTTA) — Previous period: — No comparison")
    for key in ("over-time", "priority", "category", "service"):
        assert "No incidents were reported in this period." in section(html, key)
        assert "<svg" not in section(html, key)
    assert "No SLA clock has ended for this period&#x27;s incidents." in section(html, "sla")
    # The service is still there, fully available.
    assert "<title>Checkout payments: 100%</title>" in section(html, "availability")
    assert "No SLA was breached by this period's incidents." in html


def test_filters_narrow_the_report_and_are_kept_in_the_downloads(
    manager: Any, october: dict[str, Incident], service: Service
) -> None:
    html = logged_in(manager).get(f"{OCTOBER}&service={service.slug}&priority=P1").content.decode()
    assert card(html, "incidents").startswith("Incidents 2 Previous period: 0")
    assert (
        "/api/v1/reports/summary/pdf/?start=2026-10-01&amp;end=2026-10-10&amp;tz=UTC&amp;service=checkout-payments&amp;priority=P1"
        in html
    )
    assert "/api/v1/reports/incidents/csv/?created_after=2026-10-01T00%3A00%3A00%2B00%3A00" in html
    assert '&amp;priority=P1&amp;service=checkout-payments"' in html  # the incident list takes them too
    assert "Not every filter chosen here applies to it." not in html
    # The form shows what was chosen.
    assert re.search(r'<option value="checkout-payments" selected>', html)
    assert re.search(r'<input type="checkbox" name="priority" value="P1"[^>]* checked>', html)
    # Two services and a category: the incident list cannot take them, and the page says so.
    Service.objects.create(name="Search", slug="search")
    wider = logged_in(manager).get(f"{OCTOBER}&service={service.slug}&service=search&category=network")
    html = wider.content.decode()
    assert card(html, "incidents").startswith("Incidents 0 ")
    assert "Not every filter chosen here applies to it." in html
    assert (
        'href="/api/v1/reports/incidents/csv/?created_after=2026-10-01T00%3A00%3A00%2B00%3A00'
        '&amp;created_before=2026-10-11T00%3A00%3A00%2B00%3A00"' in html
    )


def test_a_preset_counts_whole_days_in_the_users_time_zone(manager: Any, october: dict[str, Incident]) -> None:
    with time_machine.travel(at(11, 20), tick=False):  # 12 Oct 03:00 in Jakarta
        html = logged_in(manager).get("/reports/?period=last_7&tz=Asia/Jakarta").content.decode()
    assert "From Oct. 5, 2026 to Oct. 11, 2026 (Asia/Jakarta)" in html
    assert card(html, "incidents").startswith("Incidents 1 Previous period: 2")
    with time_machine.travel(at(11, 20), tick=False):
        html = logged_in(manager).get("/reports/?period=last_month&tz=UTC").content.decode()
    assert "From Sept. 1, 2026 to Sept. 30, 2026 (UTC)" in html


def test_the_default_is_the_last_30_days_in_the_users_zone(manager: Any) -> None:
    with time_machine.travel(at(11, 20), tick=False):
        html = logged_in(manager).get("/reports/").content.decode()
    assert "From Sept. 11, 2026 to Oct. 10, 2026 (UTC)" in html
    assert re.search(r'<option value="last_30" selected>', html)


def test_the_period_and_the_breaches_are_in_the_users_own_time_zone(manager: Any, october: dict[str, Incident]) -> None:
    profile.update_settings(
        user=manager, actor=manager, first_name="Maya", last_name="", email="", time_zone="Asia/Jakarta", language=""
    )
    with time_machine.travel(at(11, 20), tick=False):  # 12 Oct 03:00 in Jakarta
        html = logged_in(manager).get("/reports/").content.decode()
    assert "From Sept. 12, 2026 to Oct. 11, 2026 (Asia/Jakarta)" in html
    assert '<option value="Asia/Jakarta" selected>' in html
    # INC B's response SLA breached at 15:15 UTC: 22:15 in Jakarta.
    assert '<time datetime="2026-10-02T22:15:00+07:00">10/02/2026 10:15 p.m.</time>' in html


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-13-01&end=2026-10-10", "start", "Enter a date as YYYY-MM-DD."),
        ("start=2026-10-10&end=2026-10-01", "end", "The end is before the start."),
        ("service=no-such-service", "service", "Unknown: no-such-service."),
        ("tz=Mars/Olympus", "tz", "Unknown time zone: Mars/Olympus."),
        ("period=forever", "period", "Select a valid choice. forever is not one of the available choices."),
    ],
)
def test_a_wrong_query_shows_the_form_with_the_error_beside_its_field(
    manager: Any, query: str, field: str, message: str
) -> None:
    response = logged_in(manager).get(f"/reports/?{query}")
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<p class="error" id="id_{field}_error" role="alert">{message}</p>' in html or (
        field == "priority" and message in html
    )
    assert "The report could not be shown" in html
    assert 'class="cards"' not in html  # no figures from a query that was not understood


def test_only_those_who_may_see_reports_get_the_page(agent: Any, reporter: Any, manager: Any, admin_user: Any) -> None:
    assert logged_in(agent).get("/reports/").status_code == 403
    assert logged_in(reporter).get("/reports/").status_code == 403
    anonymous = Client().get("/reports/")
    assert anonymous.status_code == 302
    assert anonymous["Location"] == "/accounts/login/?next=/reports/"
    assert logged_in(admin_user).get("/reports/").status_code == 200


def test_the_navigation_links_to_reports_only_for_those_who_may_see_them(
    agent: Any, reporter: Any, manager: Any
) -> None:
    link = '<a href="/reports/"'
    assert link in logged_in(manager).get("/").content.decode()
    assert link not in logged_in(agent).get("/").content.decode()
    assert link not in logged_in(reporter).get("/").content.decode()
    assert '<a href="/reports/" aria-current="page">' in logged_in(manager).get("/reports/").content.decode()
