"""Saved queue filters: a user names the queue's current filters and comes back to them with one click.

A saved filter is the queue's query string, reduced to the filter fields the
queue knows (no page number, nothing unknown), so it stays valid and harmless.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from incidents.models import SavedFilter
from incidents.web.forms import QueueFilterForm

MAX_SAVED_FILTERS = 50


class SaveFilterForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=80)
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)


def clean_query(query: str) -> str:
    """Keep only the queue's own filter parameters, in a stable order."""
    given = QueryDict(query)
    kept = QueryDict(mutable=True)
    for name in QueueFilterForm.base_fields:
        values = [value for value in given.getlist(name) if value]
        if values:
            kept.setlist(name, values)
    return kept.urlencode()


def saved_filters_of(user: Any) -> QuerySet[SavedFilter]:
    return SavedFilter.objects.filter(user=user).order_by("name")


def _signed_in(request: HttpRequest) -> User:
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


@login_required
@require_POST
def save_filter(request: HttpRequest) -> HttpResponse:
    form = SaveFilterForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the filter a name of at most 80 characters."))
        return redirect("web:queue")
    query = clean_query(form.cleaned_data["query"])
    name = form.cleaned_data["name"].strip()
    exists = saved_filters_of(request.user).filter(name=name).exists()
    if not exists and saved_filters_of(request.user).count() >= MAX_SAVED_FILTERS:
        messages.error(request, _("You have %(count)d saved filters; delete one first.") % {"count": MAX_SAVED_FILTERS})
        return redirect(f"/?{query}")
    SavedFilter.objects.update_or_create(user=_signed_in(request), name=name, defaults={"query": query})
    messages.success(request, _("Filter “%(name)s” saved.") % {"name": name})
    return redirect(f"/?{query}")


@login_required
@require_POST
def delete_filter(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedFilter, pk=pk, user=request.user)
    saved.delete()
    messages.success(request, _("Filter “%(name)s” deleted.") % {"name": saved.name})
    return redirect("web:queue")
