"""On-call schedules: rotation layers and their participants, overrides, and each responder's settings."""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from escalation.admin.common import PermittedAutocompleteMixin, TimeZonePickerMixin
from escalation.models import LayerParticipant, OnCallSchedule, ResponderProfile, RotationLayer, ScheduleOverride


class RotationLayerInline(admin.TabularInline):
    model = RotationLayer
    fields = ("name", "position", "start_date", "handoff_time", "rotation_length")
    ordering = ("-position",)
    # The participants are edited on the layer's own page.
    show_change_link = True
    extra = 0


class ScheduleOverrideInline(PermittedAutocompleteMixin, admin.TabularInline):
    model = ScheduleOverride
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
