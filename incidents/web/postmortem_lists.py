"""The post-mortem lists across incidents: published post-mortems to learn from, and my action items.

Both read through `incidents.postmortem_selectors` (who may see what, the search);
a status changed from "my action items" goes through `incidents.action_items`.
"""

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from incidents import action_items
from incidents.choices import ACTION_ITEM_PENDING, PostMortemStatus
from incidents.models import ActionItem
from incidents.postmortem_selectors import action_item_list, overdue_condition, postmortem_list, search_postmortems
from incidents.web.postmortem_forms import ActionItemFilterForm, ActionItemStatusForm, PostMortemSearchForm
from incidents.web.postmortems import READ_PERMISSIONS
from incidents.web.views import HtmxHttpRequest, form_errors_from

PAGE_SIZE = 25
# "Everyone's" action items, for those who review post-mortems; others see their own.
SEE_ALL_ITEMS_PERMISSION = "incidents.publish_postmortem"


# --- Published post-mortems ------------------------------------------------------------------


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
def published_postmortems(request: HttpRequest) -> HttpResponse:
    """Published post-mortems to learn from: best matches first on PostgreSQL, else newest published first."""
    form = PostMortemSearchForm(request.GET or None)
    text = form.cleaned_data["q"] if form.is_valid() else ""
    published = postmortem_list(viewer=request.user).filter(status=PostMortemStatus.PUBLISHED)
    found = search_postmortems(published, text)
    if not found.query.order_by:
        found = found.order_by(F("published_at").desc(nulls_last=True), "-id")
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "web/postmortem/list.html", context)


# --- My action items ---------------------------------------------------------------------------


def _items_for(values: dict[str, Any], user: Any) -> QuerySet[ActionItem]:
    items = action_item_list()
    if values["scope"] != ActionItemFilterForm.ALL:
        items = items.filter(owner=user)
    if values["status"] == ActionItemFilterForm.PENDING:
        items = items.filter(status__in=ACTION_ITEM_PENDING)
    elif values["status"] != ActionItemFilterForm.ANY:
        items = items.filter(status=values["status"])
    if values["overdue"]:
        items = items.filter(overdue_condition())
    due = F("due_date").desc(nulls_last=True) if values["sort"] == "-due" else F("due_date").asc(nulls_last=True)
    return items.order_by(due, "id")


def _render_my_items(
    request: HttpRequest, query: QueryDict, *, status: int = 200, bound: dict[int, forms.Form] | None = None
) -> HttpResponse:
    bound = bound or {}
    form = ActionItemFilterForm(query or None, may_see_all=request.user.has_perm(SEE_ALL_ITEMS_PERMISSION))
    page = Paginator(_items_for(form.values(), request.user), PAGE_SIZE).get_page(query.get("page"))
    page_query = query.copy()
    page_query.pop("page", None)
    here = reverse("web:action-items") + (f"?{query.urlencode()}" if query else "")
    context = {
        "form": form,
        "page": page,
        "rows": [(item, bound.get(item.pk) or ActionItemStatusForm.for_item(item)) for item in page.object_list],
        "query": page_query.urlencode(),
        "next": here,
        "may_change": request.user.has_perm(action_items.CHANGE_PERMISSION),
    }
    return render(request, "web/postmortem/action_items.html", context, status=status)


@login_required
@permission_required("incidents.view_actionitem", raise_exception=True)
def my_action_items(request: HttpRequest) -> HttpResponse:
    return _render_my_items(request, request.GET)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    if target.startswith(reverse("web:action-items")) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("web:action-items")


@login_required
@permission_required("incidents.view_actionitem", raise_exception=True)
@require_POST
def my_action_item_status(request: HtmxHttpRequest, item_id: int) -> HttpResponse:
    """Change an item's status from the list: the row again for htmx, else back to the list as it was filtered."""
    item = action_item_list().filter(pk=item_id).first()
    if item is None:
        raise Http404(_("No such action item."))
    back = _safe_next(request)
    form = ActionItemStatusForm.for_item(item, request.POST)
    status = 200
    if form.is_valid():
        try:
            changes = form.changes(item)
            if changes:
                item = action_items.update_action_item(item=item, actor=request.user, changes=changes)
        except ValidationError as error:
            form_errors_from(form, error)
            status = 400
        except PermissionDenied as error:
            form.add_error(None, str(error) or _("You may not do that."))
            status = 403
    else:
        status = 400
    if request.htmx:
        if status == 200:
            item = action_item_list().get(pk=item.pk)
            form = ActionItemStatusForm.for_item(item)
        may_change = request.user.has_perm(action_items.CHANGE_PERMISSION)
        context = {"item": item, "form": form, "next": back, "may_change": may_change, "saved": status == 200}
        return render(request, "web/postmortem/_action_item_row.html", context, status=status)
    if status != 200:
        return _render_my_items(request, QueryDict(back.partition("?")[2]), status=status, bound={item.pk: form})
    messages.success(request, _("%(title)s: %(status)s.") % {"title": item.title, "status": item.get_status_display()})
    return redirect(back)
