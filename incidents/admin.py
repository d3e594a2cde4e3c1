"""The back office: every incident model in the Django admin.

The admin is one more door into the domain. Whatever it changes on an
incident goes through `incidents.lifecycle`, `incidents.services` and
`incidents.postmortems`, exactly like the API, so the permission checks, the
timeline and the history user are the same; it never calls a model transition
method, never writes `Incident.state` and never saves an incident itself.

How a refused change reaches the form: the domain functions run while the
admin saves (inside the admin's transaction). When one refuses with a
`ValidationError`, the transaction is rolled back and the admin renders the
same POST again, this time with the refusal attached to the form's fields, so
nothing is half-saved and the user keeps what they typed. A missing right or a
lifecycle conflict is shown as an error message instead.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Field, Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat, truncatechars
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incidents import lifecycle, postmortems, services
from incidents.choices import OPEN_STATES, EntryKind, PostMortemStatus, Priority, Visibility
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.models import (
    CLOSE_PERMISSION,
    TRANSITION_PERMISSION,
    Attachment,
    Incident,
    PostMortem,
    Service,
    TimelineEntry,
)
from incidents.priority import priority_for

OVERRIDE_PERMISSION = "incidents.override_priority"
ASSIGN_PERMISSION = "incidents.assign_incident"
INTERNAL_NOTE_PERMISSION = "incidents.add_internal_note"

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
TRANSITION_FIELD_LABELS: dict[str, Any] = {
    "reason": _("Reason"),
    "root_cause": _("Root cause"),
    "resolution": _("Resolution"),
    "note": _("Note for the timeline"),
}
PEOPLE_FIELDS = ("assignee", "commander", "team")
USER_FIELDS = ("assignee", "commander")
LINK_FIELDS = ("duplicate_of", "major_incident")


# --- Domain refusals -------------------------------------------------------

_REFUSAL: ContextVar[ValidationError | None] = ContextVar("incidents_admin_refusal", default=None)
DomainError = ValidationError | PermissionDenied | TransitionNotAllowed | IncidentConflict


class DomainRefusal(Exception):  # noqa: N818 — it carries the refusal, it is not the error itself
    """A domain function refused the admin's save; `changeform_view` answers it."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(str(error))
        self.error = error


@contextmanager
def domain_refusals() -> Iterator[None]:
    """Turn the domain's refusals into a `DomainRefusal` for `changeform_view`."""
    try:
        yield
    except (ValidationError, PermissionDenied, TransitionNotAllowed, IncidentConflict) as error:
        raise DomainRefusal(error) from error


def error_text(error: DomainError) -> str:
    if isinstance(error, TransitionNotAllowed | IncidentConflict):
        return str(error.message)
    if isinstance(error, ValidationError):
        return " ".join(str(message) for message in error.messages)
    return str(error) or str(_("You may not do that."))


