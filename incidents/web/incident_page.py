"""What the incident page shows below its header and actions, and the forms each section offers.

Sections: the response team and war room, investigation tasks, status
updates, the fix plan, the monitoring period, related incidents, attachments,
monitoring alerts and the history. Each is read with a fixed number of
queries (one per list, related rows joined or prefetched), so the page costs
the same with three tasks or three hundred.

A section's controls are built only for a user who may use them; the same
rights are checked again by the domain functions when a form is sent.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from incidents.choices import OPEN_TASK_STATUSES
from incidents.models import (
    MANAGE_RESPONSE_PERMISSION,
    Alert,
    Attachment,
    Implementation,
    Incident,
    InvestigationTask,
    ResponseRole,
    SolutionOption,
)
from incidents.monitoring import monitoring_ends_at, ready_to_resolve_at
from incidents.response import FINISHED_STATES
from incidents.selectors import response_team
from incidents.updates import POST_PERMISSION, READ_INTERNAL_PERMISSION, next_update_due_at, updates_for
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
    to_the_minute,
)
from incidents.web.incident_history import HISTORY_LIMIT, incident_history

# The latest pages and notifications listed with the team.
NOTIFICATION_LIMIT = 20

# The page's sections by their anchor, as the table of contents and the error summary name them.
SECTION_TITLES = {
    "actions": _("Actions"),
    "team": _("Response team and war room"),
    "tasks": _("Investigation tasks"),
    "updates": _("Status updates"),
    "fix-plan": _("Fix plan and implementation"),
    "monitoring": _("Monitoring after mitigation"),
    "clocks": _("SLA clocks"),
    "description": _("Symptoms and observed behaviour"),
    "timeline": _("Timeline"),
    "related": _("Related incidents"),
    "attachments": _("Attachments"),
    "alerts": _("Monitoring alerts"),
    "postmortem": _("Post-mortem"),
    "history": _("History: who changed what"),
}

# The section a form of the page belongs to, by the key it comes back under (see `_act`).
FORM_SECTIONS = {
    "role": "team",
    "command": "team",
    "page": "team",
    "links": "team",
    "task": "tasks",
    "option": "fix-plan",
    "impl": "fix-plan",
    "recurrence": "monitoring",
    "update": "updates",
    "duplicate": "related",
    "major": "related",
    "attachment": "attachments",
    "note": "timeline",
}


@dataclass(frozen=True)
class Rights:
    """What the user may do on this incident now; the page shows only these controls."""

    responder: bool  # internal notes and updates, notifications, alerts, history
    see_team: bool
    see_tasks: bool
    see_fix_plan: bool
    see_monitoring: bool
    see_alerts: bool
    manage: bool  # the team, tasks and fix plan
    edit: bool  # war-room links and incident links
    post_update: bool
    attach: bool
    report_recurrence: bool


def rights(user: Any, incident: Incident, transitions: list[str]) -> Rights:
    finished = incident.state in FINISHED_STATES
    return Rights(
        responder=user.has_perm(READ_INTERNAL_PERMISSION),
        see_team=user.has_perm("incidents.view_responserole"),
        see_tasks=user.has_perm("incidents.view_investigationtask"),
        see_fix_plan=user.has_perm("incidents.view_solutionoption"),
        see_monitoring=user.has_perm("incidents.view_monitoringperiod"),
        see_alerts=user.has_perm("incidents.view_alert"),
        manage=user.has_perm(MANAGE_RESPONSE_PERMISSION) and not finished,
        edit=user.has_perm("incidents.change_incident"),
        post_update=user.has_perm(POST_PERMISSION) and not finished,
        attach=user.has_perm("incidents.add_attachment"),
        report_recurrence="reopen" in transitions,
    )


@dataclass
class TaskRow:
    task: InvestigationTask
    overdue: bool
    form: forms.Form | None


@dataclass
class OptionRow:
    option: SolutionOption
    form: forms.Form | None


@dataclass
class AttachmentRow:
    attachment: Attachment
    url: str


@dataclass
class AlertRow:
    alert: Alert
    link: str  # the alert's source in monitoring, only when it is an http(s) address


def _form(bound: dict[str, forms.Form], key: str, make: Callable[[], forms.Form]) -> Any:
    """The form that came back with errors under `key`, else a fresh one."""
    return bound.get(key) or make()


def _team(incident: Incident) -> dict[str, Any]:
    roles: list[ResponseRole] = list(response_team(incident=incident, include_ended=True))
    ended = [role for role in roles if role.ended_at is not None]
    ended.sort(key=lambda role: (role.ended_at or role.added_at, role.pk), reverse=True)  # the latest first
    return {"active": [role for role in roles if role.ended_at is None], "ended": ended}


def _notifications(incident: Incident) -> dict[str, Any]:
    sent = incident.notifications.select_related("user").order_by("-created_at", "-id")
    return {"latest": list(sent[:NOTIFICATION_LIMIT]), "total": sent.count()}


def _tasks(
    incident: Incident, now: dt.datetime, bound: dict[str, forms.Form], people: list[User], manage: bool
) -> dict[str, Any]:
    tasks = list(incident.tasks.select_related("owner", "created_by", "completed_by"))
    working = [task for task in tasks if task.status in OPEN_TASK_STATUSES]
    # What to do now first: the earliest due, then the tasks with no due time, oldest first.
    working.sort(key=lambda task: (task.due_at is None, task.due_at or now, task.created_at, task.pk))
    finished = [task for task in tasks if task.status not in OPEN_TASK_STATUSES]
    finished.sort(key=lambda task: (task.completed_at or task.updated_at, task.pk), reverse=True)

    def change_form(task: InvestigationTask) -> forms.Form | None:
        if not manage:
            return None
        return _form(
            bound,
            f"task-{task.pk}",
            lambda: TaskChangeForm(
                prefix=f"task-{task.pk}",
                people=people,
                initial={
                    "status": task.status,
                    "owner": task.owner.get_username() if task.owner else "",
                    "expertise": task.expertise,
                    "due_at": to_the_minute(task.due_at),
                },
            ),
        )

    def row(task: InvestigationTask) -> TaskRow:
        overdue = task.status in OPEN_TASK_STATUSES and task.due_at is not None and task.due_at < now
        return TaskRow(task=task, overdue=overdue, form=change_form(task))

    return {"open": [row(task) for task in working], "done": [row(task) for task in finished]}


def option_initial(option: SolutionOption) -> dict[str, Any]:
    return {
        field: getattr(option, field) for field in ("title", "kind", "risk", "description", "notes", "rollback_plan")
    }


def _fix_plan(incident: Incident, bound: dict[str, forms.Form], people: list[User], manage: bool) -> dict[str, Any]:
    options = list(incident.solution_options.select_related("chosen_by", "created_by"))
    implementations: list[Implementation] = list(
        incident.implementations.select_related("option", "executed_by", "supervised_by", "recorded_by")
    )
    chosen = next((option for option in options if option.is_chosen), None)

    def edit_form(option: SolutionOption) -> forms.Form | None:
        if not manage:
            return None
        return _form(
            bound,
            f"option-{option.pk}",
            lambda: OptionForm(prefix=f"option-{option.pk}", initial=option_initial(option)),
        )

    rows = [OptionRow(option=option, form=edit_form(option)) for option in options]
    implement = None
    if manage and chosen is not None:
        implement = _form(
            bound,
            "impl",
            lambda: ImplementationForm(prefix="impl", people=people, initial={"rollback_plan": chosen.rollback_plan}),
        )
    return {
        "options": rows,
        "chosen": chosen,
        "implementations": implementations,
        "propose_form": _form(bound, "option", lambda: OptionForm(prefix="option")) if manage else None,
        "implementation_form": implement,
    }


def _monitoring(incident: Incident, bound: dict[str, forms.Form], may: Rights) -> dict[str, Any]:
    # Read again rather than from incident_list's prefetch, to name who mitigated without a query per period.
    periods = list(incident.monitoring_periods.select_related("started_by").order_by("started_at", "id"))
    return {
        "periods": list(reversed(periods)),
        "ends_at": monitoring_ends_at(periods),
        "ready_at": ready_to_resolve_at(incident, periods),
        "recurrence_form": _form(bound, "recurrence", lambda: RecurrenceForm(prefix="recurrence"))
        if may.report_recurrence
        else None,
    }


def _updates(
    incident: Incident, user: Any, now: dt.datetime, bound: dict[str, forms.Form], may: Rights
) -> dict[str, Any]:
    due = next_update_due_at(incident) if incident.is_open else None
    return {
        "list": list(updates_for(incident=incident, viewer=user).order_by("-created_at", "-id")),
        "next_due": due,
        "overdue": due is not None and due < now,
        "overdue_seconds": int((now - due).total_seconds()) if due is not None and due < now else 0,
        "form": _form(bound, "update", lambda: StatusUpdateForm(prefix="update")) if may.post_update else None,
    }


def _related(incident: Incident, bound: dict[str, forms.Form], may: Rights) -> dict[str, Any]:
    linked = [pk for pk in (incident.duplicate_of_id, incident.major_incident_id) if pk is not None]
    found = list(
        Incident.objects.filter(Q(pk__in=linked) | Q(duplicate_of=incident) | Q(major_incident=incident)).order_by("id")
    )
    return {
        "duplicate_of": next((row for row in found if row.pk == incident.duplicate_of_id), None),
        "major": next((row for row in found if row.pk == incident.major_incident_id), None),
        "duplicates": [row for row in found if row.duplicate_of_id == incident.pk],
        "children": [row for row in found if row.major_incident_id == incident.pk],
        "duplicate_form": _form(bound, "duplicate", lambda: DuplicateForm(prefix="duplicate")) if may.edit else None,
        "major_form": _form(bound, "major", lambda: MajorIncidentForm(prefix="major")) if may.edit else None,
    }


def _attachments(incident: Incident) -> list[AttachmentRow]:
    files = incident.attachments.select_related("uploaded_by")
    # Downloads go through the API's view, which the session authenticates and always serves as a download.
    return [
        AttachmentRow(
            attachment=item,
            url=reverse("incident-attachment-file", kwargs={"number": incident.number, "attachment_id": item.pk}),
        )
        for item in files
    ]


def _alerts(incident: Incident) -> list[AlertRow]:
    alerts = incident.alerts.select_related("integration")
    # The source link comes from the monitoring payload: only a web address becomes a link.
    return [
        AlertRow(
            alert=alert, link=alert.generator_url if alert.generator_url.startswith(("https://", "http://")) else ""
        )
        for alert in alerts
    ]


def _problems(bound: dict[str, forms.Form]) -> list[tuple[str, str]]:
    """The sections whose form came back with errors (anchor, title), for the summary at the top of the page."""
    sections: dict[str, str] = {}
    for key, form in bound.items():
        section = FORM_SECTIONS.get(key.split("-", 1)[0], "actions")
        if form.errors:
            sections.setdefault(section, str(SECTION_TITLES[section]))
    return list(sections.items())


def contents(may: Rights) -> list[tuple[str, str]]:
    """The page's table of contents: the sections this user sees, in the page's order."""
    shown = {
        "team": may.see_team,
        "tasks": may.see_tasks,
        "fix-plan": may.see_fix_plan,
        "monitoring": may.see_monitoring,
        "alerts": may.see_alerts,
        "history": may.responder,
    }
    return [(anchor, str(title)) for anchor, title in SECTION_TITLES.items() if shown.get(anchor, True)]


def sections_context(
    request: HttpRequest, incident: Incident, *, transitions: list[str], bound: dict[str, forms.Form]
) -> dict[str, Any]:
    """The context of every section below the header and the actions."""
    user = request.user
    now = timezone.now()
    may = rights(user, incident, transitions)
    people = active_people() if may.manage else []
    context: dict[str, Any] = {"may": may, "now": now, "problems": _problems(bound), "contents": contents(may)}
    context["may_run"] = transitions
    if may.see_team:
        context["team"] = _team(incident)
        context["notifications"] = _notifications(incident) if may.responder else None
    if may.manage:
        context["role_form"] = _form(bound, "role", lambda: RoleForm(prefix="role", people=people))
        context["command_form"] = _form(bound, "command", lambda: CommandForm(prefix="command", people=people))
        context["page_form"] = _form(bound, "page", lambda: PageForm(prefix="page", people=people))
        context["task_form"] = _form(bound, "task", lambda: TaskForm(prefix="task", people=people))
    if may.edit:
        context["links_form"] = _form(
            bound,
            "links",
            lambda: MeetingLinksForm(
                prefix="links",
                initial={"war_room_url": incident.war_room_url, "chat_channel_url": incident.chat_channel_url},
            ),
        )
    if may.see_tasks:
        context["tasks"] = _tasks(incident, now, bound, people, may.manage)
    if may.see_fix_plan:
        context["fix_plan"] = _fix_plan(incident, bound, people, may.manage)
    if may.see_monitoring:
        context["monitoring"] = _monitoring(incident, bound, may)
    context["updates"] = _updates(incident, user, now, bound, may)
    context["related"] = _related(incident, bound, may)
    context["attachments"] = _attachments(incident)
    context["attachment_form"] = (
        _form(bound, "attachment", lambda: AttachmentForm(prefix="attachment")) if may.attach else None
    )
    if may.see_alerts:
        context["alerts"] = _alerts(incident)
    if may.responder:
        show_all = request.GET.get("history") == "all"
        context["history"], context["history_more"] = incident_history(
            incident, limit=None if show_all else HISTORY_LIMIT
        )
    return context
