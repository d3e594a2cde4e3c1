from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import BasePermission, DjangoModelPermissions, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from escalation import paging
from incidents import lifecycle, services
from incidents.api.filters import IncidentFilter
from incidents.api.serializers import (
    AlertSerializer,
    AttachmentSerializer,
    EscalateSerializer,
    IncidentCreateSerializer,
    IncidentSerializer,
    IncidentUpdateSerializer,
    NoteSerializer,
    NotificationSerializer,
    ServiceSerializer,
    TimelineEntrySerializer,
    TransitionSerializer,
)
from incidents.attachments import served_content_type
from incidents.choices import Source, Visibility
from incidents.models import Incident, Service
from incidents.selectors import incident_list, timeline_for
from itsm.pagination import CursorPagination


class CanViewIncidents(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm("incidents.view_incident"))


class ModelPermissionsWithView(DjangoModelPermissions):
    """Model permissions where reading needs the `view` permission too."""

    perms_map = {**DjangoModelPermissions.perms_map, "GET": ["%(app_label)s.view_%(model_name)s"]}


class TimelinePagination(CursorPagination):
    ordering = ("created_at", "id")  # type: ignore[assignment]


class AlertPagination(CursorPagination):
    ordering = ("first_seen_at", "id")  # type: ignore[assignment]


class NamePagination(CursorPagination):
    ordering = "name"


class IncidentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Incidents: list and create, read and update; state changes by transitions."""

    serializer_class = IncidentSerializer
    permission_classes = [IsAuthenticated, CanViewIncidents]
    filterset_class = IncidentFilter
    ordering_fields = ["created_at", "updated_at", "started_at", "priority", "state"]
    lookup_field = "number"
    lookup_value_regex = r"[A-Za-z]{3}-[0-9]+|[0-9]+"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Incident]:
        return incident_list()

    def get_object(self) -> Incident:
        pk = Incident.pk_from_number(self.kwargs["number"])
        incident = self.get_queryset().filter(pk=pk).first() if pk else None
        if incident is None:
            raise Http404
        self.check_object_permissions(self.request, incident)
        return incident

    def _read(self, incident: Incident, code: int = status.HTTP_200_OK) -> Response:
        fresh = incident_list().get(pk=incident.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    @extend_schema(request=IncidentCreateSerializer, responses={201: IncidentSerializer})
    def create(self, request: Request) -> Response:
        serializer = IncidentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        data.setdefault("source", Source.API)
        incident = services.report_incident(reporter=request.user, **data)
        return self._read(incident, status.HTTP_201_CREATED)

    @extend_schema(request=IncidentUpdateSerializer, responses={200: IncidentSerializer})
    def partial_update(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        serializer = IncidentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        people = {key: data.pop(key) for key in ("assignee", "commander", "team") if key in data}
        priority = data.pop("priority", None)
        reason = data.pop("priority_override_reason", "")
        duplicate_of = data.pop("duplicate_of", None)
        major = data.pop("major_incident", None)
        actor = request.user
        # One PATCH is one change: all of it commits, or none of it.
        with transaction.atomic():
            if data:
                incident = services.update_incident(incident=incident, actor=actor, changes=data)
            if priority is not None:
                incident = services.override_priority(incident=incident, actor=actor, priority=priority, reason=reason)
            if people:
                incident = services.assign_incident(incident=incident, actor=actor, **people)
            if major is not None:
                incident = services.link_to_major_incident(incident=incident, actor=actor, major=major)
            if duplicate_of is not None:
                incident = services.link_as_duplicate(incident=incident, actor=actor, original=duplicate_of)
        return self._read(incident)

    @extend_schema(
        request=TransitionSerializer,
        responses={200: IncidentSerializer},
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(lifecycle.TRANSITIONS))],
    )
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)")
    def transitions(self, request: Request, number: str, name: str) -> Response:
        if name not in lifecycle.TRANSITIONS:
            raise Http404
        incident = self.get_object()
        serializer = TransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = lifecycle.transition_incident(
            incident=incident, name=name, actor=request.user, **serializer.validated_data
        )
        return self._read(incident)

    @extend_schema(request=EscalateSerializer, responses={200: IncidentSerializer})
    @action(detail=True, methods=["post"])
    def escalate(self, request: Request, number: str) -> Response:
        """Forward the incident to the next support tier and page it."""
        incident = self.get_object()
        serializer = EscalateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = paging.escalate_incident(incident=incident, actor=request.user, **serializer.validated_data)
        return self._read(incident)

    @extend_schema(responses={200: NotificationSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=TimelinePagination, filterset_class=None)
    def notifications(self, request: Request, number: str) -> Response:
        """Pages and updates sent about the incident, with their delivery status."""
        incident = self.get_object()
        if not request.user.has_perm("incidents.add_internal_note"):
            raise PermissionDenied
        page = self.paginate_queryset(incident.notifications.select_related("user"))
        return self.get_paginated_response(NotificationSerializer(page, many=True).data)

    @extend_schema(responses={200: AlertSerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=AlertPagination, filterset_class=None)
    def alerts(self, request: Request, number: str) -> Response:
        """The monitoring alerts on the incident, oldest first (responders only)."""
        incident = self.get_object()
        if not request.user.has_perm("incidents.view_alert"):
            raise PermissionDenied
        page = self.paginate_queryset(incident.alerts.select_related("integration"))
        return self.get_paginated_response(AlertSerializer(page, many=True).data)

    @extend_schema(responses={200: TimelineEntrySerializer(many=True)})
    @action(detail=True, methods=["get"], pagination_class=TimelinePagination, filterset_class=None)
    def timeline(self, request: Request, number: str) -> Response:
        entries = timeline_for(incident=self.get_object(), viewer=request.user)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(TimelineEntrySerializer(page, many=True).data)

    @extend_schema(request=NoteSerializer, responses={201: TimelineEntrySerializer})
    @action(detail=True, methods=["post"])
    def notes(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        serializer = NoteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        if "visibility" not in data:
            staff = request.user.has_perm("incidents.add_internal_note")
            data["visibility"] = Visibility.INTERNAL if staff else Visibility.PUBLIC
        entry = services.add_note(incident=incident, actor=request.user, **data)
        return Response(TimelineEntrySerializer(entry).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    @action(detail=True, methods=["get"], url_path=r"attachments/(?P<attachment_id>[0-9]+)", pagination_class=None)
    def attachment_file(self, request: Request, number: str, attachment_id: str) -> FileResponse:
        """Download an attachment; only people who may read the incident get it."""
        attachment = self.get_object().attachments.filter(pk=int(attachment_id)).first()
        if attachment is None:
            raise Http404
        # Always a download, never rendered inline, labelled with our own type and never sniffed:
        # uploaded HTML or script must not run on our origin, whatever a browser makes of it.
        response = FileResponse(
            attachment.file.open("rb"),
            as_attachment=True,
            filename=attachment.name,
            content_type=served_content_type(attachment.content_type),
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["Content-Security-Policy"] = "default-src 'none'; sandbox"
        return response

    @extend_schema(methods=["get"], responses={200: AttachmentSerializer(many=True)})
    @extend_schema(
        methods=["post"], request={"multipart/form-data": AttachmentSerializer}, responses={201: AttachmentSerializer}
    )
    @action(
        detail=True,
        methods=["get", "post"],
        parser_classes=[MultiPartParser, FormParser],
        pagination_class=None,
        filterset_class=None,
    )
    def attachments(self, request: Request, number: str) -> Response:
        incident = self.get_object()
        context = self.get_serializer_context()
        if request.method == "GET":
            items = incident.attachments.select_related("uploaded_by")
            return Response(AttachmentSerializer(items, many=True, context=context).data)
        serializer = AttachmentSerializer(data=request.data, context=context)
        serializer.is_valid(raise_exception=True)
        attachment = services.add_attachment(
            incident=incident, actor=request.user, file=serializer.validated_data["file"]
        )
        return Response(AttachmentSerializer(attachment, context=context).data, status=status.HTTP_201_CREATED)


class ServiceViewSet(viewsets.ModelViewSet):
    queryset = Service.objects.select_related("owner_team")
    serializer_class = ServiceSerializer
    permission_classes = [IsAuthenticated, ModelPermissionsWithView]
    lookup_field = "slug"
    # Only what a SlugField holds reaches the database (a NUL in the URL is a 404, not a DataError).
    lookup_value_regex = r"[-a-zA-Z0-9_]+"
    filterset_fields = ["criticality", "customer_facing", "is_active"]
    ordering_fields = ["name", "created_at"]
    pagination_class = NamePagination
