"""On-call schedules: rotation layers and their participants, overrides, and each responder's settings."""

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from escalation import overrides
from escalation.admin.common import PermittedAutocompleteMixin, TimeZonePickerMixin
from escalation.models import LayerParticipant, OnCallSchedule, ResponderProfile, RotationLayer, ScheduleOverride


class RotationLayerInline(admin.TabularInline):
    model = RotationLayer
    fields = ("name", "position", "start_date", "handoff_time", "rotation_length")
    ordering = ("-position",)
    # The participants are edited on the layer's own page.
    show_change_link = True
    extra = 0


class ScheduleOverrideForm(forms.ModelForm):
    """Checked by the same rules the web UI's overrides are (`escalation.overrides`)."""

    class Meta:
        model = ScheduleOverride
        fields = ("user", "starts_at", "ends_at", "reason")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if self.cleaned_data.get("DELETE") or any(
            cleaned.get(name) is None for name in ("user", "starts_at", "ends_at")
        ):
            return cleaned
        try:
            overrides.clean_override(
                user=cleaned["user"],
                starts_at=cleaned["starts_at"],
                ends_at=cleaned["ends_at"],
                reason=cleaned.get("reason") or "",
                new=self.instance.pk is None,
            )
        except ValidationError as error:
            self.add_error(None, error)
        return cleaned


class ScheduleOverrideInline(PermittedAutocompleteMixin, admin.TabularInline):
    model = ScheduleOverride
    form = ScheduleOverrideForm
    fields = ("user", "starts_at", "ends_at", "reason")
    autocomplete_fields = ("user",)
    ordering = ("-starts_at",)
    extra = 0


@admin.register(OnCallSchedule)
class OnCallScheduleAdmin(TimeZonePickerMixin, PermittedAutocompleteMixin, SimpleHistoryAdmin):
    list_display = ("name", "team", "time_zone", "layer_count")
    list_filter = ("team",)
    list_select_related = ("team",)
    search_fields = ("name", "team__name")
    autocomplete_fields = ("team",)
    readonly_fields = ("feed_token",)
    inlines = (RotationLayerInline, ScheduleOverrideInline)

    def get_fields(self, request: HttpRequest, obj: OnCallSchedule | None = None) -> tuple[str, ...]:
        fields = ("team", "name", "time_zone")
        return (*fields, "feed_token") if obj is not None else fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OnCallSchedule]:
        queryset: QuerySet[OnCallSchedule] = super().get_queryset(request)
        return queryset.annotate(layer_total=Count("layers"))

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        """Overrides are written by their domain functions, like the web UI's; the other inlines as usual."""
        if formset.model is not ScheduleOverride:
            super().save_formset(request, form, formset, change)
            return
        formset.save(commit=False)
        for override in formset.deleted_objects:
            overrides.delete_override(override=override, actor=request.user)
        for override, changed in formset.changed_objects:
            fields = {name: getattr(override, name) for name in changed if name in overrides.OVERRIDE_FIELDS}
            overrides.change_override(override=override, actor=request.user, **fields)
        for override in formset.new_objects:
            overrides.create_override(
                schedule=form.instance,
                user=override.user,
                starts_at=override.starts_at,
                ends_at=override.ends_at,
                reason=override.reason,
                actor=request.user,
            )

    @admin.display(description=_("layers"), ordering="layer_total")
    def layer_count(self, obj: OnCallSchedule) -> int:
        return int(getattr(obj, "layer_total", 0))


class LayerParticipantInline(PermittedAutocompleteMixin, admin.TabularInline):
    model = LayerParticipant
    fields = ("position", "user")
    autocomplete_fields = ("user",)
    ordering = ("position",)
    extra = 0


@admin.register(RotationLayer)
class RotationLayerAdmin(PermittedAutocompleteMixin, SimpleHistoryAdmin):
    list_display = (
        "name",
        "schedule",
        "position",
        "start_date",
        "handoff_time",
        "rotation_length",
        "participant_count",
    )
    list_filter = ("schedule__team",)
    list_select_related = ("schedule__team",)
    search_fields = ("name", "schedule__name", "schedule__team__name")
    autocomplete_fields = ("schedule",)
    fields = ("schedule", "name", "position", "start_date", "handoff_time", "rotation_length")
    inlines = (LayerParticipantInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[RotationLayer]:
        queryset: QuerySet[RotationLayer] = super().get_queryset(request)
        return queryset.annotate(participant_total=Count("participants"))

    @admin.display(description=_("participants"), ordering="participant_total")
    def participant_count(self, obj: RotationLayer) -> int:
        return int(getattr(obj, "participant_total", 0))


@admin.register(ResponderProfile)
class ResponderProfileAdmin(TimeZonePickerMixin, PermittedAutocompleteMixin, admin.ModelAdmin):
    list_display = ("user", "time_zone")
    list_filter = ("time_zone",)
    list_select_related = ("user",)
    search_fields = ("user__username", "user__first_name", "user__last_name", "user__email")
    autocomplete_fields = ("user",)
    readonly_fields = ("feed_token",)

    def get_fields(self, request: HttpRequest, obj: ResponderProfile | None = None) -> tuple[str, ...]:
        fields = ("user", "time_zone")
        return (*fields, "feed_token") if obj is not None else fields
