"""How people are reached (contact methods, notification rules) and what was sent to them (read-only)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import truncatechars
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from escalation.admin.common import IncidentRecordAdmin, PermittedAutocompleteMixin, change_link
from escalation.models import ContactMethod, Notification, NotificationRule
from incidents.admin.common import error_text
from incidents.models import NUMBER_PREFIX

SIGNING_FIELD = "secret"


@admin.register(ContactMethod)
class ContactMethodAdmin(PermittedAutocompleteMixin, SimpleHistoryAdmin):
    # The signing secret is never listed, searched or kept in the history; its
    # change page shows it (read-only) to whoever sets up the receiving end.
    list_display = ("user", "channel", "address", "label", "is_active")
    list_filter = ("channel", "is_active")
    list_select_related = ("user",)
    search_fields = ("address", "label", "user__username", "user__first_name", "user__last_name")
    autocomplete_fields = ("user",)
    readonly_fields = (SIGNING_FIELD,)

    def get_fieldsets(self, request: HttpRequest, obj: ContactMethod | None = None) -> Any:
        fieldsets: list[tuple[Any, dict[str, Any]]] = [
            (None, {"fields": ("user", "channel", "address", "label", "is_active")})
        ]
        if obj is not None:
            fieldsets.append(
                (
                    _("Webhook signature"),
                    {
                        "fields": (SIGNING_FIELD,),
                        "classes": ("collapse",),
                        "description": _(
                            "Webhook bodies are signed with this secret (HMAC-SHA256) so the receiver can check "
                            "them. Treat it like a password."
                        ),
                    },
                )
            )
        return fieldsets


class NotificationRuleForm(forms.ModelForm):
    class Meta:
        model = NotificationRule
        fields = ("user", "contact_method", "delay", "high_priority_only")

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        user, method = cleaned.get("user"), cleaned.get("contact_method")
        if user is not None and method is not None and method.user_id != user.pk:
            self.add_error("contact_method", _("Pick one of this person's own contact methods."))
        return cleaned


@admin.register(NotificationRule)
class NotificationRuleAdmin(PermittedAutocompleteMixin, SimpleHistoryAdmin):
    form = NotificationRuleForm
    list_display = ("user", "contact_method", "delay", "high_priority_only")
    list_filter = ("high_priority_only", "contact_method__channel")
    list_select_related = ("user", "contact_method")
    search_fields = ("user__username", "user__first_name", "user__last_name", "contact_method__address")
    autocomplete_fields = ("user", "contact_method")


@admin.register(Notification)
class NotificationAdmin(IncidentRecordAdmin):
    list_display = (
        "incident_number",
        "user",
        "channel",
        "address",
        "kind",
        "level",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "short_error",
    )
    list_filter = ("status", "channel", "kind")
    list_select_related = ("user",)
    search_fields = ("address", "subject")
    search_help_text = _("Search by incident number (INC-12), address or subject.")
    date_hierarchy = "created_at"
    actions = ("redeliver",)
    fields = (
        "incident_number",
        "user",
        "contact_method_link",
        "channel",
        "address",
        "kind",
        "escalation_run_link",
        "level",
        "subject",
        "body",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
        "idempotency_key",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description=_("last error"))
    def short_error(self, obj: Notification) -> str:
        return str(truncatechars(obj.last_error, 80)) if obj.last_error else ""

    @admin.display(description=_("contact method"))
    def contact_method_link(self, obj: Notification) -> str:
        return change_link(obj.contact_method)

    @admin.display(description=_("escalation"))
    def escalation_run_link(self, obj: Notification) -> str:
        return change_link(obj.escalation_run)

    @admin.action(description=_("Redeliver the selected notifications"))
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        # Imported here: the delivery module is not needed to load the back office.
        from escalation.delivery import redeliver_notification

        for notification in queryset.order_by("pk"):
            label = f"{notification.address} ({NUMBER_PREFIX}{notification.incident_id})"
            try:
                redelivered = redeliver_notification(notification=notification, actor=request.user)
            except (PermissionDenied, ValidationError) as error:
                messages.error(
                    request,
                    _("%(notification)s was not redelivered: %(reason)s")
                    % {"notification": label, "reason": error_text(error)},
                )
            else:
                messages.success(
                    request,
                    _("%(notification)s: sent for redelivery (now %(status)s).")
                    % {"notification": label, "status": redelivered.get_status_display()},
                )
