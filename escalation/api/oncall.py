"""Who is on call, over the API."""

import datetime as dt
from typing import Any

from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escalation.models import OnCallSchedule
from escalation.oncall import MAX_WINDOW, oncall_now, shifts

DEFAULT_SHIFTS_WINDOW = dt.timedelta(days=14)
# Far enough for any real question; keeps the zone arithmetic away from the calendar's ends.
FARTHEST = dt.timedelta(days=100 * 365)


class CanViewTeams(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm("escalation.view_team"))


def _within_reach(value: dt.datetime) -> None:
    if abs(value - timezone.now()) > FARTHEST:
        raise serializers.ValidationError(_("Must be within 100 years of now."))


class OnCallQuerySerializer(serializers.Serializer):
    at = serializers.DateTimeField(
        required=False,
        default_timezone=dt.UTC,
        validators=[_within_reach],
        help_text="ISO 8601 moment to ask about (without an offset: UTC); default now.",
    )
    team = serializers.SlugField(required=False, help_text="Only this team's schedules.")


class OnCallSerializer(serializers.Serializer):
    team = serializers.SlugField(source="team.slug")
    schedule = serializers.CharField(source="schedule.name")
    user = serializers.CharField(source="user.username", allow_null=True, help_text="Nobody on call: null.")
    until = serializers.DateTimeField(
        source="ends_at",
        allow_null=True,
        default_timezone=dt.UTC,
        help_text="When this person's shift ends; null if nobody is on call or no end within a year.",
    )


class ShiftsQuerySerializer(serializers.Serializer):
    start = serializers.DateTimeField(
        required=False, default_timezone=dt.UTC, validators=[_within_reach], help_text="Default now."
    )
    end = serializers.DateTimeField(
        required=False, default_timezone=dt.UTC, validators=[_within_reach], help_text="Default start + 14 days."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start = attrs.get("start") or timezone.now()
        end = attrs.get("end") or start + DEFAULT_SHIFTS_WINDOW
        if end <= start:
            raise serializers.ValidationError({"end": "Must be after start."})
        if end - start > MAX_WINDOW:
            raise serializers.ValidationError({"end": f"At most {MAX_WINDOW.days} days after start."})
        return {"start": start, "end": end}


class OnCallShiftSerializer(serializers.Serializer):
    user = serializers.CharField(source="user.username")
    name = serializers.SerializerMethodField()
    starts_at = serializers.DateTimeField(default_timezone=dt.UTC)
    ends_at = serializers.DateTimeField(default_timezone=dt.UTC)

    def get_name(self, shift: Any) -> str:
        return str(shift.user.get_full_name() or shift.user.username)


class OnCallNowView(APIView):
    """Who each team's schedules put on call now, or at `at`."""

    permission_classes = [IsAuthenticated, CanViewTeams]

    @extend_schema(
        operation_id="oncall_now",
        tags=["oncall"],
        parameters=[OnCallQuerySerializer],
        responses={200: OnCallSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        query = OnCallQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or timezone.now()
        entries = oncall_now(at=at, team_slug=query.validated_data.get("team"))
        return Response(OnCallSerializer(entries, many=True).data)


class ScheduleShiftsView(APIView):
    """A schedule's final on-call timeline between `start` and `end` (at most 366 days)."""

    permission_classes = [IsAuthenticated, CanViewTeams]

    @extend_schema(
        operation_id="oncall_schedule_shifts",
        tags=["oncall"],
        parameters=[ShiftsQuerySerializer],
        responses={200: OnCallShiftSerializer(many=True)},
    )
    def get(self, request: Request, pk: int) -> Response:
        schedule = get_object_or_404(OnCallSchedule, pk=pk)
        query = ShiftsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        found = shifts(schedule=schedule, start=query.validated_data["start"], end=query.validated_data["end"])
        return Response(OnCallShiftSerializer(found, many=True).data)
