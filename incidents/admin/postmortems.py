"""The post-mortem admin: its page, with the timeline rows and the action items inline, and its list actions.

Every change goes through `incidents.postmortems`, `incidents.postmortem_timeline`
and `incidents.action_items`, like the API: the page's fields, its inline rows and its state change are
applied by the domain functions inside the admin's transaction, so a refusal
rolls all of it back and shows on the form.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import RelatedFieldWidgetWrapper
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Field, Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incidents import action_items, postmortem_timeline, postmortems
from incidents.admin.action_items import ITEM_FIELDS
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
from incidents.choices import PostMortemStatus
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.models import ActionItem, PostMortem, PostMortemMoment

TRANSITION_LABELS: dict[str, Any] = {
    "submit": _("Submit for review"),
    "return_to_draft": _("Return to draft"),
    "publish": _("Publish"),
    "reopen": _("Reopen to draft"),
}
CONTENT_FIELDS = (
    "author",
    "summary",
    "downtime_started_at",
    "downtime_ended_at",
    "affected_users",
    "affected_services",
    "root_cause",
    "contributing_factors",
    "what_went_well",
    "what_went_badly",
    "lessons",
)
STATE_FIELDS = ("transition", "transition_note", "regenerate_timeline")
RECORD_FIELDS = ("incident_number", "status", "submitted_at", "published_at", "published_by", "created_at")
MOMENT_FIELDS = ("occurred_at", "body", "visibility", "is_key_moment")


def _write_right(request: HttpRequest) -> bool:
    return bool(request.user.has_perm(postmortems.WRITE_PERMISSION))


class PostMortemForm(DomainModelForm):
    form_only_fields = STATE_FIELDS

    transition = forms.ChoiceField(label=_("Change the state"), required=False, choices=[("", "—")])
    transition_note = forms.CharField(
        label=_("Note or reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 80}),
        help_text=_("Goes on the incident's timeline; reopening needs a reason."),
    )
    regenerate_timeline = forms.BooleanField(
        label=_("Regenerate the timeline"),
        required=False,
        help_text=_(
            "Rebuild the generated rows from the incident (edits to them are replaced); "
            "rows you added and key marks stay."
        ),
    )

    class Meta:
        model = PostMortem
        fields = ("incident", *CONTENT_FIELDS)


class MomentInline(admin.TabularInline):
    model = PostMortemMoment
    fields = (*MOMENT_FIELDS, "actor", "source")
    readonly_fields = ("actor", "source")
    extra = 1
    verbose_name = _("timeline row")
    verbose_name_plural = _("timeline (rows you add are kept when the timeline is regenerated)")

    def _editable(self, request: HttpRequest, obj: Model | None) -> bool:
        return _write_right(request) and (obj is None or getattr(obj, "status", "") != PostMortemStatus.PUBLISHED)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.has_perm("incidents.view_postmortem"))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._editable(request, obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet[PostMortemMoment]:
        queryset: QuerySet[PostMortemMoment] = super().get_queryset(request).select_related("actor")
        return queryset


class ActionItemInline(admin.TabularInline):
    model = ActionItem
    fk_name = "postmortem"
    fields = ITEM_FIELDS
    extra = 1
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[ActionItem]:
        queryset: QuerySet[ActionItem] = super().get_queryset(request).select_related("owner")
        return queryset

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if (
            db_field.name == "owner"
            and formfield is not None
            and isinstance(formfield.widget, RelatedFieldWidgetWrapper)
        ):
            formfield.widget.can_add_related = False
            formfield.widget.can_change_related = False
            formfield.widget.can_delete_related = False
        if db_field.name in ("description", "resolution_note") and formfield is not None:
            formfield.widget = forms.Textarea(attrs={"rows": 2, "cols": 30})
        return formfield


@admin.register(PostMortem)
class PostMortemAdmin(IncidentNumberSearchMixin, DomainFormAdminMixin, NoRevertHistoryMixin, SimpleHistoryAdmin):
    form = PostMortemForm
    list_display = ("incident_number", "incident_title", "status", "author", "published_at", "updated_at")
    list_filter = ("status",)
    list_select_related = ("incident", "author")
    search_fields = ("incident__title", "summary", "root_cause", "lessons")
    search_help_text = _("Search by incident number (INC-12), incident title, summary, root cause or lessons.")
    date_hierarchy = "created_at"
    autocomplete_fields = ("incident", "author", "affected_services")
    inlines = (MomentInline, ActionItemInline)
    actions = ("submit_selected", "publish_selected", "regenerate_selected")

    # --- Display -----------------------------------------------------------

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: PostMortem) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("title"), ordering="incident__title")
    def incident_title(self, obj: PostMortem) -> str:
        return obj.incident.title

    # --- The page -----------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: PostMortem | None = None) -> list[tuple[Any, Any]]:
        if obj is None:
            return [(None, {"fields": ("incident", "summary")})]
        state = [name for name in STATE_FIELDS if name != "regenerate_timeline" or self._editable(request, obj)]
        return [
            (None, {"fields": (*RECORD_FIELDS, "author")}),
            (
                _("Summary and impact"),
                {
                    "fields": (
                        "summary",
                        "downtime_started_at",
                        "downtime_ended_at",
                        "affected_users",
                        "affected_services",
                    )
                },
            ),
            (
                _("Analysis"),
                {"fields": ("root_cause", "contributing_factors", "what_went_well", "what_went_badly", "lessons")},
            ),
            (_("State"), {"fields": tuple(state)}),
        ]

    def _editable(self, request: HttpRequest, obj: PostMortem | None) -> bool:
        return _write_right(request) and (obj is None or obj.status != PostMortemStatus.PUBLISHED)

    def get_readonly_fields(self, request: HttpRequest, obj: PostMortem | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        if not self._editable(request, obj):
            return (*RECORD_FIELDS, *CONTENT_FIELDS)
        return RECORD_FIELDS

    def get_inlines(self, request: HttpRequest, obj: PostMortem | None) -> list[type[admin.options.InlineModelAdmin]]:
        return list(self.inlines) if obj is not None else []

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        fields = tuple(super().get_autocomplete_fields(request))
        if not can_browse_users(request):
            fields = tuple(name for name in fields if name != "author")
        return fields

    def get_form(
        self, request: HttpRequest, obj: Model | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change, **kwargs)
        choice = form.base_fields.get("transition")
        if isinstance(choice, forms.ChoiceField) and isinstance(obj, PostMortem):
            allowed = postmortems.possible_postmortem_transitions(postmortem=obj, user=request.user)
            choice.choices = [("", "—"), *((name, TRANSITION_LABELS[name]) for name in allowed)]
        return form

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(postmortems.ADD_PERMISSION))

    def has_delete_permission(self, request: HttpRequest, obj: PostMortem | None = None) -> bool:
        return False

    # --- Saving through the domain ---------------------------------------------

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> PostMortem:
        data = form.cleaned_data
        if not change:
            with domain_refusals():
                postmortem = postmortems.write_postmortem(
                    incident=data["incident"], actor=request.user, changes={"summary": data.get("summary") or ""}
                )
        else:
            postmortem = form.instance
            changes = {name: data[name] for name in CONTENT_FIELDS if name in form.changed_data and name in data}
            if changes:
                with domain_refusals():
                    postmortem = postmortems.write_postmortem(
                        incident=postmortem.incident, actor=request.user, changes=changes
                    )
        form.instance = postmortem
        return postmortem

    def save_model(self, request: HttpRequest, obj: PostMortem, form: forms.ModelForm, change: bool) -> None:
        return  # write_postmortem saved it in save_form

    def save_related(self, request: HttpRequest, form: forms.ModelForm, formsets: Any, change: bool) -> None:
        """The inline rows, then a regenerate, then the state change: all through the domain."""
        postmortem: PostMortem = form.instance
        actor = request.user
        with domain_refusals():
            for formset in formsets:
                if formset.model is PostMortemMoment:
                    self._save_moments(request, postmortem, formset)
                elif formset.model is ActionItem:
                    self._save_items(request, postmortem, formset)
            if form.cleaned_data.get("regenerate_timeline"):
                postmortem_timeline.regenerate_timeline(postmortem=postmortem, actor=actor)
            name = form.cleaned_data.get("transition")
            if name:
                self._move(request, postmortem, name, form.cleaned_data.get("transition_note") or "")

    def _move(self, request: HttpRequest, postmortem: PostMortem, name: str, note: str) -> None:
        try:
            postmortems.transition_postmortem(
                postmortem=PostMortem.objects.get(pk=postmortem.pk), name=name, actor=request.user, note=note
            )
        except ValidationError as error:
            # The reason or note the domain refused is the form's "note or reason" field.
            refused = [m for field in ("reason", "note") for m in getattr(error, "error_dict", {}).get(field, [])]
            if not refused:
                raise
            raise ValidationError({"transition_note": refused}) from error

    def _save_moments(self, request: HttpRequest, postmortem: PostMortem, formset: Any) -> None:
        for inline_form in formset.forms:
            moment = inline_form.instance
            if inline_form in formset.deleted_forms:
                if moment.pk:
                    postmortem_timeline.remove_moment(moment=moment, actor=request.user)
                continue
            if not inline_form.has_changed():
                continue
            data = {name: inline_form.cleaned_data[name] for name in MOMENT_FIELDS if name in inline_form.cleaned_data}
            if moment.pk:
                changed = {name: value for name, value in data.items() if name in inline_form.changed_data}
                postmortem_timeline.update_moment(moment=moment, actor=request.user, changes=changed)
            else:
                postmortem_timeline.add_moment(postmortem=postmortem, actor=request.user, **data)

    def _save_items(self, request: HttpRequest, postmortem: PostMortem, formset: Any) -> None:
        for inline_form in formset.forms:
            if not inline_form.has_changed():
                continue
            item = inline_form.instance
            data: dict[str, Any] = {name: inline_form.cleaned_data.get(name) for name in ITEM_FIELDS}
            data["description"] = data["description"] or ""
            data["resolution_note"] = data["resolution_note"] or ""
            if item.pk:
                changed = {name: value for name, value in data.items() if name in inline_form.changed_data}
                action_items.update_action_item(item=item, actor=request.user, changes=changed)
            else:
                action_items.add_action_item(postmortem=postmortem, actor=request.user, **data)

    # --- List actions -----------------------------------------------------------

    def _run_each(self, request: HttpRequest, queryset: QuerySet[PostMortem], run: Any, done: Any) -> None:
        count = 0
        for postmortem in queryset.select_related("incident"):
            try:
                run(postmortem)
            except (ValidationError, PermissionDenied, TransitionNotAllowed, IncidentConflict) as error:
                messages.error(request, f"{postmortem.incident.number}: {error_text(error)}")
            else:
                count += 1
        if count:
            messages.success(request, done % {"count": count})

    @admin.action(description=_("Submit the selected post-mortems for review"))
    def submit_selected(self, request: HttpRequest, queryset: QuerySet[PostMortem]) -> None:
        self._run_each(
            request,
            queryset,
            lambda pm: postmortems.submit_postmortem(postmortem=pm, actor=request.user),
            _("%(count)d post-mortem(s) submitted for review."),
        )

    @admin.action(description=_("Publish the selected post-mortems"))
    def publish_selected(self, request: HttpRequest, queryset: QuerySet[PostMortem]) -> None:
        self._run_each(
            request,
            queryset,
            lambda pm: postmortems.publish_postmortem(postmortem=pm, actor=request.user),
            _("%(count)d post-mortem(s) published."),
        )

    @admin.action(description=_("Regenerate the timelines of the selected post-mortems"))
    def regenerate_selected(self, request: HttpRequest, queryset: QuerySet[PostMortem]) -> None:
        self._run_each(
            request,
            queryset,
            lambda pm: postmortem_timeline.regenerate_timeline(postmortem=pm, actor=request.user),
            _("%(count)d timeline(s) regenerated."),
        )
