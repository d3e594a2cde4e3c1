"""How the API shows and takes the response team, investigation tasks and the fix plan."""

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import serializers

from escalation.models import Team
from incidents.api.serializers import NotificationSerializer, StrictSerializer, _user_field
from incidents.choices import FixKind, ImplementationOutcome, ResponseRoleKind, RiskRating, TaskStatus
from incidents.lifecycle import MAX_TEXT_LENGTH
from incidents.models import Implementation, InvestigationTask, ResponseRole, SolutionOption
from incidents.response import EXPERTISE_LENGTH


def _username(**kwargs: Any) -> serializers.SlugRelatedField:
    # The people on a record are kept as null when their account goes; the schema says so.
    kwargs.setdefault("allow_null", True)
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(allow_blank=True, max_length=MAX_TEXT_LENGTH, **kwargs)


# --- The response team -----------------------------------------------------------


class ResponseRoleSerializer(serializers.ModelSerializer):
    user = _username(allow_null=False)
    added_by = _username()
    ended_by = _username()
    active = serializers.BooleanField(source="is_active", read_only=True)

    class Meta:
        model = ResponseRole
        fields = [
            "id",
            "user",
            "role",
            "expertise",
            "added_by",
            "added_at",
            "paged_at",
            "ended_by",
            "ended_at",
            "active",
        ]
        read_only_fields = fields


class ResponseRoleCreateSerializer(StrictSerializer):
    user = _user_field()
    role = serializers.ChoiceField(choices=ResponseRoleKind.choices)
    expertise = serializers.CharField(required=False, allow_blank=True, max_length=EXPERTISE_LENGTH)


class PageResponderSerializer(StrictSerializer):
    """Page a team's on-call person or a named person into the team."""

    team: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", queryset=Team.objects.all(), required=False
    )
    user = _user_field(required=False)
    expertise = serializers.CharField(required=False, allow_blank=True, max_length=EXPERTISE_LENGTH)
    message = serializers.CharField(max_length=MAX_TEXT_LENGTH)
    role = serializers.ChoiceField(choices=ResponseRoleKind.choices, default=ResponseRoleKind.SUBJECT_MATTER_EXPERT)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("team" in attrs) == ("user" in attrs):
            raise serializers.ValidationError({"non_field_errors": [_("Page either a team or a person.")]})
        return attrs


class PagedResponderSerializer(serializers.Serializer):
    role = ResponseRoleSerializer()
    notifications = NotificationSerializer(many=True)


# --- Investigation tasks ----------------------------------------------------------


class InvestigationTaskSerializer(serializers.ModelSerializer):
    owner = _username()
    created_by = _username()
    completed_by = _username()

    class Meta:
        model = InvestigationTask
        fields = [
            "id",
            "title",
            "description",
            "owner",
            "expertise",
            "status",
            "due_at",
            "created_by",
            "created_at",
            "updated_at",
            "completed_by",
            "completed_at",
        ]
        read_only_fields = fields


class TaskWriteSerializer(StrictSerializer):
    """A new task (title required) or, with `partial`, the changes to one."""

    title = serializers.CharField(max_length=200)
    description = _text(required=False)
    owner = _user_field(required=False, allow_null=True)
    expertise = serializers.CharField(required=False, allow_blank=True, max_length=EXPERTISE_LENGTH)
    status = serializers.ChoiceField(choices=TaskStatus.choices, required=False)
    due_at = serializers.DateTimeField(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.partial and not attrs:
            raise serializers.ValidationError({"non_field_errors": [_("Nothing to change.")]})
        return attrs


# --- The fix plan ---------------------------------------------------------------


class SolutionOptionSerializer(serializers.ModelSerializer):
    chosen = serializers.BooleanField(source="is_chosen", read_only=True)
    chosen_by = _username()
    created_by = _username()

    class Meta:
        model = SolutionOption
        fields = [
            "id",
            "title",
            "kind",
            "risk",
            "description",
            "notes",
            "rollback_plan",
            "chosen",
            "chosen_by",
            "chosen_at",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OptionWriteSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=FixKind.choices)
    risk = serializers.ChoiceField(choices=RiskRating.choices)
    description = _text(required=False)
    notes = _text(required=False)
    rollback_plan = _text(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.partial and not attrs:
            raise serializers.ValidationError({"non_field_errors": [_("Nothing to change.")]})
        return attrs


class ImplementationSerializer(serializers.ModelSerializer):
    option: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(read_only=True)
    executed_by = _username()
    supervised_by = _username()
    recorded_by = _username()

    class Meta:
        model = Implementation
        fields = [
            "id",
            "option",
            "window_start",
            "window_end",
            "communicated_to",
            "executed_by",
            "supervised_by",
            "executed_at",
            "outcome",
            "outcome_notes",
            "rolled_back",
            "recorded_by",
            "created_at",
        ]
        read_only_fields = fields


class ImplementationWriteSerializer(StrictSerializer):
    option = serializers.IntegerField(min_value=1)
    window_start = serializers.DateTimeField()
    window_end = serializers.DateTimeField()
    communicated_to = _text(required=False)
    executed_by = _user_field(required=False, allow_null=True)
    supervised_by = _user_field(required=False, allow_null=True)
    executed_at = serializers.DateTimeField(required=False)
    outcome = serializers.ChoiceField(choices=ImplementationOutcome.choices)
    outcome_notes = _text(required=False)
    rolled_back = serializers.BooleanField(required=False, allow_null=True, default=None)


class FixPlanSerializer(serializers.Serializer):
    """The incident's fix plan: its options, the chosen one's id, and the implementation records."""

    options = SolutionOptionSerializer(many=True)
    chosen = serializers.IntegerField(allow_null=True)
    implementations = ImplementationSerializer(many=True)
