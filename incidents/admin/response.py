"""Response coordination in the back office: the incident page's inlines and the records' own pages.

On the incident page the response team, tasks, solution options and
implementations are listed read-only; a new row typed into an inline is
handed to its domain function (`save_response_inlines`) when the incident is
saved, so a refusal comes back on the form and nothing is half-saved. Ending
a role and choosing an option are list actions; a task's status and an
option's details change on their own pages, through the domain as well.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Field, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incidents import fix_plan, investigation, response
from incidents.admin.common import (
    DomainFormAdminMixin,
    DomainModelForm,
    IncidentNumberSearchMixin,
    NoRevertHistoryMixin,
    can_browse_users,
    domain_refusals,
    error_text,
    incident_link,
)
from incidents.exceptions import IncidentConflict
from incidents.models import (
    MANAGE_RESPONSE_PERMISSION,
    Implementation,
    Incident,
    InvestigationTask,
    ResponseRole,
    SolutionOption,
)
from incidents.response import FINISHED_STATES

USER_FIELDS = ("user", "owner", "executed_by", "supervised_by")


def may_manage(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(MANAGE_RESPONSE_PERMISSION))


# --- Inlines on the incident page --------------------------------------------------


class ResponseInline(admin.TabularInline):
    """Rows are shown read-only; new rows are added through the domain when the incident is saved."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return isinstance(obj, Incident) and obj.state not in FINISHED_STATES and may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        names = tuple(f.name for f in self.model._meta.get_fields() if f.name in USER_FIELDS)
        return names if can_browse_users(request) else ()

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if isinstance(formfield, forms.ModelChoiceField) and db_field.name in USER_FIELDS:
            formfield.queryset = get_user_model().objects.filter(is_active=True)
        if formfield is not None and isinstance(formfield.widget, RelatedFieldWidgetWrapper):
            formfield.widget.can_add_related = False
            formfield.widget.can_change_related = False
            formfield.widget.can_delete_related = False
        return formfield


class ResponseRoleInline(ResponseInline):
    model = ResponseRole
    fields = ("user", "role", "expertise", "added_by", "added_at", "paged_at", "ended_by", "ended_at")
    readonly_fields = ("added_by", "added_at", "paged_at", "ended_by", "ended_at")
    verbose_name_plural = _("response team (commander, communications, scribe, experts)")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ResponseRole]:
        queryset: QuerySet[ResponseRole] = super().get_queryset(request)
        return queryset.select_related("user", "added_by", "ended_by").order_by("added_at", "id")


class InvestigationTaskInline(ResponseInline):
    model = InvestigationTask
    fields = ("title", "owner", "expertise", "due_at", "status", "completed_by", "completed_at")
    readonly_fields = ("status", "completed_by", "completed_at")
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[InvestigationTask]:
        queryset: QuerySet[InvestigationTask] = super().get_queryset(request)
        return queryset.select_related("owner", "completed_by")


class SolutionOptionInline(ResponseInline):
    model = SolutionOption
    fields = ("title", "kind", "risk", "description", "notes", "rollback_plan", "is_chosen")
    readonly_fields = ("is_chosen",)
    show_change_link = True
    verbose_name_plural = _("fix plan: solution options")


class ImplementationInline(ResponseInline):
    model = Implementation
    fields = (
        "option",
        "window_start",
        "window_end",
        "communicated_to",
        "executed_by",
        "supervised_by",
        "executed_at",
        "outcome",
        "outcome_notes",
        "rolled_back",
        "recorded_by",
    )
    readonly_fields = ("recorded_by",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Implementation]:
        queryset: QuerySet[Implementation] = super().get_queryset(request)
        return queryset.select_related("option", "executed_by", "supervised_by", "recorded_by")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        option = formset.form.base_fields.get("option")
        if isinstance(option, forms.ModelChoiceField) and isinstance(obj, Incident):
            option.queryset = SolutionOption.objects.filter(incident=obj)
        return formset


RESPONSE_INLINES = (ResponseRoleInline, InvestigationTaskInline, SolutionOptionInline, ImplementationInline)


