"""Waking the alert processor after events are stored, at most once per moment.

Every accepted request would otherwise publish a task; under an alert storm
that is thousands of tasks that each find the work already done. A short
flag in the cache lets one request per moment through; the processor clears
it when it starts, and beat's periodic run is the safety net for a wake-up
the broker lost.

The flag only works in a cache the workers share (Redis). Without one (the
embedded default keeps a cache per process) every request wakes the
processor: the flag would stay set in the web process while the worker
cleared its own copy.

Before the flag, each process lets through at most one attempt every
INTAKE_WAKE_GAP_MS (the flag's round trip to Redis cost a fifth of a
request's CPU under a storm). A request inside the gap is never dropped: it
arms one trailing attempt at the gap's end, which every request of the gap
has committed before, so no event waits for beat's run because of the gap.
"""

import functools
import logging
import threading
import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

WAKE_KEY = "itsm:intake-wake"


@functools.cache
def _redis() -> redis.Redis:
    # One client per process: the flag is checked on every accepted request,
    # and Django's cache builds a new client object for each call.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)


class Coalescer:
    """Call `action` at most once every `gap` seconds, and always once more after the last request."""

    def __init__(self, action: Callable[[], None]) -> None:
        self._action = action
        self._lock = threading.Lock()
        self._last = float("-inf")
        self._trailing = False

    def __call__(self, gap: float) -> None:
        with self._lock:
            wait = self._last + gap - time.monotonic()
            if wait > 0:
                if not self._trailing:
                    self._trailing = True
                    timer = threading.Timer(wait, self._trail)
                    timer.daemon = True
                    timer.start()
                return
            self._last = time.monotonic()
        self._action()

    def _trail(self) -> None:
        with self._lock:
            self._trailing = False
            self._last = time.monotonic()
        try:
            self._action()
        except Exception:  # a thread of its own: nobody else would hear of it
            logger.exception("alert intake: the trailing wake-up failed; beat's run will process the events")


def wake_processor() -> None:
    """Wake the processor after events were committed (see the module's docstring)."""
    _coalesced(settings.INTAKE_WAKE_GAP_MS / 1000)


def _wake_now() -> None:
    if not settings.INTAKE_WAKE_SHARED:
        _publish()
        return
    try:
        if not _redis().set(WAKE_KEY, 1, nx=True, ex=settings.INTAKE_WAKE_SECONDS):
            return
    except Exception:  # a cache outage must not cost the wake-up itself
        logger.warning("alert intake: the cache is not reachable; waking the processor anyway", exc_info=True)
    _publish()


_coalesced = Coalescer(_wake_now)


def _publish() -> None:
    from incidents.tasks import process_alert_events

    process_alert_events.delay()


def processor_woken() -> None:
    """Called by the processor as it starts, so events stored from now on wake it (or a successor) again."""
    if not settings.INTAKE_WAKE_SHARED:
        return
    try:
        _redis().delete(WAKE_KEY)
    except Exception:
        logger.warning("alert intake: the cache is not reachable", exc_info=True)


def count_in_window(key: str, amount: int, *, seconds: int) -> int:
    """Add `amount` to the counter `key`, which lives `seconds`; return its new value.

    Through the process-wide Redis client when there is a Redis (one round
    trip), else through Django's cache.
    """
    if settings.INTAKE_WAKE_SHARED:
        with _redis().pipeline() as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, seconds, nx=True)
            used, _ = pipe.execute()
        return int(used)
    return amount if cache.add(key, amount, timeout=seconds) else int(cache.incr(key, amount))
