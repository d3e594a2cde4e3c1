"""The pages support staff work in: the incident queue, reporting an incident, an incident.

Every change goes through the same domain functions as the API and the admin;
these views only turn forms into their arguments and their errors back into
form errors.
"""

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_htmx.middleware import HtmxDetails

from escalation import paging
from escalation.models import SlaClock
from escalation.sla import sla_summary
from incidents import lifecycle, services
from incidents.choices import Source
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.lifecycle import allowed_transitions
from incidents.models import Incident
from incidents.priority import priority_for
from incidents.selectors import incident_list, search_incidents, timeline_for
from incidents.web.forms import (
    TRANSITION_LABELS,
    AssignForm,
    EscalateForm,
    NoteForm,
    QueueFilterForm,
    ReportForm,
    transition_form,
)
from incidents.web.incident_page import sections_context
from incidents.web.saved_filters import SaveFilterForm, clean_query, saved_filters_of
from itsm.pagination import CappedPaginator

PAGE_SIZE = 25


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


# "Breaching soon": an SLA clock still running that is due within this long (or already past due).
BREACHING_SOON = dt.timedelta(minutes=30)


def _filtered(form: QueueFilterForm, user: Any) -> QuerySet[Incident]:
    incidents = incident_list()
    data = form.cleaned_data if form.is_valid() else {}
    if data.get("state"):
        incidents = incidents.filter(state__in=data["state"])
    if data.get("priority"):
        incidents = incidents.filter(priority__in=data["priority"])
    if data.get("service"):
        incidents = incidents.filter(
            pk__in=Incident.services.through.objects.filter(service=data["service"]).values("incident_id")
        )
    if data.get("team"):
        incidents = incidents.filter(team=data["team"])
    if data.get("assignee"):
        incidents = incidents.filter(assignee=data["assignee"])
    scope = data.get("scope")
    if scope == "mine":
        incidents = incidents.filter(assignee=user)
    elif scope == "unassigned":
        incidents = incidents.filter(assignee__isnull=True)
    elif scope == "breaching":
        soon = timezone.now() + BREACHING_SOON
        running = SlaClock.objects.filter(running_since__isnull=False, stopped_at__isnull=True, due_at__lte=soon)
        incidents = incidents.filter(pk__in=running.values("incident_id"))
    incidents = search_incidents(incidents, data.get("q") or "")
    sort = data.get("sort") or "-created_at"
    if sort == "priority":
        # "P1" < "P2" < "P3" < "P4": the column's own order is the priority's, and indexed.
        return incidents.order_by("priority", "-created_at", "-id")
    return incidents.order_by(sort, "-id")


def _sla_badge(incident: Incident) -> dict[str, Any] | None:
    """The clock that matters now: acknowledge while new, then resolve; with how the row colours it."""
    clocks = sla_summary(list(incident.sla_clocks.all()))
    clock = clocks.get("acknowledge") if incident.state == "new" else None
    clock = clock or clocks.get("resolve")
    if not clock or clock["seconds_left"] is None:
        return None
    target = clock["target_seconds"] or 1
    left = clock["seconds_left"]
    level = "breached" if clock["breached"] or left <= 0 else "warning" if left <= target / 4 else "ok"
    return {**clock, "level": level, "running": clock["state"] == "running"}


