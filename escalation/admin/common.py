"""What the escalation admins share: autocompletes the user may browse, time-zone pickers, incident links."""

from collections.abc import Iterable
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from django import forms
from django.contrib import admin
from django.contrib.admin.options import BaseModelAdmin
from django.db.models import Field, Model
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from incidents.admin.common import IncidentNumberSearchMixin, ReadOnlyAdmin
from incidents.models import NUMBER_PREFIX

TIME_ZONE_FIELD = "time_zone"


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name) for name in sorted(available_timezones())]


def may_browse(admin_site: admin.AdminSite, request: HttpRequest, model: type[Model] | None) -> bool:
    """Whether the admin of `model` answers this user's autocomplete (it needs the view right there)."""
    if model is None or not admin_site.is_registered(model):
        return False
    return bool(admin_site.get_model_admin(model).has_view_permission(request))


class PermittedAutocompleteMixin(BaseModelAdmin):
    """Autocomplete only the relations this user may browse.

    The others fall back to `filter_horizontal` (many-to-many) or a plain select,
    so someone who may edit the configuration but not view users can still pick them.
    """

    def get_autocomplete_fields(self, request: HttpRequest) -> tuple[str, ...]:
        fields = super().get_autocomplete_fields(request)
        opts = self.model._meta
        return tuple(
            name for name in fields if may_browse(self.admin_site, request, opts.get_field(name).related_model)
        )


class TimeZonePickerMixin(BaseModelAdmin):
    """The `time_zone` field is picked from the IANA names instead of typed."""

    def formfield_for_dbfield(self, db_field: Field, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == TIME_ZONE_FIELD:
            kwargs["widget"] = forms.Select(choices=time_zone_choices())
        return super().formfield_for_dbfield(db_field, request, **kwargs)


def incident_number_link(incident_id: int | None) -> str:
    """A link to the incident, from its id alone (no query for the incident)."""
    if incident_id is None:
        return "—"
    url = reverse("admin:incidents_incident_change", args=[incident_id])
    return format_html('<a href="{}">{}{}</a>', url, NUMBER_PREFIX, incident_id)


def change_link(obj: Model | None) -> str:
    """A link to `obj`'s change page, or its name when it has no admin."""
    if obj is None:
        return "—"
    opts = obj._meta
    try:
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
    except NoReverseMatch:
        return str(obj)
    return format_html('<a href="{}">{}</a>', url, obj)


class IncidentRecordAdmin(IncidentNumberSearchMixin, ReadOnlyAdmin):
    """A read-only admin of rows that belong to an incident, found by its number too."""

    search_help_text = _("Search by incident number (INC-12) or text.")

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: Any) -> str:
        return incident_number_link(obj.incident_id)


def service_links(services: Iterable[Any]) -> str:
    """A list of links to services, inactive ones marked."""
    return format_html(
        "<ul>{}</ul>",
        format_html_join(
            "",
            '<li><a href="{}">{}</a>{}</li>',
            (
                (
                    reverse("admin:incidents_service_change", args=[service.pk]),
                    service.name,
                    "" if service.is_active else format_html(" ({})", _("inactive")),
                )
                for service in services
            ),
        ),
    )
