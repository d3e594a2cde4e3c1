"""The pages support staff work in: the incident queue, reporting an incident, an incident.

Every change goes through the same domain functions as the API and the admin;
these views only turn forms into their arguments and their errors back into
form errors.
"""

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_htmx.middleware import HtmxDetails

from escalation.models import SlaClock
from escalation.sla import sla_summary
from incidents import services
from incidents.choices import Level, Priority, Source
from incidents.lifecycle import allowed_transitions
from incidents.models import Incident
from incidents.priority import priority_for
from incidents.selectors import incident_list, search_incidents, timeline_for
from incidents.web.forms import QueueFilterForm, ReportForm

PAGE_SIZE = 25


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


# "Breaching soon": an SLA clock still running that is due within this long (or already past due).
BREACHING_SOON = dt.timedelta(minutes=30)
_PRIORITY_RANK = Case(
    *(When(priority=value, then=Value(rank)) for rank, value in enumerate(Priority.values)),
    output_field=IntegerField(),
)


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
        return incidents.annotate(priority_rank=_PRIORITY_RANK).order_by("priority_rank", "-created_at", "-id")
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
    page = Paginator(_filtered(form, request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(incident, _sla_badge(incident)) for incident in page.object_list]
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "rows": rows, "query": query.urlencode()}
    template = "web/_queue_table.html" if request.htmx else "web/queue.html"
    return render(request, template, context)


def _form_errors_from(form: ReportForm, error: ValidationError) -> None:
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
            _form_errors_from(form, error)
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


@login_required
@permission_required("incidents.view_incident", raise_exception=True)
def incident_detail(request: HttpRequest, number: str) -> HttpResponse:
    pk = Incident.pk_from_number(number)
    incident = incident_list().filter(pk=pk).first() if pk else None
    if incident is None:
        raise Http404(_("No incident %(number)s.") % {"number": number})
    if number != incident.number:
        return redirect(reverse("web:incident", kwargs={"number": incident.number}))
    context = {
        "incident": incident,
        "sla": _sla_badge(incident),
        "clocks": sla_summary(list(incident.sla_clocks.all())),
        "timeline": timeline_for(incident=incident, viewer=request.user),
        "transitions": allowed_transitions(incident=incident, user=request.user),
        "levels": Level,
    }
    return render(request, "web/incident.html", context)
