"""Outbound webhooks: who is told what happens to incidents, and each delivery of each event."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from escalation.models.notifications import new_signing_secret
from itsm.fields import HttpsURLField


class WebhookEvent(models.TextChoices):
    """The event types a subscription can choose (the `type` of the payload)."""

    INCIDENT_CREATED = "incident.created", _("Incident created")
    INCIDENT_TRANSITIONED = "incident.transitioned", _("Incident changed state")
    INCIDENT_PRIORITY_CHANGED = "incident.priority_changed", _("Incident priority changed")
    INCIDENT_ESCALATED = "incident.escalated", _("Incident escalated")
    INCIDENT_SLA_BREACHED = "incident.sla_breached", _("Incident SLA breached")
    NOTE_ADDED = "note.added", _("Note added")


# Sent only by hand from the back office, to try a receiver; no subscription chooses it.
PING_EVENT = "ping"


def validate_event_types(value: Any) -> None:
    """A non-empty list of distinct event types from `WebhookEvent`."""
    if not isinstance(value, list) or not value:
        raise ValidationError(_("Choose at least one event type."), code="no_event_type")
    unknown = [item for item in value if item not in WebhookEvent.values]
    if unknown:
        raise ValidationError(
            _("Unknown event types: %(types)s.") % {"types": ", ".join(map(str, unknown))}, code="unknown_event_type"
        )
    if len(set(value)) != len(value):
        raise ValidationError(_("Each event type may be chosen once."), code="repeated_event_type")


class WebhookSubscription(models.Model):
    """A receiver outside the product, and the incident events it is sent.

    The secret signs every body (HMAC-SHA256); it is kept as is because
    signing needs it, and is left out of the history and of every log line.
    """

    name = models.CharField(_("name"), max_length=120, unique=True)
    url = HttpsURLField(
        _("URL"),
        max_length=500,
        validators=[URLValidator(schemes=["http", "https"])],
        help_text=_("Events are POSTed here."),
    )
    secret = models.CharField(
        _("signing secret"),
        max_length=128,
        default=new_signing_secret,
        help_text=_("Signs every body (HMAC-SHA256); the receiver checks it."),
    )
    event_types = models.JSONField(_("event types"), default=list, validators=[validate_event_types])
    is_active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["secret", "updated_at"])

    class Meta:
        ordering = ["name"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        indexes = [models.Index(fields=["is_active"], name="webhook_subscription_active")]

    def __str__(self) -> str:
        return self.name


class WebhookDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one subscription: the body as it was when the event happened, and its delivery.

    Written in the transaction of the change it tells about (the outbox);
    delivered afterwards with retries. `event_id` is the event's id: the same
    for every subscription and on every attempt, so receivers drop repeats.
    """

    subscription = models.ForeignKey(WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(_("event id"))
    event_type = models.CharField(_("event type"), max_length=40)
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=16, choices=WebhookDeliveryStatus.choices, default=WebhookDeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    response_excerpt = models.CharField(_("start of the last answer"), max_length=200, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    redelivered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("last redelivered by"),
    )
    redelivered_at = models.DateTimeField(_("last redelivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        permissions = [("redeliver_webhookdelivery", _("Can deliver webhook events again"))]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_id"], name="webhook_delivery_once_per_event")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="webhook_delivery_pending_due",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["delivered_at"], name="webhook_delivery_delivered", condition=models.Q(status="delivered")
            ),
            models.Index(fields=["created_at", "id"], name="webhook_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"