def _add_role(request: HttpRequest, incident: Incident, data: dict[str, Any]) -> Any:
    return response.add_responder(
        incident=incident,
        actor=request.user,
        user=data["user"],
        role=data["role"],
        expertise=data.get("expertise") or "",
    )


def _add_task(request: HttpRequest, incident: Incident, data: dict[str, Any]) -> Any:
    return investigation.create_task(
        incident=incident,
        actor=request.user,
        title=data["title"],
        owner=data.get("owner"),
        expertise=data.get("expertise") or "",
        due_at=data.get("due_at"),
    )


def _add_option(request: HttpRequest, incident: Incident, data: dict[str, Any]) -> Any:
    fields = ("title", "kind", "risk", "description", "notes", "rollback_plan")
    return fix_plan.propose_option(incident=incident, actor=request.user, **{f: data.get(f) or "" for f in fields})


def _add_implementation(request: HttpRequest, incident: Incident, data: dict[str, Any]) -> Any:
    return fix_plan.record_implementation(
        incident=incident,
        actor=request.user,
        option=data["option"],
        window_start=data["window_start"],
        window_end=data["window_end"],
        outcome=data["outcome"],
        communicated_to=data.get("communicated_to") or "",
        executed_by=data.get("executed_by"),
        supervised_by=data.get("supervised_by"),
        executed_at=data.get("executed_at"),
        outcome_notes=data.get("outcome_notes") or "",
        # An unticked box says nothing: the outcome decides.
        rolled_back=True if data.get("rolled_back") else None,
    )


_ADDERS: dict[type, Callable[[HttpRequest, Incident, dict[str, Any]], Any]] = {
    ResponseRole: _add_role,
    InvestigationTask: _add_task,
    SolutionOption: _add_option,
    Implementation: _add_implementation,
}


def save_response_inlines(request: HttpRequest, incident: Incident, formsets: Any) -> None:
    """Hand each row typed into a response inline to its domain function, in the page's order."""
    for formset in formsets:
        add = _ADDERS.get(formset.model)
        if add is None:
            continue
        for form in formset.forms:
            if form.instance.pk is None and form.has_changed():
                with domain_refusals():
                    add(request, incident, form.cleaned_data)


# --- The records' own pages ---------------------------------------------------------


