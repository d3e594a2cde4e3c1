"""The response team, investigation tasks and fix plan of one incident, under /api/v1/incidents/{number}/.

Reporters read; agents and above change, through the domain functions in
`incidents.response`, `incidents.investigation` and `incidents.fix_plan`.
A closed or cancelled incident answers changes with 409 (`IncidentFinished`).
"""

from typing import Any

from django.http import Http404
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import fix_plan, investigation, response
from incidents.api.response_serializers import (
    FixPlanSerializer,
    ImplementationSerializer,
    ImplementationWriteSerializer,
    InvestigationTaskSerializer,
    OptionWriteSerializer,
    PagedResponderSerializer,
    PageResponderSerializer,
    ResponseRoleCreateSerializer,
    ResponseRoleSerializer,
    SolutionOptionSerializer,
    TaskWriteSerializer,
)
from incidents.choices import TaskStatus
from incidents.models import MANAGE_RESPONSE_PERMISSION, Incident, InvestigationTask, ResponseRole, SolutionOption
from incidents.selectors import response_team

TAGS = ["response"]


class ResponsePermission(BasePermission):
    """Reading needs the incident's and the records' view rights; changing needs `manage_response`."""

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        readable = user.has_perm("incidents.view_incident") and user.has_perm(getattr(view, "read_permission", ""))
        if request.method in SAFE_METHODS:
            return bool(readable)
        return bool(readable and user.has_perm(MANAGE_RESPONSE_PERMISSION))


class IncidentScopedView(APIView):
    """A view of one incident's records; an unknown number is a 404."""

    permission_classes = [IsAuthenticated, ResponsePermission]
    read_permission = ""

    def get_incident(self) -> Incident:
        pk = Incident.pk_from_number(self.kwargs["number"])
        incident = Incident.objects.filter(pk=pk).first() if pk else None
        if incident is None:
            raise Http404
        return incident


# --- The response team -----------------------------------------------------------


class ResponseTeamView(IncidentScopedView):
    read_permission = "incidents.view_responserole"

    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("all", bool, description="Include ended roles (the team's history).")],
        responses={200: ResponseRoleSerializer(many=True)},
    )
    def get(self, request: Request, number: str) -> Response:
        """The incident's response team now (or, with `?all=1`, everyone who was on it)."""
        include_ended = request.query_params.get("all", "").lower() in ("1", "true", "yes")
        roles = response_team(incident=self.get_incident(), include_ended=include_ended)
        return Response(ResponseRoleSerializer(roles, many=True).data)

    @extend_schema(tags=TAGS, request=ResponseRoleCreateSerializer, responses={201: ResponseRoleSerializer})
    def post(self, request: Request, number: str) -> Response:
        """Put a person on the team; naming a commander hands command over."""
        incident = self.get_incident()
        serializer = ResponseRoleCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        role = response.add_responder(incident=incident, actor=request.user, **serializer.validated_data)
        return Response(ResponseRoleSerializer(role).data, status=status.HTTP_201_CREATED)


class ResponseRoleView(IncidentScopedView):
    read_permission = "incidents.view_responserole"

    @extend_schema(tags=TAGS, request=None, responses={204: None})
    def delete(self, request: Request, number: str, pk: int) -> Response:
        """End a role: the person leaves the team; the row stays in its history."""
        incident = self.get_incident()
        role = ResponseRole.objects.filter(pk=pk, incident=incident).first()
        if role is None:
            raise Http404
        response.end_role(incident=incident, actor=request.user, role=role)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PageResponderView(IncidentScopedView):
    read_permission = "incidents.view_responserole"

    @extend_schema(tags=TAGS, request=PageResponderSerializer, responses={201: PagedResponderSerializer})
    def post(self, request: Request, number: str) -> Response:
        """Page a team's on-call person, or a named person, into the response team."""
        incident = self.get_incident()
        serializer = PageResponderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        paged = response.page_responder(incident=incident, actor=request.user, **serializer.validated_data)
        body = PagedResponderSerializer({"role": paged.role, "notifications": paged.notifications}).data
        return Response(body, status=status.HTTP_201_CREATED)


# --- Investigation tasks ----------------------------------------------------------


class TaskListView(IncidentScopedView):
    read_permission = "incidents.view_investigationtask"

    @extend_schema(
        tags=TAGS,
        parameters=[OpenApiParameter("status", str, enum=TaskStatus.values, description="Only tasks in this status.")],
        responses={200: InvestigationTaskSerializer(many=True)},
    )
    def get(self, request: Request, number: str) -> Response:
        """The incident's investigation tasks, oldest first."""
        tasks = InvestigationTask.objects.filter(incident=self.get_incident()).select_related(
            "owner", "created_by", "completed_by"
        )
        wanted = request.query_params.get("status")
        if wanted:
            tasks = tasks.filter(status=wanted)
        return Response(InvestigationTaskSerializer(tasks, many=True).data)

    @extend_schema(tags=TAGS, request=TaskWriteSerializer, responses={201: InvestigationTaskSerializer})
    def post(self, request: Request, number: str) -> Response:
        incident = self.get_incident()
        serializer = TaskWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task = investigation.create_task(incident=incident, actor=request.user, **serializer.validated_data)
        return Response(InvestigationTaskSerializer(task).data, status=status.HTTP_201_CREATED)


