"""Keeps the workers of a parallel run (pytest-xdist, `-n 3`) out of each other's way.

Loaded as a plugin (`-p tests.workers` in pyproject.toml) so that it runs before Django reads its
settings, which take everything shared from the environment at import. In a worker process
(xdist names it in PYTEST_XDIST_WORKER: gw0, gw1…) it gives the worker, and every Celery process
a test starts from it, its own:

- var folder (SQLite database, file-system broker, media, beat schedule): ITSM_VAR_DIR/gwN;
- Celery queue names: CELERY_QUEUE-gwN;
- Redis database, since every test empties the cache (FLUSHDB): REDIS_URL's number minus N.

Test databases are already apart: pytest-django gives each worker its own (test_…_gwN).

A test marked `exclusive` stops or restarts a server that every worker uses (Redis), so it runs
while no other test does: each test holds a shared lock for its whole run, an exclusive one the
lock alone, and a gate in front lets it in before tests queued after it.
"""

import fcntl
import os
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
# The folder all workers share (the locks live there); each worker's own is a folder inside it.
SHARED_VAR_DIR = Path(os.environ.get("ITSM_VAR_DIR") or ROOT / "var")


def _own_redis_database(url: str, index: int) -> str:
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    if base - index < 0:
        raise pytest.UsageError(
            f"REDIS_URL={url} leaves no Redis database for xdist worker {index}: "
            "give it a database number at least as high as the number of workers minus one (e.g. /15)."
        )
    return urlunsplit(parts._replace(path=f"/{base - index}"))


def separate(environ: MutableMapping[str, str], worker: str) -> None:
    """Point the settings a worker reads at the worker's own folder, queues and Redis database."""
    index = int(worker.removeprefix("gw"))
    environ["ITSM_VAR_DIR"] = str(SHARED_VAR_DIR / worker)
    environ["CELERY_QUEUE"] = f"{environ.get('CELERY_QUEUE') or 'celery'}-{worker}"
    if environ.get("REDIS_URL"):
        environ["REDIS_URL"] = _own_redis_database(environ["REDIS_URL"], index)
    for name in ("MEDIA_ROOT", "STATIC_ROOT"):
        if environ.get(name):
            environ[name] = str(Path(environ[name]) / worker)


if WORKER:
    separate(os.environ, WORKER)


@contextmanager
def _locked(path: Path, operation: int) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, operation)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if not WORKER:
        return (yield)
    SHARED_VAR_DIR.mkdir(parents=True, exist_ok=True)
    gate, tests = SHARED_VAR_DIR / "tests-gate.lock", SHARED_VAR_DIR / "tests-running.lock"
    if item.get_closest_marker("exclusive"):
        with _locked(gate, fcntl.LOCK_EX), _locked(tests, fcntl.LOCK_EX):
            return (yield)
    with _locked(gate, fcntl.LOCK_EX):
        handle = tests.open("a")
        fcntl.flock(handle, fcntl.LOCK_SH)
    try:
        return (yield)
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
