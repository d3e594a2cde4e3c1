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
"""

import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

WAKE_KEY = "itsm:intake-wake"


def wake_processor() -> None:
    if not settings.INTAKE_WAKE_SHARED:
        _publish()
        return
    try:
        if not cache.add(WAKE_KEY, 1, timeout=settings.INTAKE_WAKE_SECONDS):
            return
    except Exception:  # a cache outage must not cost the wake-up itself
        logger.warning("alert intake: the cache is not reachable; waking the processor anyway", exc_info=True)
    _publish()


def _publish() -> None:
    from incidents.tasks import process_alert_events

    process_alert_events.delay()


def processor_woken() -> None:
    """Called by the processor as it starts, so events stored from now on wake it (or a successor) again."""
    if not settings.INTAKE_WAKE_SHARED:
        return
    try:
        cache.delete(WAKE_KEY)
    except Exception:
        logger.warning("alert intake: the cache is not reachable", exc_info=True)
