"""Real Celery processes for the tests that are about Celery.

They run against the broker and the database this test run is configured
for, so the worker sees the rows the test committed.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


def start_celery(*arguments: str, log: Path) -> subprocess.Popen[bytes]:
    """Start `celery -A itsm <arguments>` in a process group of its own (so it can be killed whole)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": settings.SECRET_KEY,
        "ITSM_VAR_DIR": str(settings.VAR_DIR),
        "EMAIL_URL": "consolemail://",
        "LOG_FORMAT": "plain",
    }
    if arguments[0] == "worker" and "-Q" not in arguments:
        # Like the product's workers: the default queue, the clock's and the webhooks'.
        queues = (settings.CELERY_TASK_DEFAULT_QUEUE, settings.CELERY_CLOCK_QUEUE, settings.CELERY_WEBHOOK_QUEUE)
        arguments = (*arguments, "-Q", ",".join(queues))
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 — our own interpreter and app
            [sys.executable, "-m", "celery", "-A", "itsm", *arguments],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    """A warm shutdown (SIGTERM) or SIGKILL, then SIGKILL to whatever is left of its group; waits for it."""
    if process.poll() is not None:
        return
    if not kill:
        # To the main process alone, as docker or systemd sends it: it stops its pool's children.
        # Sent to the whole group, it reached those children first and the main process then
        # waited out the timeout below.
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
