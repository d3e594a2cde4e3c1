"""Verification and stakeholder updates in the back office.

On the incident's page: its monitoring periods and status updates (read-only
inlines) and, among its fields, when monitoring ends, when it became ready
to resolve and when the next update is due. Apart: the status updates, the
subscriptions to a service's stakeholder updates (managed by incident
managers through `incidents.updates`; a webhook's signing secret is shown
once, on the page after it was made) and their delivery log (read-only, with
a "Redeliver" action).
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from incidents import monitoring, updates
from incidents.admin.common import (
    INTERNAL_NOTE_PERMISSION,
    DomainFormAdminMixin,
    DomainModelForm,
    IncidentNumberSearchMixin,
    NoRevertHistoryMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    domain_refusals,
    error_text,
    incident_link,
)
from incidents.choices import SubscriptionChannel, UpdateAudience
from incidents.models import Incident, MonitoringPeriod, StatusUpdate, UpdateDelivery, UpdateSubscription
from incidents.update_delivery import redeliver_update

SECRET_TEMPLATE = "admin/incidents/updatesubscription/secret.html"  # noqa: S105 — a template name
FOLLOW_UP_FIELDS = ("monitoring_ends", "ready_to_resolve", "next_update_due")


def _internal_hidden(request: HttpRequest, queryset: QuerySet[StatusUpdate]) -> QuerySet[StatusUpdate]:
    if request.user.has_perm(INTERNAL_NOTE_PERMISSION):
        return queryset
    return queryset.filter(audience=UpdateAudience.STAKEHOLDERS)


# --- On the incident's page --------------------------------------------------------


class MonitoringPeriodInline(ReadOnlyInline):
    model = MonitoringPeriod
    fields = ("started_at", "length", "ends_at", "outcome", "ended_at", "started_by")
    readonly_fields = fields
    ordering = ("started_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[MonitoringPeriod]:
        queryset: QuerySet[MonitoringPeriod] = super().get_queryset(request).select_related("started_by")
        return queryset


class StatusUpdateInline(ReadOnlyInline):
    model = StatusUpdate
    fields = ("created_at", "audience", "body", "state", "priority", "author")
    readonly_fields = fields
    ordering = ("created_at", "id")

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatusUpdate]:
        return _internal_hidden(request, super().get_queryset(request).select_related("author"))


class IncidentFollowUpMixin:
    """What the incident's change page shows of its verification and its update cadence."""

    @admin.display(description=_("monitoring ends at"))
    def monitoring_ends(self, obj: Incident) -> Any:
        return monitoring.monitoring_ends_at(list(obj.monitoring_periods.all())) or "—"

    @admin.display(description=_("ready to resolve since"))
    def ready_to_resolve(self, obj: Incident) -> Any:
        return monitoring.ready_to_resolve_at(obj, list(obj.monitoring_periods.all())) or "—"

    @admin.display(description=_("next status update due at"))
    def next_update_due(self, obj: Incident) -> Any:
        return updates.next_update_due_at(obj) or "—"


@admin.register(StatusUpdate)
class StatusUpdateAdmin(IncidentNumberSearchMixin, ReadOnlyAdmin):
    list_display = ("created_at", "incident_number", "audience", "short_body", "state", "priority", "author")
    list_filter = ("audience", "priority")
    list_select_related = ("incident", "author")
    search_fields = ("body", "incident__title")
    search_help_text = _("Search by incident number (INC-12), incident title or text.")
    date_hierarchy = "created_at"
    fields = ("incident_number", "audience", "body", "state", "priority", "author", "created_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[StatusUpdate]:
        return _internal_hidden(request, super().get_queryset(request))

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: StatusUpdate) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("update"))
    def short_body(self, obj: StatusUpdate) -> str:
        return str(truncatechars(obj.body, 100))


# --- Subscriptions ------------------------------------------------------------------


class SubscriptionAddForm(DomainModelForm):
    class Meta:
        model = UpdateSubscription
        fields = ("service", "user", "email", "url")
        help_texts = {
            "url": _("A webhook receiver: each update is POSTed here, signed with a secret shown once."),
        }

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        # The model's constraints check the channel; it follows from the recipient.
        self.instance.channel = SubscriptionChannel.WEBHOOK if cleaned.get("url") else SubscriptionChannel.EMAIL
        return cleaned


class SubscriptionChangeForm(DomainModelForm):
    class Meta:
        model = UpdateSubscription
        fields = ("is_active",)


