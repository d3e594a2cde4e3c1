"""How post-mortems, their timeline rows and their action items look in the API, and what a write may send."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.api.serializers import StrictSerializer
from incidents.choices import ActionItemKind, ActionItemStatus, Visibility
from incidents.lifecycle import MAX_TEXT_LENGTH
from incidents.models import ActionItem, PostMortem, PostMortemMoment, Service
from incidents.postmortems import TEXT_LIMIT, allowed_postmortem_transitions

User = get_user_model()


def _username_field(**kwargs: Any) -> serializers.SlugRelatedField[Any]:
    return serializers.SlugRelatedField(slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs)


def _username(**kwargs: Any) -> serializers.SlugRelatedField[Any]:
    # The people on a record are kept as null when their account goes; the schema says so.
    kwargs.setdefault("allow_null", True)
    return serializers.SlugRelatedField(slug_field="username", read_only=True, **kwargs)


class PostMortemSerializer(serializers.ModelSerializer):
    """A post-mortem as the API reads it."""

    incident = serializers.SerializerMethodField()
    incident_title = serializers.CharField(source="incident.title", read_only=True)
    author = _username()
    published_by = _username()
    affected_services: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, read_only=True
    )
    downtime_seconds = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta:
        model = PostMortem
        fields = [
            "incident",
            "incident_title",
            "status",
            "author",
            "summary",
            "downtime_started_at",
            "downtime_ended_at",
            "downtime_seconds",
            "affected_users",
            "affected_services",
            "root_cause",
            "contributing_factors",
            "what_went_well",
            "what_went_badly",
            "lessons",
            "submitted_at",
            "published_at",
            "published_by",
            "created_at",
            "updated_at",
            "allowed_transitions",
        ]
        read_only_fields = fields

    def get_incident(self, postmortem: PostMortem) -> str:
        return f"INC-{postmortem.incident_id}"

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_downtime_seconds(self, postmortem: PostMortem) -> int | None:
        downtime = postmortem.downtime
        return int(downtime.total_seconds()) if downtime is not None else None

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_transitions(self, postmortem: PostMortem) -> list[str]:
        request = self.context.get("request")
        if request is None:
            return []
        return allowed_postmortem_transitions(postmortem=postmortem, user=request.user)


class PostMortemListSerializer(PostMortemSerializer):
    """A post-mortem in the cross-incident list (the knowledge base): no per-user transitions."""

    class Meta(PostMortemSerializer.Meta):
        fields = [name for name in PostMortemSerializer.Meta.fields if name != "allowed_transitions"]
        read_only_fields = fields


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, max_length=TEXT_LIMIT, **kwargs)


class PostMortemWriteSerializer(StrictSerializer):
    """What PUT (every field; the ones left out are emptied) and PATCH (only those sent) change."""

    summary = _text()
    downtime_started_at = serializers.DateTimeField(required=False, allow_null=True)
    downtime_ended_at = serializers.DateTimeField(required=False, allow_null=True)
    affected_users = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**31 - 1)
    affected_services: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", many=True, queryset=Service.objects.all(), required=False
    )
    root_cause = _text()
    contributing_factors = _text()
    what_went_well = _text()
    what_went_badly = _text()
    lessons = _text()
    author = _username_field(required=False)

    def unknown_field_message(self, key: str) -> str:
        if key == "status":
            return _("The status changes only through …/postmortem/submit/, publish/, return-to-draft/ or reopen/.")
        return super().unknown_field_message(key)


# What PUT gives the fields it was not sent.
PUT_EMPTY: dict[str, Any] = {
    "summary": "",
    "downtime_started_at": None,
    "downtime_ended_at": None,
    "affected_users": None,
    "affected_services": [],
    "root_cause": "",
    "contributing_factors": "",
    "what_went_well": "",
    "what_went_badly": "",
    "lessons": "",
}


class PostMortemTransitionSerializer(StrictSerializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)


class PostMortemReopenSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=MAX_TEXT_LENGTH)


class MomentSerializer(serializers.ModelSerializer):
    """One row of the post-mortem's timeline; `generated` rows are rebuilt by regenerate."""

    actor = _username()
    generated = serializers.BooleanField(source="is_generated", read_only=True)

    class Meta:
        model = PostMortemMoment
        fields = [
            "id",
            "occurred_at",
            "actor",
            "body",
            "visibility",
            "is_key_moment",
            "generated",
            "source",
            "kind",
            "source_entry",
            "updated_at",
        ]
        read_only_fields = fields


class MomentCreateSerializer(StrictSerializer):
    occurred_at = serializers.DateTimeField()
    body = serializers.CharField(max_length=MAX_TEXT_LENGTH)
    visibility = serializers.ChoiceField(choices=Visibility.choices, default=Visibility.INTERNAL)
    is_key_moment = serializers.BooleanField(default=False)
    actor = _username_field(required=False, allow_null=True, help_text="Who acted in this moment.")


class MomentUpdateSerializer(StrictSerializer):
    occurred_at = serializers.DateTimeField(required=False)
    body = serializers.CharField(required=False, max_length=MAX_TEXT_LENGTH)
    visibility = serializers.ChoiceField(choices=Visibility.choices, required=False)
    is_key_moment = serializers.BooleanField(required=False)
    actor = _username_field(required=False, allow_null=True, help_text="Who acted in this moment.")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": [_("Nothing to change.")]})
        return attrs


class ActionItemSerializer(serializers.ModelSerializer):
    incident = serializers.SerializerMethodField()
    incident_title = serializers.CharField(source="incident.title", read_only=True)
    owner = _username()
    created_by = _username()
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = ActionItem
        fields = [
            "id",
            "incident",
            "incident_title",
            "title",
            "description",
            "kind",
            "owner",
            "due_date",
            "status",
            "overdue",
            "resolution_note",
            "created_by",
            "created_at",
            "updated_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_incident(self, item: ActionItem) -> str:
        return f"INC-{item.incident_id}"

    def get_overdue(self, item: ActionItem) -> bool:
        return item.is_overdue()


class ActionItemCreateSerializer(StrictSerializer):
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    kind = serializers.ChoiceField(choices=ActionItemKind.choices, default=ActionItemKind.PREVENT)
    owner = _username_field(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN)
    resolution_note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)


class ActionItemUpdateSerializer(StrictSerializer):
    title = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)
    kind = serializers.ChoiceField(choices=ActionItemKind.choices, required=False)
    owner = _username_field(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=ActionItemStatus.choices, required=False)
    resolution_note = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT_LENGTH)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if not attrs:
            raise serializers.ValidationError({"non_field_errors": [_("Nothing to change.")]})
        return attrs
