"""The reports' facts follow every change of what they are made of, in the same transaction."""

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from escalation.models import SlaClock
from escalation.sla import record_breach
from incidents import lifecycle, services
from incidents.models import Service
from reports.models import IncidentFact, ServiceFact, SlaOutcomeCode


def fact(incident: Any) -> IncidentFact:
    return IncidentFact.objects.get(incident=incident)


def service_facts(incident: Any) -> list[tuple[int, str]]:
    return sorted(ServiceFact.objects.filter(incident=incident).values_list("service_id", "priority"))


@pytest.mark.django_db
def test_facts_follow_the_incident_its_clocks_and_its_services(
    make_incident: Any, service: Service, manager: Any, agent: Any
) -> None:
    incident = make_incident(impact="medium", urgency="medium", services=[service], affected_users=40)
    assert (fact(incident).priority, fact(incident).affected_users, fact(incident).cancelled) == ("P3", 40, False)
    assert (fact(incident).sla_acknowledge, fact(incident).acknowledge_seconds) == (SlaOutcomeCode.RUNNING, None)
    assert service_facts(incident) == [(service.pk, "P3")]

    services.override_priority(incident=incident, actor=manager, priority="P1", reason="Top customer")
    assert fact(incident).priority == "P1"
    assert service_facts(incident) == [(service.pk, "P1")]

    incident = lifecycle.acknowledge_incident(incident=incident, actor=agent)
    assert fact(incident).sla_acknowledge == SlaOutcomeCode.MET
    assert fact(incident).acknowledge_seconds is not None

    record_breach(clock=SlaClock.objects.get(incident=incident, kind="resolve"), at=timezone.now())
    assert fact(incident).sla_resolve == SlaOutcomeCode.BREACHED

    other = Service.objects.create(name="Other", slug="other")
    incident.services.add(other)
    assert [s for s, _p in service_facts(incident)] == sorted([service.pk, other.pk])
    incident.services.remove(other)
    assert service_facts(incident) == [(service.pk, "P1")]

    lifecycle.mitigate_incident(incident=incident, actor=agent, note="Failed over")
    assert ServiceFact.objects.get(incident=incident).restored is not None


@pytest.mark.django_db
def test_cancelled_and_deleted_incidents(make_incident: Any, service: Service, agent: Any) -> None:
    incident = make_incident(services=[service])
    lifecycle.cancel_incident(incident=incident, actor=agent, reason="False alarm")
    assert fact(incident).cancelled
    assert ServiceFact.objects.get(incident=incident).cancelled
    pk = incident.pk
    incident.delete()
    assert not IncidentFact.objects.filter(incident_id=pk).exists()
    assert not ServiceFact.objects.filter(incident_id=pk).exists()


@pytest.mark.django_db
def test_the_rebuild_rewrites_facts_written_past_save(make_incident: Any, service: Service) -> None:
    incident = make_incident(services=[service])
    type(incident).objects.filter(pk=incident.pk).update(
        affected_users=7, created_at=timezone.now() - dt.timedelta(days=1)
    )
    IncidentFact.objects.all().delete()
    out = io.StringIO()
    call_command("refresh_report_facts", stdout=out)
    assert "1 incidents" in out.getvalue()
    assert fact(incident).affected_users == 7
