"""The API of verification and stakeholder updates.

- `/api/v1/incidents/{number}/updates/`: GET the status updates (internal
  ones for agents and above only), POST one (`body`, `audience`).
- `/api/v1/incidents/{number}/recurrence/`: POST `reason`: the impact is back.
- `/api/v1/me/subscriptions/`: the services whose stakeholder updates I get
  by email; POST `service` to subscribe, DELETE `…/{id}/` to stop.

The views validate input and call `incidents.updates` and
`incidents.monitoring`; refusals become 400/403/409 in `itsm.api`.
"""

from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from incidents import monitoring, updates
from incidents.api.serializers import IncidentSerializer, StrictSerializer
from incidents.api.views import CanViewIncidents, TimelinePagination
from incidents.choices import UpdateAudience
from incidents.lifecycle import MAX_TEXT_LENGTH
from incidents.models import Incident, Service, StatusUpdate, UpdateSubscription
from incidents.selectors import incident_list
from itsm.pagination import CursorPagination


class StatusUpdateSerializer(serializers.ModelSerializer):
    author: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = StatusUpdate
        fields = ["id", "audience", "body", "state", "priority", "author", "created_at"]
        read_only_fields = fields


class NewStatusUpdateSerializer(StrictSerializer):
    body = serializers.CharField(max_length=MAX_TEXT_LENGTH)
    audience = serializers.ChoiceField(choices=UpdateAudience.choices)


class RecurrenceSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=MAX_TEXT_LENGTH)


class SubscriptionSerializer(serializers.ModelSerializer):
    service: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    address = serializers.SerializerMethodField()

    class Meta:
        model = UpdateSubscription
        fields = ["id", "service", "channel", "address", "is_active", "created_at"]
        read_only_fields = fields

    def get_address(self, subscription: UpdateSubscription) -> str:
        return subscription.address


class NewSubscriptionSerializer(StrictSerializer):
    service: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all()
    )


def _require(request: Request, permission: str) -> None:
    # Before the body is read: without the right the answer is 403, whatever was sent.
    if not request.user.has_perm(permission):
        raise PermissionDenied


def _incident(number: str) -> Incident:
    pk = Incident.pk_from_number(number)
    incident = incident_list().filter(pk=pk).first() if pk else None
    if incident is None:
        raise Http404
    return incident


class IncidentUpdatesView(generics.GenericAPIView):
    """The incident's status updates, oldest first; agents and above post them."""

    permission_classes = [IsAuthenticated, CanViewIncidents]
    pagination_class = TimelinePagination
    serializer_class = StatusUpdateSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[StatusUpdate]:
        return updates.updates_for(incident=_incident(self.kwargs["number"]), viewer=self.request.user)

    @extend_schema(responses={200: StatusUpdateSerializer(many=True)})
    def get(self, request: Request, number: str) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(StatusUpdateSerializer(page, many=True).data)

    @extend_schema(request=NewStatusUpdateSerializer, responses={201: StatusUpdateSerializer})
    def post(self, request: Request, number: str) -> Response:
        incident = _incident(number)
        _require(request, updates.POST_PERMISSION)
        serializer = NewStatusUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        update = updates.post_status_update(incident=incident, actor=request.user, **serializer.validated_data)
        return Response(StatusUpdateSerializer(update).data, status=status.HTTP_201_CREATED)


class IncidentRecurrenceView(generics.GenericAPIView):
    """The impact is back: reopen the mitigated (or resolved) incident and tell its responders."""

    permission_classes = [IsAuthenticated, CanViewIncidents]
    serializer_class = RecurrenceSerializer

    @extend_schema(request=RecurrenceSerializer, responses={200: IncidentSerializer})
    def post(self, request: Request, number: str) -> Response:
        incident = _incident(number)
        _require(request, "incidents.transition_incident")
        serializer = RecurrenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = monitoring.report_recurrence(
            incident=incident, actor=request.user, reason=serializer.validated_data["reason"]
        )
        fresh = incident_list().get(pk=incident.pk)
        return Response(IncidentSerializer(fresh, context=self.get_serializer_context()).data)


class IdPagination(CursorPagination):
    ordering = "id"


class MySubscriptionViewSet(
    mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """My subscriptions: the services whose stakeholder updates are emailed to me."""

    permission_classes = [IsAuthenticated]
    pagination_class = IdPagination
    serializer_class = SubscriptionSerializer
    filter_backends: list[Any] = []
    lookup_value_regex = "[0-9]+"

    def get_queryset(self) -> QuerySet[UpdateSubscription]:
        if getattr(self, "swagger_fake_view", False):
            return UpdateSubscription.objects.none()
        return updates.subscriptions_of(self.request.user)

    @extend_schema(request=NewSubscriptionSerializer, responses={201: SubscriptionSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = NewSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        me = cast(User, request.user)
        subscription = updates.subscribe(actor=me, service=serializer.validated_data["service"], user=me)
        return Response(SubscriptionSerializer(subscription).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        updates.unsubscribe(actor=request.user, subscription=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)
