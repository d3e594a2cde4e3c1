"""A person's own paging settings: how to reach them, and when.

Everyone manages only their own contact methods and notification rules; the
objects of other people do not exist for them (404, not 403).
"""

from typing import Any, cast

from django.contrib.auth.models import User
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from escalation import contacts
from escalation.models import ContactMethod, NotificationRule
from itsm.pagination import CursorPagination


class ContactMethodSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactMethod
        fields = ["id", "channel", "address", "label", "is_active"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel = attrs.get("channel", getattr(self.instance, "channel", None))
        address = attrs.get("address", getattr(self.instance, "address", ""))
        if problem := contacts.address_problem(channel=str(channel), address=address):
            raise serializers.ValidationError({"address": [problem]})
        return attrs

    def create(self, validated_data: dict[str, Any]) -> ContactMethod:
        return contacts.add_contact_method(actor=self.context["request"].user, **validated_data)

    def update(self, instance: ContactMethod, validated_data: dict[str, Any]) -> ContactMethod:
        return contacts.change_contact_method(method=instance, actor=self.context["request"].user, **validated_data)


class NewContactMethodSerializer(ContactMethodSerializer):
    """On creation (and rotation) only: the secret that signs this method's webhooks."""

    class Meta(ContactMethodSerializer.Meta):
        fields = [*ContactMethodSerializer.Meta.fields, "secret"]
        read_only_fields = ["secret"]


class NotificationRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationRule
        fields = ["id", "contact_method", "delay", "high_priority_only"]

    def validate_contact_method(self, method: ContactMethod) -> ContactMethod:
        if problem := contacts.contact_method_problem(user=self.context["request"].user, method=method):
            raise serializers.ValidationError(problem)
        return method

    def validate_delay(self, delay: Any) -> Any:
        if problem := contacts.delay_problem(delay):
            raise serializers.ValidationError(problem)
        return delay

    def create(self, validated_data: dict[str, Any]) -> NotificationRule:
        return contacts.add_notification_rule(actor=self.context["request"].user, **validated_data)

    def update(self, instance: NotificationRule, validated_data: dict[str, Any]) -> NotificationRule:
        return contacts.change_notification_rule(rule=instance, actor=self.context["request"].user, **validated_data)


def _me(request: Request) -> User:
    # IsAuthenticated has already turned anonymous requests away.
    return cast(User, request.user)


class IdPagination(CursorPagination):
    ordering = "id"


class MyContactMethodViewSet(viewsets.ModelViewSet):
    """My contact methods: email addresses and webhook URLs pages are sent to."""

    permission_classes = [IsAuthenticated]
    pagination_class = IdPagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[ContactMethod]:
        if getattr(self, "swagger_fake_view", False):  # the schema generator has no user
            return ContactMethod.objects.none()
        return ContactMethod.objects.filter(user=_me(self.request))

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return NewContactMethodSerializer if self.action == "create" else ContactMethodSerializer

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.save(user=self.request.user)

    def perform_destroy(self, instance: ContactMethod) -> None:
        contacts.remove_contact_method(method=instance, actor=self.request.user)

    @extend_schema(request=None, responses={200: NewContactMethodSerializer})
    @action(detail=True, methods=["post"])
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """Issue a new signing secret; the old one stops verifying at once."""
        method = contacts.rotate_contact_secret(method=self.get_object(), actor=request.user)
        return Response(NewContactMethodSerializer(method).data, status=status.HTTP_200_OK)


class MyNotificationRuleViewSet(viewsets.ModelViewSet):
    """My notification rules: which contact method to use after how long when I am paged."""

    serializer_class = NotificationRuleSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = IdPagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[NotificationRule]:
        if getattr(self, "swagger_fake_view", False):
            return NotificationRule.objects.none()
        return NotificationRule.objects.filter(user=_me(self.request))

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.save(user=self.request.user)

    def perform_destroy(self, instance: NotificationRule) -> None:
        contacts.remove_notification_rule(rule=instance, actor=self.request.user)
