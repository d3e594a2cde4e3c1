"""The action items admin: every follow-up across incidents, filtered by status, owner and overdue.

Items are added and changed through `incidents.action_items` (they are also
inline on their post-mortem's page); none is ever deleted.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incidents import action_items
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
from incidents.choices import ACTION_ITEM_PENDING, ActionItemStatus
from incidents.models import ActionItem
from incidents.postmortem_selectors import overdue_condition

ITEM_FIELDS = ("title", "description", "kind", "owner", "due_date", "status", "resolution_note")


class OverdueListFilter(admin.SimpleListFilter):
    title = _("overdue")
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Overdue")), ("no", _("Not overdue"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(overdue_condition())
        if self.value() == "no":
            return queryset.exclude(overdue_condition())
        return queryset


class ActionItemForm(DomainModelForm):
    class Meta:
        model = ActionItem
        fields = ("postmortem", *ITEM_FIELDS)


@admin.register(ActionItem)
class ActionItemAdmin(IncidentNumberSearchMixin, DomainFormAdminMixin, NoRevertHistoryMixin, SimpleHistoryAdmin):
    form = ActionItemForm
    list_display = ("title", "incident_number", "owner", "due_date", "status", "is_overdue", "kind")
    list_filter = ("status", OverdueListFilter, ("owner", admin.RelatedOnlyFieldListFilter), "kind")
    list_select_related = ("incident", "owner")
    search_fields = ("title", "description", "incident__title")
    search_help_text = _("Search by incident number (INC-12), incident title or the item's text.")
    date_hierarchy = "created_at"
    autocomplete_fields = ("postmortem", "owner")
    actions = ("mark_done", "mark_in_progress")

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: ActionItem) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("overdue"), boolean=True)
    def is_overdue(self, obj: ActionItem) -> bool:
        return obj.is_overdue()

    def get_fields(self, request: HttpRequest, obj: ActionItem | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("postmortem", *ITEM_FIELDS)
        return ("incident_number", "postmortem", *ITEM_FIELDS, "created_by", "created_at", "completed_at")

    def get_readonly_fields(self, request: HttpRequest, obj: ActionItem | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("incident_number", "postmortem", "created_by", "created_at", "completed_at")

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        fields = tuple(super().get_autocomplete_fields(request))
        if not can_browse_users(request):
            fields = tuple(name for name in fields if name != "owner")
        return fields

    def has_delete_permission(self, request: HttpRequest, obj: ActionItem | None = None) -> bool:
        # An action item ends as done or won't do; deleting it would lose the follow-up.
        return False

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> ActionItem:
        data = form.cleaned_data
        values: dict[str, Any] = {name: data.get(name) for name in ITEM_FIELDS}
        values["description"] = values["description"] or ""
        values["resolution_note"] = values["resolution_note"] or ""
        with domain_refusals():
            if not change:
                return action_items.add_action_item(postmortem=data["postmortem"], actor=request.user, **values)
            changes = {name: value for name, value in values.items() if name in form.changed_data}
            return action_items.update_action_item(item=form.instance, actor=request.user, changes=changes)

    def save_model(self, request: HttpRequest, obj: ActionItem, form: forms.ModelForm, change: bool) -> None:
        return  # the domain function saved it in save_form

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        return

    def _set_status(self, request: HttpRequest, queryset: QuerySet[ActionItem], status: str) -> None:
        count = 0
        for item in queryset:
            try:
                action_items.update_action_item(item=item, actor=request.user, changes={"status": status})
            except (ValidationError, PermissionDenied) as error:
                messages.error(request, f"{item.title}: {error_text(error)}")
            else:
                count += 1
        if count:
            messages.success(
                request,
                _("%(count)d action item(s) now %(status)s.")
                % {"count": count, "status": ActionItemStatus(status).label},
            )

    @admin.action(description=_("Mark the selected action items done"))
    def mark_done(self, request: HttpRequest, queryset: QuerySet[ActionItem]) -> None:
        self._set_status(request, queryset, ActionItemStatus.DONE)

    @admin.action(description=_("Mark the selected action items in progress"))
    def mark_in_progress(self, request: HttpRequest, queryset: QuerySet[ActionItem]) -> None:
        self._set_status(request, queryset.filter(status__in=ACTION_ITEM_PENDING), ActionItemStatus.IN_PROGRESS)
