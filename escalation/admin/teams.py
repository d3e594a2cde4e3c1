"""Teams in the back office: who is in them, who manages them, what they own."""

from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from escalation.admin.common import PermittedAutocompleteMixin, service_links
from escalation.models import Team


@admin.register(Team)
class TeamAdmin(PermittedAutocompleteMixin, SimpleHistoryAdmin):
    list_display = ("name", "slug", "email", "member_count", "service_count")
    search_fields = ("name", "slug", "email", "description")
    prepopulated_fields = {"slug": ("name",)}
    autocomplete_fields = ("managers", "members")
    # For those who may edit teams but not view users (the user autocomplete needs that right).
    filter_horizontal = ("managers", "members")
    readonly_fields = ("owned_services", "created_at", "updated_at")
    fieldsets = (
        (None, {"fields": ("name", "slug", "email", "description")}),
        (_("People"), {"fields": ("managers", "members")}),
        (_("Services"), {"fields": ("owned_services",)}),
        (_("Record"), {"fields": ("created_at", "updated_at"), "classes": ("collapse",)}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        queryset: QuerySet[Team] = super().get_queryset(request)
        return queryset.annotate(
            member_total=Count("members", distinct=True), service_total=Count("services", distinct=True)
        )

    @admin.display(description=_("members"), ordering="member_total")
    def member_count(self, obj: Team) -> int:
        return int(getattr(obj, "member_total", 0))

    @admin.display(description=_("services"), ordering="service_total")
    def service_count(self, obj: Team) -> int:
        return int(getattr(obj, "service_total", 0))

    @admin.display(description=_("services owned"))
    def owned_services(self, obj: Team) -> str:
        if obj.pk is None:
            return "—"
        owned = obj.services.order_by("name").only("pk", "name", "is_active")
        if not owned:
            return str(_("This team owns no services yet; set the owner team on a service."))
        return service_links(owned)
