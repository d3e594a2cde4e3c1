"""The incident admin: its list, its change page and its inlines.

Whatever it changes on an incident goes through `incidents.lifecycle` and
`incidents.services`, exactly like the API; it never calls a model transition
method, never writes `Incident.state` and never saves an incident itself.
"""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.db import transaction
from django.db.models import Field, Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incidents import services
from incidents.admin.common import (
    INTERNAL_NOTE_PERMISSION,
    LINK_FIELDS,
    DomainFormAdminMixin,
    IncidentNumberSearchMixin,
    NoRevertHistoryMixin,
    NoWritePermissionsMixin,
    OpenListFilter,
    ReadOnlyInline,
    attachment_link,
    attachment_size,
    can_browse_users,
    domain_refusals,
)
from incidents.admin.forms import IncidentAddForm, IncidentChangeForm
from incidents.admin.incident_tools import IncidentToolsMixin
from incidents.admin.intake import AlertInline
from incidents.admin.response import RESPONSE_INLINES, save_response_inlines
from incidents.admin.updates import FOLLOW_UP_FIELDS, IncidentFollowUpMixin, MonitoringPeriodInline, StatusUpdateInline
from incidents.choices import Visibility
from incidents.models import Attachment, Incident, PostMortem, TimelineEntry

OVERRIDE_PERMISSION = "incidents.override_priority"
ASSIGN_PERMISSION = "incidents.assign_incident"

PEOPLE_FIELDS = ("assignee", "commander", "team")
USER_FIELDS = ("assignee", "commander")
LIFECYCLE_FIELDS = (
    "created_at",
    "updated_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "cancelled_at",
)


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
        return attachment_link(obj)

    @admin.display(description=_("size"))
    def file_size(self, obj: Attachment) -> str:
        return attachment_size(obj)


class PostMortemInline(NoWritePermissionsMixin, admin.StackedInline):
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


@admin.register(Incident)
class IncidentAdmin(
    IncidentToolsMixin,
    IncidentFollowUpMixin,
    IncidentNumberSearchMixin,
    DomainFormAdminMixin,
    NoRevertHistoryMixin,
    SimpleHistoryAdmin,
):
    form = IncidentChangeForm
    incident_lookup = "pk"
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
    inlines = (
        *RESPONSE_INLINES,
        PostMortemInline,
        MonitoringPeriodInline,
        StatusUpdateInline,
        AttachmentInline,
        TimelineInline,
    )
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
        (_("Where the responders meet"), {"fields": ("war_room_url", "chat_channel_url")}),
        (_("Scope"), {"fields": ("services", "affected_users", "started_at", "detected_at", "diagnostics")}),
        (_("Links"), {"fields": LINK_FIELDS}),
        (_("Outcome"), {"fields": ("mitigation", "root_cause", "resolution")}),
        (_("Verification and updates"), {"fields": FOLLOW_UP_FIELDS}),
        (_("Lifecycle"), {"fields": LIFECYCLE_FIELDS, "classes": ("collapse",)}),
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
        *FOLLOW_UP_FIELDS,
        *LIFECYCLE_FIELDS,
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

    # --- Permissions -----------------------------------------------------

    def has_delete_permission(self, request: HttpRequest, obj: Incident | None = None) -> bool:
        # An incident is cancelled, never deleted: its timeline is the audit trail.
        return False

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
        if obj is None:
            return []
        inlines: list[type[admin.options.InlineModelAdmin]] = list(self.inlines)
        if obj.alerts.exists():
            inlines.insert(0, AlertInline)
        return inlines

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
        # Services were set by the domain functions; the other inlines are read-only,
        # and rows added to the response inlines go to their domain functions.
        if change:
            save_response_inlines(request, form.instance, formsets)

    # --- The change page's tools ------------------------------------------
