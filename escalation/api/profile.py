"""A person's own paging settings: how to reach them, and when.

Everyone manages only their own contact methods and notification rules; the
objects of other people do not exist for them (404, not 403).
"""

from typing import Any, cast

from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from escalation.models import Channel, ContactMethod, NotificationRule
from escalation.models.notifications import new_signing_secret
from itsm.pagination import CursorPagination


class ContactMethodSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactMethod
        fields = ["id", "channel", "address", "label", "is_active"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        channel = attrs.get("channel", getattr(self.instance, "channel", None))
        address = attrs.get("address", getattr(self.instance, "address", ""))
        if channel == Channel.EMAIL:
            try:
                serializers.EmailField().run_validation(address)
            except serializers.ValidationError as error:
                raise serializers.ValidationError({"address": error.detail}) from None
        elif not address.startswith(("https://", "http://")):
            raise serializers.ValidationError({"address": [_("Give the webhook's http(s) URL.")]})
        return attrs


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
        if method.user_id != self.context["request"].user.pk:
            raise serializers.ValidationError(_("Use one of your own contact methods."))
        return method

    def validate_delay(self, delay: Any) -> Any:
        if delay.total_seconds() < 0 or delay.total_seconds() > 24 * 3600:
            raise serializers.ValidationError(_("Between 0 and 24 hours."))
        return delay


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
        return ContactMethod.objects.filter(user=_me(self.request))

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return NewContactMethodSerializer if self.action == "create" else ContactMethodSerializer

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.save(user=self.request.user)

    @extend_schema(request=None, responses={200: NewContactMethodSerializer})
    @action(detail=True, methods=["post"])
    def rotate_secret(self, request: Request, pk: str) -> Response:
        """Issue a new signing secret; the old one stops verifying at once."""
        method = self.get_object()
        with transaction.atomic():
            method.secret = new_signing_secret()
            method.save(update_fields=["secret"])
        return Response(NewContactMethodSerializer(method).data, status=status.HTTP_200_OK)


class MyNotificationRuleViewSet(viewsets.ModelViewSet):
    """My notification rules: which contact method to use after how long when I am paged."""

    serializer_class = NotificationRuleSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = IdPagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> QuerySet[NotificationRule]:
        return NotificationRule.objects.filter(user=_me(self.request))

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        serializer.save(user=self.request.user)
