"""Verification and stakeholder updates: monitoring periods, status updates, their cadence and subscribers."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from escalation.models.notifications import new_signing_secret
from incidents.choices import (
    MonitoringOutcome,
    Priority,
    State,
    SubscriptionChannel,
    UpdateAudience,
    UpdateDeliveryStatus,
)
from incidents.models.incidents import Incident, Service, TimelineEntry
from itsm.fields import HttpsURLField


class MonitoringPeriod(models.Model):
    """The watch after a mitigation: if nothing recurs until `ends_at`, the incident is ready to resolve.

    Its length is the priority's when the period started (a later policy edit
    does not move it). Its deadline is a timer whose clock names this row, so
    every mitigation after a reopen gets a period and a deadline of its own.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="monitoring_periods")
    length = models.DurationField(_("length"))
    started_at = models.DateTimeField(_("started at"))
    ends_at = models.DateTimeField(_("ends at"))
    outcome = models.CharField(
        _("outcome"), max_length=16, choices=MonitoringOutcome.choices, default=MonitoringOutcome.RUNNING
    )
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("mitigated by"),
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["started_at", "id"]
        verbose_name = _("monitoring period")
        verbose_name_plural = _("monitoring periods")
        constraints = [
            models.UniqueConstraint(
                fields=["incident"], condition=Q(outcome="running"), name="monitoring_one_running_per_incident"
            )
        ]

    def __str__(self) -> str:
        return f"INC-{self.incident_id} monitoring until {self.ends_at:%Y-%m-%d %H:%M}"

    @property
    def timer_clock(self) -> str:
        return f"monitoring:{self.pk}"

    @property
    def is_ready(self) -> bool:
        return self.outcome == MonitoringOutcome.READY


