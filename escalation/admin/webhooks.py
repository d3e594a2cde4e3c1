"""Outbound webhooks in the back office: subscriptions, and the delivery log (read-only).

Both are the admins': superusers, and incident managers who were given the
model's permissions (`escalation.webhooks.may_manage_webhooks`). The signing
secret is never shown again after it was made: the page that creates a
subscription, or rotates its secret, shows the new one once.
"""

import json
import uuid
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.defaultfilters import truncatechars
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from escalation import webhooks
from escalation.admin.common import IncidentRecordAdmin, change_link
from escalation.models import WebhookDelivery, WebhookEvent, WebhookSubscription
from incidents.admin.common import error_text

SHOWN_ONCE_TEMPLATE = "admin/escalation/webhooksubscription/secret.html"
ROTATE_TEMPLATE = "admin/escalation/webhooksubscription/rotate_secret.html"
MASK_VISIBLE = 4


def masked(secret: str) -> str:
    """Enough of a secret to tell two apart, not enough to use it."""
    if not secret:
        return "—"
    return "•" * 12 + secret[-MASK_VISIBLE:]


class WebhookAdminMixin(admin.ModelAdmin):
    """Seen by superusers, and by incident managers who hold the model's view (or change) permission."""

    def _may(self, request: HttpRequest, action: str) -> bool:
        opts = self.opts
        return webhooks.may_manage_webhooks(request.user, f"{opts.app_label}.{action}_{opts.model_name}")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, "view") or self._may(request, "change")


