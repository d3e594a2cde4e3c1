"""Post-mortems: the review written after an incident, its own timeline, and its follow-up action items.

A post-mortem moves draft → in review → published (and back, see the
transitions below). Its timeline rows start as a copy of the incident's own
timeline that the author then edits; its action items outlive the incident.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition
from simple_history.models import HistoricalRecords

from incidents.choices import (
    ACTION_ITEM_PENDING,
    ActionItemKind,
    ActionItemStatus,
    MomentSource,
    PostMortemStatus,
    Priority,
    Visibility,
)

if TYPE_CHECKING:
    from incidents.models.incidents import Incident

# Permission codenames the post-mortem's transitions check (see incidents/roles.py for who has them).
WRITE_POSTMORTEM_PERMISSION = "incidents.change_postmortem"
PUBLISH_POSTMORTEM_PERMISSION = "incidents.publish_postmortem"
REOPEN_POSTMORTEM_PERMISSION = "incidents.reopen_postmortem"

# Incidents of these priorities close only once their post-mortem is published.
POSTMORTEM_REQUIRED_PRIORITIES = (Priority.P1, Priority.P2)


def postmortem_allows_close(incident: Incident) -> bool:
    """The `close` guard: a P1 or P2 incident closes only once its post-mortem is published."""
    if incident.priority not in POSTMORTEM_REQUIRED_PRIORITIES:
        return True
    postmortem = getattr(incident, "postmortem", None)
    return postmortem is not None and postmortem.status == PostMortemStatus.PUBLISHED


postmortem_allows_close.hint = _(  # type: ignore[attr-defined]
    "a P1 or P2 incident needs a published post-mortem before it is closed "
    "(write it, submit it for review, and have an incident manager publish it)"
)


def _ready_for_review(postmortem: PostMortem) -> bool:
    return bool(postmortem.summary.strip() and postmortem.root_cause.strip())


_ready_for_review.hint = _("write the summary and the root cause first")  # type: ignore[attr-defined]


class PostMortem(ConcurrentTransitionMixin, models.Model):
    """The review of one incident: what happened, why, what was learnt and what follows.

    The status is protected: only the transitions below move it, and only
    `incidents.postmortems` calls them (with the permission checks and the audit).
    """

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE, related_name="postmortem")
    status = FSMField(
        _("status"), max_length=16, choices=PostMortemStatus.choices, default=PostMortemStatus.DRAFT, protected=True
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="authored_postmortems",
        verbose_name=_("author"),
    )
    summary = models.TextField(_("summary"), blank=True)
    downtime_started_at = models.DateTimeField(_("downtime started at"), null=True, blank=True)
    downtime_ended_at = models.DateTimeField(_("downtime ended at"), null=True, blank=True)
    affected_users = models.PositiveIntegerField(_("affected users"), null=True, blank=True)
    affected_services = models.ManyToManyField(
        "incidents.Service", related_name="postmortems", blank=True, verbose_name=_("affected services")
    )
    root_cause = models.TextField(_("root cause"), blank=True)
    contributing_factors = models.TextField(_("contributing factors"), blank=True)
    what_went_well = models.TextField(_("what went well"), blank=True)
    what_went_badly = models.TextField(_("what went badly"), blank=True)
    lessons = models.TextField(_("lessons learnt"), blank=True)
    submitted_at = models.DateTimeField(_("submitted for review at"), null=True, blank=True)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("published by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(m2m_fields=[affected_services], excluded_fields=["updated_at"])

    class Meta:
        verbose_name = _("post-mortem")
        verbose_name_plural = _("post-mortems")
        permissions = [
            ("publish_postmortem", _("Can publish post-mortems")),
            ("reopen_postmortem", _("Can reopen published post-mortems")),
        ]
        indexes = [models.Index(fields=["status", "published_at"], name="postmortem_status_published")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PostMortemStatus.values), name="postmortem_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.incident.number} post-mortem"

    @property
    def downtime(self) -> dt.timedelta | None:
        if self.downtime_started_at is None or self.downtime_ended_at is None:
            return None
        return self.downtime_ended_at - self.downtime_started_at

    # The post-mortem's states. These methods only move the status and stamp
    # its timestamps; incidents/postmortems.py checks permissions, locks, saves
    # and writes the audit, and is the only caller.

    @transition(
        field=status,
        source=PostMortemStatus.DRAFT,
        target=PostMortemStatus.IN_REVIEW,
        permission=WRITE_POSTMORTEM_PERMISSION,
        conditions=[_ready_for_review],  # type: ignore[list-item]
    )
    def submit(self, **_: Any) -> None:
        self.submitted_at = timezone.now()

    @transition(
        field=status,
        source=PostMortemStatus.IN_REVIEW,
        target=PostMortemStatus.DRAFT,
        permission=WRITE_POSTMORTEM_PERMISSION,
    )
    def return_to_draft(self, **_: Any) -> None:
        self.submitted_at = None

    @transition(
        field=status,
        source=PostMortemStatus.IN_REVIEW,
        target=PostMortemStatus.PUBLISHED,
        permission=PUBLISH_POSTMORTEM_PERMISSION,
        conditions=[_ready_for_review],  # type: ignore[list-item]
    )
    def publish(self, *, by: Any = None, **_: Any) -> None:
        self.published_at = timezone.now()
        self.published_by = by

    @transition(
        field=status,
        source=PostMortemStatus.PUBLISHED,
        target=PostMortemStatus.DRAFT,
        permission=REOPEN_POSTMORTEM_PERMISSION,
    )
    def reopen(self, **_: Any) -> None:
        # Published no more; who published it before stays in the history.
        self.submitted_at = None
        self.published_at = None
        self.published_by = None


class PostMortemMoment(models.Model):
    """One row of a post-mortem's timeline.

    Generated rows copy a moment of the incident (its impact start, its
    detection, or one of its timeline entries) and are rebuilt by
    "regenerate"; rows the author adds are kept. `sequence` keeps moments at
    the same instant in the incident timeline's own order.
    """

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="moments")
    source = models.CharField(_("source"), max_length=16, choices=MomentSource.choices, default=MomentSource.AUTHOR)
    source_entry = models.ForeignKey(
        "incidents.TimelineEntry",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("incident timeline entry"),
    )
    kind = models.CharField(_("kind"), max_length=24, blank=True)
    sequence = models.BigIntegerField(_("order at the same instant"), default=0)
    occurred_at = models.DateTimeField(_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    body = models.TextField(_("what happened"))
    visibility = models.CharField(
        _("visibility"), max_length=8, choices=Visibility.choices, default=Visibility.INTERNAL
    )
    is_key_moment = models.BooleanField(_("key moment"), default=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["occurred_at", "sequence", "id"]
        verbose_name = _("post-mortem timeline row")
        verbose_name_plural = _("post-mortem timeline")
        indexes = [models.Index(fields=["postmortem", "occurred_at"], name="pm_moment_time")]
        constraints = [
            models.UniqueConstraint(
                fields=["postmortem", "source_entry"],
                condition=models.Q(source_entry__isnull=False),
                name="pm_moment_one_per_entry",
            ),
            models.UniqueConstraint(
                fields=["postmortem", "source"],
                condition=models.Q(source__in=[MomentSource.IMPACT_STARTED, MomentSource.DETECTED]),
                name="pm_moment_one_per_incident_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.body[:60]}"

    @property
    def is_generated(self) -> bool:
        return self.source != MomentSource.AUTHOR


class ActionItem(models.Model):
    """A follow-up from a post-mortem: work that prevents the next incident.

    It belongs to the post-mortem and its incident but outlives both: closing
    the incident leaves it as it is, and it ends by being done or dropped
    (won't do), never by being deleted.
    """

    postmortem = models.ForeignKey(PostMortem, on_delete=models.PROTECT, related_name="action_items")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, related_name="action_items")
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=ActionItemKind.choices, default=ActionItemKind.PREVENT)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="action_items",
        verbose_name=_("owner"),
    )
    due_date = models.DateField(_("due date"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN
    )
    resolution_note = models.TextField(
        _("outcome"), blank=True, help_text=_("What was done, or why it will not be done.")
    )
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
    completed_at = models.DateTimeField(_("done or dropped at"), null=True, blank=True)

    history = HistoricalRecords(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("action item")
        verbose_name_plural = _("action items")
        indexes = [
            models.Index(fields=["status", "due_date"], name="action_item_status_due"),
            models.Index(fields=["owner", "status"], name="action_item_owner_status"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ActionItemStatus.values), name="action_item_status_valid"
            ),
            models.CheckConstraint(condition=models.Q(kind__in=ActionItemKind.values), name="action_item_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_pending(self) -> bool:
        return self.status in ACTION_ITEM_PENDING

    def is_overdue(self, today: dt.date | None = None) -> bool:
        """Still pending after its due date (dates in the server's time zone)."""
        today = today or timezone.localdate()
        return self.is_pending and self.due_date is not None and self.due_date < today
