"""Background work goes through the same domain functions and names its actor.

The task runs in a real Celery worker process, against the broker and the
database this test run is configured for (Redis + PostgreSQL in CI's first
pass, the file-system broker + SQLite in the second).
"""

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings

from incidents import lifecycle
from incidents.models import Incident
from incidents.tasks import close_stale_resolved_incidents
from tests.postmortem_helpers import published_postmortem
from tests.processes import start_celery, stop, wait_for


@pytest.fixture
def celery_worker_queue(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    """Start a Celery worker that consumes a queue of its own; yield the queue's name."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = start_celery(
        "worker", "--pool=solo", "-Q", queue, "--without-mingle", "--without-gossip", log=tmp_path / "worker.log"
    )
    try:
        yield queue
    finally:
        stop(worker)


@pytest.mark.celery_worker
def test_auto_close_in_a_worker_is_audited_as_the_system_account(
    celery_worker_queue: str, make_incident: Any, manager: Any
) -> None:
    four_days_ago = dt.datetime.now(tz=dt.UTC) - dt.timedelta(days=4)
    with time_machine.travel(four_days_ago, tick=True):
        minor = make_incident(title="Tracking late", impact="medium", urgency="medium")
        major = make_incident(title="Payments down", impact="high", urgency="high")
        for incident in (minor, major):
            incident = lifecycle.investigate_incident(incident=incident, actor=manager)
            lifecycle.resolve_incident(incident=incident, actor=manager, root_cause="Config", resolution="Reverted")
    fresh = make_incident(title="Just resolved", impact="medium", urgency="medium")
    fresh = lifecycle.investigate_incident(incident=fresh, actor=manager)
    lifecycle.resolve_incident(incident=fresh, actor=manager, root_cause="Config", resolution="Reverted")

    close_stale_resolved_incidents.apply_async(queue=celery_worker_queue)

    assert wait_for(lambda: Incident.objects.get(pk=minor.pk).state == "closed")
    closed = Incident.objects.get(pk=minor.pk)
    record = closed.history.first()
    assert (record.state, record.history_user.username) == ("closed", settings.SYSTEM_USERNAME)
    assert closed.timeline.order_by("-id").first().actor.username == settings.SYSTEM_USERNAME
    # A P1 waits for its post-mortem; a recent resolution waits for the period to pass.
    assert Incident.objects.get(pk=major.pk).state == "resolved"
    assert Incident.objects.get(pk=fresh.pk).state == "resolved"

    published_postmortem(major, author=manager, publisher=manager, summary="Config drift")
    close_stale_resolved_incidents.apply_async(queue=celery_worker_queue)
    assert wait_for(lambda: Incident.objects.get(pk=major.pk).state == "closed")
    assert Incident.objects.get(pk=fresh.pk).state == "resolved"
