"""Every page costs the same number of queries with 1,000 incidents in the queue as with one."""

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from escalation.models import ClockKind, SlaClock
from incidents.models import Incident, Service

pytestmark = pytest.mark.django_db

# Each main page, as a function of the incident the test opens; add a page here as it is built.
PAGES: list[Callable[[Incident], str]] = [
    lambda incident: "/",
    lambda incident: "/?sort=priority",
    lambda incident: "/?scope=breaching",
    lambda incident: "/?q=database&state=new&state=investigating",
    lambda incident: "/?page=3",  # empty with one incident: a page past the end shows the last one
    lambda incident: "/incidents/new/",
    lambda incident: f"/incidents/{incident.number}/",
    lambda incident: f"/incidents/{incident.number}/postmortem/",
    lambda incident: "/?assignee=agus",
    lambda incident: "/profile/",
    lambda incident: "/oncall/",
    lambda incident: "/oncall/pages/",
    lambda incident: "/postmortems/",
    lambda incident: "/postmortems/?q=database",
    lambda incident: "/action-items/",
]
# Pages only managers open (the reports), asked for by a manager; the period ends today, so it holds the incidents.
MANAGER_PAGES: list[Callable[[Incident], str]] = [
    lambda incident: "/reports/",
    lambda incident: f"/reports/?start={timezone.localdate() - dt.timedelta(days=30)}&end={timezone.localdate()}",
    lambda incident: f"/reports/?period=last_90&priority=P1&priority=P2&service={incident.services.get().slug}",
]


def add_incidents(count: int, *, service: Service, users: list[Any]) -> None:
    """Many incidents quickly (bulk rows, not the domain functions: this is about reading them),
    each with a service, an assignee and two SLA clocks, as real ones have."""
    now = timezone.now()
    people = itertools.cycle(users)
    priorities = itertools.cycle(["P1", "P2", "P3", "P4"])
    made = Incident.objects.bulk_create(
        [
            Incident(
                title=f"database slow #{index}",
                priority=next(priorities),
                assignee=next(people),
                created_at=now - dt.timedelta(minutes=index),
            )
            for index in range(count)
        ]
    )
    Incident.services.through.objects.bulk_create(
        [Incident.services.through(incident_id=incident.pk, service_id=service.pk) for incident in made]
    )
    SlaClock.objects.bulk_create(
        [
            SlaClock(
                incident=incident,
                kind=kind,
                priority=incident.priority,
                target=dt.timedelta(hours=4),
                started_at=now,
                running_since=now,
                due_at=now + dt.timedelta(minutes=20),
            )
            for incident in made
            for kind in (ClockKind.ACKNOWLEDGE, ClockKind.RESOLVE)
        ]
    )


def queries_for(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(captured)


def test_every_page_costs_the_same_queries_with_a_thousand_incidents(
    agent: Any, manager: Any, make_incident: Callable[..., Incident], service: Service
) -> None:
    # A P1 (acknowledge within 15 minutes) so that every listing has at least one row already.
    opened = make_incident(title="database down", services=[service], assignee=agent, impact="high", urgency="high")
    client = Client()
    client.force_login(agent)
    managing = Client()
    managing.force_login(manager)
    pages = [(client, path(opened)) for path in PAGES] + [(managing, path(opened)) for path in MANAGER_PAGES]
    for who, path in pages:
        who.get(path)  # warm: sessions, content types, permissions caches
    few = {path: queries_for(who, path) for who, path in pages}

    add_incidents(1000, service=service, users=[agent, manager])
    assert Incident.objects.count() == 1001
    many = {path: queries_for(who, path) for who, path in pages}

    assert many == few
