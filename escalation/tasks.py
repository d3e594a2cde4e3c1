"""Celery wake-ups for the clock (the database decides what fires; these only call it), and the delivery tasks."""

from celery import shared_task

from escalation import timers
from escalation.delivery import deliver_notification_task, sweep_notifications
from escalation.webhook_delivery import deliver_webhook_task, purge_delivered_webhooks_task, sweep_webhooks

__all__ = [
    "deliver_notification_task",
    "deliver_webhook_task",
    "fire_timer_task",
    "purge_delivered_webhooks_task",
    "sweep_notifications",
    "sweep_timers",
    "sweep_webhooks",
]


@shared_task(name="escalation.fire_timer", acks_late=True, ignore_result=True, time_limit=60, soft_time_limit=50)
def fire_timer_task(timer_id: int, version: int) -> bool:
    """The precise wake-up for one deadline; a stale version or an early arrival does nothing."""
    return timers.fire_timer(timer_id=timer_id, version=version)


@shared_task(name="escalation.sweep_timers", acks_late=True, ignore_result=True, time_limit=60, soft_time_limit=50)
def sweep_timers() -> int:
    """The safety net, every second: fire whatever is due that no wake-up has fired."""
    return timers.sweep_due_timers()
