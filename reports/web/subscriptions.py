"""Scheduled summaries from the dashboard: subscribe to what is on screen, weekly or monthly, and stop.

The subscription keeps the dashboard's filters (not its dates: each summary covers
the week or month just ended). Managers see and stop only their own; the admin
manages everyone's. Every change is in the subscription's history, with who.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from reports.models import ReportFrequency, ReportSubscription

REPORTS_PERMISSION = "reports.view_reports"
FILTER_NAMES = ("service", "team", "priority", "category")


class SubscribeForm(forms.Form):
    frequency = forms.ChoiceField(label=gettext_lazy("Email me this summary"), choices=ReportFrequency.choices)
    filters = forms.CharField(required=False, widget=forms.HiddenInput, max_length=1000)


def filters_of(query: object) -> str:
    """The report filters of a dashboard query, as a subscription keeps them."""
    getlist = getattr(query, "getlist", None)
    pairs = [(name, value) for name in FILTER_NAMES for value in (getlist(name) if getlist else [])]
    return urlencode(sorted(pairs))


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    return redirect(target if target.startswith("/reports/") else "reports:dashboard")


@login_required
@permission_required(REPORTS_PERMISSION, raise_exception=True)
@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose weekly or monthly."))
        return _back(request)
    user = cast(User, request.user)  # signed in: login_required
    subscription = ReportSubscription(
        user=user, frequency=form.cleaned_data["frequency"], filters=form.cleaned_data["filters"]
    )
    try:
        subscription.full_clean()
        with transaction.atomic():
            subscription.save()
    except ValidationError as error:
        if "__all__" in error.message_dict or "filters" not in error.message_dict:
            messages.info(request, _("You already get this summary."))
        else:
            messages.error(request, " ".join(error.message_dict["filters"]))
        return _back(request)
    except IntegrityError:
        messages.info(request, _("You already get this summary."))
        return _back(request)
    messages.success(
        request,
        _("Subscribed: the %(frequency)s summary will be emailed to %(email)s.")
        % {"frequency": subscription.get_frequency_display(), "email": user.email or _("(no email address)")},
    )
    return _back(request)


@login_required
@permission_required(REPORTS_PERMISSION, raise_exception=True)
@require_POST
def unsubscribe(request: HttpRequest, pk: int) -> HttpResponse:
    subscription = get_object_or_404(ReportSubscription, pk=pk, user=request.user)
    subscription.delete()
    messages.success(
        request, _("Unsubscribed from the %(frequency)s summary.") % {"frequency": subscription.get_frequency_display()}
    )
    return _back(request)