def attach_errors(form: forms.BaseForm, error: ValidationError) -> None:
    """Put a domain `ValidationError` on the form's fields (unknown fields: on the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, errors in error.error_dict.items():
        if field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, [f"{field}: {message}" for e in errors for message in e.messages])


class DomainModelForm(forms.ModelForm):
    """A model form that shows a refusal from the previous pass of the same POST."""

    # Form-only fields: declared on the form, never copied onto the model instance.
    form_only_fields: Sequence[str] = ()

    def clean(self) -> dict[str, Any]:
        super().clean()
        refusal = _REFUSAL.get()
        if refusal is not None:
            attach_errors(self, refusal)
            if not self.errors:
                self.add_error(None, error_text(refusal) or _("The change was refused."))
        return self.cleaned_data


class DomainFormAdminMixin(admin.ModelAdmin):
    """Runs `changeform_view` again with the refusal when a domain function refuses."""

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        view = super().changeform_view
        try:
            response: HttpResponse = view(request, object_id, form_url, extra_context)
        except DomainRefusal as refusal:
            # The admin's transaction has been rolled back: nothing was saved.
            error = refusal.error
        else:
            return response
        if isinstance(error, ValidationError):
            # The same POST again: the form shows the refusal on its fields and saves nothing.
            token = _REFUSAL.set(error)
            try:
                return view(request, object_id, form_url, extra_context)
            except DomainRefusal as again:
                error = again.error
            finally:
                _REFUSAL.reset(token)
        messages.error(request, error_text(error))
        return HttpResponseRedirect(request.get_full_path())

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        # Form-only fields stay out of the model form's `fields`, so they get no
        # initial value from the instance and are never copied onto it; those the
        # fieldsets leave out (for want of a right) are dropped from the form.
        base = kwargs.get("form", self.form)
        only = set(getattr(base, "form_only_fields", ()))
        fields = kwargs.get("fields")
        if fields is None:
            fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        if only:
            kwargs["fields"] = [name for name in fields if name not in only]
        form: type[forms.ModelForm] = super().get_form(request, obj, change, **kwargs)
        for name in only - set(fields):
            form.base_fields.pop(name, None)
        return form

    def construct_change_message(
        self, request: HttpRequest, form: Any, formsets: Any, add: bool = False
    ) -> list[dict[str, Any]]:
        # The inlines are read-only and never saved, so they have nothing to report.
        message: list[dict[str, Any]] = super().construct_change_message(request, form, [], add)
        return message


class NoRevertHistoryMixin:
    """History can be read but not reverted: a revert would bypass the domain."""

    def revert_disabled(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return True

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method != "GET":
            raise PermissionDenied
        response: HttpResponse = super().history_form_view(  # type: ignore[misc]
            request, object_id, version_id, extra_context
        )
        return response


# --- Shared helpers ----------------------------------------------------------


def can_browse_users(request: HttpRequest) -> bool:
    """Whether the user admin answers this user's autocomplete (it needs the view right)."""
    opts = get_user_model()._meta
    return bool(request.user.has_perm(f"{opts.app_label}.view_{opts.model_name}"))


def incident_link(incident: Incident | None) -> str:
    if incident is None:
        return "—"
    url = reverse("admin:incidents_incident_change", args=[incident.pk])
    return format_html('<a href="{}">{}</a>', url, incident.number)


def match_incident_number(
    queryset: QuerySet[Any], results: QuerySet[Any], search_term: str, lookup: str
) -> QuerySet[Any]:
    """Add the incident whose number (`INC-12` or `12`) is the search term to `results`."""
    pk = Incident.pk_from_number(search_term)
    if pk is None:
        return results
    return results | queryset.filter(**{lookup: pk})


class OpenListFilter(admin.SimpleListFilter):
    title = _("open or done")
    parameter_name = "open"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Open")), ("no", _("Resolved, closed or cancelled"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(state__in=OPEN_STATES)
        if self.value() == "no":
            return queryset.exclude(state__in=OPEN_STATES)
        return queryset


