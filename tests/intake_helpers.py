"""Payloads as Alertmanager 0.25 and the PagerDuty Events v2 documentation show them, and intake helpers."""

import copy
import datetime as dt
from typing import Any

from django.test import Client
from django.utils import timezone

from incidents.intake.processing import process_pending_events

AM_PATH = "/api/v1/integrations/alertmanager/"
PD_PATH = "/api/v1/integrations/pagerduty/enqueue"
GENERIC_PATH = "/api/v1/integrations/generic/"


# When the test alerts first fired: a little before the test run, whatever the day.
FIRST_FIRED = (timezone.now() - dt.timedelta(hours=2)).replace(microsecond=0)
PD_TIMESTAMP = FIRST_FIRED + dt.timedelta(minutes=3, seconds=15, microseconds=315000)


def iso(moment: dt.datetime) -> str:
    """Alertmanager's time format: RFC 3339 with nanoseconds trimmed to what Go prints."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def am_alert(
    *,
    status: str = "firing",
    alertname: str = "HighErrorRate",
    instance: str = "checkout-7f9c:8080",
    severity: str = "critical",
    starts_at: dt.datetime | None = None,
    fingerprint: str = "5f3b0c1d2e4a6b78",
    summary: str = "High 5xx rate on checkout",
) -> dict[str, Any]:
    starts_at = starts_at or FIRST_FIRED
    return {
        "status": status,
        "labels": {
            "alertname": alertname,
            "instance": instance,
            "job": "checkout",
            "severity": severity,
        },
        "annotations": {
            "summary": summary,
            "description": "5xx responses are above 5% for 5 minutes.",
            "runbook_url": "https://runbooks.example.com/checkout/5xx",
        },
        "startsAt": iso(starts_at),
        "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else iso(starts_at + dt.timedelta(minutes=7)),
        "generatorURL": "http://prometheus.example.com:9090/graph?g0.expr=job%3Acheckout%3Aerror_rate5m+%3E+0.05&g0.tab=1",
        "fingerprint": fingerprint,
    }


def am_notification(*alerts: dict[str, Any], group: str = "HighErrorRate") -> dict[str, Any]:
    """A webhook notification exactly as Alertmanager 0.25 sends it (payload version 4)."""
    alerts = alerts or (am_alert(),)
    firing = any(alert["status"] == "firing" for alert in alerts)
    common = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    return {
        "receiver": "itsm",
        "status": "firing" if firing else "resolved",
        "alerts": [copy.deepcopy(alert) for alert in alerts],
        "groupLabels": {"alertname": group},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example.com:9093",
        "version": "4",
        "groupKey": '{}:{alertname="' + group + '"}',
        "truncatedAlerts": 0,
    }


def pd_trigger(routing_key: str, *, dedup_key: str | None = "srv01/mysql", **payload: Any) -> dict[str, Any]:
    """The trigger example of the Events API v2 documentation."""
    body: dict[str, Any] = {
        "payload": {
            "summary": "Example alert on host1.example.com",
            # The documentation's format: milliseconds and an offset without a colon.
            "timestamp": PD_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%S.") + f"{PD_TIMESTAMP.microsecond // 1000:03d}+0000",
            "source": "monitoringtool:cloudvendor:central-region-dc-01:852559987:cluster/api-stats-prod-003",
            "severity": "info",
            "component": "postgres",
            "group": "prod-datapipe",
            "class": "deploy",
            "custom_details": {"ping time": "1500ms", "load avg": 0.75},
            **payload,
        },
        "routing_key": routing_key,
        "images": [
            {
                "src": "https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
                "href": "https://example.com/",
                "alt": "Example text",
            }
        ],
        "links": [{"href": "https://example.com/", "text": "Link text"}],
        "event_action": "trigger",
        "client": "Sample Monitoring Service",
        "client_url": "https://monitoring.example.com",
    }
    if dedup_key is not None:
        body["dedup_key"] = dedup_key
    return body


def pd_follow_up(routing_key: str, action: str, dedup_key: str = "srv01/mysql") -> dict[str, Any]:
    return {"routing_key": routing_key, "dedup_key": dedup_key, "event_action": action}


def post_json(client: Client, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post(path, body, content_type="application/json", headers=headers)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def process() -> int:
    return process_pending_events()
