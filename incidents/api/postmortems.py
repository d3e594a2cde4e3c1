"""The post-mortem API: an incident's post-mortem, its timeline and action items, and the lists across incidents.

Who may do what is decided by the domain functions and the selectors
(`incidents.postmortems`, `incidents.action_items`, `incidents.postmortem_selectors`):
reporters read published post-mortems, agents write them and submit them for
review, incident managers publish and reopen them. A post-mortem someone may
not read answers 404, as if it did not exist.
"""

from typing import Any

import django_filters
from django.db.models import F, QuerySet
from django.http import Http404, HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import PermissionDenied
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import action_items, postmortem_timeline, postmortems
from incidents.api.postmortem_serializers import (
    PUT_EMPTY,
    ActionItemCreateSerializer,
    ActionItemSerializer,
    ActionItemUpdateSerializer,
    MomentCreateSerializer,
    MomentSerializer,
    MomentUpdateSerializer,
    PostMortemListSerializer,
    PostMortemReopenSerializer,
    PostMortemSerializer,
    PostMortemTransitionSerializer,
    PostMortemWriteSerializer,
)
from incidents.choices import ActionItemKind, ActionItemStatus, PostMortemStatus
from incidents.models import ActionItem, Incident, PostMortem, PostMortemMoment
from incidents.postmortem_markdown import markdown_filename, postmortem_markdown
from incidents.postmortem_selectors import (
    action_item_list,
    moments_for,
    overdue_condition,
    postmortem_for,
    postmortem_list,
    search_postmortems,
)


class PagePagination(PageNumberPagination):
    """Numbered pages: these lists are ordered by relevance or by dates that may be empty."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class NullsLastOrderingFilter(OrderingFilter):
    """`?ordering=` where empty dates (no due date, not published) come last either way, on every database."""

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: APIView) -> QuerySet[Any]:
        ordering = self.get_ordering(request, queryset, view)
        if not ordering:
            return queryset
        terms = [
            F(term[1:]).desc(nulls_last=True) if term.startswith("-") else F(term).asc(nulls_last=True)
            for term in ordering
        ]
        return queryset.order_by(*terms, "id")


class CanReadPostMortems(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.has_perm("incidents.view_incident") and user.has_perm("incidents.view_postmortem"))


class CanReadActionItems(BasePermission):
    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.has_perm("incidents.view_actionitem"))


# --- An incident's post-mortem ------------------------------------------------


class IncidentPostMortemMixin(APIView):
    """Finds the incident named in the URL (`INC-12`) and the post-mortem the user may read."""

    permission_classes = [IsAuthenticated, CanReadPostMortems]

    def get_incident(self) -> Incident:
        pk = Incident.pk_from_number(self.kwargs["number"])
        incident = Incident.objects.filter(pk=pk).first() if pk else None
        if incident is None:
            raise Http404
        return incident

    def get_postmortem(self) -> PostMortem:
        postmortem = postmortem_for(incident=self.get_incident(), viewer=self.request.user)
        if postmortem is None:
            raise Http404
        return postmortem

    def read(self, postmortem: PostMortem, code: int = status.HTTP_200_OK) -> Response:
        fresh = postmortem_for(incident=postmortem.incident, viewer=self.request.user)
        return Response(PostMortemSerializer(fresh, context={"request": self.request}).data, status=code)


class PostMortemView(IncidentPostMortemMixin):
    @extend_schema(responses={200: PostMortemSerializer}, operation_id="incidents_postmortem_retrieve")
    def get(self, request: Request, number: str) -> Response:
        return self.read(self.get_postmortem())

    @extend_schema(
        request=PostMortemWriteSerializer,
        responses={200: PostMortemSerializer, 201: PostMortemSerializer},
        operation_id="incidents_postmortem_update",
    )
    def put(self, request: Request, number: str) -> Response:
        """Replace the post-mortem's fields (those left out are emptied); the first write creates it."""
        return self._write(request, replace=True)

    @extend_schema(
        request=PostMortemWriteSerializer,
        responses={200: PostMortemSerializer, 201: PostMortemSerializer},
        operation_id="incidents_postmortem_partial_update",
    )
    def patch(self, request: Request, number: str) -> Response:
        """Change the fields sent; the first write creates the post-mortem with the incident's facts."""
        return self._write(request, replace=False)

    def _write(self, request: Request, *, replace: bool) -> Response:
        incident = self.get_incident()
        serializer = PostMortemWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        changes = {**PUT_EMPTY, **serializer.validated_data} if replace else dict(serializer.validated_data)
        existed = PostMortem.objects.filter(incident=incident).exists()
        postmortem = postmortems.write_postmortem(incident=incident, actor=request.user, changes=changes)
        return self.read(postmortem, status.HTTP_200_OK if existed else status.HTTP_201_CREATED)


