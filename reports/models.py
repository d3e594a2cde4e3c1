"""Managers' standing orders for reports: who gets which summary, and what was sent."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


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

    history = HistoricalRecords()

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

    def clean(self) -> None:
        from urllib.parse import parse_qs

        from reports.params import parse_report_query

        query = parse_qs(self.filters)
        allowed = {"service", "team", "priority", "category"}
        if set(query) - allowed:
            raise ValidationError({"filters": _("Only service, team, priority and category can be set.")})
        try:
            parse_report_query(query)
        except ValidationError as error:
            raise ValidationError(
                {
                    "filters": [
                        f"{name}: {message}" for name, messages in error.message_dict.items() for message in messages
                    ]
                }
            ) from None


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class ReportDelivery(models.Model):
    """One scheduled summary for one subscriber and period: at most one per period, retried until sent."""

    subscription = models.ForeignKey(ReportSubscription, on_delete=models.CASCADE, related_name="deliveries")
    period_start = models.DateField(_("period start"))
    period_end = models.DateField(_("period end"))
    status = models.CharField(_("status"), max_length=8, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-period_start", "subscription"]
        verbose_name = _("report delivery")
        verbose_name_plural = _("report deliveries")
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period_start"], name="report_delivery_once_per_period")
        ]

    def __str__(self) -> str:
        return f"{self.subscription} · {self.period_start}–{self.period_end}"


class SlaOutcomeCode(models.IntegerChoices):
    """How an SLA clock stands, as the facts keep it (small integers: a million of them are scanned)."""

    NONE = 0, _("No clock")
    RUNNING = 1, _("Running")
    MET = 2, _("Met")
    BREACHED = 3, _("Breached")
    # Stopped with neither: the incident ended in a way that settles no clock.
    STOPPED = 4, _("Stopped")


class IncidentFact(models.Model):
    """One incident as the reports read it: narrow, numeric, one row per incident.

    A report over a million incidents reads this table, a fifth of the incident
    table's width, instead of the incidents, their clocks and their services.
    `reports.facts` keeps it in step: in the same transaction as every save of an
    incident, of its SLA clocks and of its services. Never edited by hand.
    """

    # No database constraint: the facts follow the incident (reports.facts), deletion included.
    incident = models.OneToOneField(
        "incidents.Incident",
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        primary_key=True,
        related_name="report_fact",
    )
    created_at = models.DateTimeField()
    priority = models.CharField(max_length=2)
    category = models.CharField(max_length=32)
    team_id = models.IntegerField(null=True)
    cancelled = models.BooleanField()
    affected_users = models.IntegerField()
    reopened = models.BooleanField()
    # Whole seconds from the report to acknowledgement, to restoring service, to resolution.
    acknowledge_seconds = models.IntegerField(null=True)
    restore_seconds = models.IntegerField(null=True)
    resolve_seconds = models.IntegerField(null=True)
    sla_acknowledge = models.SmallIntegerField(choices=SlaOutcomeCode.choices)
    sla_resolve = models.SmallIntegerField(choices=SlaOutcomeCode.choices)

    class Meta:
        default_permissions = ()
        indexes = [models.Index(fields=["created_at"], name="fact_created")]

    def __str__(self) -> str:
        return f"facts of INC-{self.incident_id}"


class ServiceFact(models.Model):
    """One affected service of one incident, with what its reports filter and merge on."""

    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    service_id = models.IntegerField()
    created_at = models.DateTimeField()
    priority = models.CharField(max_length=2)
    category = models.CharField(max_length=32)
    team_id = models.IntegerField(null=True)
    cancelled = models.BooleanField()
    # The impact in whole seconds since 1970 (the window that merges a million spans
    # does integer arithmetic): from its start until service was restored (NULL: going on).
    started = models.BigIntegerField()
    restored = models.BigIntegerField(null=True)

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["incident", "service_id"], name="service_fact_once")]
        indexes = [
            # Each service's impact spans in order of their start: merged without a sort.
            models.Index(
                fields=["service_id", "started"],
                include=["restored", "cancelled", "created_at", "priority", "category", "team_id"],
                name="service_fact_impact",
            ),
            models.Index(fields=["created_at"], name="service_fact_created"),
        ]

    def __str__(self) -> str:
        return f"service {self.service_id} of INC-{self.incident_id}"


class MonthRollup(models.Model):
    """One UTC calendar month of the unfiltered summary's figures, added up ahead (`reports.rollups`).

    `data` holds while the month has as many `MonthChange` rows as `built_changes`
    counted when it was built; a summary reads the months that hold and computes
    the rest from the facts.
    """

    month = models.DateField(primary_key=True)
    built_changes = models.BigIntegerField(null=True)
    built_at = models.DateTimeField(null=True)
    data = models.JSONField(null=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"roll-up of {self.month:%Y-%m}"


class MonthChange(models.Model):
    """A write of the facts that touched an ended month, in that write's transaction.

    Only ever added: writers of different months, or of the same one, never
    wait on each other's row locks, and a count taken before a roll-up is
    built tells whether anything was committed since.
    """

    month = models.DateField(db_index=True)

    class Meta:
        default_permissions = ()

    def __str__(self) -> str:
        return f"change to {self.month:%Y-%m}"