class TaskView(IncidentScopedView):
    read_permission = "incidents.view_investigationtask"

    def _task(self, pk: int) -> InvestigationTask:
        task = InvestigationTask.objects.filter(pk=pk, incident=self.get_incident()).select_related("incident").first()
        if task is None:
            raise Http404
        return task

    @extend_schema(tags=TAGS, responses={200: InvestigationTaskSerializer})
    def get(self, request: Request, number: str, pk: int) -> Response:
        return Response(InvestigationTaskSerializer(self._task(pk)).data)

    @extend_schema(tags=TAGS, request=TaskWriteSerializer(partial=True), responses={200: InvestigationTaskSerializer})
    def patch(self, request: Request, number: str, pk: int) -> Response:
        """Change a task; a status change (done, reopened, cancelled) goes on the incident's timeline."""
        task = self._task(pk)
        serializer = TaskWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        task = investigation.update_task(task=task, actor=request.user, changes=dict(serializer.validated_data))
        return Response(InvestigationTaskSerializer(task).data)


# --- The fix plan ---------------------------------------------------------------


class FixPlanView(IncidentScopedView):
    read_permission = "incidents.view_solutionoption"

    @extend_schema(tags=TAGS, responses={200: FixPlanSerializer})
    def get(self, request: Request, number: str) -> Response:
        """The solution options, the chosen one, and every implementation attempt."""
        incident = self.get_incident()
        options = list(incident.solution_options.select_related("chosen_by", "created_by"))
        implementations = incident.implementations.select_related("executed_by", "supervised_by", "recorded_by")
        plan = {
            "options": options,
            "chosen": next((option.pk for option in options if option.is_chosen), None),
            "implementations": implementations,
        }
        return Response(FixPlanSerializer(plan).data)


class OptionListView(IncidentScopedView):
    read_permission = "incidents.view_solutionoption"

    @extend_schema(tags=TAGS, request=OptionWriteSerializer, responses={201: SolutionOptionSerializer})
    def post(self, request: Request, number: str) -> Response:
        """Propose a solution option: a quick fix or a permanent one, with its risk."""
        incident = self.get_incident()
        serializer = OptionWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        option = fix_plan.propose_option(incident=incident, actor=request.user, **serializer.validated_data)
        return Response(SolutionOptionSerializer(option).data, status=status.HTTP_201_CREATED)


class OptionScopedView(IncidentScopedView):
    read_permission = "incidents.view_solutionoption"

    def _option(self, pk: int) -> SolutionOption:
        option = SolutionOption.objects.filter(pk=pk, incident=self.get_incident()).select_related("incident").first()
        if option is None:
            raise Http404
        return option


class OptionView(OptionScopedView):
    @extend_schema(tags=TAGS, request=OptionWriteSerializer(partial=True), responses={200: SolutionOptionSerializer})
    def patch(self, request: Request, number: str, pk: int) -> Response:
        option = self._option(pk)
        serializer = OptionWriteSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        option = fix_plan.update_option(option=option, actor=request.user, changes=dict(serializer.validated_data))
        return Response(SolutionOptionSerializer(option).data)


class ChooseOptionView(OptionScopedView):
    @extend_schema(tags=TAGS, request=None, responses={200: SolutionOptionSerializer})
    def post(self, request: Request, number: str, pk: int) -> Response:
        """Choose this option for the fix; the one chosen before is un-chosen."""
        option = fix_plan.choose_option(option=self._option(pk), actor=request.user)
        return Response(SolutionOptionSerializer(option).data)


class ImplementationListView(IncidentScopedView):
    read_permission = "incidents.view_implementation"

    @extend_schema(tags=TAGS, request=ImplementationWriteSerializer, responses={201: ImplementationSerializer})
    def post(self, request: Request, number: str) -> Response:
        """Record an attempt at implementing the chosen option (a high-risk one needs its rollback plan)."""
        incident = self.get_incident()
        serializer = ImplementationWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        option = SolutionOption.objects.filter(pk=data.pop("option"), incident=incident).first()
        if option is None:
            return Response(
                {"option": [_("No solution option with this id on %(number)s.") % {"number": incident.number}]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        implementation = fix_plan.record_implementation(incident=incident, actor=request.user, option=option, **data)
        return Response(ImplementationSerializer(implementation).data, status=status.HTTP_201_CREATED)