class PostMortemTransitionView(IncidentPostMortemMixin):
    """Moves the post-mortem; the URL names the transition (`submit`, `return-to-draft`, `publish`)."""

    transition = "submit"

    @extend_schema(request=PostMortemTransitionSerializer, responses={200: PostMortemSerializer})
    def post(self, request: Request, number: str) -> Response:
        serializer = PostMortemTransitionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        postmortem = postmortems.transition_postmortem(
            postmortem=self.get_postmortem(),
            name=self.transition,
            actor=request.user,
            note=serializer.validated_data.get("note", ""),
        )
        return self.read(postmortem)


class PostMortemReopenView(IncidentPostMortemMixin):
    @extend_schema(request=PostMortemReopenSerializer, responses={200: PostMortemSerializer})
    def post(self, request: Request, number: str) -> Response:
        """Published → draft (incident managers), with the reason."""
        # The post-mortem, then the right: a 404 or a 403 whatever the body holds.
        postmortem = self.get_postmortem()
        if not request.user.has_perm("incidents.reopen_postmortem"):
            raise PermissionDenied
        serializer = PostMortemReopenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        postmortem = postmortems.reopen_postmortem(
            postmortem=postmortem, actor=request.user, reason=serializer.validated_data["reason"]
        )
        return self.read(postmortem)


class PostMortemMarkdownView(IncidentPostMortemMixin):
    @extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR})
    def get(self, request: Request, number: str) -> HttpResponse:
        """The whole post-mortem as a Markdown file."""
        postmortem = self.get_postmortem()
        response = HttpResponse(
            postmortem_markdown(postmortem=postmortem, viewer=request.user), content_type="text/markdown; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{markdown_filename(postmortem)}"'
        return response


# --- Its timeline ---------------------------------------------------------------


class PostMortemTimelineView(IncidentPostMortemMixin):
    @extend_schema(responses={200: MomentSerializer(many=True)}, operation_id="incidents_postmortem_timeline_list")
    def get(self, request: Request, number: str) -> Response:
        """The post-mortem's timeline, in order of time (internal rows for responders only)."""
        paginator = PagePagination()
        moments = moments_for(postmortem=self.get_postmortem(), viewer=request.user)
        page = paginator.paginate_queryset(moments, request, view=self)
        return paginator.get_paginated_response(MomentSerializer(page, many=True).data)

    @extend_schema(request=MomentCreateSerializer, responses={201: MomentSerializer})
    def post(self, request: Request, number: str) -> Response:
        """Add a moment of the author's own (kept when the timeline is regenerated)."""
        serializer = MomentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        moment = postmortem_timeline.add_moment(
            postmortem=self.get_postmortem(), actor=request.user, by=data.pop("actor", None), **data
        )
        return Response(MomentSerializer(moment).data, status=status.HTTP_201_CREATED)


class PostMortemMomentView(IncidentPostMortemMixin):
    def get_moment(self) -> PostMortemMoment:
        moment = self.get_postmortem().moments.filter(pk=self.kwargs["moment_id"]).first()
        if moment is None:
            raise Http404
        return moment

    @extend_schema(request=MomentUpdateSerializer, responses={200: MomentSerializer})
    def patch(self, request: Request, number: str, moment_id: int) -> Response:
        """Change a row's text or time, who acted, its visibility, or mark it a key moment."""
        moment = self.get_moment()
        serializer = MomentUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        moment = postmortem_timeline.update_moment(
            moment=moment, actor=request.user, changes=dict(serializer.validated_data)
        )
        return Response(MomentSerializer(moment).data)

    @extend_schema(responses={204: OpenApiResponse(description="Removed.")})
    def delete(self, request: Request, number: str, moment_id: int) -> Response:
        """Remove a row (a generated one comes back when the timeline is regenerated)."""
        postmortem_timeline.remove_moment(moment=self.get_moment(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PostMortemRegenerateView(IncidentPostMortemMixin):
    @extend_schema(request=None, responses={200: MomentSerializer(many=True)})
    def post(self, request: Request, number: str) -> Response:
        """Rebuild the generated rows from the incident; the author's rows and key marks stay."""
        postmortem = postmortem_timeline.regenerate_timeline(postmortem=self.get_postmortem(), actor=request.user)
        moments = moments_for(postmortem=postmortem, viewer=request.user)
        return Response(MomentSerializer(moments, many=True).data)


# --- Its action items ------------------------------------------------------------


class PostMortemActionItemsView(IncidentPostMortemMixin):
    @extend_schema(
        responses={200: ActionItemSerializer(many=True)}, operation_id="incidents_postmortem_action_items_list"
    )
    def get(self, request: Request, number: str) -> Response:
        paginator = PagePagination()
        items = action_item_list().filter(postmortem=self.get_postmortem()).order_by("created_at", "id")
        page = paginator.paginate_queryset(items, request, view=self)
        return paginator.get_paginated_response(ActionItemSerializer(page, many=True).data)

    @extend_schema(request=ActionItemCreateSerializer, responses={201: ActionItemSerializer})
    def post(self, request: Request, number: str) -> Response:
        """Add a follow-up; it outlives the incident."""
        postmortem = self.get_postmortem()
        serializer = ActionItemCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = action_items.add_action_item(postmortem=postmortem, actor=request.user, **serializer.validated_data)
        return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)


# --- Across incidents ---------------------------------------------------------------


class ActionItemFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=ActionItemStatus.choices)
    kind = django_filters.MultipleChoiceFilter(choices=ActionItemKind.choices)
    owner = django_filters.CharFilter(method="filter_owner", help_text="A username, or 'none' for no owner.")
    mine = django_filters.BooleanFilter(method="filter_mine", help_text="Only (or all but) the items I own.")
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", help_text="Open or in progress after the due date (or the others)."
    )
    incident = django_filters.CharFilter(method="filter_incident", help_text="An incident number such as INC-12.")
    due_before = django_filters.DateFilter(field_name="due_date", lookup_expr="lt")
    due_after = django_filters.DateFilter(field_name="due_date", lookup_expr="gte")

    class Meta:
        model = ActionItem
        fields = ["status", "kind", "owner", "mine", "overdue", "incident", "due_before", "due_after"]

    def filter_owner(self, queryset: QuerySet[ActionItem], name: str, value: str) -> QuerySet[ActionItem]:
        if value.lower() == "none":
            return queryset.filter(owner__isnull=True)
        return queryset.filter(owner__username=value)

    def filter_mine(self, queryset: QuerySet[ActionItem], name: str, value: bool) -> QuerySet[ActionItem]:
        user = self.request.user if self.request is not None else None
        if user is None or not user.is_authenticated:
            return queryset.none() if value else queryset
        return queryset.filter(owner=user) if value else queryset.exclude(owner=user)

    def filter_overdue(self, queryset: QuerySet[ActionItem], name: str, value: bool) -> QuerySet[ActionItem]:
        return queryset.filter(overdue_condition()) if value else queryset.exclude(overdue_condition())

    def filter_incident(self, queryset: QuerySet[ActionItem], name: str, value: str) -> QuerySet[ActionItem]:
        pk = Incident.pk_from_number(value)
        return queryset.filter(incident_id=pk) if pk is not None else queryset.none()


class ActionItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Follow-up action items across incidents; they change through PATCH and end as done or won't do."""

    serializer_class = ActionItemSerializer
    permission_classes = [IsAuthenticated, CanReadActionItems]
    filterset_class = ActionItemFilter
    filter_backends = [DjangoFilterBackend, NullsLastOrderingFilter]
    ordering_fields = ["due_date", "created_at", "updated_at", "status", "title"]
    pagination_class = PagePagination
    http_method_names = ["get", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[ActionItem]:
        return action_item_list().order_by(F("due_date").asc(nulls_last=True), "id")

    @extend_schema(request=ActionItemUpdateSerializer, responses={200: ActionItemSerializer})
    def partial_update(self, request: Request, pk: str) -> Response:
        """Change the status, owner, due date or text (won't do needs a `resolution_note`)."""
        item = self.get_object()
        serializer = ActionItemUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = action_items.update_action_item(item=item, actor=request.user, changes=dict(serializer.validated_data))
        return Response(ActionItemSerializer(item).data)


class PostMortemFilter(django_filters.FilterSet):
    q = django_filters.CharFilter(
        method="filter_text",
        help_text="Words of the summary, root cause, lessons, contributing factors or incident title.",
    )
    status = django_filters.MultipleChoiceFilter(choices=PostMortemStatus.choices)
    service = django_filters.CharFilter(field_name="affected_services__slug", help_text="An affected service's slug.")

    class Meta:
        model = PostMortem
        fields = ["q", "status", "service"]

    def filter_text(self, queryset: QuerySet[PostMortem], name: str, value: str) -> QuerySet[PostMortem]:
        return search_postmortems(queryset, value)


class PostMortemListViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Published post-mortems to learn from (share the knowledge), searchable with `q`.

    Drafts and those in review appear only to their incident's responders;
    best matches first when searching on PostgreSQL, else newest published first.
    """

    serializer_class = PostMortemListSerializer
    permission_classes = [IsAuthenticated, CanReadPostMortems]
    filterset_class = PostMortemFilter
    filter_backends = [DjangoFilterBackend, NullsLastOrderingFilter]
    ordering_fields = ["published_at", "updated_at", "created_at"]
    pagination_class = PagePagination

    def get_queryset(self) -> QuerySet[PostMortem]:
        return postmortem_list(viewer=self.request.user).order_by(F("published_at").desc(nulls_last=True), "-id")
