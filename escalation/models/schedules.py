import datetime as dt
import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from escalation.models.calendars import validate_time_zone


def new_feed_token() -> str:
    return secrets.token_urlsafe(24)


class OnCallSchedule(models.Model):
    """A team's on-call rota: rotation layers, with overrides on top."""

    team = models.ForeignKey("escalation.Team", on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(_("name"), max_length=120)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    feed_token = models.CharField(_("calendar feed token"), max_length=64, unique=True, default=new_feed_token)
    history = HistoricalRecords()

    class Meta:
        ordering = ["team", "name"]
        verbose_name = _("on-call schedule")
        verbose_name_plural = _("on-call schedules")
        constraints = [models.UniqueConstraint(fields=["team", "name"], name="schedule_name_per_team")]

    def __str__(self) -> str:
        return f"{self.team} · {self.name}"


class RotationLayer(models.Model):
    """Participants take turns of `rotation_length`, handing off at `handoff_time` local time.

    Higher `position` wins where layers overlap.
    """

    schedule = models.ForeignKey(OnCallSchedule, on_delete=models.CASCADE, related_name="layers")
    name = models.CharField(_("name"), max_length=120)
    position = models.PositiveSmallIntegerField(_("layer"), default=1)
    start_date = models.DateField(_("first hand-off date"))
    handoff_time = models.TimeField(_("hand-off time"), default=dt.time(9, 0))
    rotation_length = models.DurationField(_("rotation length"), default=dt.timedelta(days=7))
    history = HistoricalRecords()

    class Meta:
        ordering = ["schedule", "-position"]
        verbose_name = _("rotation layer")
        verbose_name_plural = _("rotation layers")
        constraints = [
            models.UniqueConstraint(fields=["schedule", "position"], name="layer_position_per_schedule"),
            models.CheckConstraint(
                condition=models.Q(rotation_length__gte=dt.timedelta(hours=1)), name="rotation_at_least_an_hour"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} · {self.name}"


class LayerParticipant(models.Model):
    layer = models.ForeignKey(RotationLayer, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField(_("turn"))

    class Meta:
        ordering = ["layer", "position"]
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        constraints = [models.UniqueConstraint(fields=["layer", "position"], name="participant_turn")]

    def __str__(self) -> str:
        return f"{self.position}. {self.user}"


class ScheduleOverride(models.Model):
    """Someone takes the shift between two moments, whoever the layers say."""

    schedule = models.ForeignKey(OnCallSchedule, on_delete=models.CASCADE, related_name="overrides")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["starts_at"]
        verbose_name = _("override")
        verbose_name_plural = _("overrides")
        constraints = [
            models.CheckConstraint(condition=models.Q(starts_at__lt=models.F("ends_at")), name="override_order")
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.starts_at:%Y-%m-%d %H:%M}–{self.ends_at:%Y-%m-%d %H:%M}"


class ResponderProfile(models.Model):
    """Per-person settings: the zone and language pages are shown in, and their calendar feed."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="responder_profile")
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    # A code of settings.LANGUAGES (not model choices: the list is the deployment's, not the schema's);
    # empty: whatever the browser or the language switcher asks for.
    language = models.CharField(_("language"), max_length=16, blank=True, default="")
    feed_token = models.CharField(_("calendar feed token"), max_length=64, unique=True, default=new_feed_token)

    class Meta:
        verbose_name = _("responder profile")
        verbose_name_plural = _("responder profiles")

    def __str__(self) -> str:
        return str(self.user)
