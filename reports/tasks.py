from celery import shared_task

from reports import rollups
from reports.scheduled import send_due_reports


@shared_task(name="reports.send_due_reports", acks_late=True, ignore_result=True, time_limit=1800, soft_time_limit=1700)
def send_due_reports_task() -> int:
    """The weekly and monthly summaries whose period has ended (reports/scheduled.py)."""
    return send_due_reports()


@shared_task(name="reports.refresh_rollups", acks_late=True, ignore_result=True, time_limit=1800, soft_time_limit=1700)
def refresh_rollups_task() -> int:
    """Build the monthly roll-ups that are missing or out of date (reports/rollups.py)."""
    return rollups.refresh()
