"""A webhook receiver for the tests: a real HTTP server on 127.0.0.1 (the network edge).

Everything on our side of it is the product's own code. The `receiver`
fixture in conftest.py starts one per test.
"""

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from escalation.channels import verify


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    # Whether the signature checked out; None when the receiver was given no secret.
    verified: bool | None = None

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records POSTs and answers with the queued status codes (then 200).

    Given a secret for a path (`secrets`), it checks each request to that path
    as a real receiver would — the `X-ITSM-Signature` over `X-ITSM-Timestamp`
    and the raw body, within the replay tolerance — and answers 401 when that
    fails.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.statuses: list[int] = []
        self.secrets: dict[str, str] = {}
        # What a refusal says; by default "nope: <status>".
        self.answer_body: bytes | None = None
        self.arrived = threading.Event()
        # Set to hold each request until released (to keep a send in flight).
        self.gate: threading.Event | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — the name http.server calls
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                verified = receiver.check(self.path, self.headers, body)
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers.items()), body, verified))
                    queued = receiver.statuses.pop(0) if receiver.statuses else 200
                status = 401 if verified is False else queued
                receiver.arrived.set()
                if receiver.gate is not None:
                    receiver.gate.wait(timeout=10)
                payload = b"ok" if status < 300 else receiver.answer_body or b"nope: " + str(status).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def check(self, path: str, headers: Any, body: bytes) -> bool | None:
        secret = self.secrets.get(path)
        if secret is None:
            return None
        return verify(
            secret=secret,
            timestamp=headers.get("X-ITSM-Timestamp", ""),
            body=body,
            signature=headers.get("X-ITSM-Signature", ""),
        )

    def url(self, path: str = "/hook") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def respond_with(self, *statuses: int) -> None:
        self.statuses.extend(statuses)

    def json_bodies(self) -> list[Any]:
        return [request.json() for request in self.requests]


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.thread.start()
    try:
        yield server
    finally:
        if server.gate is not None:
            server.gate.set()
        server.server.shutdown()
        server.server.server_close()
