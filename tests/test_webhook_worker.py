"""Webhook events through a real Celery worker that consumes only the webhooks queue.

CI runs this on Redis + PostgreSQL and again on the file-system broker + SQLite.
"""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from escalation.models import WebhookDelivery, WebhookSubscription
from incidents import lifecycle
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
    return list(WebhookDelivery.objects.order_by("pk").values_list("event_type", "status"))


def test_the_webhooks_queue_delivers_signed_events_in_a_worker(
    webhooks_worker: Any, receiver: Receiver, make_incident: Any, agent: Any
) -> None:
    subscription = WebhookSubscription.objects.create(
        name="Status page", url=receiver.url("/status"), event_types=["incident.created", "incident.transitioned"]
    )
    receiver.secrets["/status"] = subscription.secret

    incident = make_incident(title="Checkout down")
    assert wait_for(lambda: statuses() == [("incident.created", "delivered")], timeout=60)
    lifecycle.acknowledge_incident(incident=incident, actor=agent)
    assert wait_for(lambda: [status for _, status in statuses()] == ["delivered", "delivered"], timeout=60)

    assert [request.verified for request in receiver.requests] == [True, True]
    assert [request.headers["X-ITSM-Event"] for request in receiver.requests] == [
        "incident.created",
        "incident.transitioned",
    ]
    assert receiver.json_bodies()[1]["data"] == {
        "transition": "acknowledge",
        "from_state": "new",
        "to_state": "acknowledged",
    }
