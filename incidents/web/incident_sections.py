"""The changes made from the incident page's sections: the response team, tasks, fix plan, monitoring,
status updates, related incidents and attachments.

Each view turns its form into one domain function's arguments and leaves the
answer to `_act`: back to the page on success, the form again with its errors
and what was typed (400), the refusal on the page (409 or 403). What a section
shows is built in `incidents.web.incident_page`.
"""

from typing import Any

from django import forms
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from incidents import fix_plan, investigation, monitoring, response, services, updates
from incidents.fix_plan import OPTION_FIELDS
from incidents.models import NUMBER_PREFIX, Incident, InvestigationTask, ResponseRole, SolutionOption
from incidents.response import PagedResponder, person
from incidents.web.incident_forms import (
    AttachmentForm,
    CommandForm,
    DuplicateForm,
    ImplementationForm,
    MajorIncidentForm,
    MeetingLinksForm,
    OptionForm,
    PageForm,
    RecurrenceForm,
    RoleForm,
    StatusUpdateForm,
    TaskChangeForm,
    TaskForm,
    active_people,
    changed,
    to_the_minute,
)
from incidents.web.incident_page import option_initial
from incidents.web.views import _act, _incident_or_404, incident_form_view, needs_permission

TASK_CHANGE_FIELDS = ("status", "owner", "expertise", "due_at")
# Checked before the form, so someone without the right is refused (403) whatever they posted.
MANAGE_RESPONSE = "incidents.manage_response"


def _row_of(queryset: Any, pk: int, incident: Incident) -> Any:
    """A record of this incident by its id; another incident's, or none, is a 404."""
    row = queryset.filter(pk=pk, incident=incident).first()
    if row is None:
        raise Http404(_("Not found on %(number)s.") % {"number": incident.number})
    return row


