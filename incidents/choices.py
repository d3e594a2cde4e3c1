"""The product's vocabulary (DESIGN.md), as the values the API and database use."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class State(models.TextChoices):
    NEW = "new", _("New")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    INVESTIGATING = "investigating", _("Investigating")
    ON_HOLD = "on_hold", _("On hold")
    MITIGATED = "mitigated", _("Mitigated")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_STATES = (State.NEW, State.ACKNOWLEDGED, State.INVESTIGATING, State.ON_HOLD, State.MITIGATED)


class Priority(models.TextChoices):
    P1 = "P1", _("P1 · Critical")
    P2 = "P2", _("P2 · High")
    P3 = "P3", _("P3 · Medium")
    P4 = "P4", _("P4 · Low")


class Level(models.TextChoices):
    """Impact and urgency share one scale."""

    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class Category(models.TextChoices):
    APPLICATION_ERROR = "application_error", _("Application error")
    SERVER_DOWNTIME = "server_downtime", _("Server downtime")
    API_DISRUPTION = "api_disruption", _("API disruption")
    FEATURE_BROKEN = "feature_broken", _("Feature not working")
    NETWORK = "network", _("Network problem")
    THIRD_PARTY = "third_party", _("Third-party integration failure")
    OTHER = "other", _("Other")


class Source(models.TextChoices):
    WEB = "web", _("Web")
    API = "api", _("API")
    MONITORING = "monitoring", _("Monitoring alert")
    INTERNAL = "internal", _("Internal report")
    EMAIL = "email", _("Email")


class Visibility(models.TextChoices):
    INTERNAL = "internal", _("Internal")
    PUBLIC = "public", _("Public")


class EntryKind(models.TextChoices):
    NOTE = "note", _("Note")
    STATUS_UPDATE = "status_update", _("Status update")
    CREATED = "created", _("Reported")
    TRANSITION = "transition", _("State change")
    PRIORITY_CHANGE = "priority_change", _("Priority change")
    ASSIGNMENT = "assignment", _("Assignment")
    FIELD_CHANGE = "field_change", _("Details changed")
    LINK = "link", _("Link")
    ATTACHMENT = "attachment", _("Attachment")
    ALERT = "alert", _("Monitoring alert")
    # Response coordination: the team, investigation tasks and the fix plan.
    RESPONSE_TEAM = "response_team", _("Response team")
    TASK = "task", _("Investigation task")
    FIX_PLAN = "fix_plan", _("Fix plan")
    # Verification and stakeholder updates (issue 5, points 4 and 5).
    MONITORING = "monitoring", _("Monitoring after mitigation")
    UPDATE_REMINDER = "update_reminder", _("Status update reminder")
    # Post-mortems (issue 5, point 6): its state changes, on the incident's timeline.
    POSTMORTEM = "postmortem", _("Post-mortem")


class Criticality(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class PostMortemStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    PUBLISHED = "published", _("Published")


class IntegrationKind(models.TextChoices):
    ALERTMANAGER = "alertmanager", _("Prometheus Alertmanager")
    PAGERDUTY = "pagerduty", _("PagerDuty Events API v2")
    GENERIC = "generic", _("Generic JSON webhook")


class ResolveAction(models.TextChoices):
    """What an alert that clears does to its incident once no other alert on it is firing."""

    MITIGATE = "mitigate", _("Mark the incident mitigated")
    RESOLVE = "resolve", _("Resolve the incident")
    NOTE = "note", _("Only add a note to the timeline")


class AlertAction(models.TextChoices):
    TRIGGER = "trigger", _("Trigger")
    ACKNOWLEDGE = "acknowledge", _("Acknowledge")
    RESOLVE = "resolve", _("Resolve")


class AlertStatus(models.TextChoices):
    FIRING = "firing", _("Firing")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")


class Severity(models.TextChoices):
    """The PagerDuty Common Event Format's severities, which Alertmanager setups mostly follow."""

    CRITICAL = "critical", _("Critical")
    ERROR = "error", _("Error")
    WARNING = "warning", _("Warning")
    INFO = "info", _("Info")


class EventOutcome(models.TextChoices):
    OPENED = "opened", _("Opened an incident")
    JOINED = "joined", _("Joined an open incident")
    REFIRED = "refired", _("Fired again")
    REPEATED = "repeated", _("Repeat of what was known")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    RESOLVED = "resolved", _("Resolved")
    DROPPED = "dropped", _("Dropped: no open alert")
    FAILED = "failed", _("Failed")


# --- Response coordination: the response team, investigation tasks and the fix plan ---


class ResponseRoleKind(models.TextChoices):
    COMMANDER = "commander", _("Incident commander")
    COMMUNICATIONS_LEAD = "communications_lead", _("Communications lead")
    SCRIBE = "scribe", _("Scribe")
    SUBJECT_MATTER_EXPERT = "sme", _("Subject-matter expert")


class TaskStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


OPEN_TASK_STATUSES = (TaskStatus.OPEN, TaskStatus.IN_PROGRESS)


class FixKind(models.TextChoices):
    QUICK_FIX = "quick_fix", _("Quick fix")
    PERMANENT = "permanent", _("Permanent fix")


class RiskRating(models.TextChoices):
    LOW = "low", _("Low risk")
    MEDIUM = "medium", _("Medium risk")
    HIGH = "high", _("High risk")


class ImplementationOutcome(models.TextChoices):
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    ROLLED_BACK = "rolled_back", _("Rolled back")


# --- Verification and stakeholder updates (issue 5, points 4 and 5) ---------


class MonitoringOutcome(models.TextChoices):
    """How a monitoring period after mitigation ended."""

    RUNNING = "running", _("Running")
    READY = "ready", _("Ended without recurrence: ready to resolve")
    RECURRED = "recurred", _("Ended by a recurrence")
    STOPPED = "stopped", _("Stopped: resolved, closed or cancelled first")


class UpdateAudience(models.TextChoices):
    INTERNAL = "internal", _("Internal")
    STAKEHOLDERS = "stakeholders", _("Stakeholder-facing")


class SubscriptionChannel(models.TextChoices):
    EMAIL = "email", _("Email")
    WEBHOOK = "webhook", _("Webhook (signed JSON)")


class UpdateDeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


# --- Post-mortems (issue 5, point 6) ---------------------------------------


class MomentSource(models.TextChoices):
    """Where a row of a post-mortem's timeline came from."""

    IMPACT_STARTED = "impact_started", _("Impact began")
    DETECTED = "detected", _("Detected")
    ENTRY = "entry", _("Incident timeline")
    AUTHOR = "author", _("Added by the author")


class ActionItemStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("In progress")
    DONE = "done", _("Done")
    WONT_DO = "wont_do", _("Won't do")


# An action item still asks for work in these states; only these can be overdue.
ACTION_ITEM_PENDING = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)


class ActionItemKind(models.TextChoices):
    """What a follow-up does, in the seed runbook's words (steps 8 and 9)."""

    PREVENT = "prevent", _("Prevent recurrence (long-term fix)")
    DETECT = "detect", _("Detect sooner (monitoring and alerts)")
    MITIGATE = "mitigate", _("Recover faster (mitigation, rollback)")
    PROCESS = "process", _("Process and documentation")
    OTHER = "other", _("Other")
