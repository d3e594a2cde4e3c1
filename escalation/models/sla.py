import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from incidents.choices import Priority


class ClockKind(models.TextChoices):
    ACKNOWLEDGE = "acknowledge", _("Acknowledge")
    RESOLVE = "resolve", _("Resolve")


class SlaPolicy(models.Model):
    """How fast incidents of one priority must be acknowledged and resolved.

    Also how long they are watched after mitigation before they are ready to
    resolve, and how often stakeholders must hear from the responders.
    """

    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, unique=True)
    acknowledge_within = models.DurationField(_("acknowledge within"))
    resolve_within = models.DurationField(_("resolve within"))
    calendar = models.ForeignKey(
        "escalation.BusinessCalendar",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="sla_policies",
        verbose_name=_("business calendar"),
        help_text=_("Empty: the clock runs 24×7."),
    )
    warning_percent = models.PositiveSmallIntegerField(
        # xgettext:no-python-format (a label, never %-formatted: the % is the percent sign)
        _("warn at % of the target"),
        default=75,
        help_text=_("1–99; the warning starts the escalation."),
    )
    monitoring_period = models.DurationField(
        _("monitor after mitigation for"),
        default=dt.timedelta(minutes=30),
        help_text=_("Once this passes without a recurrence, a mitigated incident is ready to resolve."),
    )
    update_every = models.DurationField(
        _("status update every"),
        null=True,
        blank=True,
        help_text=_("While the incident is open, a reminder fires when no update came for this long. Empty: none."),
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["priority"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(warning_percent__gte=1, warning_percent__lte=99), name="sla_warning_percent_range"
            ),
            models.CheckConstraint(
                condition=models.Q(acknowledge_within__gt=dt.timedelta(0), resolve_within__gt=dt.timedelta(0)),
                name="sla_targets_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(monitoring_period__gte=dt.timedelta(0)), name="sla_monitoring_not_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(update_every__isnull=True) | models.Q(update_every__gte=dt.timedelta(minutes=1)),
                name="sla_update_cadence_a_minute_or_more",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.priority} SLA"

    def target(self, kind: str) -> dt.timedelta:
        return self.acknowledge_within if kind == ClockKind.ACKNOWLEDGE else self.resolve_within


class SlaClock(models.Model):
    """One SLA clock of one incident, with its policy snapshotted when it started.

    Elapsed business time is `consumed` (banked at each pause) plus the time
    since `running_since`; `due_at` and `warn_at` are recomputed whenever the
    clock pauses, resumes or is re-targeted.
    """

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="sla_clocks")
    kind = models.CharField(_("clock"), max_length=16, choices=ClockKind.choices)
    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices)
    target = models.DurationField(_("target"))
    calendar = models.ForeignKey(
        "escalation.BusinessCalendar", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    warning_percent = models.PositiveSmallIntegerField(
        # xgettext:no-python-format
        _("warning at %"),
        default=75,
    )
    started_at = models.DateTimeField(_("started at"))
    consumed = models.DurationField(_("time used before the current run"), default=dt.timedelta(0))
    running_since = models.DateTimeField(_("running since"), null=True, blank=True)
    paused_at = models.DateTimeField(_("paused at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warning at"), null=True, blank=True)
    warned_at = models.DateTimeField(_("warned at"), null=True, blank=True)
    breached_at = models.DateTimeField(_("breached at"), null=True, blank=True)
    met_at = models.DateTimeField(_("met at"), null=True, blank=True)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)

    class Meta:
        ordering = ["incident", "kind"]
        verbose_name = _("SLA clock")
        verbose_name_plural = _("SLA clocks")
        constraints = [models.UniqueConstraint(fields=["incident", "kind"], name="sla_clock_once_per_kind")]
        # The reports' latest breaches: read newest first, a few rows of an index.
        indexes = [
            models.Index(
                fields=["-breached_at"], condition=models.Q(breached_at__isnull=False), name="sla_clock_breaches"
            ),
            # The queue's "breaching soon": running clocks by due time, a few rows of a small index.
            models.Index(
                fields=["due_at"],
                condition=models.Q(running_since__isnull=False, stopped_at__isnull=True),
                name="sla_clock_running_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} clock of INC-{self.incident_id}"
