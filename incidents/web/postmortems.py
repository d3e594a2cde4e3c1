"""The post-mortem editor: an incident's post-mortem, its review moves, its timeline and its action items.

Every change goes through the domain functions the API and the admin use
(`incidents.postmortems`, `incidents.postmortem_timeline`, `incidents.action_items`);
these views turn forms into their arguments and the domain's refusals into the
page's answers: 400 with everything typed kept, 409 with a message, 403.
The lists across incidents are in `incidents.web.postmortem_lists`.
Who reads what is `incidents.postmortem_selectors`' rule: a post-mortem a user
may not read is a 404, as in the API.
"""

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from incidents import action_items, postmortem_timeline, postmortems
from incidents.choices import PostMortemStatus
from incidents.exceptions import IncidentConflict, TransitionNotAllowed
from incidents.lifecycle import lock_incident
from incidents.models import Incident, PostMortem, PostMortemMoment
from incidents.postmortem_markdown import KEY_MARK, markdown_filename, postmortem_markdown
from incidents.postmortem_selectors import (
    action_item_list,
    can_read_drafts,
    moments_for,
    postmortem_for,
)
from incidents.web.postmortem_forms import (
    TRANSITION_HELP,
    TRANSITION_LABELS,
    ActionItemForm,
    ActionItemUpdateForm,
    AddMomentForm,
    KeyMomentForm,
    MomentForm,
    People,
    PostMortemForm,
    RegenerateForm,
    transition_form,
    version_of,
)
from incidents.web.views import _incident_or_404, form_errors_from

READ_PERMISSIONS = ("incidents.view_incident", "incidents.view_postmortem")


class SavedMeanwhile(IncidentConflict):
    """Someone saved the post-mortem after the writer opened it (HTTP 409); `postmortem` is theirs."""

    def __init__(self, postmortem: PostMortem) -> None:
        super().__init__(
            _(
                "Someone else saved this post-mortem after you opened it. Your text is kept below, next to "
                "what they saved; save again to replace theirs with yours."
            ),
            state=postmortem.status,
            allowed=[],
        )
        self.postmortem = postmortem


def _postmortem_or_404(incident: Incident, user: Any) -> PostMortem:
    postmortem = postmortem_for(incident=incident, viewer=user)
    if postmortem is None:
        raise Http404(_("%(number)s has no post-mortem you may read.") % {"number": incident.number})
    return postmortem


def _editor_url(incident: Incident, anchor: str = "") -> str:
    return reverse("web:postmortem", kwargs={"number": incident.number}) + (f"#{anchor}" if anchor else "")


# --- The editor --------------------------------------------------------------------------


