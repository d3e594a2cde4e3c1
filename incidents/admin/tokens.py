"""API tokens in the back office: who has one and since when, and revoking it; never the key.

Replaces DRF's own token admin, which lists the keys and logs them on deletion.
Tokens are issued by their owner (profile page) or `manage.py create_api_token`.
"""

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from incidents.api_tokens import revoke_api_token

admin.site.unregister(TokenProxy)


def _label(token: Any) -> str:
    # In place of str(token), which is the key.
    return _("API token of %(user)s") % {"user": User.objects.get(pk=token.user_id)}


class _Named:
    """The token as the delete page shows it: its owner's id for the links, its owner's name for the text."""

    def __init__(self, token: Any) -> None:
        self.pk = token.user_id
        self.label = _label(token)

    def __str__(self) -> str:
        return self.label


@admin.register(TokenProxy)
class ApiTokenAdmin(TokenAdmin):
    list_display = ("user", "created")
    fields = ("user", "created")
    readonly_fields = ("user", "created")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def render_delete_form(self, request: HttpRequest, context: dict[str, Any]) -> HttpResponse:
        context["object"] = _Named(context["object"])
        return super().render_delete_form(request, context)

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        # Django's message would quote obj_display, the key.
        messages.success(request, _("The API token is revoked: requests that send it are refused from now on."))
        return redirect("admin:authtoken_tokenproxy_changelist")

    def get_deleted_objects(
        self, objs: Any, request: HttpRequest
    ) -> tuple[list[str], dict[str, int], set[str], list[str]]:
        # The confirmation names the owner, not the key.
        names = [_label(token) for token in objs]
        return names, {str(TokenProxy._meta.verbose_name_plural): len(names)}, set(), []

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        revoke_api_token(user=obj.user, actor=request.user)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for token in queryset.select_related("user"):
            self.delete_model(request, token)

    def log_deletion(self, request: HttpRequest, obj: Any, object_repr: str) -> None:
        # revoke_api_token writes the entry, against the user and without the key.
        return None

    def log_deletions(self, request: HttpRequest, queryset: Any) -> list[LogEntry]:
        return []