class ReadOnlyInline(admin.TabularInline):
    """An inline that lists related rows and offers no way to change them."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Services ------------------------------------------------------------------


@admin.register(Service)
class ServiceAdmin(SimpleHistoryAdmin):
    list_display = ("name", "slug", "owner_team", "criticality", "customer_facing", "is_active", "open_incidents")
    list_filter = ("criticality", "customer_facing", "is_active", "owner_team")
    list_select_related = ("owner_team",)
    search_fields = ("name", "slug", "description")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("owner_team",)
    readonly_fields = ("created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "description", "owner_team")}),
        (_("Classification"), {"fields": ("criticality", "customer_facing", "is_active")}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Service]:
        queryset: QuerySet[Service] = super().get_queryset(request)
        return queryset.annotate(open_incident_total=Count("incidents", filter=Q(incidents__state__in=OPEN_STATES)))

    @admin.display(description=_("open incidents"), ordering="open_incident_total")
    def open_incidents(self, obj: Service) -> int:
        return int(getattr(obj, "open_incident_total", 0))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Service], search_term: str
    ) -> tuple[QuerySet[Service], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # New links from incidents go to services still in use.
        match = request.resolver_match
        if match is not None and match.url_name == "autocomplete":
            results = results.filter(is_active=True)
        return results, may_have_duplicates

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[Any, Any, Any, list[Any]]:
        # Deleting a service would silently drop it from incidents (no timeline,
        # no history), so a service named by an incident is kept: deactivate it.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        linked = Incident.objects.filter(services__in=objs).distinct().order_by("pk")
        protected = [
            *protected,
            *(
                _("%(incident)s names this service; deactivate the service instead.") % {"incident": incident}
                for incident in linked[:50]
            ),
        ]
        return deleted, counts, perms_needed, protected


# --- Incidents -------------------------------------------------------------------


class IncidentFormMixin(DomainModelForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            # Changes are read from the database value, not a hidden copy the browser sends back.
            field.show_hidden_initial = False


class IncidentAddForm(IncidentFormMixin):
    """Reporting an incident: `services.report_incident` creates it."""

    form_only_fields = ("priority", "priority_override_reason")

    priority = forms.ChoiceField(
        label=_("Priority"),
        choices=[("", _("From impact and urgency")), *Priority.choices],
        required=False,
        help_text=_("Leave empty to take the priority from the impact × urgency matrix."),
    )
    priority_override_reason = forms.CharField(
        label=_("Reason for the priority"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=lifecycle.MAX_TEXT_LENGTH,
        help_text=_("Required when the priority differs from the matrix."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("started_at", "detected_at"):
            if name in self.fields:
                self.fields[name].required = False
                self.fields[name].help_text = _("Leave empty to use the current time.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        priority = cleaned.get("priority")
        impact, urgency = cleaned.get("impact"), cleaned.get("urgency")
        if (
            priority
            and impact
            and urgency
            and priority != priority_for(impact=impact, urgency=urgency)
            and not (cleaned.get("priority_override_reason") or "").strip()
        ):
            self.add_error(
                "priority_override_reason", _("Give a reason when the priority differs from impact × urgency.")
            )
        return cleaned


class IncidentChangeForm(IncidentFormMixin):
    """Editing an incident: each kind of change goes to its own domain function."""

    form_only_fields = ("priority_override_reason",)

    priority_override_reason = forms.CharField(
        label=_("Reason for the priority change"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=lifecycle.MAX_TEXT_LENGTH,
        help_text=_(
            "Required when you change the priority. A priority set by hand no longer follows impact × urgency."
        ),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        changed = self.changed_data
        if (
            "priority" in changed
            and "priority_override_reason" in self.fields
            and not (cleaned.get("priority_override_reason") or "").strip()
        ):
            self.add_error("priority_override_reason", _("Give a reason for changing the priority."))
        for field in LINK_FIELDS:
            if field in changed and self.initial.get(field) and cleaned.get(field) is None:
                self.add_error(field, _("A link to another incident cannot be removed here."))
        return cleaned


class TimelineInline(ReadOnlyInline):
    model = TimelineEntry
    fields = ("kind", "visibility", "body", "actor", "created_at")
    readonly_fields = fields
    ordering = ("created_at", "id")
    verbose_name = _("timeline entry")
    verbose_name_plural = _("timeline")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TimelineEntry]:
        queryset: QuerySet[TimelineEntry] = super().get_queryset(request).select_related("actor")
        if not request.user.has_perm(INTERNAL_NOTE_PERMISSION):
            queryset = queryset.filter(visibility=Visibility.PUBLIC)
        return queryset


class AttachmentInline(ReadOnlyInline):
    model = Attachment
    fields = ("file_link", "file_size", "content_type", "uploaded_by", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Attachment]:
        queryset: QuerySet[Attachment] = super().get_queryset(request).select_related("uploaded_by")
        return queryset

    @admin.display(description=_("file name"))
    def file_link(self, obj: Attachment) -> str:
        return format_html('<a href="{}">{}</a>', obj.file.url, obj.name) if obj.file else obj.name

    @admin.display(description=_("size"))
    def file_size(self, obj: Attachment) -> str:
        return str(filesizeformat(obj.size))


class PostMortemInline(admin.StackedInline):
    model = PostMortem
    fields = ("status", "summary", "published_at", "published_by")
    readonly_fields = fields
    extra = 0
    max_num = 1
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[PostMortem]:
        queryset: QuerySet[PostMortem] = super().get_queryset(request).select_related("published_by")
        return queryset

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class TransitionForm(forms.Form):
    """The fields one transition needs (`lifecycle.TRANSITION_FIELDS`) and a note."""

    def __init__(self, *args: Any, transition: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        required = lifecycle.TRANSITION_FIELDS[transition]
        for name in (*required, *(() if "note" in required else ("note",))):
            self.fields[name] = forms.CharField(
                label=TRANSITION_FIELD_LABELS[name],
                required=name in required,
                max_length=lifecycle.MAX_TEXT_LENGTH,
                widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
            )
        if transition == "mitigate":
            self.fields["note"].label = _("What was done to restore service")


class NoteForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=[
            (EntryKind.NOTE.value, EntryKind.NOTE.label),
            (EntryKind.STATUS_UPDATE.value, EntryKind.STATUS_UPDATE.label),
        ],
        initial=EntryKind.NOTE.value,
    )
    visibility = forms.ChoiceField(
        label=_("Visibility"),
        choices=Visibility.choices,
        help_text=_("Internal notes are seen by responders only."),
    )
    body = forms.CharField(
        label=_("Text"),
        max_length=lifecycle.MAX_TEXT_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 80}),
    )


@admin.register(Incident)
class IncidentAdmin(DomainFormAdminMixin, NoRevertHistoryMixin, SimpleHistoryAdmin):
    form = IncidentChangeForm
    list_display = (
        "display_number",
        "title",
        "state",
        "priority",
        "assignee",
        "team",
        "affected_services",
        "created_at",
    )
    list_display_links = ("display_number", "title")
    list_filter = (
        OpenListFilter,
        "state",
        "priority",
        "category",
        "source",
        "priority_overridden",
        "team",
        ("assignee", admin.RelatedOnlyFieldListFilter),
        ("services", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("assignee", "team")
    search_fields = ("title", "description")
    search_help_text = _("Search by number (INC-12), title or description.")
    date_hierarchy = "created_at"
    autocomplete_fields = ("services", "assignee", "commander", "team", "duplicate_of", "major_incident")
    inlines = (PostMortemInline, AttachmentInline, TimelineInline)
    actions = ("acknowledge_selected", "investigate_selected", "resume_selected", "close_selected")

    add_fieldsets: tuple[tuple[Any, dict[str, Any]], ...] = (
        (None, {"fields": ("title", "description", "category", "source")}),
        (_("Priority"), {"fields": ("impact", "urgency", "priority", "priority_override_reason")}),
        (_("Scope"), {"fields": ("services", "affected_users", "started_at", "detected_at", "diagnostics")}),
        (_("People"), {"fields": ("team", "assignee", "commander")}),
    )
    change_fieldsets: tuple[tuple[Any, dict[str, Any]], ...] = (
        (None, {"fields": ("display_number", "title", "description", "category", "source", "state")}),
        (
            _("Priority"),
            {
                "fields": (
                    "impact",
                    "urgency",
                    "priority",
                    "priority_overridden",
                    "current_override_reason",
                    "priority_override_reason",
                )
            },
        ),
        (_("People"), {"fields": ("reporter", "assignee", "commander", "team")}),
        (_("Scope"), {"fields": ("services", "affected_users", "started_at", "detected_at", "diagnostics")}),
        (_("Links"), {"fields": LINK_FIELDS}),
        (_("Outcome"), {"fields": ("mitigation", "root_cause", "resolution")}),
        (
            _("Lifecycle"),
            {
                "fields": (
                    "created_at",
                    "updated_at",
                    "acknowledged_at",
                    "mitigated_at",
                    "resolved_at",
                    "closed_at",
                    "cancelled_at",
                ),
                "classes": ("collapse",),
            },
        ),
    )
    change_readonly_fields = (
        "display_number",
        "state",
        "source",
        "reporter",
        "priority_overridden",
        "current_override_reason",
        "mitigation",
        "root_cause",
        "resolution",
        "created_at",
        "updated_at",
        "acknowledged_at",
        "mitigated_at",
        "resolved_at",
        "closed_at",
        "cancelled_at",
    )

    # --- Display ---------------------------------------------------------

    @admin.display(description=_("number"), ordering="pk")
    def display_number(self, obj: Incident) -> str:
        return obj.number

    @admin.display(description=_("reason for the current priority"))
    def current_override_reason(self, obj: Incident) -> str:
        return obj.priority_override_reason if obj.priority_overridden else str(_("From impact and urgency"))

    @admin.display(description=_("services"))
    def affected_services(self, obj: Incident) -> str:
        return ", ".join(service.name for service in obj.services.all())

    # --- Queries ---------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        queryset: QuerySet[Incident] = super().get_queryset(request)
        return queryset.prefetch_related("services")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Incident], search_term: str
    ) -> tuple[QuerySet[Incident], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return match_incident_number(queryset, results, search_term, "pk"), may_have_duplicates

    # --- Permissions -----------------------------------------------------

    def has_delete_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        # An incident is cancelled, never deleted: its timeline is the audit trail.
        return False

    def has_transition_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(TRANSITION_PERMISSION))

    def has_close_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(CLOSE_PERMISSION))

    # --- The form --------------------------------------------------------

    def _hidden_fields(self, request: HttpRequest, obj: Incident | None) -> set[str]:
        """Inputs the user has no right to use (reading them stays possible on a change)."""
        hidden: set[str] = set()
        if not request.user.has_perm(OVERRIDE_PERMISSION):
            hidden |= {"priority_override_reason"} if obj is not None else {"priority", "priority_override_reason"}
        if obj is None and not request.user.has_perm(ASSIGN_PERMISSION):
            hidden |= {"assignee", "commander"}
        return hidden

    def get_fieldsets(self, request: HttpRequest, obj: Incident | None = None) -> list[tuple[Any, Any]]:
        hidden = self._hidden_fields(request, obj)
        return [
            (name, {**options, "fields": tuple(f for f in options["fields"] if f not in hidden)})
            for name, options in (self.change_fieldsets if obj is not None else self.add_fieldsets)
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Incident | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        readonly: tuple[str, ...] = self.change_readonly_fields
        if not request.user.has_perm(OVERRIDE_PERMISSION):
            readonly += ("priority",)
        if not request.user.has_perm(ASSIGN_PERMISSION):
            readonly += PEOPLE_FIELDS
        return readonly

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        kwargs["form"] = IncidentChangeForm if obj is not None else IncidentAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        fields = tuple(super().get_autocomplete_fields(request))
        if not can_browse_users(request):
            # Without the right to view users the autocomplete would answer 403: use a plain list.
            fields = tuple(name for name in fields if name not in USER_FIELDS)
        return fields

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if (
            db_field.name in (*USER_FIELDS, *LINK_FIELDS)
            and formfield is not None
            and isinstance(formfield.widget, RelatedFieldWidgetWrapper)
        ):
            # Pick people and incidents here; create, edit or delete them on their own pages.
            formfield.widget.can_add_related = False
            formfield.widget.can_change_related = False
            formfield.widget.can_delete_related = False
        return formfield

    def get_inlines(self, request: HttpRequest, obj: Incident | None) -> list[type[admin.options.InlineModelAdmin]]:
        return list(self.inlines) if obj is not None else []

    # --- Saving through the domain ----------------------------------------

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> Incident:
        if change:
            # Saved field by field through the domain in save_model.
            instance: Incident = form.instance
            return instance
        data = form.cleaned_data
        with domain_refusals():
            return services.report_incident(
                reporter=request.user,
                title=data["title"],
                description=data.get("description") or "",
                category=data["category"],
                source=data["source"],
                impact=data["impact"],
                urgency=data["urgency"],
                services=data.get("services") or (),
                started_at=data.get("started_at"),
                detected_at=data.get("detected_at"),
                affected_users=data.get("affected_users"),
                diagnostics=data.get("diagnostics") or "",
                team=data.get("team"),
                assignee=data.get("assignee"),
                commander=data.get("commander"),
                priority=data.get("priority") or None,
                priority_override_reason=data.get("priority_override_reason") or "",
            )

    def save_model(self, request: HttpRequest, obj: Incident, form: forms.ModelForm, change: bool) -> None:
        if not change:
            return  # report_incident created it in save_form
        data, changed = form.cleaned_data, set(form.changed_data)
        actor = request.user
        with domain_refusals(), transaction.atomic():
            incident = obj
            details = {field: data[field] for field in services.EDITABLE_FIELDS if field in changed and field in data}
            if details:
                incident = services.update_incident(incident=incident, actor=actor, changes=details)
            if "priority" in changed and "priority" in data:
                incident = services.override_priority(
                    incident=incident,
                    actor=actor,
                    priority=data["priority"],
                    reason=data.get("priority_override_reason") or "",
                )
            people = {field: data[field] for field in PEOPLE_FIELDS if field in changed and field in data}
            if people:
                incident = services.assign_incident(incident=incident, actor=actor, **people)
            if "major_incident" in changed and data.get("major_incident") is not None:
                incident = services.link_to_major_incident(incident=incident, actor=actor, major=data["major_incident"])
            if "duplicate_of" in changed and data.get("duplicate_of") is not None:
                services.link_as_duplicate(incident=incident, actor=actor, original=data["duplicate_of"])

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        # Services were set by the domain functions; the inlines are read-only.
        return

    # --- The change page's tools ------------------------------------------

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


# --- Timeline and attachments (read-only) ------------------------------------


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable and searchable; written only by the domain functions."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TimelineEntry)
class TimelineEntryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "incident_number", "kind", "visibility", "short_body", "actor")
    list_filter = ("kind", "visibility")
    list_select_related = ("incident", "actor")
    search_fields = ("body", "incident__title")
    search_help_text = _("Search by incident number (INC-12), incident title or text.")
    date_hierarchy = "created_at"
    fields = ("incident_number", "kind", "visibility", "body", "actor", "data", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[TimelineEntry]:
        queryset: QuerySet[TimelineEntry] = super().get_queryset(request)
        if not request.user.has_perm(INTERNAL_NOTE_PERMISSION):
            queryset = queryset.filter(visibility=Visibility.PUBLIC)
        return queryset

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[TimelineEntry], search_term: str
    ) -> tuple[QuerySet[TimelineEntry], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return match_incident_number(queryset, results, search_term, "incident_id"), may_have_duplicates

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: TimelineEntry) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("text"))
    def short_body(self, obj: TimelineEntry) -> str:
        return str(truncatechars(obj.body, 100))


@admin.register(Attachment)
class AttachmentAdmin(ReadOnlyAdmin):
    list_display = ("name", "incident_number", "file_size", "content_type", "uploaded_by", "created_at")
    list_filter = ("content_type",)
    list_select_related = ("incident", "uploaded_by")
    search_fields = ("name", "incident__title")
    search_help_text = _("Search by incident number (INC-12), incident title or file name.")
    date_hierarchy = "created_at"
    fields = ("incident_number", "file_link", "file_size", "content_type", "uploaded_by", "created_at")
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Attachment], search_term: str
    ) -> tuple[QuerySet[Attachment], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return match_incident_number(queryset, results, search_term, "incident_id"), may_have_duplicates

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: Attachment) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("file"))
    def file_link(self, obj: Attachment) -> str:
        return format_html('<a href="{}">{}</a>', obj.file.url, obj.name) if obj.file else obj.name

    @admin.display(description=_("size"), ordering="size")
    def file_size(self, obj: Attachment) -> str:
        return str(filesizeformat(obj.size))


# --- Post-mortems ------------------------------------------------------------------


class PostMortemForm(DomainModelForm):
    summary = forms.CharField(
        label=_("summary"),
        required=False,
        max_length=lifecycle.MAX_TEXT_LENGTH * 5,
        widget=forms.Textarea(attrs={"rows": 20, "cols": 100}),
        help_text=_("Publishing needs a summary; a published post-mortem lets a P1 or P2 incident close."),
    )

    class Meta:
        model = PostMortem
        fields = ("incident", "status", "summary")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        status = self.fields.get("status")
        if isinstance(status, forms.ChoiceField):
            # write_postmortem drafts or publishes; it never moves a post-mortem back.
            current = self.instance.status if self.instance.pk else PostMortemStatus.DRAFT
            status.choices = [
                (value, label)
                for value, label in PostMortemStatus.choices
                if value in {current, PostMortemStatus.PUBLISHED}
            ]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        status = cleaned.get("status", self.instance.status)
        if status == PostMortemStatus.PUBLISHED and not (cleaned.get("summary") or "").strip():
            self.add_error("summary", _("Write the summary before publishing."))
        return cleaned


@admin.register(PostMortem)
class PostMortemAdmin(DomainFormAdminMixin, NoRevertHistoryMixin, SimpleHistoryAdmin):
    form = PostMortemForm
    list_display = ("incident_number", "incident_title", "status", "published_at", "published_by", "updated_at")
    list_filter = ("status",)
    list_select_related = ("incident", "published_by")
    search_fields = ("incident__title", "summary")
    search_help_text = _("Search by incident number (INC-12), incident title or summary.")
    date_hierarchy = "created_at"
    autocomplete_fields = ("incident",)

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: PostMortem) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("title"), ordering="incident__title")
    def incident_title(self, obj: PostMortem) -> str:
        return obj.incident.title

    def get_fields(self, request: HttpRequest, obj: PostMortem | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("incident", "status", "summary")
        return ("incident_number", "status", "summary", "published_at", "published_by", "created_at", "updated_at")

    def get_readonly_fields(self, request: HttpRequest, obj: PostMortem | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        readonly: tuple[str, ...] = ("incident_number", "published_at", "published_by", "created_at", "updated_at")
        if obj.status == PostMortemStatus.PUBLISHED:
            readonly += ("status",)
        return readonly

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[PostMortem], search_term: str
    ) -> tuple[QuerySet[PostMortem], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return match_incident_number(queryset, results, search_term, "incident_id"), may_have_duplicates

    def has_delete_permission(self, request: HttpRequest, obj: PostMortem | None = None) -> bool:
        return False

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> PostMortem:
        instance: PostMortem = form.instance
        incident = instance.incident if change else form.cleaned_data["incident"]
        status = form.cleaned_data.get("status", instance.status)
        with domain_refusals():
            return postmortems.write_postmortem(
                incident=incident,
                actor=request.user,
                summary=form.cleaned_data.get("summary") or "",
                publish=status == PostMortemStatus.PUBLISHED,
            )

    def save_model(self, request: HttpRequest, obj: PostMortem, form: forms.ModelForm, change: bool) -> None:
        return  # write_postmortem saved it in save_form

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        return
