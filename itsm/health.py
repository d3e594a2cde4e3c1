"""`/healthz`: is the database reachable, and the Celery broker?"""

from django.db import connection
from django.http import HttpRequest, JsonResponse

from itsm.celery import app


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure means "not reachable"; the kind is in the answer
        return f"error: {type(error).__name__}"
    return "ok"


def _broker() -> str:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:
        return f"error: {type(error).__name__}"
    return "ok"


def _overdue_timers() -> int | None:
    """Deadlines due for a while and still unfired: the clock's own alarm (None if unknown)."""
    from escalation.timers import overdue_timer_count

    try:
        return overdue_timer_count()
    except Exception:  # the database check above already says why
        return None


def _waiting_alert_events() -> int | None:
    """Alert events stored a while ago and still unprocessed: the intake's own alarm (None if unknown)."""
    from incidents.intake.processing import waiting_event_count

    try:
        return waiting_event_count()
    except Exception:
        return None


def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database(), "broker": _broker()}
    healthy = all(value == "ok" for value in checks.values())
    # Reported, not judged: a web node is not unhealthy because the workers are behind.
    body = {
        "status": "ok" if healthy else "unavailable",
        **checks,
        "overdue_timers": _overdue_timers(),
        "waiting_alert_events": _waiting_alert_events(),
    }
    return JsonResponse(body, status=200 if healthy else 503)
