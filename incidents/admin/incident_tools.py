"""The incident admin's tools: transition buttons and forms, notes, and list actions.

Each calls the same domain functions the API calls; refusals come back as
messages or form errors, never as a half-made change.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext_lazy as _

from incidents import lifecycle, services
from incidents.admin.common import (
    INTERNAL_NOTE_PERMISSION,
    attach_errors,
    error_text,
)
from incidents.admin.forms import NoteForm, TransitionForm
from incidents.choices import Visibility
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.models import CLOSE_PERMISSION, TRANSITION_PERMISSION, Incident, PostMortem

TRANSITION_LABELS: dict[str, Any] = {
    "acknowledge": _("Acknowledge"),
    "investigate": _("Start investigating"),
    "hold": _("Put on hold"),
    "resume": _("Resume"),
    "mitigate": _("Mark mitigated"),
    "resolve": _("Resolve"),
    "reopen": _("Reopen"),
    "close": _("Close"),
    "cancel": _("Cancel incident"),
}


class IncidentToolsMixin(admin.ModelAdmin):
    """Views and actions that move an incident, added to the incident admin."""

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(TRANSITION_PERMISSION))

    def has_close_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(CLOSE_PERMISSION))

    # --- The form --------------------------------------------------------

    def _url(self, name: str, *args: Any) -> str:
        return reverse(f"{self.admin_site.name}:incidents_incident_{name}", args=args)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Incident | None = None,
    ) -> HttpResponse:
        if change and obj is not None and obj.pk:
            user = request.user
            context["incident_transitions"] = [
                {"name": name, "label": TRANSITION_LABELS[name], "url": self._url("transition", obj.pk, name)}
                for name in lifecycle.allowed_transitions(incident=obj, user=user)
            ]
            if user.has_perm("incidents.add_timelineentry"):
                context["incident_note_url"] = self._url("note", obj.pk)
            postmortem = PostMortem.objects.filter(incident=obj).only("pk").first()
            if postmortem is not None and user.has_perm("incidents.view_postmortem"):
                context["incident_postmortem_url"] = reverse(
                    f"{self.admin_site.name}:incidents_postmortem_change", args=[postmortem.pk]
                )
                context["incident_postmortem_label"] = _("Post-mortem")
            elif postmortem is None and user.has_perm("incidents.add_postmortem"):
                add_url = reverse(f"{self.admin_site.name}:incidents_postmortem_add")
                context["incident_postmortem_url"] = f"{add_url}?incident={obj.pk}"
                context["incident_postmortem_label"] = _("Write post-mortem")
        response: HttpResponse = super().render_change_form(request, context, add, change, form_url, obj)
        return response

    def get_urls(self) -> list[URLPattern]:
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        custom: list[URLPattern] = [
            path(
                "<path:object_id>/transition/<str:name>/",
                self.admin_site.admin_view(self.transition_view),
                name=f"{info}_transition",
            ),
            path("<path:object_id>/note/", self.admin_site.admin_view(self.note_view), name=f"{info}_note"),
        ]
        return custom + super().get_urls()

    def _incident_for_tool(self, request: HttpRequest, object_id: str) -> Incident:
        incident = self.get_object(request, unquote(object_id))
        if incident is None:
            raise Http404(_("No incident has the number %(number)s.") % {"number": object_id})
        if not self.has_view_or_change_permission(request, incident):
            raise PermissionDenied
        return incident

    def _tool_response(
        self,
        request: HttpRequest,
        incident: Incident,
        form: forms.Form,
        *,
        title: Any,
        submit_label: Any,
        template: str,
    ) -> TemplateResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": str(incident),
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "original": incident,
            "has_view_permission": self.has_view_permission(request, incident),
            "form": form,
            "media": self.media + form.media,
            "change_url": self._url("change", incident.pk),
            "submit_label": submit_label,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, template, context)

    def transition_view(self, request: HttpRequest, object_id: str, name: str) -> HttpResponse:
        """One lifecycle transition: its form on GET, `lifecycle.transition_incident` on POST."""
        if name not in lifecycle.TRANSITIONS:
            raise Http404(_("There is no transition called %(name)s.") % {"name": name})
        incident = self._incident_for_tool(request, object_id)
        change_url = self._url("change", incident.pk)
        label = TRANSITION_LABELS[name]
        if request.method == "POST":
            form = TransitionForm(request.POST, transition=name)
            if form.is_valid():
                try:
                    incident = lifecycle.transition_incident(
                        incident=incident, name=name, actor=request.user, **form.cleaned_data
                    )
                except ValidationError as error:
                    attach_errors(form, error)
                except (TransitionNotAllowed, IncidentConflict, PermissionDenied) as error:
                    messages.error(request, error_text(error))
                    return HttpResponseRedirect(change_url)
                else:
                    messages.success(
                        request,
                        _("%(number)s: %(transition)s done; the incident is now %(state)s.")
                        % {
                            "number": incident.number,
                            "transition": label,
                            "state": incident.get_state_display(),
                        },
                    )
                    return HttpResponseRedirect(change_url)
        else:
            if name not in lifecycle.allowed_transitions(incident=incident, user=request.user):
                messages.error(
                    request,
                    _("%(transition)s is not possible for %(number)s now (it is %(state)s).")
                    % {
                        "transition": label,
                        "number": incident.number,
                        "state": incident.get_state_display(),
                    },
                )
                return HttpResponseRedirect(change_url)
            form = TransitionForm(transition=name)
        return self._tool_response(
            request,
            incident,
            form,
            title=_("%(transition)s %(number)s") % {"transition": label, "number": incident.number},
            submit_label=label,
            template="admin/incidents/incident/transition_form.html",
        )

    def note_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Add a note or status update to the timeline with `services.add_note`."""
        incident = self._incident_for_tool(request, object_id)
        change_url = self._url("change", incident.pk)
        if request.method == "POST":
            form = NoteForm(request.POST)
            if form.is_valid():
                try:
                    services.add_note(
                        incident=incident,
                        actor=request.user,
                        body=form.cleaned_data["body"],
                        visibility=form.cleaned_data["visibility"],
                        kind=form.cleaned_data["kind"],
                    )
                except ValidationError as error:
                    attach_errors(form, error)
                except PermissionDenied as error:
                    messages.error(request, error_text(error))
                    return HttpResponseRedirect(change_url)
                else:
                    messages.success(request, _("The note was added to %(number)s.") % {"number": incident.number})
                    return HttpResponseRedirect(change_url)
        else:
            internal = request.user.has_perm(INTERNAL_NOTE_PERMISSION)
            form = NoteForm(initial={"visibility": Visibility.INTERNAL if internal else Visibility.PUBLIC})
        return self._tool_response(
            request,
            incident,
            form,
            title=_("Add a note to %(number)s") % {"number": incident.number},
            submit_label=_("Add note"),
            template="admin/incidents/incident/note_form.html",
        )

    # --- List actions (transitions without fields) ------------------------

    def _transition_selected(self, request: HttpRequest, queryset: QuerySet[Incident], name: str) -> None:
        done: list[str] = []
        for incident in queryset:
            try:
                lifecycle.transition_incident(incident=incident, name=name, actor=request.user)
            except (ValidationError, PermissionDenied, TransitionNotAllowed, IncidentConflict) as error:
                messages.error(request, f"{incident.number}: {error_text(error)}")
            else:
                done.append(incident.number)
        if done:
            messages.success(
                request,
                _("%(transition)s done for %(numbers)s.")
                % {"transition": TRANSITION_LABELS[name], "numbers": ", ".join(done)},
            )

    @admin.action(description=_("Acknowledge the selected incidents"), permissions=["transition"])
    def acknowledge_selected(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        self._transition_selected(request, queryset, "acknowledge")

    @admin.action(description=_("Start investigating the selected incidents"), permissions=["transition"])
    def investigate_selected(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        self._transition_selected(request, queryset, "investigate")

    @admin.action(description=_("Resume the selected incidents"), permissions=["transition"])
    def resume_selected(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        self._transition_selected(request, queryset, "resume")

    @admin.action(description=_("Close the selected incidents"), permissions=["close"])
    def close_selected(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        self._transition_selected(request, queryset, "close")
