from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimerPurpose(models.TextChoices):
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_BREACH = "sla_breach", _("SLA breach")
    ESCALATION_STEP = "escalation_step", _("Escalation step")
    # Verification and stakeholder updates (incidents.monitoring, incidents.updates).
    MONITORING_END = "monitoring_end", _("End of monitoring")
    UPDATE_REMINDER = "update_reminder", _("Status update reminder")


class Timer(models.Model):
    """A pending deadline. The database, not the broker, is the truth of what is due.

    `clock` names the clock the deadline belongs to ("acknowledge", "resolve",
    "escalation:<run id>") and `level` the step within it. `version` is bumped
    whenever the deadline moves (pause, resume, re-target), so a wake-up sent
    for the old due time finds nothing to do.
    """

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="timers")
    purpose = models.CharField(_("purpose"), max_length=16, choices=TimerPurpose.choices)
    clock = models.CharField(_("clock"), max_length=40)
    level = models.PositiveIntegerField(_("level"), default=0)
    due_at = models.DateTimeField(_("due at"))
    version = models.PositiveIntegerField(_("version"), default=1)
    fired_at = models.DateTimeField(_("fired at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("timer")
        verbose_name_plural = _("timers")
        constraints = [
            models.UniqueConstraint(fields=["incident", "purpose", "clock", "level"], name="timer_once_per_step")
        ]
        indexes = [
            models.Index(
                fields=["due_at", "id"],
                name="timer_pending_due",
                condition=models.Q(fired_at__isnull=True, cancelled_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.clock}/{self.level} of INC-{self.incident_id} at {self.due_at:%Y-%m-%d %H:%M:%S}"


class TimerFiring(models.Model):
    """Proof that a step fired: its unique key makes a second firing impossible."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    timer = models.ForeignKey(Timer, on_delete=models.CASCADE, related_name="firings")
    purpose = models.CharField(max_length=16, choices=TimerPurpose.choices)
    clock = models.CharField(max_length=40)
    level = models.PositiveIntegerField()
    due_at = models.DateTimeField()
    fired_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("timer firing")
        verbose_name_plural = _("timer firings")
        constraints = [
            models.UniqueConstraint(fields=["incident", "purpose", "clock", "level"], name="timer_fires_once")
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.clock}/{self.level} of INC-{self.incident_id} fired {self.fired_at:%Y-%m-%d %H:%M:%S}"
