"""What the incident admins share: refused domain changes, read-only admins, small helpers.

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
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from incidents.choices import OPEN_STATES
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.models import Attachment, Incident

INTERNAL_NOTE_PERMISSION = "incidents.add_internal_note"
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


class NoWritePermissionsMixin:
    """Nothing can be added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(NoWritePermissionsMixin, admin.TabularInline):
    """An inline that lists related rows and offers no way to change them."""

    extra = 0
    can_delete = False


class ReadOnlyAdmin(NoWritePermissionsMixin, admin.ModelAdmin):
    """Viewable and searchable; written only by the domain functions."""


class IncidentNumberSearchMixin(admin.ModelAdmin):
    """The search also finds the rows of the incident whose number is the search term."""

    # The lookup that names the incident's primary key on this admin's model.
    incident_lookup = "incident_id"

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        return match_incident_number(queryset, results, search_term, self.incident_lookup), may_have_duplicates


# --- Attachments -------------------------------------------------------------


def attachment_download_url(attachment: Attachment) -> str:
    """The API's authenticated download (media files are not served publicly)."""
    return f"/api/v1/incidents/INC-{attachment.incident_id}/attachments/{attachment.pk}/"


def attachment_link(attachment: Attachment) -> str:
    url = attachment_download_url(attachment)
    return format_html('<a href="{}">{}</a>', url, attachment.name) if attachment.file else attachment.name


def attachment_size(attachment: Attachment) -> str:
    return str(filesizeformat(attachment.size))
