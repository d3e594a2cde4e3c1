"""Acknowledging a page from the link in its message, without logging in.

The link carries a signed token naming the notification; whoever opens it
acts as the person the notification was sent to (the link is the credential,
valid for `TOKEN_MAX_AGE`). Opening the link only shows a confirmation page:
mail scanners and link previews follow links, so acknowledging takes a POST
from that page (CSRF-protected like every other form).
"""

import datetime as dt
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from escalation.models import Notification
from incidents.choices import State
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.lifecycle import acknowledge_incident
from incidents.models import Incident

TOKEN_SALT = "escalation.ack"  # noqa: S105 — a signing namespace, not a secret
TOKEN_MAX_AGE = dt.timedelta(hours=24)
TEMPLATE = "escalation/ack_confirm.html"


def ack_token(*, notification: Notification) -> str:
    return signing.dumps({"notification": notification.pk}, salt=TOKEN_SALT)


def notification_id_from_token(token: str) -> int | None:
    """The notification id the token carries, or None if it is forged, damaged or expired."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:  # SignatureExpired is one too
        return None
    value = data.get("notification") if isinstance(data, dict) else None
    return value if isinstance(value, int) else None


def ack_url(*, notification: Notification) -> str:
    """The absolute link that acknowledges the notification's incident as its recipient."""
    base = str(getattr(settings, "SITE_URL", "http://127.0.0.1:8000")).rstrip("/")
    return base + reverse("page-ack", kwargs={"token": ack_token(notification=notification)})


def _page(
    request: HttpRequest, outcome: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HttpResponse:
    response = render(request, TEMPLATE, {"outcome": outcome, **(context or {})}, status=status)
    # The URL is a credential: keep it out of indexes.
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def settled_outcome(incident: Incident) -> str | None:
    """Why the incident needs no acknowledgement any more, or None if it still does.

    "already": someone acknowledged it; "closed": it moved on (cancelled, say) without one.
    The web UI's page list asks the same question.
    """
    if incident.acknowledged_at is not None:
        return "already"
    if incident.state != State.NEW:
        return "closed"
    return None


@never_cache
@require_http_methods(["GET", "POST"])
def acknowledge_from_link(request: HttpRequest, token: str) -> HttpResponse:
    notification_id = notification_id_from_token(token)
    notification = (
        Notification.objects.select_related("incident", "user").filter(pk=notification_id).first()
        if notification_id is not None
        else None
    )
    if notification is None or notification.user is None:
        return _page(request, "invalid", status=400)
    context: dict[str, Any] = {"incident": notification.incident, "recipient": notification.user, "token": token}

    settled = settled_outcome(notification.incident)
    if settled is not None:
        return _page(request, settled, context)
    if request.method != "POST":
        return _page(request, "confirm", context)

    try:
        incident = acknowledge_incident(incident=notification.incident, actor=notification.user)
    except PermissionDenied:
        return _page(request, "not_allowed", context)
    except (TransitionNotAllowed, IncidentConflict):
        # Someone acknowledged (or closed) it a moment earlier: say how it stands now.
        notification.incident.refresh_from_db()
        return _page(request, settled_outcome(notification.incident) or "not_allowed", context)
    return _page(request, "acknowledged", {**context, "incident": incident})