@admin.register(UpdateSubscription)
class UpdateSubscriptionAdmin(DomainFormAdminMixin, NoRevertHistoryMixin, SimpleHistoryAdmin):
    list_display = ("service", "channel", "subscriber", "is_active", "created_by", "created_at")
    list_filter = ("channel", "is_active", "service")
    list_select_related = ("service", "user", "created_by")
    search_fields = ("service__name", "user__username", "email")
    autocomplete_fields = ("service", "user")
    change_fields = ("service", "channel", "subscriber", "is_active", "created_by", "created_at")
    change_readonly_fields = ("service", "channel", "subscriber", "created_by", "created_at")

    @admin.display(description=_("subscriber"))
    def subscriber(self, obj: UpdateSubscription) -> str:
        return obj.recipient

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        kwargs["form"] = SubscriptionChangeForm if obj is not None else SubscriptionAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: UpdateSubscription | None = None) -> Any:
        return self.change_fields if obj is not None else ("service", "user", "email", "url")

    def get_readonly_fields(self, request: HttpRequest, obj: UpdateSubscription | None = None) -> Any:
        return self.change_readonly_fields if obj is not None else ()

    def save_form(self, request: HttpRequest, form: forms.ModelForm, change: bool) -> UpdateSubscription:
        data = form.cleaned_data
        with domain_refusals():
            if change:
                return updates.set_subscription_active(
                    actor=request.user, subscription=form.instance, active=bool(data.get("is_active"))
                )
            return updates.subscribe(
                actor=request.user,
                service=data["service"],
                user=data.get("user"),
                email=data.get("email") or "",
                url=data.get("url") or "",
            )

    def save_model(self, request: HttpRequest, obj: UpdateSubscription, form: Any, change: bool) -> None:
        return  # saved by the domain function in save_form

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        return

    def delete_model(self, request: HttpRequest, obj: UpdateSubscription) -> None:
        updates.unsubscribe(actor=request.user, subscription=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[UpdateSubscription]) -> None:
        for subscription in queryset.order_by("pk"):
            updates.unsubscribe(actor=request.user, subscription=subscription)

    def response_add(self, request: HttpRequest, obj: UpdateSubscription, post_url_continue: str | None = None) -> Any:
        if obj.channel != SubscriptionChannel.WEBHOOK:
            return super().response_add(request, obj, post_url_continue)
        self.message_user(request, _("The webhook subscription was added."), messages.SUCCESS)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Copy the signing secret now"),
            "opts": self.opts,
            "original": obj,
            "secret": obj.secret,
            "change_url": reverse(f"{self.admin_site.name}:incidents_updatesubscription_change", args=[obj.pk]),
            "changelist_url": reverse(f"{self.admin_site.name}:incidents_updatesubscription_changelist"),
        }
        request.current_app = self.admin_site.name
        response = TemplateResponse(request, SECRET_TEMPLATE, context)
        # The one page that shows the secret is never kept by a browser or a proxy.
        response["Cache-Control"] = "no-store"
        return response


@admin.register(UpdateDelivery)
class UpdateDeliveryAdmin(IncidentNumberSearchMixin, ReadOnlyAdmin):
    list_display = (
        "created_at",
        "incident_number",
        "subscription",
        "channel",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "short_error",
    )
    list_filter = ("status", "channel")
    list_select_related = ("incident", "subscription__service", "subscription__user")
    search_fields = ("subscription__service__name", "subscription__email", "subscription__user__username")
    search_help_text = _("Search by incident number (INC-12), service or subscriber.")
    date_hierarchy = "created_at"
    actions = ("redeliver",)
    fields = (
        "incident_number",
        "update_text",
        "subscription",
        "channel",
        "event_id",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "delivered_at",
        "redelivered_by",
        "redelivered_at",
        "created_at",
    )
    readonly_fields = fields

    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("incidents.redeliver_updatedelivery"))

    @admin.display(description=_("incident"), ordering="incident_id")
    def incident_number(self, obj: UpdateDelivery) -> str:
        return incident_link(obj.incident)

    @admin.display(description=_("update"))
    def update_text(self, obj: UpdateDelivery) -> str:
        return obj.update.body

    @admin.display(description=_("last error"))
    def short_error(self, obj: UpdateDelivery) -> str:
        return str(truncatechars(obj.last_error, 80)) if obj.last_error else ""

    @admin.action(description=_("Redeliver the selected updates"), permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[UpdateDelivery]) -> None:
        for delivery in queryset.select_related("subscription").order_by("pk"):
            label = f"{delivery.event_id} → {delivery.subscription.recipient}"
            try:
                redeliver_update(delivery=delivery, actor=request.user)
            except (PermissionDenied, ValidationError) as error:
                messages.error(
                    request,
                    _("%(delivery)s was not redelivered: %(reason)s")
                    % {"delivery": label, "reason": error_text(error)},
                )
            else:
                messages.success(request, _("%(delivery)s: queued for delivery again.") % {"delivery": label})
