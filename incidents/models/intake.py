"""Alert intake: integrations (where monitoring sends alerts), the alerts, and the raw events.

An event is what one request said about one alert; it is stored as it came in
(normalised) and processed afterwards, in order. An alert is the de-duplicated
thing those events talk about; it belongs to exactly one incident.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from incidents.choices import (
    AlertAction,
    AlertStatus,
    Category,
    EventOutcome,
    IntegrationKind,
    Level,
    ResolveAction,
    Severity,
)
from itsm.fields import HttpsURLField

# Severity → (impact, urgency): critical is a P1, error a P2, warning a P3, info a P4.
DEFAULT_SEVERITY_MAP: dict[str, dict[str, str]] = {
    Severity.CRITICAL: {"impact": Level.HIGH, "urgency": Level.HIGH},
    Severity.ERROR: {"impact": Level.HIGH, "urgency": Level.MEDIUM},
    Severity.WARNING: {"impact": Level.MEDIUM, "urgency": Level.MEDIUM},
    Severity.INFO: {"impact": Level.LOW, "urgency": Level.LOW},
}
DEFAULT_RESOLVE_ACTION = {
    IntegrationKind.ALERTMANAGER: ResolveAction.MITIGATE,
    IntegrationKind.PAGERDUTY: ResolveAction.RESOLVE,
    IntegrationKind.GENERIC: ResolveAction.MITIGATE,
}


def default_severity_map() -> dict[str, dict[str, str]]:
    return {severity: dict(levels) for severity, levels in DEFAULT_SEVERITY_MAP.items()}


def hash_key(key: str) -> str:
    """Keys are 128 random bits, so a plain SHA-256 is as good as a slow hash and costs nothing per request."""
    return hashlib.sha256(key.encode()).hexdigest()


class Integration(models.Model):
    """A door for one monitoring tool into one service, with its own secret key.

    The key is shown once, when made or rotated; only its hash is kept. It is
    32 hex characters, the shape PagerDuty clients expect of a routing key.
    """

    name = models.CharField(_("name"), max_length=120)
    service = models.ForeignKey(
        "incidents.Service", on_delete=models.PROTECT, related_name="integrations", verbose_name=_("service")
    )
    kind = models.CharField(_("kind"), max_length=16, choices=IntegrationKind.choices)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    key_hint = models.CharField(
        _("key"), max_length=16, editable=False, help_text=_("The key's first characters, to tell keys apart.")
    )
    severity_map = models.JSONField(
        _("severity mapping"),
        default=default_severity_map,
        help_text=_('Severity → impact and urgency, e.g. {"critical": {"impact": "high", "urgency": "high"}}.'),
    )
    resolve_action = models.CharField(
        _("when the alert clears"),
        max_length=16,
        choices=ResolveAction.choices,
        default=ResolveAction.MITIGATE,
        help_text=_("What happens to the incident once none of its alerts is firing."),
    )
    category = models.CharField(
        _("category of the incidents opened"), max_length=32, choices=Category.choices, default=Category.OTHER
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        _("events per minute"),
        default=6000,
        help_text=_("More events than this in a minute are refused with 429 (0: no limit)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    key_rotated_at = models.DateTimeField(_("key made at"), default=timezone.now)

    history = HistoricalRecords(excluded_fields=["key_hash"])

    class Meta:
        ordering = ["service__name", "name"]
        verbose_name = _("integration")
        verbose_name_plural = _("integrations")
        constraints = [
            models.CheckConstraint(condition=models.Q(kind__in=IntegrationKind.values), name="integration_kind_valid"),
            models.CheckConstraint(
                condition=models.Q(resolve_action__in=ResolveAction.values), name="integration_resolve_action_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    def clean(self) -> None:
        super().clean()
        errors: list[str] = []
        if not isinstance(self.severity_map, dict):
            errors.append(str(_("Must be an object of severity → impact and urgency.")))
        else:
            for severity, levels in self.severity_map.items():
                if not isinstance(levels, dict) or set(levels) != {"impact", "urgency"}:
                    errors.append(
                        str(_("%(severity)s: give exactly an impact and an urgency.") % {"severity": severity})
                    )
                elif not {levels["impact"], levels["urgency"]} <= set(Level.values):
                    errors.append(
                        str(
                            _("%(severity)s: impact and urgency are each one of %(levels)s.")
                            % {"severity": severity, "levels": ", ".join(Level.values)}
                        )
                    )
        if errors:
            raise ValidationError({"severity_map": errors})

    def new_key(self) -> str:
        """Give the integration a fresh key and return it; the caller saves the row and shows the key once."""
        key = secrets.token_hex(16)
        self.key_hash = hash_key(key)
        self.key_hint = key[:6]
        self.key_rotated_at = timezone.now()
        return key

    def levels_for(self, severity: str) -> tuple[str, str]:
        """(impact, urgency) for an alert's severity; unknown severities count as warnings."""
        levels: Any = self.severity_map.get(severity) or self.severity_map.get(Severity.WARNING)
        if not isinstance(levels, dict):
            levels = DEFAULT_SEVERITY_MAP[Severity.WARNING]
        return str(levels.get("impact", Level.MEDIUM)), str(levels.get("urgency", Level.MEDIUM))