class StatusUpdate(models.Model):
    """A status update on an incident, for the team (internal) or for stakeholders.

    Written once and never edited; the state and priority are the incident's
    when it was posted, so the log reads as the story was told.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="status_updates")
    audience = models.CharField(_("audience"), max_length=16, choices=UpdateAudience.choices)
    body = models.TextField(_("update"))
    state = models.CharField(_("state at the time"), max_length=16, choices=State.choices)
    priority = models.CharField(_("priority at the time"), max_length=2, choices=Priority.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("author"),
    )
    timeline_entry = models.OneToOneField(
        TimelineEntry, on_delete=models.SET_NULL, null=True, blank=True, related_name="status_update"
    )
    created_at = models.DateTimeField(_("posted at"), default=timezone.now)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("status update")
        verbose_name_plural = _("status updates")
        indexes = [models.Index(fields=["incident", "created_at", "id"], name="status_update_incident_time")]

    def __str__(self) -> str:
        return f"INC-{self.incident_id} {self.get_audience_display()} update {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def is_for_stakeholders(self) -> bool:
        return self.audience == UpdateAudience.STAKEHOLDERS


class UpdateCadence(models.Model):
    """When the incident's next status update is due, by its priority's cadence.

    The reminder timer of each stretch between updates has `updates_posted`
    as its level, so it fires at most once per overdue period.
    """

    incident = models.OneToOneField(Incident, on_delete=models.CASCADE, related_name="update_cadence")
    every = models.DurationField(_("an update every"), null=True, blank=True)
    last_update_at = models.DateTimeField(_("last update at"), null=True, blank=True)
    updates_posted = models.PositiveIntegerField(_("updates posted"), default=0)
    due_at = models.DateTimeField(_("next update due at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("last reminder at"), null=True, blank=True)

    class Meta:
        verbose_name = _("update cadence")
        verbose_name_plural = _("update cadences")

    def __str__(self) -> str:
        return f"update cadence of INC-{self.incident_id}"


def _exactly_one_recipient() -> Q:
    user = Q(user__isnull=False, email="", url="", channel=SubscriptionChannel.EMAIL)
    email = Q(user__isnull=True, url="", channel=SubscriptionChannel.EMAIL) & ~Q(email="")
    webhook = Q(user__isnull=True, email="", channel=SubscriptionChannel.WEBHOOK) & ~Q(url="")
    return user | email | webhook


class UpdateSubscription(models.Model):
    """Who hears a service's stakeholder-facing updates: a user (by their email), an address, or a webhook.

    A webhook's body is signed with `secret` (HMAC-SHA256), shown once when
    the subscription is made and kept out of the history.
    """

    service = models.ForeignKey(
        Service, on_delete=models.CASCADE, related_name="update_subscriptions", verbose_name=_("service")
    )
    channel = models.CharField(_("channel"), max_length=16, choices=SubscriptionChannel.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="update_subscriptions",
        verbose_name=_("user"),
        help_text=_("Sent to this person's email address."),
    )
    email = models.EmailField(_("email address"), blank=True)
    url = HttpsURLField(
        _("webhook URL"), max_length=500, blank=True, validators=[URLValidator(schemes=["http", "https"])]
    )
    secret = models.CharField(_("signing secret"), max_length=128, default=new_signing_secret)
    is_active = models.BooleanField(_("active"), default=True)
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

    history = HistoricalRecords(excluded_fields=["secret", "updated_at"])

    class Meta:
        ordering = ["service", "id"]
        verbose_name = _("update subscription")
        verbose_name_plural = _("update subscriptions")
        permissions = [("subscribe_to_updates", _("Can subscribe themselves to a service's stakeholder updates"))]
        constraints = [
            models.CheckConstraint(condition=_exactly_one_recipient(), name="update_subscription_one_recipient"),
            models.UniqueConstraint(
                fields=["service", "user"], condition=Q(user__isnull=False), name="update_subscription_user_once"
            ),
            models.UniqueConstraint(
                fields=["service", "email"], condition=~Q(email=""), name="update_subscription_email_once"
            ),
            models.UniqueConstraint(
                fields=["service", "url"], condition=~Q(url=""), name="update_subscription_url_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} → {self.recipient}"

    @property
    def recipient(self) -> str:
        """How lists name the subscriber; a webhook by its host only (its URL may be a credential)."""
        if self.user_id is not None and self.user is not None:
            return str(self.user.get_username())
        if self.channel == SubscriptionChannel.WEBHOOK:
            return _("webhook to %(host)s") % {"host": self.url.split("/")[2] if "//" in self.url else "?"}
        return self.email

    @property
    def address(self) -> str:
        """Where messages go: the user's email, the address, or the webhook URL."""
        if self.user_id is not None and self.user is not None:
            return str(self.user.email)
        return self.url if self.channel == SubscriptionChannel.WEBHOOK else self.email


class UpdateDelivery(models.Model):
    """One stakeholder update to one subscriber, and its delivery (the outbox row).

    Written in the transaction that posted the update; delivered afterwards
    with retries. `event_id` travels with every attempt (the X-ITSM-Delivery
    header, the email's X-ITSM-Idempotency-Key) so receivers drop repeats.
    """

    update = models.ForeignKey(StatusUpdate, on_delete=models.CASCADE, related_name="deliveries")
    subscription = models.ForeignKey(UpdateSubscription, on_delete=models.CASCADE, related_name="deliveries")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(_("channel"), max_length=16, choices=SubscriptionChannel.choices)
    event_id = models.UUIDField(_("delivery id"))
    status = models.CharField(
        _("status"), max_length=16, choices=UpdateDeliveryStatus.choices, default=UpdateDeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
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
        verbose_name = _("update delivery")
        verbose_name_plural = _("update deliveries")
        permissions = [("redeliver_updatedelivery", _("Can deliver status updates to subscribers again"))]
        constraints = [
            models.UniqueConstraint(fields=["update", "subscription"], name="update_delivery_once_per_subscriber")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at", "id"],
                name="update_delivery_pending_due",
                condition=Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"update {self.update_id} → subscription {self.subscription_id} ({self.status})"