# --- The response team and the war room ---------------------------------------------


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def add_role(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "role",
        RoleForm(request.POST, prefix="role", people=active_people()),
        lambda data: response.add_responder(
            incident=incident, actor=request.user, user=data["user"], role=data["role"], expertise=data["expertise"]
        ),
        lambda role: (
            _("%(user)s joined the response team as %(role)s.")
            % {"user": person(role.user), "role": role.get_role_display()}
        ),
    )


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def end_role(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    incident = _incident_or_404(number)
    role = _row_of(ResponseRole.objects.select_related("user"), pk, incident)
    return _act(
        request,
        incident,
        "end-role",
        forms.Form(request.POST),
        lambda data: response.end_role(incident=incident, actor=request.user, role=role),
        _("%(user)s is no longer %(role)s.") % {"user": person(role.user), "role": role.get_role_display()},
    )


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def name_commander(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "command",
        CommandForm(request.POST, prefix="command", people=active_people()),
        lambda data: response.name_commander(incident=incident, actor=request.user, user=data["user"]),
        lambda role: _("%(user)s commands the incident now.") % {"user": person(role.user)},
    )


def _paged(paged: PagedResponder) -> str:
    channels = ", ".join(dict.fromkeys(str(n.get_channel_display()) for n in paged.notifications))
    count = len(paged.notifications)
    return ngettext(
        "Paged %(user)s to join as %(role)s: %(count)d notification (%(channels)s).",
        "Paged %(user)s to join as %(role)s: %(count)d notifications (%(channels)s).",
        count,
    ) % {"user": person(paged.role.user), "role": paged.role.get_role_display(), "count": count, "channels": channels}


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def page_responder(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "page",
        PageForm(request.POST, prefix="page", people=active_people()),
        lambda data: response.page_responder(
            incident=incident,
            actor=request.user,
            message=data["message"],
            expertise=data["expertise"],
            team=data["team"],
            user=data["user"],
            role=data["role"],
        ),
        _paged,
    )


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def meeting_links(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "links",
        MeetingLinksForm(request.POST, prefix="links"),
        lambda data: services.update_incident(incident=incident, actor=request.user, changes=dict(data)),
        _("War room and chat channel saved."),
    )


# --- Investigation tasks ---------------------------------------------------------------


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def add_task(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "task",
        TaskForm(request.POST, prefix="task", people=active_people()),
        lambda data: investigation.create_task(incident=incident, actor=request.user, **data),
        lambda task: _("Task “%(title)s” added.") % {"title": task.title},
    )


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def change_task(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    incident = _incident_or_404(number)
    task: InvestigationTask = _row_of(InvestigationTask.objects.select_related("owner"), pk, incident)
    form = TaskChangeForm(
        request.POST,
        prefix=f"task-{task.pk}",
        people=active_people(),
        initial={
            "status": task.status,
            "owner": task.owner.get_username() if task.owner else "",
            "expertise": task.expertise,
            "due_at": to_the_minute(task.due_at),
        },
    )
    return _act(
        request,
        incident,
        f"task-{task.pk}",
        form,
        lambda data: investigation.update_task(
            task=task, actor=request.user, changes=changed(form, TASK_CHANGE_FIELDS)
        ),
        _("Task “%(title)s” saved.") % {"title": task.title},
    )


# --- The fix plan ------------------------------------------------------------------------


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def propose_option(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "option",
        OptionForm(request.POST, prefix="option"),
        lambda data: fix_plan.propose_option(incident=incident, actor=request.user, **data),
        lambda option: _("Option “%(title)s” proposed.") % {"title": option.title},
    )


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def change_option(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    incident = _incident_or_404(number)
    option: SolutionOption = _row_of(SolutionOption.objects.select_related("incident"), pk, incident)
    form = OptionForm(request.POST, prefix=f"option-{option.pk}", initial=option_initial(option))
    return _act(
        request,
        incident,
        f"option-{option.pk}",
        form,
        lambda data: fix_plan.update_option(option=option, actor=request.user, changes=changed(form, OPTION_FIELDS)),
        lambda saved: _("Option “%(title)s” saved.") % {"title": saved.title},
    )


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def choose_option(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    incident = _incident_or_404(number)
    option: SolutionOption = _row_of(SolutionOption.objects.select_related("incident"), pk, incident)
    return _act(
        request,
        incident,
        f"choose-{option.pk}",
        forms.Form(request.POST),
        lambda data: fix_plan.choose_option(option=option, actor=request.user),
        _("“%(title)s” is the chosen fix.") % {"title": option.title},
    )


@incident_form_view
@needs_permission(MANAGE_RESPONSE)
def record_implementation(request: HttpRequest, number: str, pk: int) -> HttpResponse:
    """Record an implementation of the option `pk`; a rollback plan typed here is saved on the option first.

    Both changes commit together: a refused implementation leaves the option as it was.
    """
    incident = _incident_or_404(number)
    option: SolutionOption = _row_of(SolutionOption.objects.select_related("incident"), pk, incident)

    def record(cleaned: dict[str, Any]) -> Any:
        data = dict(cleaned)
        plan = data.pop("rollback_plan").strip()
        with transaction.atomic():
            if plan != option.rollback_plan:
                fix_plan.update_option(option=option, actor=request.user, changes={"rollback_plan": plan})
            return fix_plan.record_implementation(incident=incident, actor=request.user, option=option, **data)

    return _act(
        request,
        incident,
        "impl",
        ImplementationForm(request.POST, prefix="impl", people=active_people()),
        record,
        lambda done: (
            _("Implementation of “%(title)s” recorded: %(outcome)s.")
            % {"title": option.title, "outcome": done.get_outcome_display().lower()}
        ),
    )


# --- Monitoring and status updates -------------------------------------------------------


@incident_form_view
@needs_permission("incidents.transition_incident")
def report_recurrence(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "recurrence",
        RecurrenceForm(request.POST, prefix="recurrence"),
        lambda data: monitoring.report_recurrence(incident=incident, actor=request.user, reason=data["reason"]),
        _("%(number)s reopened: the responders are told it came back.") % {"number": incident.number},
    )


@incident_form_view
@needs_permission(updates.POST_PERMISSION)
def post_update(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "update",
        StatusUpdateForm(request.POST, prefix="update"),
        lambda data: updates.post_status_update(incident=incident, actor=request.user, **data),
        lambda update: (
            _("Update sent to the stakeholders.") if update.is_for_stakeholders else _("Internal update posted.")
        ),
    )


# --- Related incidents and attachments ------------------------------------------------------


@incident_form_view
@needs_permission("incidents.change_incident")
def mark_duplicate(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "duplicate",
        DuplicateForm(request.POST, prefix="duplicate"),
        lambda data: services.link_as_duplicate(incident=incident, actor=request.user, original=data["duplicate_of"]),
        lambda linked: (
            _("%(number)s is marked a duplicate of %(original)s.")
            % {"number": linked.number, "original": f"{NUMBER_PREFIX}{linked.duplicate_of_id}"}
        ),
    )


@incident_form_view
@needs_permission("incidents.change_incident")
def link_major(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "major",
        MajorIncidentForm(request.POST, prefix="major"),
        lambda data: services.link_to_major_incident(
            incident=incident, actor=request.user, major=data["major_incident"]
        ),
        lambda linked: (
            _("%(number)s is part of major incident %(major)s now.")
            % {"number": linked.number, "major": f"{NUMBER_PREFIX}{linked.major_incident_id}"}
        ),
    )


@incident_form_view
def add_attachment(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "attachment",
        AttachmentForm(request.POST, request.FILES, prefix="attachment"),
        lambda data: services.add_attachment(incident=incident, actor=request.user, file=data["file"]),
        lambda attachment: _("%(name)s attached.") % {"name": attachment.name},
    )