class WebhookSubscriptionForm(forms.ModelForm):
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=WebhookEvent.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The receiver is sent these events, and no others."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ("name", "url", "event_types", "is_active")


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(WebhookAdminMixin, SimpleHistoryAdmin):
    form = WebhookSubscriptionForm
    change_form_template = "admin/escalation/webhooksubscription/change_form.html"
    list_display = ("name", "url", "event_list", "is_active", "created_by", "created_at")
    list_filter = ("is_active", "created_at")
    list_select_related = ("created_by",)
    search_fields = ("name", "url")
    readonly_fields = ("masked_secret", "created_by", "created_at", "updated_at")
    actions = ("send_ping",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self._may(request, "add")

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, "change")

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self._may(request, "delete")

    def get_fieldsets(self, request: HttpRequest, obj: WebhookSubscription | None = None) -> Any:
        fieldsets: list[tuple[Any, dict[str, Any]]] = [(None, {"fields": ("name", "url", "event_types", "is_active")})]
        if obj is not None:
            fieldsets += [
                (
                    _("Signature"),
                    {
                        "fields": ("masked_secret",),
                        "description": _(
                            "Every body is signed with this secret (HMAC-SHA256). It was shown once when it was "
                            "made; “Rotate secret” makes a new one and shows it once."
                        ),
                    },
                ),
                (_("Record"), {"fields": ("created_by", "created_at", "updated_at")}),
            ]
        return fieldsets

    @admin.display(description=_("event types"))
    def event_list(self, obj: WebhookSubscription) -> str:
        return ", ".join(obj.event_types or [])

    @admin.display(description=_("signing secret"))
    def masked_secret(self, obj: WebhookSubscription) -> str:
        return masked(obj.secret)

    def save_model(self, request: HttpRequest, obj: WebhookSubscription, form: Any, change: bool) -> None:
        if not change and request.user.is_authenticated:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def _secret_page(self, request: HttpRequest, subscription: WebhookSubscription, secret: str, title: Any) -> Any:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "original": subscription,
            "secret": secret,
            "change_url": reverse(
                f"{self.admin_site.name}:escalation_webhooksubscription_change", args=[subscription.pk]
            ),
            "changelist_url": reverse(f"{self.admin_site.name}:escalation_webhooksubscription_changelist"),
        }
        request.current_app = self.admin_site.name
        response = TemplateResponse(request, SHOWN_ONCE_TEMPLATE, context)
        # The one page that shows the secret is never kept by a browser or a proxy.
        response["Cache-Control"] = "no-store"
        return response

    def response_add(self, request: HttpRequest, obj: WebhookSubscription, post_url_continue: str | None = None) -> Any:
        self.message_user(
            request,
            _("The webhook subscription “%(name)s” was added.") % {"name": obj.name},
            messages.SUCCESS,
        )
        return self._secret_page(request, obj, obj.secret, _("Copy the signing secret now"))

    def get_urls(self) -> list[URLPattern]:
        custom = [
            path(
                "<path:object_id>/rotate-secret/",
                self.admin_site.admin_view(self.rotate_secret_view),
                name="escalation_webhooksubscription_rotate_secret",
            )
        ]
        return custom + super().get_urls()

    def rotate_secret_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET asks for confirmation; POST makes the new secret (`webhooks.rotate_secret`) and shows it once."""
        subscription = self.get_object(request, unquote(object_id))
        if subscription is None:
            raise Http404
        if not self.has_change_permission(request, subscription):
            raise PermissionDenied
        if request.method == "POST":
            secret = webhooks.rotate_secret(subscription=subscription, actor=request.user)
            return self._secret_page(request, subscription, secret, _("Copy the new signing secret now"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Rotate the signing secret?"),
            "opts": self.opts,
            "original": subscription,
            "change_url": reverse(
                f"{self.admin_site.name}:escalation_webhooksubscription_change", args=[subscription.pk]
            ),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, ROTATE_TEMPLATE, context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: WebhookSubscription | None = None,
    ) -> HttpResponse:
        if change and obj is not None and self.has_change_permission(request, obj):
            context["rotate_secret_url"] = reverse(
                f"{self.admin_site.name}:escalation_webhooksubscription_rotate_secret", args=[obj.pk]
            )
        response: HttpResponse = super().render_change_form(request, context, add, change, form_url, obj)
        return response

    @admin.action(description=_("Send a test ping to the selected subscriptions"), permissions=["change"])
    def send_ping(self, request: HttpRequest, queryset: QuerySet[WebhookSubscription]) -> None:
        for subscription in queryset.order_by("pk"):
            try:
                ping = webhooks.send_ping(subscription=subscription, actor=request.user)
            except PermissionDenied as error:
                messages.error(request, error_text(error))
                return
            messages.success(
                request,
                _("%(name)s: a ping is on its way (event %(event)s); the delivery log shows how it went.")
                % {"name": subscription.name, "event": ping.event_id},
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(WebhookAdminMixin, IncidentRecordAdmin):
    list_display = (
        "created_at",
        "event_type",
        "subscription",
        "incident_number",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
        "short_error",
    )
    list_filter = ("status", "event_type", "subscription")
    list_select_related = ("subscription",)
    search_fields = ("subscription__name",)
    search_help_text = _("Search by incident number (INC-12), event id or subscription name.")
    date_hierarchy = "created_at"
    actions = ("redeliver",)
    fields = (
        "subscription_link",
        "event_type",
        "event_id",
        "incident_number",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "response_excerpt",
        "delivered_at",
        "redelivered_by",
        "redelivered_at",
        "created_at",
        "payload_json",
    )
    readonly_fields = fields

    # Written only by the product (IncidentRecordAdmin allows no writes); redelivering is the one action.
    def has_redeliver_permission(self, request: HttpRequest) -> bool:
        return webhooks.may_manage_webhooks(request.user, webhooks.REDELIVER_PERMISSION)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        try:
            event_id = uuid.UUID(search_term.strip())
        except ValueError:
            return results, may_have_duplicates
        return results | queryset.filter(event_id=event_id), may_have_duplicates

    @admin.display(description=_("subscription"))
    def subscription_link(self, obj: WebhookDelivery) -> str:
        return change_link(obj.subscription)

    @admin.display(description=_("last error"))
    def short_error(self, obj: WebhookDelivery) -> str:
        return str(truncatechars(obj.last_error, 80)) if obj.last_error else ""

    @admin.display(description=_("payload"))
    def payload_json(self, obj: WebhookDelivery) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(description=_("Redeliver the selected events"), permissions=["redeliver"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        # Imported here: the delivery module is not needed to load the back office.
        from escalation.webhook_delivery import redeliver_webhook

        for delivery in queryset.select_related("subscription").order_by("pk"):
            label = f"{delivery.event_type} {delivery.event_id} → {delivery.subscription.name}"
            try:
                redeliver_webhook(delivery=delivery, actor=request.user)
            except (PermissionDenied, ValidationError) as error:
                messages.error(
                    request,
                    _("%(delivery)s was not redelivered: %(reason)s")
                    % {"delivery": label, "reason": error_text(error)},
                )
            else:
                messages.success(request, _("%(delivery)s: queued for delivery again.") % {"delivery": label})
