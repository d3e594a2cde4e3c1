import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords


def new_signing_secret() -> str:
    return secrets.token_hex(32)


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook (signed JSON)")
    SLACK = "slack", _("Chat webhook (Slack-compatible)")


class ContactMethod(models.Model):
    """A way to reach a person: an email address or a webhook URL."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contact_methods")
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=500, help_text=_("An email address, or the webhook URL."))
    label = models.CharField(_("label"), max_length=80, blank=True)
    secret = models.CharField(
        _("signing secret"),
        max_length=128,
        default=new_signing_secret,
        help_text=_("Signs webhook bodies (HMAC-SHA256)."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    history = HistoricalRecords(excluded_fields=["secret"])

    class Meta:
        ordering = ["user", "channel", "id"]
        verbose_name = _("contact method")
        verbose_name_plural = _("contact methods")

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.label or self.address}"


class NotificationRule(models.Model):
    """When a person is paged, reach them on this contact method after this delay."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_rules")
    contact_method = models.ForeignKey(ContactMethod, on_delete=models.CASCADE, related_name="rules")
    delay = models.DurationField(_("after"), default=dt.timedelta(0))
    high_priority_only = models.BooleanField(_("only for P1 and P2"), default=False)
    history = HistoricalRecords()

    class Meta:
        ordering = ["user", "delay", "id"]
        verbose_name = _("notification rule")
        verbose_name_plural = _("notification rules")

    def __str__(self) -> str:
        return f"{self.contact_method} after {self.delay}"


class NotificationKind(models.TextChoices):
    PAGE = "page", _("Page")
    UPDATE = "update", _("Update")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled")


class Notification(models.Model):
    """One message to one address, with its delivery record.

    Created in the transaction that decided to send it; delivered afterwards,
    retried with back-off. `idempotency_key` makes the decision happen once
    and travels with the message so receivers can drop repeats.
    """

    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    contact_method = models.ForeignKey(
        ContactMethod, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    address = models.CharField(_("address"), max_length=500)
    kind = models.CharField(_("kind"), max_length=8, choices=NotificationKind.choices, default=NotificationKind.PAGE)
    escalation_run = models.ForeignKey(
        "escalation.EscalationRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="notifications"
    )
    level = models.PositiveIntegerField(_("escalation level"), null=True, blank=True)
    subject = models.CharField(_("subject"), max_length=250)
    body = models.TextField(_("message"))
    status = models.CharField(
        _("status"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="notification_pending_due",
                condition=models.Q(status="pending"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} to {self.address} ({self.status})"
