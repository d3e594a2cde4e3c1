"""A stakeholder update through a real Celery worker that consumes only the webhooks queue.

The update is committed, its delivery tasks are published on commit, and the
worker process sends the signed webhook and the email (to its console).
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from incidents import updates
from incidents.models import Service, UpdateDelivery
from itsm.celery import app as celery_app
from tests.processes import start_celery, stop, wait_for
from tests.receivers import Receiver

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def webhooks_worker(tmp_path: Path) -> Iterator[Any]:
    # Tasks left by earlier tests point at rows that no longer exist; clear them first.
    celery_app.control.purge()
    process = start_celery(
        "worker",
        "--concurrency=2",
        "--without-mingle",
        "--without-gossip",
        "-Q",
        settings.CELERY_WEBHOOK_QUEUE,
        log=tmp_path / "webhooks.log",
    )
    yield process
    stop(process)


def statuses() -> list[tuple[str, str]]:
    return list(UpdateDelivery.objects.order_by("pk").values_list("channel", "status"))


def test_a_worker_delivers_a_stakeholder_update_to_its_subscribers(
    webhooks_worker: Any, receiver: Receiver, make_incident: Any, service: Service, agent: Any, manager: Any
) -> None:
    hook = updates.subscribe(actor=manager, service=service, url=receiver.url("/status-page"))
    receiver.secrets["/status-page"] = hook.secret
    updates.subscribe(actor=manager, service=service, email="ops@partner.example")
    incident = make_incident(title="Checkout down", services=[service])

    updates.post_status_update(
        incident=incident, actor=agent, body="Payments are failing; we are rolling back.", audience="stakeholders"
    )

    assert wait_for(lambda: statuses() == [("webhook", "delivered"), ("email", "delivered")], timeout=60), statuses()
    [request] = receiver.requests
    assert request.verified is True
    assert request.headers["X-ITSM-Event"] == "incident.status_update"
    assert request.json()["update"]["body"] == "Payments are failing; we are rolling back."
