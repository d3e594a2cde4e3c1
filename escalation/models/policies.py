import datetime as dt

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


class EscalationPolicy(models.Model):
    """Who is paged, in which order and after how long, until someone acknowledges."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    repeat_count = models.PositiveSmallIntegerField(
        _("repeat"), default=0, help_text=_("How many more times to run through all levels (0–9).")
    )
    is_default = models.BooleanField(
        _("default policy"), default=False, help_text=_("Used for services that name no policy.")
    )
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_escalation_policy"
            ),
            models.CheckConstraint(condition=models.Q(repeat_count__lte=9), name="escalation_repeat_range"),
        ]

    def __str__(self) -> str:
        return self.name


class EscalationLevel(models.Model):
    """One level of a policy: its targets are paged, then after `escalate_after` the next level."""

    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    position = models.PositiveSmallIntegerField(_("level"))
    escalate_after = models.DurationField(_("escalate after"), default=dt.timedelta(minutes=15))
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("users"))
    oncall_teams = models.ManyToManyField(
        "escalation.Team", blank=True, related_name="+", verbose_name=_("on-call person of these teams")
    )
    manager_teams = models.ManyToManyField(
        "escalation.Team", blank=True, related_name="+", verbose_name=_("managers of these teams")
    )

    class Meta:
        ordering = ["policy", "position"]
        verbose_name = _("escalation level")
        verbose_name_plural = _("escalation levels")
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="escalation_level_position"),
            # Zero is allowed: the next level is paged together with this one.
            models.CheckConstraint(
                condition=models.Q(escalate_after__gte=dt.timedelta(0)), name="escalation_delay_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.policy} · level {self.position}"


class EscalationTrigger(models.TextChoices):
    CREATED = "created", _("Incident created")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_BREACH = "sla_breach", _("SLA breach")
    MANUAL = "manual", _("Escalated by hand")


class EscalationRun(models.Model):
    """One escalation of one incident, with the policy as it was when it started."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="escalation_runs")
    trigger = models.CharField(_("trigger"), max_length=16, choices=EscalationTrigger.choices)
    trigger_detail = models.CharField(_("detail"), max_length=64, blank=True)
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.SET_NULL, null=True, related_name="+")
    snapshot = models.JSONField(_("policy snapshot"))
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    stopped_at = models.DateTimeField(_("stopped at"), null=True, blank=True)
    stop_reason = models.CharField(_("why it stopped"), max_length=64, blank=True)

    class Meta:
        ordering = ["-started_at"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [
            models.UniqueConstraint(
                fields=["incident"], condition=models.Q(stopped_at__isnull=True), name="one_active_escalation"
            )
        ]

    def __str__(self) -> str:
        return f"escalation {self.pk} of INC-{self.incident_id}"

    @property
    def clock(self) -> str:
        return f"escalation:{self.pk}"
