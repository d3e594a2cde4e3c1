"""Work done once per domain operation (`incidents.deferred`): report facts, calendars, and the first history row."""

import datetime as dt
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.models import BusinessCalendar, SlaPolicy, WorkingPeriod
from incidents import deferred, lifecycle
from incidents.models import Incident, Service
from reports.models import IncidentFact, ServiceFact, SlaOutcomeCode


def statements(queries: CaptureQueriesContext, table: str, verb: str = "INSERT INTO") -> int:
    return sum(1 for query in queries.captured_queries if query["sql"].startswith(f'{verb} "{table}"'))


@pytest.mark.django_db
def test_reporting_writes_the_facts_once_and_right(make_incident: Any, service: Service) -> None:
    with CaptureQueriesContext(connection) as queries:
        incident = make_incident(impact="high", urgency="high", services=[service])
    # The incident's save, its services and its two clocks would each have rewritten them.
    assert statements(queries, "reports_incidentfact") == 1
    assert statements(queries, "reports_servicefact", "DELETE FROM") == 1
    fact = IncidentFact.objects.get(incident=incident)
    assert (fact.priority, fact.sla_acknowledge, fact.sla_resolve) == (
        "P1",
        SlaOutcomeCode.RUNNING,
        SlaOutcomeCode.RUNNING,
    )
    assert list(ServiceFact.objects.filter(incident=incident).values_list("service_id", flat=True)) == [service.pk]


@pytest.mark.django_db
def test_a_transition_writes_the_facts_once_with_its_clock(make_incident: Any, service: Service, agent: Any) -> None:
    incident = make_incident(services=[service])
    with CaptureQueriesContext(connection) as queries:
        incident = lifecycle.acknowledge_incident(incident=incident, actor=agent)
    assert statements(queries, "reports_incidentfact") == 1
    fact = IncidentFact.objects.get(incident=incident)
    assert fact.sla_acknowledge == SlaOutcomeCode.MET
    assert fact.acknowledge_seconds is not None


@pytest.mark.django_db
def test_units_nest_and_only_the_outermost_one_writes(make_incident: Any, service: Service, agent: Any) -> None:
    incident = make_incident(services=[service])
    with CaptureQueriesContext(connection) as queries, transaction.atomic(), deferred.work_unit():
        incident = lifecycle.investigate_incident(incident=incident, actor=agent)
        # Inside the outer unit nothing has been written yet.
        assert IncidentFact.objects.get(incident=incident).sla_acknowledge == SlaOutcomeCode.RUNNING
        incident = lifecycle.mitigate_incident(incident=incident, actor=agent, note="Rolled back")
    assert statements(queries, "reports_incidentfact") == 1
    fact = IncidentFact.objects.get(incident=incident)
    assert fact.sla_acknowledge == SlaOutcomeCode.MET
    assert ServiceFact.objects.get(incident=incident).restored is not None


@pytest.mark.django_db
def test_a_unit_that_raises_drops_its_pending_work(make_incident: Any, agent: Any) -> None:
    incident = make_incident()
    ran: list[dict[Any, Any]] = []

    def fail_with_work_pending() -> None:
        with transaction.atomic(), deferred.work_unit():
            state = deferred.pending("test", ran.append)
            assert state is not None
            state[incident.pk] = True
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_with_work_pending()
    assert ran == []
    assert deferred.pending("test", ran.append) is None  # no unit is left open
    with deferred.work_unit():
        state = deferred.pending("test", ran.append)
        assert state is not None
        state[incident.pk] = True
    assert ran == [{incident.pk: True}]


@pytest.mark.django_db
def test_both_clocks_read_the_calendar_once(make_incident: Any) -> None:
    calendar = BusinessCalendar.objects.create(name="Office hours", time_zone="Asia/Jakarta")
    for weekday in range(7):
        WorkingPeriod.objects.create(calendar=calendar, weekday=weekday, starts=dt.time(8), ends=dt.time(18))
    SlaPolicy.objects.filter(priority="P3").update(calendar=calendar)
    with CaptureQueriesContext(connection) as queries:
        incident = make_incident(impact="medium", urgency="medium")
    reads = [q["sql"] for q in queries.captured_queries if '"escalation_workingperiod"' in q["sql"]]
    assert len(reads) == 1
    clocks = {clock.kind: clock for clock in incident.sla_clocks.all()}
    assert set(clocks) == {"acknowledge", "resolve"}
    # Deadlines fall in office hours (08:00–18:00 Jakarta), for both clocks.
    for clock in clocks.values():
        local = clock.due_at.astimezone(dt.timezone(dt.timedelta(hours=7)))
        assert dt.time(8) <= local.time() <= dt.time(18)


@pytest.mark.django_db
def test_a_new_incident_has_one_history_row_that_names_its_services(
    make_incident: Any, service: Service, agent: Any
) -> None:
    other = Service.objects.create(name="Search", slug="search")
    incident = make_incident(services=[service, other])
    rows = list(incident.history.all())
    assert len(rows) == 1
    created = rows[0]
    assert (created.history_type, created.history_user, created.history_change_reason) == ("+", agent, "reported")
    assert sorted(row.service_id for row in created.services.all()) == sorted([service.pk, other.pk])

    incident = lifecycle.acknowledge_incident(incident=incident, actor=agent)
    latest = incident.history.first()
    assert (latest.history_type, latest.state) == ("~", "acknowledged")
    assert sorted(row.service_id for row in latest.services.all()) == sorted([service.pk, other.pk])
    assert Incident.history.filter(id=incident.pk).count() == 2
    assert created.history_date <= latest.history_date <= timezone.now()
