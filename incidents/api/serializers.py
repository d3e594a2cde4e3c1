from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from escalation.models import Notification, Team
from escalation.sla import sla_summary
from incidents import monitoring, updates
from incidents.choices import OPEN_TASK_STATUSES, Category, EntryKind, Level, Priority, Source, Visibility
from incidents.lifecycle import MAX_TEXT_LENGTH, allowed_transitions
from incidents.models import Alert, Attachment, Incident, Service, TimelineEntry
from incidents.services import MEETING_LINK_LENGTH

User = get_user_model()


class StrictSerializer(serializers.Serializer):
    """Refuse keys the serializer does not know, instead of dropping them silently.

    A typo in an integration's payload should be an error it sees, not a
    change that never happened.
    """

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({key: [self.unknown_field_message(key)] for key in unknown})
        return super().to_internal_value(data)

    def unknown_field_message(self, key: str) -> str:
        if key == "state":
            return _("The state changes only through a transition: POST …/transitions/{name}/.")
        if key in self.fields:
            return _("This field is read-only.")
        return _("Unknown field.")


@extend_schema_field({"type": "string", "example": "INC-1042"})
class IncidentRefField(serializers.Field):
    """An incident named by its number, e.g. "INC-1042"."""

    default_error_messages = {
        # Lazy: worded when an error is raised, in the request's language, not once at import.
        "invalid": gettext_lazy("Give an incident number such as INC-1042."),
        "missing": gettext_lazy("No incident {number}."),
    }

    def to_representation(self, value: Any) -> str:
        return f"INC-{value.pk if isinstance(value, Incident) else value}"

    def to_internal_value(self, data: Any) -> Incident:
        pk = Incident.pk_from_number(data) if isinstance(data, str) else None
        if pk is None:
            self.fail("invalid")
        incident = Incident.objects.filter(pk=pk).first()
        if incident is None:
            self.fail("missing", number=data)
        return incident


def _user_field(**kwargs: Any) -> serializers.SlugRelatedField:
    return serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs)


class SlaClockSerializer(serializers.Serializer):
    """One SLA clock as the API shows it (for the schema; the values come from `sla_summary`)."""

    target_seconds = serializers.IntegerField()
    business_hours = serializers.BooleanField()
    state = serializers.ChoiceField(choices=["running", "paused", "met", "breached", "stopped"])
    due_at = serializers.DateTimeField(allow_null=True)
    warning_at = serializers.DateTimeField(allow_null=True)
    breached = serializers.BooleanField()
    breached_at = serializers.DateTimeField(allow_null=True)
    met_at = serializers.DateTimeField(allow_null=True)
    seconds_left = serializers.IntegerField(allow_null=True)


class SlaSerializer(serializers.Serializer):
    acknowledge = SlaClockSerializer(required=False)
    resolve = SlaClockSerializer(required=False)


class IncidentSerializer(serializers.ModelSerializer):
    """An incident as integrations and the UI read it."""

    number = serializers.CharField(read_only=True)
    services: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )
    # Null while nobody is assigned / no team owns it / the account is gone: the schema says so (allow_null).
    reporter: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    assignee: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    commander: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    team: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    # Empty strings until someone opens a room: plain text in the schema, not "uri".
    war_room_url = serializers.CharField(read_only=True)
    chat_channel_url = serializers.CharField(read_only=True)
    duplicate_of = serializers.SerializerMethodField()
    major_incident = serializers.SerializerMethodField()
    sla = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()
    open_tasks = serializers.SerializerMethodField()
    monitoring_ends_at = serializers.SerializerMethodField()
    ready_to_resolve_at = serializers.SerializerMethodField()
    next_update_due_at = serializers.SerializerMethodField()

    class Meta:
        model = Incident
        fields = [
            "number",
            "title",
            "description",
            "category",
            "source",
            "impact",
            "urgency",
            "priority",
            "priority_overridden",
            "priority_override_reason",
            "state",
            "services",
            "started_at",
            "detected_at",
            "created_at",
            "updated_at",
            "acknowledged_at",
            "mitigated_at",
            "resolved_at",
            "closed_at",
            "cancelled_at",
            "reporter",
            "assignee",
            "team",
            "commander",
            "affected_users",
            "support_tier",
            "diagnostics",
            "war_room_url",
            "chat_channel_url",
            "open_tasks",
            "mitigation",
            "root_cause",
            "resolution",
            "duplicate_of",
            "major_incident",
            "sla",
            "allowed_transitions",
            "monitoring_ends_at",
            "ready_to_resolve_at",
            "next_update_due_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_duplicate_of(self, incident: Incident) -> str | None:
        return f"INC-{incident.duplicate_of_id}" if incident.duplicate_of_id else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_major_incident(self, incident: Incident) -> str | None:
        return f"INC-{incident.major_incident_id}" if incident.major_incident_id else None

    @extend_schema_field(SlaSerializer)
    def get_sla(self, incident: Incident) -> dict[str, Any]:
        return sla_summary(list(incident.sla_clocks.all()))

    @extend_schema_field(serializers.IntegerField())
    def get_open_tasks(self, incident: Incident) -> int:
        """Open and in-progress investigation tasks; `selectors.incident_list` counts them in its query."""
        counted = getattr(incident, "open_tasks", None)
        if counted is None:
            counted = incident.tasks.filter(status__in=OPEN_TASK_STATUSES).count()
        return int(counted)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_transitions(self, incident: Incident) -> list[str]:
        request = self.context.get("request")
        if request is None:
            return []
        return allowed_transitions(incident=incident, user=request.user)

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_monitoring_ends_at(self, incident: Incident) -> Any:
        """When the monitoring period after mitigation ends; null when none is running."""
        return monitoring.monitoring_ends_at(list(incident.monitoring_periods.all()))

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_ready_to_resolve_at(self, incident: Incident) -> Any:
        """When the mitigated incident became ready to resolve (monitoring ended, nothing recurred)."""
        return monitoring.ready_to_resolve_at(incident, list(incident.monitoring_periods.all()))

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_next_update_due_at(self, incident: Incident) -> Any:
        """When the next status update is due by the priority's cadence (past: overdue); null when none is."""
        return updates.next_update_due_at(incident)


class IncidentCreateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    category = serializers.ChoiceField(choices=Category.choices, default=Category.OTHER)
    source = serializers.ChoiceField(choices=Source.choices, default=Source.API)  # type: ignore[assignment]
    impact = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    urgency = serializers.ChoiceField(choices=Level.choices, default=Level.MEDIUM)
    services: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Service.objects.filter(is_active=True), required=False
    )
    started_at = serializers.DateTimeField(required=False)
    detected_at = serializers.DateTimeField(required=False)
    affected_users = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1)
    diagnostics = serializers.CharField(required=False, allow_blank=True, max_length=1_000_000)
    team: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False
    )
    assignee = _user_field(required=False)
    commander = _user_field(required=False)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    priority_override_reason = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)


