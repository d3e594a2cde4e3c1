"""The traffic of bench/faults.py: clients that load the product, and a receiver that counts what it sends out.

Each client thread, in turn: posts an alert to the intake (a new dedup key each
time), creates a P1 incident through the API, reads the list and one incident,
acknowledges some incidents it created, and loads the queue page with a
logged-in session. Every answer is kept (what, status, how long, when), so the
bench can tell what the product accepted and what it said while a server was away.
"""

import collections
import http.server
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

TIMEOUT = 15.0


@dataclass
class Answer:
    kind: str
    status: int  # 0: no answer (connection refused, reset or timed out)
    seconds: float
    at: float
    ref: str = ""  # the dedup key, the title or the incident number the request was about
    error: str = ""  # why there was no answer


class Receiver:
    """An HTTP server on 127.0.0.1 that counts webhook events and pages by their ids."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: collections.Counter[str] = collections.Counter()  # X-ITSM-Delivery
        self.pages: collections.Counter[str] = collections.Counter()  # Idempotency-Key
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — the name http.server calls
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    if self.path.startswith("/events"):
                        receiver.events[self.headers.get("X-ITSM-Delivery", "")] += 1
                    else:
                        receiver.pages[self.headers.get("Idempotency-Key", "")] += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 — http.server's name
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Load:
    base_url: str
    token: str
    routing_key: str
    service: str
    session_cookie: str
    threads: int = 4
    pause: float = 0.05
    answers: list[Answer] = field(default_factory=list)
    created: list[str] = field(default_factory=list)  # incident numbers created through the API
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._stop.clear()
        self._workers = [threading.Thread(target=self._run, args=(n,), daemon=True) for n in range(self.threads)]
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=TIMEOUT + 5)

    def _keep(
        self, kind: str, started: float, response: requests.Response | None, ref: str = "", error: str = ""
    ) -> None:
        status = response.status_code if response is not None else 0
        answer = Answer(kind, status, time.monotonic() - started, started, ref, error)
        with self._lock:
            self.answers.append(answer)

    def _call(self, session: requests.Session, kind: str, method: str, path: str, ref: str = "", **kw: Any) -> Any:
        started = time.monotonic()
        try:
            response = session.request(method, self.base_url + path, timeout=TIMEOUT, **kw)
        except requests.RequestException as error:
            self._keep(kind, started, None, ref, f"{type(error).__name__}: {error}"[:200])
            return None
        self._keep(kind, started, response, ref)
        return response

    def _run(self, number: int) -> None:
        api, browser, machine = requests.Session(), requests.Session(), requests.Session()
        for session in (api, browser, machine):
            # A connection per request: a kept-alive one that the server closes as the client
            # reuses it would fail on the client's side, and be counted against the product.
            session.headers["Connection"] = "close"
        api.headers["Authorization"] = f"Token {self.token}"
        browser.cookies.set("sessionid", self.session_cookie)
        step = 0
        while not self._stop.is_set():
            step += 1
            self._alert(machine)
            if step % 2 == 0:
                self._create(api)
            self._call(api, "api-list", "GET", "/api/v1/incidents/?ordering=-created_at")
            if step % 3 == 0:
                self._acknowledge(api)
            if step % 4 == number % 4:
                self._call(browser, "page", "GET", "/")
            if self.created:
                self._call(api, "api-read", "GET", f"/api/v1/incidents/{random.choice(self.created)}/")  # noqa: S311
            time.sleep(self.pause)

    def _alert(self, machine: requests.Session) -> None:
        dedup_key = f"faults-{uuid.uuid4().hex}"
        body = {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {"summary": f"Disk full {dedup_key}", "source": "db-1", "severity": "warning"},
        }
        self._call(machine, "intake", "POST", "/api/v1/integrations/pagerduty/enqueue", dedup_key, json=body)

    def _create(self, api: requests.Session) -> None:
        title = f"Checkout failing {uuid.uuid4().hex}"
        body = {"title": title, "impact": "high", "urgency": "high", "services": [self.service]}
        response = self._call(api, "api-create", "POST", "/api/v1/incidents/", title, json=body)
        if response is not None and response.status_code == 201:
            with self._lock:
                self.created.append(response.json()["number"])

    def _acknowledge(self, api: requests.Session) -> None:
        # Half of the incidents are acknowledged (their escalation stops), half page every level.
        with self._lock:
            waiting = [n for n in self.created[-20:] if int(n.split("-")[1]) % 2 == 0]
        if waiting:
            number = random.choice(waiting)  # noqa: S311
            self._call(api, "api-transition", "POST", f"/api/v1/incidents/{number}/transitions/acknowledge/", number)
