import datetime as dt
import logging
from importlib import import_module

from axes.handlers.proxy import AxesProxyHandler
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from incidents.choices import State
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.intake.processing import process_pending_events
from incidents.intake.wake import processor_woken
from incidents.lifecycle import close_incident
from incidents.models import AlertEvent, Incident
from incidents.system import system_user
from incidents.update_delivery import deliver_update_task, sweep_update_deliveries_task

__all__ = [
    "close_stale_resolved_incidents",
    "deliver_update_task",
    "process_alert_events",
    "purge_alert_events",
    "purge_login_records",
    "sweep_update_deliveries_task",
]

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True, time_limit=300, soft_time_limit=240)
def close_stale_resolved_incidents() -> int:
    """Close incidents left resolved longer than AUTO_CLOSE_RESOLVED_AFTER_HOURS.

    Acts as the system account. A P1/P2 without a published post-mortem stays
    resolved (the `close` guard refuses it) until someone writes one.
    """
    hours = settings.AUTO_CLOSE_RESOLVED_AFTER_HOURS
    if not hours:
        return 0
    cutoff = timezone.now() - dt.timedelta(hours=hours)
    actor = system_user()
    closed = 0
    stale = Incident.objects.filter(state=State.RESOLVED, resolved_at__lte=cutoff).order_by("pk")
    for incident in stale.iterator(chunk_size=200):
        try:
            close_incident(incident=incident, actor=actor, note="Closed automatically after the resolution period.")
        except (TransitionNotAllowed, IncidentConflict) as refusal:
            logger.info("not closing %s: %s", incident.number, refusal)
            continue
        closed += 1
    return closed


@shared_task(
    name="incidents.process_alert_events",
    acks_late=True,
    ignore_result=True,
    time_limit=300,
    soft_time_limit=240,
)
def process_alert_events() -> int:
    """Process every pending alert event (woken by intake, and run by beat as the safety net)."""
    processor_woken()
    return process_pending_events(budget_seconds=180.0, gather_seconds=settings.INTAKE_GATHER_MS / 1000)


@shared_task(name="incidents.purge_login_records", acks_late=True, ignore_result=True, time_limit=600)
def purge_login_records() -> int:
    """Delete expired sessions (Django's `clearsessions`) and login-log entries older than
    LOGIN_LOG_RETENTION_DAYS; return how many log entries went. Both tables only grow otherwise."""
    import_module(settings.SESSION_ENGINE).SessionStore.clear_expired()
    return int(AxesProxyHandler.reset_logs(age_days=settings.LOGIN_LOG_RETENTION_DAYS))


@shared_task(name="incidents.purge_alert_events", acks_late=True, ignore_result=True, time_limit=600)
def purge_alert_events() -> int:
    """Delete processed alert events older than INTAKE_EVENT_RETENTION_DAYS; alerts keep their counts."""
    cutoff = timezone.now() - dt.timedelta(days=settings.INTAKE_EVENT_RETENTION_DAYS)
    deleted, _ = AlertEvent.objects.filter(processed_at__isnull=False, received_at__lt=cutoff).delete()
    return deleted
