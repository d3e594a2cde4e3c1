from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords

from incidents.choices import (
    Category,
    Criticality,
    EntryKind,
    Level,
    Priority,
    Source,
    State,
    Visibility,
)
from incidents.models.history import IncidentHistory
from incidents.models.postmortems import postmortem_allows_close
from itsm.fields import HttpsURLField

NUMBER_PREFIX = "INC-"

# Permission codenames the lifecycle checks (see incidents/roles.py for who has them).
TRANSITION_PERMISSION = "incidents.transition_incident"
CLOSE_PERMISSION = "incidents.close_incident"


class Service(models.Model):
    """A system that can be affected by an incident (the seeds' "affected systems")."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    owner_team = models.ForeignKey(
        "escalation.Team",
        on_delete=models.PROTECT,
        related_name="services",
        null=True,
        blank=True,
        verbose_name=_("owner team"),
    )
    criticality = models.CharField(
        _("criticality"), max_length=16, choices=Criticality.choices, default=Criticality.MEDIUM
    )
    customer_facing = models.BooleanField(_("customer-facing"), default=False)
    escalation_policy = models.ForeignKey(
        "escalation.EscalationPolicy",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="services",
        verbose_name=_("escalation policy"),
        help_text=_("Empty: the default policy."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name = _("service")
        verbose_name_plural = _("services")

    def __str__(self) -> str:
        return self.name


class Incident(ConcurrentTransitionMixin, models.Model):
    """An unplanned interruption or degradation of a service.

    The number users see (INC-1042) is the primary key with a prefix: unique,
    monotonic and free, with no counter row to contend for.
    """

    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("symptoms and observed behaviour"), blank=True)
    category = models.CharField(_("category"), max_length=32, choices=Category.choices, default=Category.OTHER)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.WEB)
    impact = models.CharField(_("impact"), max_length=8, choices=Level.choices, default=Level.MEDIUM)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Level.choices, default=Level.MEDIUM)
    priority = models.CharField(_("priority"), max_length=2, choices=Priority.choices, default=Priority.P3)
    priority_overridden = models.BooleanField(_("priority set by hand"), default=False)
    priority_override_reason = models.TextField(_("reason for the priority override"), blank=True)

    state = FSMField(_("state"), max_length=16, choices=State.choices, default=State.NEW, protected=True)

    services = models.ManyToManyField(
        Service, related_name="incidents", blank=True, verbose_name=_("affected services")
    )
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reported_incidents",
        verbose_name=_("reporter"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_incidents",
        verbose_name=_("assignee"),
    )
    team = models.ForeignKey(
        "escalation.Team",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("team"),
    )
    commander = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="commanded_incidents",
        verbose_name=_("incident commander"),
    )
    affected_users = models.PositiveIntegerField(_("affected users"), null=True, blank=True)
    support_tier = models.PositiveSmallIntegerField(_("support tier"), default=1)
    # Kept by the reopen transition, so the reopen rate of a million incidents is one scan.
    reopen_count = models.PositiveIntegerField(_("times reopened"), default=0, editable=False)
    diagnostics = models.TextField(_("logs and diagnostic data"), blank=True)
    war_room_url = HttpsURLField(_("war room (conference bridge)"), max_length=500, blank=True)
    chat_channel_url = HttpsURLField(_("chat channel"), max_length=500, blank=True)

    mitigation = models.TextField(_("what was done to restore service"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    resolution = models.TextField(_("resolution"), blank=True)

    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="duplicates",
        verbose_name=_("duplicate of"),
    )
    major_incident = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="child_incidents",
        verbose_name=_("major incident"),
    )

    started_at = models.DateTimeField(_("impact started at"), default=timezone.now)
    detected_at = models.DateTimeField(_("detected at"), default=timezone.now)
    created_at = models.DateTimeField(_("reported at"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    mitigated_at = models.DateTimeField(_("mitigated at"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    history = IncidentHistory(m2m_fields=[services], excluded_fields=["updated_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        permissions = [
            ("transition_incident", _("Can move incidents through their lifecycle (all but close)")),
            ("close_incident", _("Can close incidents")),
            ("assign_incident", _("Can assign incidents and their commander")),
            ("override_priority", _("Can override the priority matrix")),
            ("add_internal_note", _("Can add internal notes")),
            ("escalate_incident", _("Can escalate incidents")),
        ]
        # The list's filters and orderings over a million incidents (bench/README.md has the EXPLAIN
        # for each): newest first within a priority or a team, and the other sort orders it offers.
        # Text search has trigram indexes on PostgreSQL, made by migration 0012 alone.
        indexes = [
            models.Index(fields=["state", "priority"], name="incident_state_priority"),
            models.Index(fields=["assignee", "state"], name="incident_assignee_state"),
            models.Index(fields=["team", "state"], name="incident_team_state"),
            models.Index(fields=["priority", "-created_at"], name="incident_priority_newest"),
            models.Index(fields=["team", "-created_at"], name="incident_team_newest"),
            models.Index(fields=["updated_at"], name="incident_updated"),
            models.Index(fields=["started_at"], name="incident_started"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(priority__in=Priority.values), name="incident_priority_valid"),
            models.CheckConstraint(condition=models.Q(state__in=State.values), name="incident_state_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.title}"

    @property
    def number(self) -> str:
        return f"{NUMBER_PREFIX}{self.pk}" if self.pk else ""

    @staticmethod
    def pk_from_number(number: str) -> int | None:
        """`INC-1042` (any case) or `1042` → 1042; anything else → None."""
        text = number.strip().upper().removeprefix(NUMBER_PREFIX)
        return int(text) if text.isdigit() and len(text) < 19 else None

    @property
    def is_open(self) -> bool:
        return self.state not in (State.RESOLVED, State.CLOSED, State.CANCELLED)

    # The lifecycle (DESIGN.md). These methods only move the state and stamp
    # its timestamps; incidents/lifecycle.py checks permissions, required
    # fields and saves, and is the only caller.

    @transition(field=state, source=State.NEW, target=State.ACKNOWLEDGED, permission=TRANSITION_PERMISSION)
    def acknowledge(self, **_: Any) -> None:
        self.acknowledged_at = timezone.now()

    @transition(
        field=state,
        source=[State.NEW, State.ACKNOWLEDGED],
        target=State.INVESTIGATING,
        permission=TRANSITION_PERMISSION,
    )
    def investigate(self, **_: Any) -> None:
        if self.acknowledged_at is None:
            self.acknowledged_at = timezone.now()

    @transition(
        field=state,
        source=[State.ACKNOWLEDGED, State.INVESTIGATING],
        target=State.ON_HOLD,
        permission=TRANSITION_PERMISSION,
    )
    def hold(self, **_: Any) -> None:
        pass

    @transition(field=state, source=State.ON_HOLD, target=State.INVESTIGATING, permission=TRANSITION_PERMISSION)
    def resume(self, **_: Any) -> None:
        pass

    @transition(
        field=state,
        source=[State.ACKNOWLEDGED, State.INVESTIGATING],
        target=State.MITIGATED,
        permission=TRANSITION_PERMISSION,
    )
    def mitigate(self, *, note: str, **_: Any) -> None:
        self.mitigated_at = timezone.now()
        self.mitigation = note

    @transition(
        field=state,
        source=[State.INVESTIGATING, State.MITIGATED],
        target=State.RESOLVED,
        permission=TRANSITION_PERMISSION,
    )
    def resolve(self, *, root_cause: str, resolution: str, **_: Any) -> None:
        self.resolved_at = timezone.now()
        self.root_cause = root_cause
        self.resolution = resolution

    @transition(
        field=state,
        source=[State.MITIGATED, State.RESOLVED],
        target=State.INVESTIGATING,
        permission=TRANSITION_PERMISSION,
    )
    def reopen(self, **_: Any) -> None:
        # The impact is back: downtime runs again until the next mitigation.
        self.reopen_count += 1
        self.mitigated_at = None
        self.resolved_at = None

    @transition(
        field=state,
        source=State.RESOLVED,
        target=State.CLOSED,
        permission=CLOSE_PERMISSION,
        conditions=[postmortem_allows_close],  # type: ignore[list-item]
    )
    def close(self, **_: Any) -> None:
        self.closed_at = timezone.now()

    @transition(
        field=state,
        source=[State.NEW, State.ACKNOWLEDGED, State.INVESTIGATING],
        target=State.CANCELLED,
        permission=TRANSITION_PERMISSION,
    )
    def cancel(self, **_: Any) -> None:
        self.cancelled_at = timezone.now()


class TimelineEntry(models.Model):
    """One line of an incident's story: a note, a status update or a system event.

    Entries are written once and never edited, so they need no history of their own.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    kind = models.CharField(_("kind"), max_length=24, choices=EntryKind.choices)
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    body = models.TextField(_("text"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    data = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline")
        indexes = [models.Index(fields=["incident", "created_at", "id"], name="timeline_incident_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.created_at:%Y-%m-%d %H:%M}"


def attachment_path(attachment: Attachment, filename: str) -> str:
    return f"attachments/{timezone.now():%Y/%m}/{filename}"


class Attachment(models.Model):
    """A diagnostic file (log excerpt, screenshot, dump) kept with an incident."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to=attachment_path, max_length=255)
    name = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    content_type = models.CharField(_("content type"), max_length=120, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    created_at = models.DateTimeField(_("uploaded at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name
