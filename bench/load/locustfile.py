"""The mixed load of bench/load.py: a working day of monitoring, API clients and people in the UI.

bench/load.py makes the users, tokens and integrations and names them in the
JSON file `LOAD_CONFIG`; run this file through it, not alone. Four kinds of
user, by weight:

- **Monitoring** (4): Alertmanager notifications of alert groups (repeats of a
  firing group, an alert re-firing with a new start, clearing, firing again)
  and PagerDuty Events v2 (repeats of a key, re-fires with new content, new
  keys, resolves).
- **API readers** (3): the incident list with filters and its next page,
  incident detail, timeline, who is on call, services.
- **API writers** (2): create incidents, move them along their
  `allowed_transitions` (acknowledge, investigate, mitigate, resolve), take
  (acknowledge or investigate) new incidents monitoring opened, add notes.
- **People in the UI** (2), logged in: the queue, incident pages, on-call,
  the reports dashboard.

For the runner's books, every intake event answered 202 and every incident
answered 201 is written to the record file (one JSON object a line), and a
request whose outcome is unknown (no answer) too. When Locust quits, each
request type's status codes and failures go to the statuses file.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import uuid
from collections import Counter, defaultdict, deque
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from alerts import AlertGroup, PagerDutyKeys
from locust import FastHttpUser, between, events, task
from locust.env import Environment

CONFIG: dict[str, Any] = json.loads(Path(os.environ["LOAD_CONFIG"]).read_text())
PAGERDUTY_PATH = "/api/v1/integrations/pagerduty/enqueue"
ALERTMANAGER_PATH = "/api/v1/integrations/alertmanager/"


class Books:
    """What was accepted, one JSON object a line (flushed at each line: the runner reads it after Locust exits)."""

    def __init__(self, path: str) -> None:
        self._file = Path(path).open("a", buffering=1)  # noqa: SIM115 — open for the whole run

    def write(self, **entry: Any) -> None:
        self._file.write(json.dumps(entry) + "\n")


BOOKS = Books(CONFIG["record"])
# Request name → status code → count ("0": no answer); failures counted apart.
STATUSES: defaultdict[str, Counter[str]] = defaultdict(Counter)


@events.request.add_listener
def count_status(name: str, response: Any, exception: BaseException | None, **kwargs: Any) -> None:
    STATUSES[name][str(getattr(response, "status_code", 0) or 0)] += 1
    if exception is not None:
        STATUSES[name]["failed"] += 1


@events.quitting.add_listener
def write_statuses(environment: Environment, **kwargs: Any) -> None:
    Path(CONFIG["statuses"]).write_text(json.dumps(STATUSES, indent=1, sort_keys=True))


# --- Monitoring ------------------------------------------------------------


PAGERDUTY = PagerDutyKeys(CONFIG["pagerduty_keys"], routing_key=CONFIG["pagerduty_key"])
GROUPS = [AlertGroup(number, 1 + number % 3) for number in range(CONFIG["alert_groups"])]


class Monitoring(FastHttpUser):
    """Prometheus Alertmanager and a PagerDuty-speaking tool sending to their integrations."""

    weight = 4
    wait_time = between(0.2, 1.0)
    network_timeout = 30.0

    def _send(self, path: str, body: dict[str, Any], name: str, events: list[tuple[str, str, str]]) -> None:
        """POST the body; on 202 write each of its events (kind, key, action) to the books."""
        headers = {"Authorization": f"Bearer {CONFIG['alertmanager_key']}"} if path == ALERTMANAGER_PATH else {}
        with self.client.post(path, json=body, headers=headers, name=name, catch_response=True) as response:
            accepted = response.status_code == 202
            if not accepted and response.status_code:
                response.failure(f"{response.status_code}: {response.text[:200]}")
        for kind, key, action in events:
            if accepted:
                BOOKS.write(what="intake", kind=kind, key=key, action=action)
            elif not response.status_code:
                BOOKS.write(what="intake unknown", kind=kind, key=key, action=action)

    def _pagerduty(self, key: str, name: str) -> None:
        self._send(PAGERDUTY_PATH, PAGERDUTY.trigger(key), name, [("pagerduty", key, "trigger")])

    @task(10)
    def pagerduty_repeat(self) -> None:
        self._pagerduty(PAGERDUTY.pick(), "intake: PagerDuty trigger, repeat")

    @task(2)
    def pagerduty_refire(self) -> None:
        key = PAGERDUTY.pick()
        PAGERDUTY.versions[key] += 1
        self._pagerduty(key, "intake: PagerDuty trigger, new content")

    @task(1)
    def pagerduty_new(self) -> None:
        self._pagerduty(PAGERDUTY.add(), "intake: PagerDuty trigger, new key")

    @task(1)
    def pagerduty_resolve(self) -> None:
        key = PAGERDUTY.pick()
        body = {"routing_key": CONFIG["pagerduty_key"], "event_action": "resolve", "dedup_key": key}
        self._send(PAGERDUTY_PATH, body, "intake: PagerDuty resolve", [("pagerduty", key, "resolve")])

    @task(8)
    def alertmanager(self) -> None:
        group = random.choice(GROUPS)
        group.change()
        sent = [
            ("alertmanager", group.fingerprint(alert), "trigger" if firing else "resolve")
            for alert, firing in enumerate(group.firing)
        ]
        self._send(ALERTMANAGER_PATH, group.notification(), "intake: Alertmanager notification", sent)


# --- The API ---------------------------------------------------------------

TOKENS = itertools.cycle(CONFIG["api_tokens"])
# Incident numbers seen in lists (any incident) and made by the writers (theirs to move on).
SEEN: deque[str] = deque(maxlen=2000)
MADE: list[str] = []
NEXT_TRANSITION = ("acknowledge", "investigate", "mitigate", "resolve")


class ApiUser(FastHttpUser):
    abstract = True
    network_timeout = 30.0

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Token {next(TOKENS)}"}

    def get_json(self, path: str, name: str) -> Any:
        with self.client.get(path, headers=self.headers, name=name, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}: {response.text[:200]}")
                return None
            return response.json()

    def incident(self, numbers: list[str] | deque[str]) -> str | None:
        return random.choice(numbers) if numbers else None


class ApiReader(ApiUser):
    """A dashboard, a chat bot or a script reading incidents."""

    weight = 3
    wait_time = between(1.0, 3.0)

    @task(4)
    def incident_list(self) -> None:
        filters: dict[str, Any] = random.choice(
            [
                {},
                {"state": "new"},
                {"state": ["acknowledged", "investigating"], "priority": ["P1", "P2"]},
                {"service": random.choice(CONFIG["services"])},
                {"ordering": "-priority", "page_size": 20},
                {"q": "disk"},
            ]
        )
        name = "API: incident list" + (", filtered" if filters else "")
        page = self.get_json(f"/api/v1/incidents/?{urlencode(filters, doseq=True)}", name)
        if not page:
            return
        SEEN.extend(incident["number"] for incident in page["results"])
        if page.get("next") and random.random() < 0.3:
            following = urlsplit(page["next"])
            self.get_json(f"{following.path}?{following.query}", "API: incident list, next page")

    @task(3)
    def incident_detail(self) -> None:
        if number := self.incident(SEEN):
            self.get_json(f"/api/v1/incidents/{number}/", "API: incident detail")

    @task(2)
    def timeline(self) -> None:
        if number := self.incident(SEEN):
            self.get_json(f"/api/v1/incidents/{number}/timeline/", "API: timeline")

    @task(1)
    def oncall(self) -> None:
        self.get_json("/api/v1/oncall/", "API: on-call now")

    @task(1)
    def services(self) -> None:
        self.get_json("/api/v1/services/", "API: services")


class ApiWriter(ApiUser):
    """A ticketing integration or a responder's CLI: reports incidents and works them to resolved."""

    weight = 2
    wait_time = between(2.0, 5.0)

    @task(2)
    def create(self) -> None:
        title = f"Load {uuid.uuid4().hex[:12]}: checkout slow for some customers"
        body = {
            "title": title,
            "description": "Reported by the load test's API writer.",
            "category": random.choice(["application_error", "api_disruption", "feature_broken", "network"]),
            "impact": random.choice(["medium", "low", "low"]),
            "urgency": random.choice(["high", "medium", "low"]),
            "services": [random.choice(CONFIG["services"])],
        }
        name = "API: create incident"
        with self.client.post(
            "/api/v1/incidents/", json=body, headers=self.headers, name=name, catch_response=True
        ) as response:
            if response.status_code == 201:
                number = response.json()["number"]
                MADE.append(number)
                BOOKS.write(what="create", number=number, title=title)
            elif response.status_code:
                response.failure(f"{response.status_code}: {response.text[:200]}")
            else:
                BOOKS.write(what="create unknown", title=title)

    @task(5)
    def advance(self) -> None:
        """Read one of the writers' incidents and run the next transition it allows; another writer
        may act on it at the same moment, and the loser's 409 is the designed answer."""
        number = self.incident(MADE)
        if number is None:
            return
        incident = self.get_json(f"/api/v1/incidents/{number}/", "API: incident detail")
        if not incident:
            return
        allowed = [name for name in NEXT_TRANSITION if name in incident["allowed_transitions"]]
        if not allowed:
            if number in MADE:
                MADE.remove(number)
            return
        name = allowed[0]
        fields = {"note": f"{name} by the load test"}
        if name == "resolve":
            fields = {"root_cause": "A saturated connection pool.", "resolution": "Pool enlarged, service restarted."}
        path = f"/api/v1/incidents/{number}/transitions/{name}/"
        with self.client.post(
            path, json=fields, headers=self.headers, name="API: transition", catch_response=True
        ) as response:
            if response.status_code in (200, 409):
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(2)
    def take_alert(self) -> None:
        """A responder takes a new incident monitoring opened: acknowledge or investigate it. The alert
        processor may be resolving or mitigating it in the same moment; one of the two must win cleanly."""
        page = self.get_json("/api/v1/incidents/?state=new&page_size=20", "API: incident list, filtered")
        opened = [item["number"] for item in (page or {}).get("results", []) if item["source"] == "monitoring"]
        if not opened:
            return
        name = random.choice(["acknowledge", "investigate"])
        path = f"/api/v1/incidents/{random.choice(opened)}/transitions/{name}/"
        with self.client.post(
            path, json={"note": "On it."}, headers=self.headers, name="API: transition, monitoring's incident",
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code in (200, 409):
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(2)
    def note(self) -> None:
        number = self.incident(MADE) or self.incident(SEEN)
        if number is None:
            return
        body = {"body": "Still looking; error rate down to 2 %.", "visibility": "internal"}
        with self.client.post(
            f"/api/v1/incidents/{number}/notes/", json=body, headers=self.headers, name="API: note",
            catch_response=True,
        ) as response:  # fmt: skip
            if response.status_code != 201:
                response.failure(f"{response.status_code}: {response.text[:200]}")


# --- People in the UI ------------------------------------------------------

PEOPLE = itertools.cycle(CONFIG["ui_users"])
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NUMBER_LINK = re.compile(r'href="/incidents/(INC-\d+)/"')


class Responder(FastHttpUser):
    """An incident manager in the browser, logged in with a session: the queue, incidents, on-call, reports."""

    weight = 2
    wait_time = between(2.0, 6.0)
    network_timeout = 30.0

    def on_start(self) -> None:
        username, password = next(PEOPLE)
        with self.client.get("/accounts/login/", name="UI: login form", catch_response=True) as form:
            found = CSRF_FIELD.search(form.text or "")
            if not found:
                form.failure("no CSRF field on the login page")
                return
        body = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": found.group(1)})
        with self.client.post(
            "/accounts/login/", data=body, name="UI: log in", allow_redirects=False, catch_response=True,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as response:  # fmt: skip
            if response.status_code == 302:
                response.success()
            else:
                response.failure(f"login refused: {response.status_code}")

    def page(self, path: str, name: str) -> str:
        with self.client.get(path, name=name, allow_redirects=False, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{response.status_code}")
                return ""
            return response.text or ""

    @task(4)
    def queue(self) -> None:
        path = random.choice(["/", "/", "/?state=new&state=acknowledged", "/?sort=priority", "/?page=2"])
        SEEN.extend(NUMBER_LINK.findall(self.page(path, "UI: queue")))

    @task(3)
    def incident_page(self) -> None:
        if SEEN:
            self.page(f"/incidents/{random.choice(SEEN)}/", "UI: incident page")

    @task(1)
    def oncall(self) -> None:
        self.page("/oncall/", "UI: on-call")

    @task(1)
    def reports(self) -> None:
        self.page("/reports/", "UI: reports dashboard")
