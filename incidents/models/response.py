"""Response coordination: who is on the response team, the investigation tasks and the fix plan.

Rows here are written by the domain functions in `incidents.response`,
`incidents.investigation` and `incidents.fix_plan` only; each keeps its
history, so who changed what and when stays readable after the incident.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from incidents.choices import FixKind, ImplementationOutcome, ResponseRoleKind, RiskRating, TaskStatus
from incidents.models.incidents import Incident

# Who may change an incident's response team, tasks and fix plan (see incidents/roles.py).
MANAGE_RESPONSE_PERMISSION = "incidents.manage_response"


class ResponseRole(models.Model):
    """One person holding one role on an incident's response team, from `added_at` until `ended_at`.

    A role is ended, never deleted, so the team's history stays. The database
    holds at most one commander at a time per incident (`response_one_commander`).
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="response_roles")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="response_roles", verbose_name=_("person")
    )
    role = models.CharField(_("role"), max_length=24, choices=ResponseRoleKind.choices)
    expertise = models.CharField(_("area of expertise"), max_length=120, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("added by"),
    )
    added_at = models.DateTimeField(_("added at"), default=timezone.now)
    paged_at = models.DateTimeField(_("last paged at"), null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("ended by"),
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["added_at", "id"]
        verbose_name = _("response role")
        verbose_name_plural = _("response team")
        permissions = [("manage_response", _("Can manage the response team, investigation tasks and fix plan"))]
        indexes = [models.Index(fields=["incident", "ended_at"], name="response_role_incident_active")]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"],
                condition=Q(role=ResponseRoleKind.COMMANDER, ended_at__isnull=True),
                name="response_one_commander",
                violation_error_message=_("An incident has one commander at a time."),
            ),
            models.UniqueConstraint(
                fields=["incident", "user", "role", "expertise"],
                condition=Q(ended_at__isnull=True),
                name="response_role_held_once",
            ),
            models.CheckConstraint(condition=Q(role__in=ResponseRoleKind.values), name="response_role_valid"),
        ]

    def __str__(self) -> str:
        label = self.get_role_display()
        if self.expertise:
            label = f"{label} ({self.expertise})"
        return f"{self.user} · {label}"

    @property
    def is_active(self) -> bool:
        return self.ended_at is None


class InvestigationTask(models.Model):
    """A piece of investigation work on an incident, with an owner and a due time."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="investigation_tasks",
        verbose_name=_("owner"),
    )
    expertise = models.CharField(_("area of expertise"), max_length=120, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("completed by"),
    )
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("investigation task")
        verbose_name_plural = _("investigation tasks")
        indexes = [models.Index(fields=["incident", "status"], name="task_incident_status")]
        constraints = [models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="task_status_valid")]

    def __str__(self) -> str:
        return self.title


class SolutionOption(models.Model):
    """One way to fix the incident, weighed by its kind and risk; at most one is chosen at a time."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="solution_options")
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=16, choices=FixKind.choices)
    risk = models.CharField(_("risk"), max_length=8, choices=RiskRating.choices)
    description = models.TextField(_("description"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    rollback_plan = models.TextField(
        _("rollback plan"), blank=True, help_text=_("Required before a high-risk option is implemented.")
    )
    is_chosen = models.BooleanField(_("chosen"), default=False)
    chosen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("chosen by"),
    )
    chosen_at = models.DateTimeField(_("chosen at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("proposed by"),
    )
    created_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("solution option")
        verbose_name_plural = _("fix plan: solution options")
        constraints = [
            models.UniqueConstraint(
                fields=["incident"],
                condition=Q(is_chosen=True),
                name="fix_plan_one_chosen",
                violation_error_message=_("One option is chosen at a time."),
            ),
            models.CheckConstraint(condition=Q(kind__in=FixKind.values), name="solution_kind_valid"),
            models.CheckConstraint(condition=Q(risk__in=RiskRating.values), name="solution_risk_valid"),
        ]

    def __str__(self) -> str:
        return self.title


class Implementation(models.Model):
    """One attempt at putting a chosen solution option in place, and how it went."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="implementations")
    option = models.ForeignKey(
        SolutionOption, on_delete=models.PROTECT, related_name="implementations", verbose_name=_("option")
    )
    window_start = models.DateTimeField(_("window starts"))
    window_end = models.DateTimeField(_("window ends"))
    communicated_to = models.TextField(_("communicated to"), blank=True)
    executed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("executed by"),
    )
    supervised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("supervised by"),
    )
    executed_at = models.DateTimeField(_("executed at"), default=timezone.now)
    outcome = models.CharField(_("outcome"), max_length=16, choices=ImplementationOutcome.choices)
    outcome_notes = models.TextField(_("outcome notes"), blank=True)
    rolled_back = models.BooleanField(_("rolled back"), default=False)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("recorded by"),
    )
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["executed_at", "id"]
        verbose_name = _("implementation")
        verbose_name_plural = _("fix plan: implementations")
        constraints = [
            models.CheckConstraint(
                condition=Q(window_end__gt=models.F("window_start")),
                name="implementation_window",
                violation_error_message=_("The window must end after it starts."),
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=ImplementationOutcome.values), name="implementation_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.option} · {self.get_outcome_display()}"
