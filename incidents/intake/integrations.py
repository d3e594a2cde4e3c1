"""Making integrations and rotating their keys; the key is returned once and never stored."""

from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from incidents.choices import IntegrationKind
from incidents.models import Integration, Service
from incidents.models.intake import DEFAULT_RESOLVE_ACTION
from incidents.timeline import Actor, save_audited

MANAGE_PERMISSION = "incidents.change_integration"


def _audited_save(integration: Integration, *, actor: Actor | None, reason: str) -> None:
    integration.full_clean()
    save_audited(integration, actor=actor, reason=reason)


def create_integration(
    *, service: Service, kind: str, actor: Actor | None, name: str = "", **settings: Any
) -> tuple[Integration, str]:
    """A new integration for `service` and its key (shown once). `actor` None: an operator at the console."""
    if actor is not None and not actor.has_perm("incidents.add_integration"):
        raise PermissionDenied(_("You may not create integrations."))
    if kind not in IntegrationKind.values:
        raise ValidationError({"kind": [_("%(value)r is not a valid choice.") % {"value": kind}]})
    settings.setdefault("resolve_action", DEFAULT_RESOLVE_ACTION[IntegrationKind(kind)])
    integration = Integration(
        service=service,
        kind=kind,
        name=name or f"{service.name} · {IntegrationKind(kind).label}",
        created_by=actor if isinstance(actor, User) else None,
        **settings,
    )
    key = integration.new_key()
    with transaction.atomic():
        _audited_save(integration, actor=actor, reason="created")
    return integration, key


def rotate_key(*, integration: Integration, actor: Actor | None) -> str:
    """Replace the key at once (the old one stops working now) and return the new one."""
    if actor is not None and not actor.has_perm(MANAGE_PERMISSION):
        raise PermissionDenied(_("You may not rotate integration keys."))
    key = integration.new_key()
    with transaction.atomic():
        _audited_save(integration, actor=actor, reason="key rotated")
    return key