class Alert(models.Model):
    """One problem monitoring reported, de-duplicated by its key, on one incident.

    At most one alert per key and integration is open (not resolved); a
    trigger after it resolved starts a new alert.
    """

    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="alerts")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="alerts")
    dedup_key = models.CharField(_("de-duplication key"), max_length=255)
    group_key = models.CharField(_("group"), max_length=64, help_text=_("Hash of the group the alert came in."))
    status = models.CharField(_("status"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.FIRING)
    summary = models.CharField(_("summary"), max_length=1024)
    severity = models.CharField(_("severity"), max_length=32, blank=True)
    source = models.CharField(_("source"), max_length=255, blank=True)
    labels = models.JSONField(_("labels"), default=dict, blank=True)
    annotations = models.JSONField(_("annotations"), default=dict, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    links = models.JSONField(_("links"), default=list, blank=True)
    generator_url = HttpsURLField(_("generator URL"), max_length=2000, blank=True)
    content_hash = models.CharField(max_length=64, editable=False)
    fired_at = models.DateTimeField(_("firing since"))
    first_seen_at = models.DateTimeField(_("first seen"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), default=timezone.now)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    event_count = models.PositiveIntegerField(_("events"), default=1)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        constraints = [
            models.UniqueConstraint(
                fields=["integration", "dedup_key"],
                condition=~models.Q(status=AlertStatus.RESOLVED),
                name="alert_one_open_per_key",
            ),
        ]
        indexes = [models.Index(fields=["integration", "group_key"], name="alert_integration_group")]

    def __str__(self) -> str:
        return self.summary


class AlertEvent(models.Model):
    """One event as an integration sent it, kept in order until processed, then as the alert's log."""

    # Each row is written on the hottest path and updated once more: its only indexes
    # are the primary key, the pending queue and the arrival time (for the purge).
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="events", db_index=False)
    action = models.CharField(_("action"), max_length=16, choices=AlertAction.choices)
    dedup_key = models.CharField(_("de-duplication key"), max_length=255)
    group_key = models.CharField(_("group"), max_length=64)
    payload = models.JSONField(_("event"), default=dict)
    # Written with the event, so the processor tells a repeat without reading the payload.
    content_hash = models.CharField(max_length=64, blank=True, default="", editable=False)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    processed_at = models.DateTimeField(_("processed at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=EventOutcome.choices, blank=True)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("alert event")
        verbose_name_plural = _("alert events")
        indexes = [
            models.Index(fields=["id"], name="alertevent_pending", condition=models.Q(processed_at__isnull=True)),
            models.Index(fields=["received_at"], name="alertevent_received"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.dedup_key}"