class ResponseRecordAdmin(IncidentNumberSearchMixin, NoRevertHistoryMixin, SimpleHistoryAdmin):
    """Listed and searched by incident; written only through the domain."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_manage_permission(self, request: HttpRequest) -> bool:
        return may_manage(request)

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        return  # the domain function that saved the record wrote everything

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: Any) -> str:
        return incident_link(obj.incident)


@admin.register(ResponseRole)
class ResponseRoleAdmin(ResponseRecordAdmin):
    list_display = ("incident_number", "user", "role", "expertise", "added_at", "added_by", "ended_at", "ended_by")
    list_filter = ("role", ("ended_at", admin.EmptyFieldListFilter))
    list_select_related = ("incident", "user", "added_by", "ended_by")
    search_fields = ("user__username", "expertise", "incident__title")
    search_help_text = _("Search by incident number (INC-12), person, expertise or incident title.")
    actions = ("end_selected",)

    @admin.action(description=_("End the selected roles"), permissions=["manage"])
    def end_selected(self, request: HttpRequest, queryset: QuerySet[ResponseRole]) -> None:
        ended = 0
        for role in queryset.filter(ended_at__isnull=True).select_related("incident"):
            try:
                response.end_role(incident=role.incident, actor=request.user, role=role)
            except (ValidationError, PermissionDenied, IncidentConflict) as error:
                messages.error(request, f"{role.incident.number}: {error_text(error)}")
            else:
                ended += 1
        if ended:
            messages.success(request, _("%(count)d role(s) ended.") % {"count": ended})


class TaskForm(DomainModelForm):
    class Meta:
        model = InvestigationTask
        fields = ("incident", "title", "description", "owner", "expertise", "status", "due_at")


@admin.register(InvestigationTask)
class InvestigationTaskAdmin(DomainFormAdminMixin, ResponseRecordAdmin):
    form = TaskForm
    list_display = ("title", "incident_number", "status", "owner", "expertise", "due_at", "created_at")
    list_filter = ("status", ("owner", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("incident", "owner")
    search_fields = ("title", "description", "expertise", "incident__title")
    search_help_text = _("Search by incident number (INC-12), task title, expertise or incident title.")
    date_hierarchy = "created_at"
    autocomplete_fields = ("incident",)
    record_fields = ("created_by", "created_at", "completed_by", "completed_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return may_manage(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_manage(request) and (obj is None or obj.incident.state not in FINISHED_STATES)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ("incident", "title", "description", "owner", "expertise", "due_at")
        return (
            "incident_number",
            "title",
            "description",
            "owner",
            "expertise",
            "status",
            "due_at",
            *self.record_fields,
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return () if obj is None else ("incident_number", *self.record_fields)

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        return ("incident", "owner") if can_browse_users(request) else ("incident",)

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> InvestigationTask:
        data = form.cleaned_data
        with domain_refusals():
            if not change:
                return investigation.create_task(
                    incident=data["incident"],
                    actor=request.user,
                    title=data["title"],
                    description=data.get("description") or "",
                    owner=data.get("owner"),
                    expertise=data.get("expertise") or "",
                    due_at=data.get("due_at"),
                )
            changes = {field: data[field] for field in form.changed_data if field in investigation.TASK_FIELDS}
            return investigation.update_task(task=form.instance, actor=request.user, changes=changes)

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        return  # the domain function saved it in save_form


class OptionForm(DomainModelForm):
    class Meta:
        model = SolutionOption
        fields = ("title", "kind", "risk", "description", "notes", "rollback_plan")


@admin.register(SolutionOption)
class SolutionOptionAdmin(DomainFormAdminMixin, ResponseRecordAdmin):
    form = OptionForm
    list_display = ("title", "incident_number", "kind", "risk", "is_chosen", "chosen_at", "created_at")
    list_filter = ("kind", "risk", "is_chosen")
    list_select_related = ("incident",)
    search_fields = ("title", "description", "notes", "incident__title")
    search_help_text = _("Search by incident number (INC-12), option title, text or incident title.")
    readonly_fields = ("incident_number", "is_chosen", "chosen_by", "chosen_at", "created_by", "created_at")
    fields = ("incident_number", "title", "kind", "risk", "description", "notes", "rollback_plan", *readonly_fields[1:])
    actions = ("choose_selected",)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_manage(request) and (obj is None or obj.incident.state not in FINISHED_STATES)

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> SolutionOption:
        changes = {field: form.cleaned_data[field] for field in form.changed_data if field in fix_plan.OPTION_FIELDS}
        with domain_refusals():
            return fix_plan.update_option(option=form.instance, actor=request.user, changes=changes)

    def save_model(self, request: HttpRequest, obj: Any, form: forms.ModelForm, change: bool) -> None:
        return  # update_option saved it in save_form

    @admin.action(description=_("Choose the selected option for the fix"), permissions=["manage"])
    def choose_selected(self, request: HttpRequest, queryset: QuerySet[SolutionOption]) -> None:
        options = list(queryset.select_related("incident"))
        if len({option.incident_id for option in options}) != len(options):
            messages.error(request, _("Choose one option per incident."))
            return
        for option in options:
            try:
                fix_plan.choose_option(option=option, actor=request.user)
            except (ValidationError, PermissionDenied, IncidentConflict) as error:
                messages.error(request, f"{option.incident.number}: {error_text(error)}")
            else:
                messages.success(
                    request, _("%(number)s: “%(title)s” chosen.") % {"number": option.incident.number, "title": option}
                )


@admin.register(Implementation)
class ImplementationAdmin(ResponseRecordAdmin):
    list_display = (
        "incident_number",
        "option",
        "outcome",
        "rolled_back",
        "executed_at",
        "executed_by",
        "supervised_by",
    )
    list_filter = ("outcome", "rolled_back")
    list_select_related = ("incident", "option", "executed_by", "supervised_by")
    search_fields = ("option__title", "communicated_to", "outcome_notes", "incident__title")
    search_help_text = _("Search by incident number (INC-12), option title, notes or incident title.")
    date_hierarchy = "executed_at"
