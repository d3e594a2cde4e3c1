"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager) notifying the running app.

The test starts Alertmanager with second-long group timings and a webhook
receiver pointed at the live server, fires an alert through Alertmanager's
own API and then resolves it; a real Celery worker turns the notifications
into an incident and then mitigates it.

CI installs the package (.ci/run). Elsewhere, without it, the test is
skipped with the reason; under CI a missing binary is a failure.
"""

import datetime as dt
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from incidents.choices import AlertStatus, EventOutcome, IntegrationKind, State
from incidents.intake.integrations import create_integration
from incidents.models import Alert, AlertEvent, Incident, Service
from itsm.celery import app as celery_app
from tests.processes import start_celery, stop, wait_for

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
CONFIG = """\
route:
  receiver: itsm
  group_by: ["alertname"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: itsm
    webhook_configs:
      - url: "{url}"
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: "{key}"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def alertmanager_binary() -> str:
    if BINARY is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus-alertmanager is not installed; .ci/run installs it")
        pytest.skip("needs Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager)")
    return BINARY


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    celery_app.control.purge()
    process = start_celery("worker", "--concurrency=1", "--without-mingle", "--without-gossip", log=tmp_path / "w.log")
    yield process
    stop(process)


@pytest.fixture
def alertmanager(alertmanager_binary: str, live_server: Any, service: Service, tmp_path: Path) -> Iterator[str]:
    _, key = create_integration(service=service, kind=IntegrationKind.ALERTMANAGER, actor=None)
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(url=f"{live_server.url}/api/v1/integrations/alertmanager/", key=key))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "alertmanager.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 — the packaged binary with our own arguments
            [
                alertmanager_binary,
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        assert wait_for(lambda: _ready(url), timeout=30), (tmp_path / "alertmanager.log").read_text()
        yield url
    finally:
        stop(process)


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def _post_alert(url: str, *, ends_at: dt.datetime) -> None:
    alert = {
        "labels": {"alertname": "CheckoutErrors", "instance": "checkout-1:8080", "severity": "critical"},
        "annotations": {"summary": "Checkout returns 5xx", "description": "Error ratio 12% over 5 minutes."},
        "startsAt": STARTED.isoformat(),
        "endsAt": ends_at.isoformat(),
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=checkout_errors",
    }
    response = requests.post(f"{url}/api/v2/alerts", json=[alert], timeout=5)
    assert response.status_code == 200, response.text


STARTED = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).replace(microsecond=0)


def _incident() -> Incident | None:
    return Incident.objects.filter(alerts__isnull=False).first()


def test_alertmanager_fires_and_resolves_an_incident(alertmanager: str, worker: Any, settings: Any) -> None:
    settings.INTAKE_WAKE_GAP_MS = 100  # the production default: wake-ups coalesced per process
    _post_alert(alertmanager, ends_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))

    assert wait_for(lambda: _incident() is not None, timeout=60), "no incident from Alertmanager's notification"
    incident = _incident()
    assert incident is not None
    assert incident.priority == "P1"
    assert incident.title == "Checkout returns 5xx"
    assert incident.source == "monitoring"
    alert = Alert.objects.get()
    assert alert.labels["alertname"] == "CheckoutErrors"
    assert alert.generator_url == "http://prometheus.example.com:9090/graph?g0.expr=checkout_errors"
    assert alert.fired_at == STARTED

    # Ending the alert in Alertmanager: it sends the resolved notification.
    _post_alert(alertmanager, ends_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    assert wait_for(lambda: Incident.objects.get(pk=incident.pk).state == State.MITIGATED, timeout=60)

    assert Incident.objects.count() == 1
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED
    outcomes = set(AlertEvent.objects.values_list("outcome", flat=True))
    assert EventOutcome.OPENED in outcomes
    assert EventOutcome.RESOLVED in outcomes
    assert outcomes <= {EventOutcome.OPENED, EventOutcome.REPEATED, EventOutcome.RESOLVED}