@login_required
@permission_required("incidents.view_incident", raise_exception=True)
def queue(request: HtmxHttpRequest) -> HttpResponse:
    form = QueueFilterForm(request.GET or None)
    page = CappedPaginator(_filtered(form, request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(incident, _sla_badge(incident)) for incident in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "rows": rows, "query": query.urlencode()}
    if request.htmx:
        return render(request, "web/_queue_table.html", context)
    context["saved_filters"] = saved_filters_of(request.user)
    context["save_form"] = SaveFilterForm(initial={"query": clean_query(query.urlencode())})
    return render(request, "web/queue.html", context)


def form_errors_from(form: forms.Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, messages_ in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages_)
    else:
        form.add_error(None, error.messages)


@login_required
@permission_required("incidents.add_incident", raise_exception=True)
def report(request: HttpRequest) -> HttpResponse:
    form = ReportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                incident = services.report_incident(reporter=request.user, source=Source.WEB, **form.domain_arguments())
                if form.cleaned_data["attachment"]:
                    services.add_attachment(incident=incident, actor=request.user, file=form.cleaned_data["attachment"])
        except ValidationError as error:
            form_errors_from(form, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request,
                _("%(number)s reported as %(priority)s.")
                % {
                    "number": incident.number,
                    "priority": incident.get_priority_display(),
                },
            )
            return redirect("web:incident", number=incident.number)
    impact, urgency = form["impact"].value(), form["urgency"].value()
    return render(request, "web/report.html", {"form": form, "priority": _priority_or_none(impact, urgency)})


def _priority_or_none(impact: Any, urgency: Any) -> str | None:
    try:
        return priority_for(impact=impact, urgency=urgency)
    except (ValueError, KeyError):
        return None


@login_required
def priority_preview(request: HttpRequest) -> HttpResponse:
    """The priority that impact × urgency give, for the report form to show as they change."""
    priority = _priority_or_none(request.GET.get("impact"), request.GET.get("urgency"))
    return render(request, "web/_priority.html", {"priority": priority})


def incident_form_view(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A form posted from the incident page: by POST, from a signed-in user who may read incidents."""
    return login_required(permission_required("incidents.view_incident", raise_exception=True)(require_POST(view)))


def needs_permission(permission: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Refuse a form from the incident page before reading it, to whoever lacks `permission`: 403 with
    the page and the reason, whatever was posted (so a refusal never looks like a form error)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def checked(request: HttpRequest, number: str, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.has_perm(permission):
                incident = _incident_or_404(number)
                messages.error(request, _("You may not do that."))
                return _render_incident(request, incident, status=403)
            return view(request, number, *args, **kwargs)

        return checked

    return decorate


def _incident_or_404(number: str) -> Incident:
    pk = Incident.pk_from_number(number)
    incident = incident_list().filter(pk=pk).first() if pk else None
    if incident is None:
        raise Http404(_("No incident %(number)s.") % {"number": number})
    return incident


def _render_incident(
    request: HttpRequest, incident: Incident, *, status: int = 200, bound: dict[str, forms.Form] | None = None
) -> HttpResponse:
    """The incident page; `bound` holds the forms that came back with errors, shown open with what was typed."""
    bound = bound or {}
    user = request.user
    transitions = allowed_transitions(incident=incident, user=user)
    actions = [
        {"name": name, "label": TRANSITION_LABELS[name], "form": bound.get(name) or transition_form(name)}
        for name in transitions
    ]
    assign = bound.get("assign") or AssignForm(
        initial={
            "assignee": incident.assignee.username if incident.assignee else None,
            "commander": incident.commander.username if incident.commander else None,
        }
    )
    context = {
        "incident": incident,
        "sla": _sla_badge(incident),
        "clocks": sla_summary(list(incident.sla_clocks.all())),
        "timeline": timeline_for(incident=incident, viewer=user),
        "actions": actions,
        "open_action": next((name for name in bound if name in TRANSITION_LABELS), None),
        "note_form": bound.get("note") or NoteForm(),
        "assign_form": assign,
        "escalate_form": bound.get("escalate") or EscalateForm(),
        "may_note_internally": user.has_perm("incidents.add_internal_note"),
        "may_assign": user.has_perm("incidents.assign_incident"),
        "may_escalate": user.has_perm("incidents.escalate_incident") and incident.is_open,
    }
    context.update(sections_context(request, incident, transitions=transitions, bound=bound))
    return render(request, "web/incident.html", context, status=status)


@login_required
@permission_required("incidents.view_incident", raise_exception=True)
def incident_detail(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    if number != incident.number:
        return redirect(reverse("web:incident", kwargs={"number": incident.number}))
    return _render_incident(request, incident)


def _act(
    request: HttpRequest,
    incident: Incident,
    key: str,
    form: forms.Form,
    do: Callable[[dict[str, Any]], Any],
    done: str | Callable[[Any], str],
) -> HttpResponse:
    """Run one change from the incident page: 400 with the form's errors (nothing written), 409 for a
    refused transition or a change someone else made first, 403 without the right; else back to the page.

    `done` is the message on success, or makes it from what `do` returned."""
    if not form.is_valid():
        return _render_incident(request, incident, status=400, bound={key: form})
    try:
        result = do(form.cleaned_data)
    except ValidationError as error:
        form_errors_from(form, error)
        return _render_incident(request, incident, status=400, bound={key: form})
    except (TransitionNotAllowed, IncidentConflict) as error:
        messages.error(request, error.message)
        return _render_incident(request, _incident_or_404(incident.number), status=409, bound={key: form})
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not do that."))
        return _render_incident(request, incident, status=403)
    messages.success(request, done(result) if callable(done) else done)
    return redirect("web:incident", number=incident.number)


@incident_form_view
def incident_transition(request: HttpRequest, number: str, name: str) -> HttpResponse:
    incident = _incident_or_404(number)
    if name not in TRANSITION_LABELS:
        raise Http404(_("No such transition."))
    form = transition_form(name, request.POST)
    return _act(
        request,
        incident,
        name,
        form,
        lambda data: lifecycle.transition_incident(incident=incident, name=name, actor=request.user, **data),
        _("%(number)s: %(transition)s done.") % {"number": incident.number, "transition": TRANSITION_LABELS[name]},
    )


@incident_form_view
def incident_note(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "note",
        NoteForm(request.POST),
        lambda data: services.add_note(
            incident=incident, actor=request.user, body=data["body"], visibility=data["visibility"]
        ),
        _("Note added."),
    )


@incident_form_view
def incident_assign(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "assign",
        AssignForm(request.POST),
        lambda data: services.assign_incident(
            incident=incident, actor=request.user, assignee=data["assignee"], commander=data["commander"]
        ),
        _("Assignment saved."),
    )


@incident_form_view
def incident_escalate(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    return _act(
        request,
        incident,
        "escalate",
        EscalateForm(request.POST),
        lambda data: paging.escalate_incident(incident=incident, actor=request.user, note=data["note"]),
        _("Escalated to the next support tier."),
    )