class IncidentUpdateSerializer(StrictSerializer):
    """The fields a PATCH may change. `state` is refused: transitions change it."""

    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    impact = serializers.ChoiceField(choices=Level.choices, required=False)
    urgency = serializers.ChoiceField(choices=Level.choices, required=False)
    services: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Service.objects.filter(is_active=True), required=False
    )
    started_at = serializers.DateTimeField(required=False)
    detected_at = serializers.DateTimeField(required=False)
    affected_users = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1)
    diagnostics = serializers.CharField(required=False, allow_blank=True, max_length=1_000_000)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    priority_override_reason = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    war_room_url = serializers.CharField(required=False, allow_blank=True, max_length=MEETING_LINK_LENGTH)
    chat_channel_url = serializers.CharField(required=False, allow_blank=True, max_length=MEETING_LINK_LENGTH)
    assignee = _user_field(required=False, allow_null=True)
    commander = _user_field(required=False, allow_null=True)
    team: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True
    )
    duplicate_of = IncidentRefField(required=False)
    major_incident = IncidentRefField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "priority" in attrs and not (attrs.get("priority_override_reason") or "").strip():
            raise serializers.ValidationError({"priority_override_reason": [_("Say why the priority is set by hand.")]})
        if "priority_override_reason" in attrs and "priority" not in attrs:
            raise serializers.ValidationError({"priority": [_("Give the priority this reason is for.")]})
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": [_("Nothing to change.")]})
        return attrs


class TransitionSerializer(StrictSerializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    root_cause = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    resolution = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)


class EscalateSerializer(StrictSerializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)


class NotificationSerializer(serializers.ModelSerializer):
    user: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Notification
        fields = [
            "id",
            "kind",
            "user",
            "channel",
            "address",
            "level",
            "status",
            "attempts",
            "last_error",
            "next_attempt_at",
            "sent_at",
            "created_at",
        ]
        read_only_fields = fields


class TimelineEntrySerializer(serializers.ModelSerializer):
    actor: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = TimelineEntry
        fields = ["id", "kind", "visibility", "body", "actor", "data", "created_at"]
        read_only_fields = fields


class NoteSerializer(StrictSerializer):
    body = serializers.CharField(max_length=MAX_TEXT_LENGTH)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    kind = serializers.ChoiceField(
        choices=[(EntryKind.NOTE, EntryKind.NOTE.label), (EntryKind.STATUS_UPDATE, EntryKind.STATUS_UPDATE.label)],
        default=EntryKind.NOTE,
    )


class AttachmentSerializer(serializers.ModelSerializer):
    uploaded_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    file = serializers.FileField(write_only=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = ["id", "name", "size", "content_type", "uploaded_by", "created_at", "file", "url"]
        read_only_fields = ["id", "name", "size", "content_type", "uploaded_by", "created_at", "url"]

    def get_url(self, attachment: Attachment) -> str:
        path = f"/api/v1/incidents/INC-{attachment.incident_id}/attachments/{attachment.pk}/"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class ServiceSerializer(serializers.ModelSerializer):
    owner_team = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Service
        fields = [
            "slug",
            "name",
            "description",
            "owner_team",
            "criticality",
            "customer_facing",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]


class AlertSerializer(serializers.ModelSerializer):
    """A monitoring alert on the incident, as its integration reported it."""

    integration: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="name", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "integration",
            "dedup_key",
            "status",
            "summary",
            "severity",
            "source",
            "labels",
            "annotations",
            "details",
            "links",
            "generator_url",
            "fired_at",
            "first_seen_at",
            "last_seen_at",
            "resolved_at",
            "event_count",
        ]
        read_only_fields = fields