def _render_editor(
    request: HttpRequest,
    incident: Incident,
    *,
    status: int = 200,
    bound: dict[str, forms.Form] | None = None,
    theirs: dict[str, str] | None = None,
) -> HttpResponse:
    """The post-mortem page: the form while it is a draft or in review and the user writes them,
    else the document read-only; `bound` holds the forms that came back with errors, shown with what was typed."""
    bound = bound or {}
    user = request.user
    postmortem = postmortem_for(incident=incident, viewer=user)
    if postmortem is None:
        if not (can_read_drafts(user) and user.has_perm(postmortems.ADD_PERMISSION)):
            raise Http404(_("%(number)s has no post-mortem you may read.") % {"number": incident.number})
        form = bound.get("postmortem")
        sections: dict[str, dict[str, Any]] = (
            {name: {"field": form[name], "theirs": None} for name in postmortems.TEXT_FIELDS} if form else {}
        )
        context: dict[str, Any] = {"incident": incident, "postmortem": None, "form": form, "sections": sections}
        return render(request, "web/postmortem/editor.html", context, status=status)

    editable = user.has_perm(postmortems.WRITE_PERMISSION) and postmortem.status != PostMortemStatus.PUBLISHED
    may_add_items = user.has_perm(action_items.ADD_PERMISSION)
    may_change_items = user.has_perm(action_items.CHANGE_PERMISSION)
    people = People.responders() if editable or may_add_items or may_change_items else People(())
    form = bound.get("postmortem") or PostMortemForm(initial=PostMortemForm.initial_for(postmortem), people=people)
    theirs = theirs or {}
    moments = list(moments_for(postmortem=postmortem, viewer=user))
    items = list(action_item_list().filter(postmortem=postmortem).order_by("created_at", "id"))
    context = {
        "incident": incident,
        "postmortem": postmortem,
        "editable": editable,
        "form": form,
        "sections": {name: {"field": form[name], "theirs": theirs.get(name)} for name in postmortems.TEXT_FIELDS},
        "transitions": [
            {
                "name": name,
                "label": TRANSITION_LABELS[name],
                "help": TRANSITION_HELP[name],
                "form": bound.get(f"pm-{name}") or transition_form(name, seen=postmortem.status),
            }
            for name in postmortems.possible_postmortem_transitions(postmortem=postmortem, user=user)
        ],
        "moments": [
            (moment, bound.get(f"moment-{moment.pk}") or (MomentForm.for_moment(moment) if editable else None))
            for moment in moments
        ],
        "add_moment_form": bound.get("add-moment") or AddMomentForm(people=people),
        "regenerate_form": bound.get("regenerate") or RegenerateForm(),
        "items": [
            (
                item,
                bound.get(f"item-{item.pk}")
                or (ActionItemUpdateForm.for_item(item, people=people, owner=item.owner) if may_change_items else None),
            )
            for item in items
        ],
        "may_change_items": may_change_items,
        "add_item_form": (bound.get("add-item") or ActionItemForm(people=people)) if may_add_items else None,
        "key_mark": KEY_MARK,
    }
    return render(request, "web/postmortem/editor.html", context, status=status)


