"""Managers' standing orders for reports: who gets which summary, and what was sent."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ReportFrequency(models.TextChoices):
    WEEKLY = "weekly", _("Weekly (Monday, for the week before)")
    MONTHLY = "monthly", _("Monthly (the 1st, for the month before)")


class ReportSubscription(models.Model):
    """A manager's subscription to the period summary, emailed as a PDF."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="report_subscriptions")
    frequency = models.CharField(_("frequency"), max_length=8, choices=ReportFrequency.choices)
    # The summary's filters, as the dashboard's query string (service=…&team=…).
    filters = models.CharField(_("filters"), max_length=1000, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["user", "frequency"]
        verbose_name = _("report subscription")
        verbose_name_plural = _("report subscriptions")
        permissions = [("view_reports", _("Can see management reports, dashboards and exports"))]
        constraints = [
            models.UniqueConstraint(fields=["user", "frequency", "filters"], name="report_subscription_once")
        ]

    def __str__(self) -> str:
        return f"{self.get_frequency_display()} · {self.user}"
