"""What the load's monitoring says: PagerDuty keys and Alertmanager groups, each with its own story.

A repeat says word for word what was said before (a tool re-notifying a
firing alert); a new version (a new start time, a changed summary) is news
the product must put on the incident's timeline once.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

# Alerts of this run began an hour before it; a re-fire moves an alert's start on by its version in minutes.
BEGAN = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
# Mostly warnings, as in any monitoring; a few critical ones page someone.
SEVERITIES = ["warning"] * 5 + ["info"] * 3 + ["error"] + ["critical"]


def when(version: int) -> str:
    return (BEGAN + dt.timedelta(minutes=version)).isoformat().replace("+00:00", "Z")


class PagerDutyKeys:
    """The dedup keys a PagerDuty-speaking tool uses, each with the version of what it says now."""

    def __init__(self, count: int, *, routing_key: str) -> None:
        self.routing_key = routing_key
        self.versions = {f"load-pd-{number:04d}": 0 for number in range(count)}
        self.keys = list(self.versions)

    def pick(self) -> str:
        return random.choice(self.keys)

    def add(self) -> str:
        key = f"load-pd-new-{uuid.uuid4().hex[:12]}"
        self.versions[key] = 0
        self.keys.append(key)
        return key

    def trigger(self, key: str) -> dict[str, Any]:
        version = self.versions[key]
        number = sum(map(ord, key))
        return {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": key,
            "payload": {
                "summary": f"Disk almost full on db-{number}" + (f" ({80 + version % 20} %)" if version else ""),
                "source": f"db-{number}.load.example",
                "severity": SEVERITIES[number % len(SEVERITIES)],
                "timestamp": when(version),
                "custom_details": {"mount": "/var/lib/postgresql", "version": version},
            },
        }


class AlertGroup:
    """One Alertmanager group: a few alerts, each firing or resolved, each at a version of its start time."""

    def __init__(self, number: int, size: int) -> None:
        self.number = number
        self.firing = [True] * size
        self.versions = [0] * size

    def change(self) -> None:
        """Most notifications repeat the group as it was; some move one alert on."""
        alert = random.randrange(len(self.firing))
        roll = random.random()
        if roll < 0.08:
            self.versions[alert] += 1  # fires again with a new start: a re-fire
            self.firing[alert] = True
        elif roll < 0.16:
            self.firing[alert] = not self.firing[alert]  # clears, or fires again (a new alert)
            if self.firing[alert]:
                self.versions[alert] += 1

    def fingerprint(self, alert: int) -> str:
        return f"load{self.number:03d}{alert:02d}"

    def notification(self) -> dict[str, Any]:
        name = f"LoadCheck{self.number:03d}"
        alerts = []
        for alert, firing in enumerate(self.firing):
            labels = {
                "alertname": name,
                "instance": f"web-{self.number}-{alert}:9100",
                "severity": SEVERITIES[(self.number + alert) % len(SEVERITIES)],
            }
            alerts.append(
                {
                    "status": "firing" if firing else "resolved",
                    "labels": labels,
                    "annotations": {"summary": f"{name} failing on web-{self.number}-{alert}"},
                    "startsAt": when(self.versions[alert]),
                    "endsAt": "0001-01-01T00:00:00Z" if firing else when(self.versions[alert] + 1),
                    "generatorURL": f"http://prometheus.load.example/graph?g0.expr=up%7Bgroup%3D%22{self.number}%22%7D",
                    "fingerprint": self.fingerprint(alert),
                }
            )
        return {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{name}"}}',
            "status": "firing" if any(self.firing) else "resolved",
            "receiver": "itsm",
            "groupLabels": {"alertname": name},
            "commonLabels": {"alertname": name},
            "commonAnnotations": {},
            "externalURL": "http://alertmanager.load.example:9093",
            "truncatedAlerts": 0,
            "alerts": alerts,
        }