def _act(
    request: HttpRequest,
    incident: Incident,
    key: str,
    form: forms.Form,
    do: Callable[[dict[str, Any]], Any],
    done: str,
    *,
    anchor: str = "",
) -> HttpResponse:
    """Run one change from the post-mortem page: 400 with the form's errors (nothing written), 409 for a
    refused move or a change someone else made first, 403 without the right; else back to the page."""
    if not form.is_valid():
        return _render_editor(request, incident, status=400, bound={key: form})
    try:
        do(form.cleaned_data)
    except ValidationError as error:
        form_errors_from(form, error)
        return _render_editor(request, incident, status=400, bound={key: form})
    except (TransitionNotAllowed, IncidentConflict) as error:
        messages.error(request, error.message)
        return _render_editor(request, incident, status=409, bound={key: form})
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not do that."))
        return _render_editor(request, incident, status=403)
    messages.success(request, done)
    return redirect(_editor_url(incident, anchor))


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
def postmortem_editor(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    if number != incident.number:
        return redirect(_editor_url(incident))
    if request.method == "POST":
        return _save(request, incident)
    return _render_editor(request, incident)


def _locked_unless_saved_meanwhile(incident: Incident, version: str) -> PostMortem | None:
    """Lock the incident and its post-mortem (the domain's order), and refuse a save that started
    from an older version than the one stored; call inside `transaction.atomic()`.

    A published post-mortem is left to `write_postmortem`, which refuses it with its own words.
    """
    incident = lock_incident(incident)
    current = (
        PostMortem.objects.select_for_update().filter(incident=incident).prefetch_related("affected_services").first()
    )
    if current is not None and current.status == PostMortemStatus.PUBLISHED:
        return current
    if version_of(current) != version:
        if current is None:  # opened before someone removed it: nothing of theirs to keep
            return None
        raise SavedMeanwhile(current)
    return current


def _save(request: HttpRequest, incident: Incident) -> HttpResponse:
    """Save the whole document; the first save starts the post-mortem from what the incident knows."""
    user = request.user
    if postmortem_for(incident=incident, viewer=user) is None and PostMortem.objects.filter(incident=incident).exists():
        raise Http404(_("%(number)s has no post-mortem you may read.") % {"number": incident.number})
    people = People.responders()
    form = PostMortemForm(request.POST, people=people)
    if not form.is_valid():
        return _render_editor(request, incident, status=400, bound={"postmortem": form})
    try:
        with transaction.atomic():
            current = _locked_unless_saved_meanwhile(incident, form.cleaned_data["version"])
            postmortems.write_postmortem(incident=incident, actor=user, changes=form.changes(current))
    except ValidationError as error:
        form_errors_from(form, error)
        return _render_editor(request, incident, status=400, bound={"postmortem": form})
    except SavedMeanwhile as conflict:
        messages.error(request, conflict.message)
        data = request.POST.copy()
        data["version"] = version_of(conflict.postmortem)
        form = PostMortemForm(data, people=people)
        form.is_valid()
        theirs = {
            field: value
            for field in postmortems.TEXT_FIELDS
            if (value := getattr(conflict.postmortem, field)) != form.cleaned_data.get(field)
        }
        return _render_editor(request, incident, status=409, bound={"postmortem": form}, theirs=theirs)
    except (TransitionNotAllowed, IncidentConflict) as error:
        messages.error(request, error.message)
        return _render_editor(request, incident, status=409, bound={"postmortem": form})
    except PermissionDenied as error:
        messages.error(request, str(error) or _("You may not do that."))
        return _render_editor(request, incident, status=403)
    messages.success(request, _("Post-mortem saved."))
    return redirect(_editor_url(incident))


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
@require_POST
def postmortem_start(request: HttpRequest, number: str) -> HttpResponse:
    """Start the post-mortem from what the incident knows (its timeline generated), then open the editor."""
    if not request.user.has_perm(postmortems.ADD_PERMISSION):
        raise PermissionDenied(_("You may not write post-mortems."))
    incident = _incident_or_404(number)
    if PostMortem.objects.filter(incident=incident).exists():
        return redirect(_editor_url(incident))
    postmortems.write_postmortem(incident=incident, actor=request.user)
    messages.success(request, _("Post-mortem started from the incident's record and timeline."))
    return redirect(_editor_url(incident))


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
@require_POST
def postmortem_transition(request: HttpRequest, number: str, name: str) -> HttpResponse:
    if name not in TRANSITION_LABELS:
        raise Http404(_("No such transition."))
    incident = _incident_or_404(number)
    postmortem = _postmortem_or_404(incident, request.user)

    def move(data: dict[str, Any]) -> None:
        if data["seen"] and data["seen"] != postmortem.status:
            raise IncidentConflict(
                _("Someone else changed this post-mortem first (it is now %(state)s); look again and retry.")
                % {"state": postmortem.get_status_display()},
                state=postmortem.status,
                allowed=[],
            )
        text = data.get("reason") or data.get("note") or ""
        postmortems.transition_postmortem(postmortem=postmortem, name=name, actor=request.user, note=text)

    done = _("Post-mortem of %(number)s: %(transition)s done.") % {
        "number": incident.number,
        "transition": TRANSITION_LABELS[name],
    }
    return _act(request, incident, f"pm-{name}", transition_form(name, request.POST), move, done)


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
def postmortem_markdown_download(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    postmortem = _postmortem_or_404(incident, request.user)
    text = postmortem_markdown(postmortem=postmortem, viewer=request.user)
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{markdown_filename(postmortem)}"'
    return response


# --- Its timeline ------------------------------------------------------------------------


def _moment_or_404(postmortem: PostMortem, moment_id: int) -> PostMortemMoment:
    moment = postmortem.moments.filter(pk=moment_id).first()
    if moment is None:
        raise Http404(_("No such row in the timeline."))
    return moment


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
@require_POST
def moment_add(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    postmortem = _postmortem_or_404(incident, request.user)
    form = AddMomentForm(request.POST, people=People.responders())

    def add(data: dict[str, Any]) -> None:
        by = data.pop("by")
        postmortem_timeline.add_moment(postmortem=postmortem, actor=request.user, by=by, **data)

    return _act(request, incident, "add-moment", form, add, _("Moment added to the timeline."), anchor="timeline")


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
@require_POST
def moment_edit(request: HttpRequest, number: str, moment_id: int) -> HttpResponse:
    incident = _incident_or_404(number)
    moment = _moment_or_404(_postmortem_or_404(incident, request.user), moment_id)
    form = MomentForm.for_moment(moment, request.POST)

    def edit(data: dict[str, Any]) -> None:
        changes = form.changes(moment)
        if changes:
            postmortem_timeline.update_moment(moment=moment, actor=request.user, changes=changes)

    return _act(request, incident, f"moment-{moment.pk}", form, edit, _("Timeline row saved."), anchor="timeline")


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
@require_POST
def moment_key(request: HttpRequest, number: str, moment_id: int) -> HttpResponse:
    incident = _incident_or_404(number)
    moment = _moment_or_404(_postmortem_or_404(incident, request.user), moment_id)
    form = KeyMomentForm(request.POST)

    def mark(data: dict[str, Any]) -> None:
        postmortem_timeline.update_moment(moment=moment, actor=request.user, changes={"is_key_moment": data["key"]})

    done = _("Marked as a key moment.") if request.POST.get("key") == "1" else _("No longer a key moment.")
    return _act(request, incident, f"key-{moment.pk}", form, mark, done, anchor="timeline")


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
@require_POST
def moment_remove(request: HttpRequest, number: str, moment_id: int) -> HttpResponse:
    incident = _incident_or_404(number)
    moment = _moment_or_404(_postmortem_or_404(incident, request.user), moment_id)

    def remove(data: dict[str, Any]) -> None:
        postmortem_timeline.remove_moment(moment=moment, actor=request.user)

    form = forms.Form(request.POST)
    return _act(request, incident, "remove", form, remove, _("Row removed from the timeline."), anchor="timeline")


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
@require_POST
def timeline_regenerate(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    postmortem = _postmortem_or_404(incident, request.user)

    def regenerate(data: dict[str, Any]) -> None:
        postmortem_timeline.regenerate_timeline(postmortem=postmortem, actor=request.user)

    done = _("Timeline regenerated from the incident; your own rows and key marks are kept.")
    return _act(request, incident, "regenerate", RegenerateForm(request.POST), regenerate, done, anchor="timeline")


# --- Its action items -----------------------------------------------------------------------


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
@require_POST
def action_item_add(request: HttpRequest, number: str) -> HttpResponse:
    incident = _incident_or_404(number)
    postmortem = _postmortem_or_404(incident, request.user)
    form = ActionItemForm(request.POST, people=People.responders())

    def add(data: dict[str, Any]) -> None:
        action_items.add_action_item(postmortem=postmortem, actor=request.user, **data)

    return _act(request, incident, "add-item", form, add, _("Action item added."), anchor="action-items")


@login_required
@permission_required(READ_PERMISSIONS, raise_exception=True)
@require_POST
def action_item_edit(request: HttpRequest, number: str, item_id: int) -> HttpResponse:
    incident = _incident_or_404(number)
    postmortem = _postmortem_or_404(incident, request.user)
    item = action_item_list().filter(postmortem=postmortem, pk=item_id).first()
    if item is None:
        raise Http404(_("No such action item."))
    form = ActionItemUpdateForm.for_item(item, request.POST, people=People.responders(), owner=item.owner)

    def change(data: dict[str, Any]) -> None:
        changes = form.changes(item)
        if changes:
            action_items.update_action_item(item=item, actor=request.user, changes=changes)

    return _act(request, incident, f"item-{item.pk}", form, change, _("Action item saved."), anchor="action-items")
